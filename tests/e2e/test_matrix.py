"""The matrix classifier on real runs across the REC/APP boundary: PASS, a broken PMIx client,
singletons, and a hung probe (HANG within the timeout, nothing left behind)."""

from __future__ import annotations

import time

import pytest

from recapp.conformance.matrix.levels import LEVELS, Level
from recapp.conformance.matrix.runner import run_level, run_pair

pytestmark = pytest.mark.e2e

REC = "localhost/recapp/rec:trixie"
APP = "localhost/recapp/app-mpi:trixie"


def test_trixie_pair_passes_every_level(shared_cluster, local_backend, tmp_path):
    cells = run_pair(local_backend, shared_cluster.name, REC, APP, list(LEVELS.values()), tmp_path, print)
    assert [(c.level, c.status) for c in cells] == [
        ("L1", "PASS"),
        ("L2", "PASS"),
        ("L3", "PASS"),
        ("L4", "PASS"),
    ], [(c.level, c.status, c.reason) for c in cells]
    # What the processes reported, not only what the labels say.
    assert cells[1].observed["server_version"].startswith("5.0.7")
    assert "5.0.7" in cells[1].observed["client_version"]


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
