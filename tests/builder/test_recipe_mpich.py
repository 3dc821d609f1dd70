"""app-mpich: an APP of another MPI, compiled from a Debian source package in a stage of its own."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from recapp.builder.recipe import load, load_file
from recapp.builder.render import render
from recapp.errors import RecipeError
from recapp.workloads import WORKLOADS_DIR

FAKE_ID = "0123456789abcdef" * 4


@pytest.fixture
def mpich_data() -> dict[str, Any]:
    return yaml.safe_load((WORKLOADS_DIR / "mpich" / "app-mpich.yaml").read_text())


def load_error(tmp_path: Path, data: dict[str, Any]) -> str:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(RecipeError) as info:
        load_file(path)
    assert "\n" not in str(info.value)
    return str(info.value)


def test_mpich_recipe_is_found_by_workload_and_pins_its_source() -> None:
    recipe = load("app-mpich")
    assert (recipe.kind, recipe.workload, recipe.flavor) == ("app", "mpich", "distro")
    src = recipe.mpi_source
    assert src is not None
    assert (src.package, src.version, src.suite, src.srcdir) == (
        "mpich",
        "4.0.2-3",
        "bookworm",
        "mpich-4.0.2",
    )
    assert src.sha256 == "b27039f964afeb6b8a3e009c56b441cbe368c26d6d6476ad3bb7190996875860"
    # PMIx from the APP's libpmix-dev, no process manager, the device MPICH 4.0 supports PMIx with.
    assert "--with-pmix=/usr/lib/x86_64-linux-gnu/pmix2" in src.configure
    assert "--with-pm=no" in src.configure
    assert "--with-device=ch4:ofi" in src.configure
    assert recipe.sources == ["mpi", "pmix_probe", "mpi_levels", "mpich"]
    assert "mpich_info" in recipe.expect.executables
    assert {"mpiexec", "hydra_pmi_proxy", "mpicc", "gcc", "sshd"} <= set(recipe.expect.absent)
    assert set(recipe.versions) == {"mpich", "pmix"}
    assert recipe.versions["mpich"].command == ["mpich_info"]


def test_mpich_renders_a_source_stage_and_a_final_stage_without_compiler() -> None:
    text = render(load("app-mpich"), "trixie", "localhost/recapp/base:trixie", FAKE_ID).containerfile
    stages = text.split("\nFROM ")
    assert stages[1].startswith("localhost/recapp/base:trixie AS mpich\n")
    assert "apt-get source --download-only mpich=4.0.2-3" in stages[1]
    assert "deb-src \\1 bookworm main" in stages[1]
    assert "sha256sum -c --strict" in stages[1]
    assert "./configure --prefix=/opt/mpich --with-device=ch4:ofi" in stages[1]
    assert stages[2].startswith("localhost/recapp/base:trixie AS build\n")
    assert "COPY --from=mpich /opt/mpich /opt/mpich" in stages[2]
    assert "make -C /build/mpich install DESTDIR=/out" in stages[2]
    assert "ompi_info" not in text and "/etc/openmpi" not in text
    final = stages[-1]
    assert "COPY --from=mpich /opt/mpich/lib/ /opt/mpich/lib/" in final
    assert (
        "apt-get install -y --no-install-recommends ca-certificates libpmix2t64 libfabric1 libhwloc15"
        in final
    )
    assert "gcc" not in final.split("RUN for x in")[0], "the runtime stage installs no compiler"


@pytest.mark.parametrize("suite", ["bookworm", "sid"])
def test_mpich_other_suites_say_why(suite: str) -> None:
    with pytest.raises(RecipeError, match=f"suite {suite} is not supported"):
        load("app-mpich").suite_entry(suite)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("configure", ["--with-pmix=/usr; rm -rf /"], "not a plain configure option"),
        ("configure", ["CFLAGS=-O0"], "not a plain configure option"),
        ("sha256", "abc", "should match pattern"),
        ("suite", "buster", "unknown suite 'buster'"),
        ("prefix", "/usr", "should match pattern"),
        ("build_packages", ["Bad Name"], "bad package name"),
    ],
)
def test_mpi_source_fields_are_checked(
    tmp_path: Path, mpich_data: dict[str, Any], field: str, value: object, message: str
) -> None:
    data = copy.deepcopy(mpich_data)
    data["mpi_source"][field] = value
    error = load_error(tmp_path, data)
    assert f"mpi_source.{field}" in error
    assert message in error


def test_mpi_source_is_for_distro_apps_only(tmp_path: Path, mpich_data: dict[str, Any]) -> None:
    data = copy.deepcopy(mpich_data)
    data["flavor"] = "source"
    data["components"] = {"pmix": "5.0.5"}
    assert "'mpi_source' is for distro-flavor APP recipes" in load_error(tmp_path, data)
