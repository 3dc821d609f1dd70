"""Source-flavor images end to end (slow: compiles PMIx, PRRTE and Open MPI; about an hour on 2 busy
cores the first time, seconds when the layers are cached): built from Debian source packages through
the CLI, then the static conformance checks, plus what makes them source builds — Open MPI's configure
line has no PRRTE and the external PMIx, and no `mpirun` exists anywhere in the APP.

The images are the source flavor's own tags (never the default tags) and are kept, as the default
images are: `make matrix` uses them when they exist.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

from recapp.builder.images import source_flavor_tags
from recapp.conformance.images import facts

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SOURCE_REC = "localhost/recapp/rec-source:bookworm-pmix5.0.5-prrte3.0.8"
SOURCE_APP = "localhost/recapp/app-mpi-source:trixie-pmix5.0.5-ompi5.0.7"
BUILD_TIMEOUT = 4 * 3600
ROOT = Path(__file__).resolve().parents[2]


def conformance_outcomes(tmp_path: Path, *options: str) -> dict[str, tuple[str, str]]:
    """`pytest conformance/images …` in a subprocess; check name → (outcome, message) from its JUnit."""
    junit = tmp_path / "conformance.xml"
    argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "conformance/images", *options]
    proc = subprocess.run(
        [*argv, f"--junitxml={junit}"], capture_output=True, text=True, cwd=ROOT, timeout=900, check=False
    )
    assert junit.is_file(), f"conformance run wrote no JUnit:\n{(proc.stdout + proc.stderr)[-3000:]}"
    outcomes: dict[str, tuple[str, str]] = {}
    for case in ElementTree.parse(junit).iter("testcase"):
        outcome, message = "passed", ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome, message = child.tag, child.get("message", "")
        outcomes[case.get("name", "?")] = (outcome, message)
    return outcomes


def not_passed(outcomes: dict[str, tuple[str, str]]) -> dict[str, tuple[str, str]]:
    return {name: result for name, result in outcomes.items() if result[0] != "passed"}


def _build(run_recapp: Any, *args: str) -> dict[str, Any]:
    result = run_recapp("build", *args, "--flavor", "source", "--json", timeout=BUILD_TIMEOUT)
    assert result.returncode == 0, f"recapp build {' '.join(args)} failed:\n{result.stderr[-4000:]}"
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def rec_record(run_recapp: Any) -> dict[str, Any]:
    return _build(run_recapp, "rec", "--suite", "bookworm")


@pytest.fixture(scope="module")
def app_record(run_recapp: Any) -> dict[str, Any]:
    return _build(run_recapp, "app", "--suite", "trixie")


def test_rec_record(rec_record: dict[str, Any]) -> None:
    assert rec_record["tag"] == SOURCE_REC
    assert rec_record["recipe"] == "rec-source" and rec_record["suite"] == "bookworm"
    assert rec_record["versions"]["pmix"] == "5.0.5"
    assert rec_record["versions"]["prrte"] == "3.0.8"
    assert rec_record["sources"]["prrte"]["origin"] == "debian"
    assert rec_record["sources"]["prrte"]["sha256"].startswith("97f10c04e9b9a177")


def test_app_record(app_record: dict[str, Any]) -> None:
    assert app_record["tag"] == SOURCE_APP
    assert app_record["versions"]["ompi"] == "5.0.7"
    assert app_record["versions"]["pmix"] == "5.0.5"
    assert app_record["sources"]["ompi"]["configure"].startswith("--without-prrte --with-pmix=/opt/pmix")


def test_rebuild_is_cached(run_recapp: Any, rec_record: dict[str, Any], app_record: dict[str, Any]) -> None:
    again = _build(run_recapp, "rec", "--suite", "bookworm")
    assert again["cached"] is True and again["id"] == rec_record["id"]
    again = _build(run_recapp, "app", "--suite", "trixie")
    assert again["cached"] is True and again["id"] == app_record["id"]


def test_source_rec_conforms(rec_record: dict[str, Any], tmp_path: Path) -> None:
    """Every REC check passes, none skipped (the same checks as for the distro RECs)."""
    outcomes = conformance_outcomes(tmp_path, "--rec-image", SOURCE_REC, "-m", "rec")
    assert "test_prrte_binary_runs[prterun]" in outcomes and "test_pmix_version_matches_label" in outcomes
    assert not_passed(outcomes) == {}


def test_source_app_conforms(app_record: dict[str, Any], tmp_path: Path) -> None:
    """Every APP check passes, none skipped but the MPICH one (an Open MPI APP): no launcher, libmpi
    resolves the source-built libpmix, the configure line uses an external PMIx, labels match what
    libmpi and the PMIx client report."""
    outcomes = conformance_outcomes(tmp_path, "--app-image", SOURCE_APP, "-m", "app")
    assert "test_no_launcher_or_sshd[mpirun]" in outcomes and "test_labels_match_contents" in outcomes
    left = not_passed(outcomes)
    outcome, message = left.pop("test_mpich_label_matches_the_library", ("", ""))
    assert outcome == "skipped" and "not an MPICH APP" in message, (outcome, message)
    assert left == {}


def test_app_configure_line_has_no_prrte_and_external_pmix(engine: Any, app_record: dict[str, Any]) -> None:
    record = engine.podman("run", "--rm", SOURCE_APP, "cat", "/usr/local/share/recapp/ompi-config.txt").stdout
    cli = re.search(r"^config:cli:(.*)$", record, re.MULTILINE)
    assert cli, f"no configure line in the APP's record: {record[:300]!r}"
    assert facts.configure_prrte(cli.group(1)) == "no", cli.group(1)
    assert facts.configure_pmix(cli.group(1)) == "/opt/pmix", cli.group(1)


def test_app_has_no_mpirun_anywhere(engine: Any, app_record: dict[str, Any]) -> None:
    """No launcher executable or link anywhere (Open MPI still installs mpirun's man page and HTML
    docs, which are not executables), and no PRRTE library."""
    found = engine.podman(
        "run",
        "--rm",
        "--user",
        "0",
        SOURCE_APP,
        "sh",
        "-c",
        "find / -xdev \\( -name 'mpirun*' -o -name 'mpiexec*' -o -name 'prte*' -o -name 'prun*' \\)"
        " \\( -type l -o -type f -perm /111 \\) -print",
    ).stdout.split()
    assert found == [], f"launcher executables in the source APP: {found}"
    docs = engine.podman("run", "--rm", SOURCE_APP, "ls", "/opt/openmpi/share/man/man1").stdout.split()
    assert "mpirun.1" in docs, "expected Open MPI's mpirun man page: the search covers /opt/openmpi"
    libs = engine.podman("run", "--rm", SOURCE_APP, "ls", "/opt/openmpi/lib").stdout.split()
    assert "libmpi.so" in libs and not [x for x in libs if x.startswith("libprrte")], libs


def test_matrix_source_option_finds_both(rec_record: dict[str, Any], app_record: dict[str, Any]) -> None:
    """`recapp matrix --source` (and `make matrix`) adds exactly the source-flavor images."""
    assert SOURCE_REC in source_flavor_tags("rec")
    assert SOURCE_APP in source_flavor_tags("app")
    assert not [t for t in source_flavor_tags("rec") + source_flavor_tags("app") if ":" not in t]
    assert "localhost/recapp/rec:trixie" not in source_flavor_tags("rec")


def test_rec_on_trixie_reuses_the_apps_pmix_stage(run_recapp: Any, app_record: dict[str, Any]) -> None:
    """A trixie source REC after the trixie source APP: the PMIx stage comes from the layer cache
    (no PMIx step runs), only PRRTE is compiled."""
    record = _build(run_recapp, "rec", "--suite", "trixie")
    assert record["tag"] == "localhost/recapp/rec-source:trixie-pmix5.0.5-prrte3.0.8"
    assert record["versions"]["pmix"] == "5.0.5" and record["versions"]["prrte"] == "3.0.8"
    assert not [s for s in record["steps"] if s.startswith("pmix ")], record["steps"]
    if record["cached"] or not record["steps"]:
        return  # built before (the PRRTE stage is cached too): nothing ran, nothing to tell apart
    assert set(record["steps"]) == {"prrte configure", "prrte make", "prrte install"}, record["steps"]
