"""Recipes are data validated on load: the shipped ones load; a bad one fails in one line naming the field."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from recapp import workloads
from recapp.builder.recipe import Recipe, available, load, load_file, recipe_name
from recapp.builder.suites import SUITES, check_suite
from recapp.errors import RecipeError
from recapp.recipes import RECIPES_DIR
from recapp.workloads import WORKLOADS_DIR


@pytest.fixture
def app_data() -> dict[str, Any]:
    """The shipped app-mpi recipe as plain data, to be spoilt one field at a time."""
    return yaml.safe_load((WORKLOADS_DIR / "mpi" / "app-mpi.yaml").read_text())


def write(tmp_path: Path, data: dict[str, Any], name: str = "bad.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def load_error(tmp_path: Path, data: dict[str, Any]) -> str:
    with pytest.raises(RecipeError) as info:
        load_file(write(tmp_path, data))
    message = str(info.value)
    assert "\n" not in message, f"recipe errors are one line: {message!r}"
    return message


def test_the_default_recipes_ship() -> None:
    names = available()
    assert {"app-mpi", "rec"} <= set(names)
    # REC and aio recipes in recipes/, each APP recipe in its workload's folder.
    in_rooms = [*RECIPES_DIR.glob("*.yaml"), *WORKLOADS_DIR.glob("*/app-*.yaml")]
    assert names == sorted(p.stem for p in in_rooms)


@pytest.mark.parametrize("name", available())
def test_every_shipped_recipe_loads(name: str) -> None:
    recipe = load(name)
    assert isinstance(recipe, Recipe)
    assert recipe.name == name, "a recipe's name is its file name"
    assert set(recipe.suites) | set(recipe.unsupported) <= set(SUITES)
    # The all-in-one image is a REC-kind recipe that `recapp build aio` builds.
    kind = "aio" if recipe.name == "aio" else recipe.kind
    assert recipe.name == recipe_name(kind, recipe.workload, recipe.flavor), (
        "`recapp build KIND --workload W --flavor F` finds this recipe"
    )
    if recipe.kind == "app":
        assert "openmpi-bin" not in recipe.packages, "an APP's runtime stage carries no launcher"


def test_rec_recipe_contents() -> None:
    rec = load("rec")
    assert rec.kind == "rec"
    assert (rec.user.uid, rec.user.gid) == (998, 995)
    assert rec.subids is not None and rec.subids.count >= 65536
    assert sorted(rec.suites) == ["sid", "trixie"]
    assert "bookworm" in rec.unsupported
    assert rec.packages_for("trixie")[-2:] == ["openmpi-bin", "libpmix-bin"]
    assert "libprrte-bin" in rec.packages_for("sid")
    assert "sshd" in rec.expect.absent


def test_app_recipe_contents() -> None:
    app = load("app-mpi")
    assert (app.kind, app.workload) == ("app", "mpi")
    assert sorted(app.suites) == ["bookworm", "sid", "trixie"]
    assert app.packages_for("bookworm") == ["ca-certificates", "libopenmpi3", "libpmix2"]
    assert "openmpi-bin" in app.build_packages_for("trixie")
    assert "openmpi-bin" not in app.packages_for("trixie"), "the APP runtime stage must carry no launcher"
    assert {"mpirun", "prterun", "sshd"} <= set(app.expect.absent)


def test_valid_copy_loads(tmp_path: Path, app_data: dict[str, Any]) -> None:
    """The spoilt variants below differ from a recipe that loads by exactly one field."""
    assert load_file(write(tmp_path, app_data)).name == "app-mpi"


def test_unknown_field(tmp_path: Path, app_data: dict[str, Any]) -> None:
    app_data["pakages"] = ["gcc"]
    assert load_error(tmp_path, app_data) == "recipe bad.yaml: field 'pakages': unknown field"


def test_unknown_nested_field(tmp_path: Path, app_data: dict[str, Any]) -> None:
    app_data["suites"]["trixie"]["pacakges"] = ["gcc"]
    assert load_error(tmp_path, app_data) == "recipe bad.yaml: field 'suites.trixie.pacakges': unknown field"


def test_unknown_suite(tmp_path: Path, app_data: dict[str, Any]) -> None:
    app_data["suites"]["buster"] = {"packages": ["libopenmpi3"]}
    message = load_error(tmp_path, app_data)
    assert message.startswith("recipe bad.yaml: field 'suites': unknown suite 'buster'")
    assert "bookworm, trixie, sid" in message


def test_unknown_suite_in_unsupported(tmp_path: Path, app_data: dict[str, Any]) -> None:
    app_data["unsupported"] = {"jessie": "too old"}
    assert "field 'unsupported': unknown suite 'jessie'" in load_error(tmp_path, app_data)


@pytest.mark.parametrize(
    ("where", "bad", "field"),
    [
        (("packages",), "Bad_Name", "packages"),
        (("build_packages",), "-leading-dash", "build_packages"),
        (("packages",), "gcc; rm -rf /", "packages"),
        (("suites", "trixie", "packages"), "libopenmpi40 openmpi-bin", "suites.trixie.packages"),
        (("suites", "sid", "build_packages"), "x", "suites.sid.build_packages"),
    ],
)
def test_bad_package_name(
    tmp_path: Path, app_data: dict[str, Any], where: tuple[str, ...], bad: str, field: str
) -> None:
    node: Any = app_data
    for key in where[:-1]:
        node = node[key]
    node.setdefault(where[-1], []).append(bad)
    assert load_error(tmp_path, app_data) == f"recipe bad.yaml: field '{field}': bad package name {bad!r}"


def test_pinned_package_version_is_a_good_name(tmp_path: Path, app_data: dict[str, Any]) -> None:
    app_data["packages"] = ["ca-certificates=20250419", "libpmix2t64=5.0.7-1"]
    assert load_file(write(tmp_path, app_data)).packages[1] == "libpmix2t64=5.0.7-1"


@pytest.mark.parametrize("rel", ["../../etc/passwd", "/etc/passwd", "rec/../../rec.yaml"])
def test_files_entry_outside_recipes_files(tmp_path: Path, rel: str) -> None:
    data = yaml.safe_load((RECIPES_DIR / "rec.yaml").read_text())
    data["files"] = [*data["files"], rel]
    assert (
        load_error(tmp_path, data) == f"recipe bad.yaml: field 'files': {rel!r} points outside recipes/files"
    )


def test_files_entry_missing(tmp_path: Path) -> None:
    data = yaml.safe_load((RECIPES_DIR / "rec.yaml").read_text())
    data["files"] = ["rec/no-such-file"]
    assert load_error(tmp_path, data) == (
        "recipe bad.yaml: field 'files': 'rec/no-such-file' not found in recipes/files"
    )


def test_sources_entry_names_a_workload_never_a_path(tmp_path: Path, app_data: dict[str, Any]) -> None:
    app_data["sources"] = ["../files/rec"]
    assert load_error(tmp_path, app_data) == (
        "recipe bad.yaml: field 'sources': "
        f"unknown workload '../files/rec' (known: {', '.join(workloads.registry())})"
    )


def test_all_sources_comes_last_and_adds_every_other_workload(
    tmp_path: Path, app_data: dict[str, Any]
) -> None:
    app_data["sources"] = ["nas", "*"]
    others = [name for name in workloads.with_sources() if name != "nas"]
    assert load_file(write(tmp_path, app_data)).sources == ["nas", *others]
    assert {"gromacs", "mpi", "pmix_probe"} <= set(others)
    app_data["sources"] = ["*", "nas"]
    assert load_error(tmp_path, app_data) == (
        "recipe bad.yaml: field 'sources': '*' comes once, last (after the workloads built first)"
    )


def test_missing_template(tmp_path: Path, app_data: dict[str, Any]) -> None:
    app_data["template"] = "nope.Containerfile.j2"
    assert load_error(tmp_path, app_data) == (
        "recipe bad.yaml: field 'template': 'nope.Containerfile.j2' not found in recipes/templates"
    )


def test_template_outside_templates(tmp_path: Path, app_data: dict[str, Any]) -> None:
    # recipes/templates/../rec.yaml is a file: the check must be containment, not existence.
    app_data["template"] = "../rec.yaml"
    assert load_error(tmp_path, app_data) == (
        "recipe bad.yaml: field 'template': '../rec.yaml' points outside recipes/templates"
    )


def test_wrong_kind(tmp_path: Path, app_data: dict[str, Any]) -> None:
    app_data["kind"] = "service"
    message = load_error(tmp_path, app_data)
    assert message.startswith("recipe bad.yaml: field 'kind': ")
    assert "'rec'" in message and "'app'" in message


def test_rec_needs_subids(tmp_path: Path) -> None:
    data = yaml.safe_load((RECIPES_DIR / "rec.yaml").read_text())
    del data["subids"]
    assert "a REC recipe needs 'subids'" in load_error(tmp_path, data)


def test_app_needs_workload(tmp_path: Path, app_data: dict[str, Any]) -> None:
    del app_data["workload"]
    assert "an APP recipe needs a 'workload'" in load_error(tmp_path, app_data)


def test_version_probe_needs_one_way(tmp_path: Path, app_data: dict[str, Any]) -> None:
    app_data["versions"]["ompi"] = {"command": ["ompi_info"]}
    message = load_error(tmp_path, app_data)
    assert message == "recipe bad.yaml: field 'versions.ompi': 'command' needs a 'pattern' with one group"


def test_user_uid_zero_is_refused(tmp_path: Path, app_data: dict[str, Any]) -> None:
    app_data["user"]["uid"] = 0
    assert load_error(tmp_path, app_data).startswith("recipe bad.yaml: field 'user.uid': ")


def test_not_yaml(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("name: [unclosed\n")
    with pytest.raises(RecipeError, match=r"^recipe broken\.yaml: not valid YAML: "):
        load_file(path)


def test_unknown_recipe_names_the_available_ones() -> None:
    with pytest.raises(RecipeError) as info:
        load("app-nope")
    assert str(info.value) == f"unknown recipe 'app-nope': available recipes are {', '.join(available())}"


def test_unsupported_suite_says_why() -> None:
    with pytest.raises(RecipeError) as info:
        load("rec").suite_entry("bookworm")
    message = str(info.value)
    assert message.startswith("recipe rec: suite bookworm is not supported: Debian bookworm ships no PRRTE")
    assert "\n" not in message


def test_suite_not_in_recipe() -> None:
    recipe = load("rec").model_copy(update={"unsupported": {}})
    with pytest.raises(RecipeError, match=r"suite 'bookworm' is not one of its suites \(trixie, sid\)"):
        recipe.suite_entry("bookworm")


def test_recipe_is_frozen() -> None:
    rec = copy.copy(load("rec"))
    with pytest.raises(ValueError, match="frozen"):
        rec.name = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kind", "workload", "name"),
    [
        ("rec", None, "rec"),
        ("app", None, "app-mpi"),
        ("app", "nas", "app-nas"),
        ("app", "gromacs", "app-gromacs"),
        ("aio", None, "aio"),
    ],
)
def test_recipe_name(kind: str, workload: str | None, name: str) -> None:
    assert recipe_name(kind, workload) == name


def test_recipe_name_unknown_kind() -> None:
    with pytest.raises(RecipeError, match=r"^unknown image kind 'svc': choose rec, app or aio$"):
        recipe_name("svc", None)


def test_check_suite() -> None:
    assert check_suite("sid") == "sid"
    with pytest.raises(RecipeError, match=r"^unknown suite 'buster': choose one of bookworm, trixie, sid$"):
        check_suite("buster")


def test_aio_has_no_source_flavor() -> None:
    with pytest.raises(
        RecipeError, match=r"^the all-in-one image \(aio\) is built from Debian's packages only"
    ):
        recipe_name("aio", None, "source")


def test_rank_containers_fresh_must_say_why_and_is_for_recs(tmp_path) -> None:
    from recapp.builder.recipe import SuiteEntry

    assert SuiteEntry().rank_containers == "sandbox"
    with pytest.raises(ValueError, match="rank_containers: fresh needs rank_containers_why"):
        SuiteEntry(rank_containers="fresh")
    ok = SuiteEntry(rank_containers="fresh", rank_containers_why="measured: the sandbox hangs")
    assert ok.rank_containers == "fresh"
    rec = load("rec-source")
    assert rec.suite_entry("bookworm").rank_containers == "fresh"
    assert rec.suite_entry("trixie").rank_containers == "sandbox"


def test_prrte_mca_settings_say_why_and_stay_plain_words() -> None:
    from recapp.builder.recipe import SuiteEntry

    with pytest.raises(ValueError, match="prrte_mca needs prrte_mca_why"):
        SuiteEntry(prrte_mca={"odls_base_max_threads": "0"})
    for name, value in (("odls base", "0"), ("Odls", "0"), ("odls_base_max_threads", "0\nRUN id")):
        with pytest.raises(ValueError, match=r"bad (PRRTE MCA parameter name|value)"):
            SuiteEntry(prrte_mca={name: value}, prrte_mca_why="measured")


def test_recs_with_prrte_3_launch_ranks_on_the_progress_thread() -> None:
    # The hang of issue 16: PRRTE 3.0.x prted loses a rank that exits at once when it forks on a
    # launch thread. sid's PRRTE 5.0.0rc1 carries the upstream fix and needs nothing.
    rec = load("rec")
    assert rec.suite_entry("trixie").prrte_mca == {"odls_base_max_threads": "0"}
    assert rec.suite_entry("sid").prrte_mca == {}
    source = load("rec-source")
    assert source.components["prrte"].startswith("3.")
    assert all(source.suite_entry(s).prrte_mca == {"odls_base_max_threads": "0"} for s in source.suites)


@pytest.mark.parametrize("workload", ["", " ", "\t"])
def test_an_empty_workload_is_refused_not_taken_for_the_default(workload: str) -> None:
    with pytest.raises(RecipeError, match=r"^recipe: --workload is empty; name one, e\.g\. --workload mpi"):
        recipe_name("app", workload)
