"""The matrix classifier on real runs across the REC/APP boundary: PASS, a broken PMIx client,
singletons, and a hung probe (HANG within the timeout, nothing left behind)."""

from __future__ import annotations

import json
import time
from xml.etree import ElementTree

import pytest

from recapp.conformance.matrix.levels import LEVELS, Level
from recapp.conformance.matrix.runner import run_level

pytestmark = pytest.mark.e2e

REC = "localhost/recapp/rec:trixie"
APP = "localhost/recapp/app-mpi:trixie"


def test_ci_matrix_subset_through_the_cli(default_images, run_recapp, tmp_path):
    """The CI subset (1 REC × 2 APPs), as a CI job runs it: `recapp matrix` then `recapp report`."""
    out, report = tmp_path / "matrix-out", tmp_path / "matrix-report"
    result = run_recapp(
        "matrix",
        "--rec",
        REC,
        "--app",
        APP,
        "--app",
        "localhost/recapp/app-mpi:bookworm",
        "--out",
        str(out),
        timeout=1500,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    record = json.loads((out / "matrix.json").read_text())
    cells = {(c["app"], c["level"]): c for c in record["cells"]}
    assert [cells[(APP, lv)]["status"] for lv in ("L1", "L2", "L3", "L4")] == ["PASS"] * 4
    # What the processes reported, not only what the labels say.
    assert cells[(APP, "L2")]["observed"]["server_version"].startswith("5.0.7")
    assert "5.0.7" in cells[(APP, "L2")]["observed"]["client_version"]
    bookworm = "localhost/recapp/app-mpi:bookworm"
    # PMIx 4.2.2 client ↔ 5.0.7 server works; Open MPI 4.1 cannot run under PRRTE: a diagnosed FAIL.
    assert [cells[(bookworm, lv)]["status"] for lv in ("L1", "L2", "L3")] == ["PASS", "PASS", "FAIL"]
    assert "schizo" in cells[(bookworm, "L3")]["reason"] and "passes" in cells[(bookworm, "L3")]["reason"]
    pairs = {p["app"]: p for p in record["pairs"]}
    assert pairs[APP]["status"] == "PASS" and pairs[APP]["highest_level"] == "L4"
    assert pairs[bookworm]["expected"] == "compatible" and pairs[bookworm]["disagreement"] is None

    rendered = run_recapp("report", str(out), "--out", str(report), timeout=300)
    assert rendered.returncode == 0, rendered.stderr[-2000:]
    junit = ElementTree.parse(report / "junit.xml").getroot()
    matrix_suite = next(s for s in junit.iter("testsuite") if s.get("name", "").startswith("matrix"))
    assert int(matrix_suite.get("tests", 0)) == 8
    assert int(matrix_suite.get("failures", 0)) == 1 and int(matrix_suite.get("skipped", 0)) == 1
    assert "L4 PASS" in (report / "report.md").read_text()
    assert (report / "report.html").read_text().count("<table") >= 1


def test_app_without_its_pmix_client_fails_with_the_reason(
    engine, shared_cluster, local_backend, scratch_images, tmp_path
):
    tag = "localhost/recapp-test/app-nopmix:trixie"
    scratch_images.append(tag)
    (tmp_path / "Containerfile").write_text(
        f"FROM {APP}\nUSER root\nRUN find / -xdev -name 'libpmix.so*' -delete\nUSER 1000:1000\n"
    )
    engine.podman("build", "-q", "-t", tag, str(tmp_path), timeout=300)
    cell = run_level(local_backend, shared_cluster.name, REC, tag, LEVELS["L1"], tmp_path, print)
    assert cell.status in ("FAIL", "REFUSED")
    assert "libpmix.so.2" in (cell.reason or ""), cell.reason


def test_singletons_are_wrong_never_pass(shared_cluster, local_backend, tmp_path):
    strip = 'for v in $(env | grep -o "^PMIX_[A-Z0-9_]*"); do unset "$v"; done; exec hello'
    level = Level("L3", "hello with the PMIx environment removed", 2, "ppr:1:node", [["sh", "-c", strip]], 60)
    cell = run_level(local_backend, shared_cluster.name, REC, APP, level, tmp_path, print)
    assert cell.status == "WRONG"
    assert "singletons" in (cell.reason or "")


def test_hung_probe_is_hang_within_the_timeout_and_leaves_nothing(
    engine, shared_cluster, local_backend, tmp_path
):
    # Rank 1 never arrives at the fence, so rank 0 waits in it.
    hang = 'if [ "$PMIX_RANK" = 1 ]; then exec sleep 600; fi; exec pmix_probe'
    level = Level("L2", "probe with a rank that never fences", 2, "ppr:1:node", [["sh", "-c", hang]], 20)
    started = time.monotonic()
    cell = run_level(local_backend, shared_cluster.name, REC, APP, level, tmp_path, print)
    took = time.monotonic() - started
    assert cell.status == "HANG", (cell.status, cell.reason)
    assert "processes left" not in (cell.reason or "")
    assert took < 20 + 45, f"HANG took {took:.0f} s for a 20 s timeout"
    for node in (f"{shared_cluster.name}-node-0", f"{shared_cluster.name}-node-1"):
        left = engine.podman(
            "exec", node, "sh", "-c", "pgrep -x prted; pgrep -x sleep; podman ps -q", check=False
        )
        assert left.stdout.strip() == "", f"{node} still runs: {left.stdout}"
    login = f"{shared_cluster.name}-login"
    assert engine.podman("exec", login, "pgrep", "-x", "prterun", check=False).stdout.strip() == ""
