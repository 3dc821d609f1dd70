"""Every workload folder is complete, and the registry finds them all (docs/workloads.md).

A workload is one folder: workload.yaml, src/ (Makefile + records.yaml), its parsers, catalog.yaml,
references.yaml, its APP recipes. These tests read the folders as they are shipped, so a new folder
missing any part fails here, naming the part.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from recapp import workloads
from recapp.bench import references
from recapp.builder import recipe as recipes
from recapp.errors import WorkloadError
from recapp.k8s import jobs
from recapp.workloads import WORKLOADS_DIR, catalog

NAMES = sorted(workloads.registry())


def test_the_registry_finds_every_folder() -> None:
    folders = sorted(p.name for p in WORKLOADS_DIR.iterdir() if p.is_dir() and p.name != "__pycache__")
    assert folders == NAMES
    assert {"gromacs", "hpcc", "mpi", "nas", "pmix_probe"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_sources_build_and_say_what_they_print(name: str) -> None:
    src = workloads.source_dir(name)
    makefile = (src / "Makefile").read_text()
    assert "install:" in makefile, "the templates run `make install DESTDIR=/out PREFIX=/usr/local`"
    records = yaml.safe_load((src / "records.yaml").read_text())["records"]
    assert records, "records.yaml lists the records the programs print"
    for tag, record in records.items():
        assert tag.isupper() and record["keys"] and record["program"], tag


@pytest.mark.parametrize("name", NAMES)
def test_parsers_offer_figures_and_sanity_errors(name: str) -> None:
    unit = workloads.get(name)
    for module in unit.parser_modules():
        # Each parser reads only its own records: another workload's output is neither figure nor fault.
        assert module.figures("HELLO rank=0 size=1 host=n0\n") == {}
        assert module.sanity_errors("HELLO rank=0 size=1 host=n0\n") == []
    assert unit.card.parsers or unit.card.output_read_by


def test_the_job_runner_reads_every_workloads_parsers() -> None:
    modules = {m.__name__.rsplit(".", 1)[1] for m in workloads.parsers()}
    assert {"mpi_output", "pingpong_output", "nas_output", "gromacs_output", "hpcc_output"} <= modules
    assert len(modules) == sum(len(workloads.get(n).card.parsers) for n in NAMES)
    text = "INIT_FINALIZE init_s=0.25 barrier_s=0.01 finalize_s=0.02 init_finalize_s=0.28 total_s=0.3\n"
    assert jobs.workload_figures(text)["init_finalize_s"].value == 0.28
    assert jobs.workload_sanity_errors("RING rank=0 size=2 status=FAIL\n") == [
        "ring check failed: RING rank=0 size=2 status=FAIL"
    ]


def _own_entries(name: str) -> dict[str, catalog.Workload]:
    unit = workloads.get(name)
    return catalog.entries(unit.catalog_file) if unit.catalog_file.is_file() else {}


@pytest.mark.parametrize("name", NAMES)
def test_catalog_entries_run_a_program_of_their_app(name: str) -> None:
    for entry in _own_entries(name).values():
        app = recipes.load(f"app-{entry.app}")
        assert entry.command[0] in app.expect.executables, (
            f"{entry.name}: {entry.command[0]} not in {app.name}"
        )
        assert catalog.catalog().workloads[entry.name] == entry


def test_the_catalog_is_the_folders_entries() -> None:
    every = [entry for name in NAMES for entry in _own_entries(name)]
    assert sorted(every) == sorted(catalog.catalog().workloads)
    assert len(every) == len(set(every))
    assert {"init_finalize", "ep.S", "ep.A", "ep.W", "pingpong-shm", "pingpong-tcp", "gromacs"} <= set(every)


@pytest.mark.parametrize("name", NAMES)
def test_recipes_in_the_folder_are_this_workloads(name: str) -> None:
    for path in workloads.get(name).recipe_files():
        recipe = recipes.load(path.stem)
        assert (recipe.kind, recipe.workload) == ("app", name)
        assert name in recipe.sources


def test_every_catalog_app_has_its_recipe_in_its_folder() -> None:
    apps = {entry.app for entry in catalog.catalog().workloads.values()}
    assert {f"app-{app}" for app in apps} <= set(workloads.recipe_files())
    assert all(workloads.recipe_files()[f"app-{app}"].parent.name == app for app in apps)


@pytest.mark.parametrize("name", NAMES)
def test_references_name_this_folders_entries_and_figures(name: str) -> None:
    unit = workloads.get(name)
    if not unit.references_file.is_file():
        return
    own = _own_entries(name)
    for system, per_entry in yaml.safe_load(unit.references_file.read_text()).items():
        assert system in references.systems()
        for entry_name, figures in per_entry.items():
            assert entry_name in own, f"{entry_name}: references live with the workload whose entry it is"
            for figure in figures:
                assert own[entry_name].wanted(figure.removeprefix(references.RATIO_PREFIX)), figure


def test_a_system_gathers_every_folders_references() -> None:
    refs = references.load("local")
    given = [
        entry
        for name in NAMES
        if workloads.get(name).references_file.is_file()
        for entry in yaml.safe_load(workloads.get(name).references_file.read_text()).get("local", {})
    ]
    assert sorted(refs.workloads) == sorted(given)
    assert {"ep.A", "ep.S", "init_finalize", "pingpong-shm"} <= set(given)
    assert refs.get("ep.A", "ratio:npb_time_s").upper == 0.02


def test_the_all_in_one_image_carries_every_workloads_programs() -> None:
    sources = recipes.load("aio").sources
    # Named first so the build stage shares its layers with app-gromacs; then every other one.
    assert sources[:3] == ["mpi", "pmix_probe", "gromacs"]
    # Every workload's programs but MPICH's, which build only against MPICH: a new Open MPI workload
    # missing from the list fails here.
    assert sorted(sources) == sorted(w for w in workloads.with_sources() if w != "mpich")


def test_a_folder_without_a_parser_says_who_reads_its_output(tmp_path: Path) -> None:
    folder = tmp_path / "hpcc"
    folder.mkdir()
    (folder / "workload.yaml").write_text("summary: HPCC\n")
    with pytest.raises(WorkloadError) as info:
        workloads._load(folder)
    assert str(info.value) == (
        f"{folder / 'workload.yaml'}: field '(top level)': "
        "give 'parsers' or say in 'output_read_by' what reads the output"
    )


def test_a_parser_named_in_the_card_must_exist(tmp_path: Path) -> None:
    folder = tmp_path / "hpcc"
    folder.mkdir()
    (folder / "workload.yaml").write_text("summary: HPCC\nparsers: [hpcc_output]\n")
    with pytest.raises(WorkloadError, match=r"^workload hpcc: parser 'hpcc_output': no hpcc_output.py in "):
        workloads._load(folder).parser_modules()


def test_an_unknown_workload_is_one_line_naming_the_known_ones() -> None:
    with pytest.raises(WorkloadError) as info:
        workloads.get("stream")
    assert str(info.value) == f"unknown workload 'stream' (known: {', '.join(NAMES)})"
    assert "gromacs, hpcc, mpi, mpi_levels, mpich, nas, pmix_probe" in str(info.value)
