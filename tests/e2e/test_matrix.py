"""The matrix classifier on real runs across the REC/APP boundary: PASS, a broken PMIx client,
singletons, and a hung probe (HANG within the timeout, nothing left behind)."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from xml.etree import ElementTree

import pytest

from recapp.builder.build import BuildRequest, build_image
from recapp.conformance.matrix.levels import LEVELS, Level
from recapp.conformance.matrix.runner import PARTIAL, run_level, run_matrix
from recapp.k8s import objects as o
from recapp.k8s.local.backend import probe_timeout_s

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
    # The timeout, the cleanup, and the diagnosis, whose readiness probes (run at once) each wait
    # longer on a busy host (issue 16): 65 s on a quiet one; it took 69 s at load 20 with 45 s.
    limit = 20 + 40 + probe_timeout_s()
    assert took < limit, f"HANG took {took:.0f} s for a 20 s timeout (limit {limit:.0f} s)"
    for node in (f"{shared_cluster.name}-node-0", f"{shared_cluster.name}-node-1"):
        left = engine.podman(
            "exec", node, "sh", "-c", "pgrep -x prted; pgrep -x sleep; podman ps -q", check=False
        )
        assert left.stdout.strip() == "", f"{node} still runs: {left.stdout}"
    login = f"{shared_cluster.name}-login"
    assert engine.podman("exec", login, "pgrep", "-x", "prterun", check=False).stdout.strip() == ""


# The deeper levels' pair; a branch that changes their recipes builds them under tags of its own
# (the image store is shared), e.g. RECAPP_TEST_LEVELS_REC=localhost/recapp/rec:levels-trixie.
LEVELS_REC = os.environ.get("RECAPP_TEST_LEVELS_REC", REC)
LEVELS_APP = os.environ.get("RECAPP_TEST_LEVELS_APP", APP)


@pytest.fixture(scope="module")
def trixie_pair() -> None:
    """Only the two images the deeper levels run on (not every default image)."""
    build_image(BuildRequest("rec", "trixie", tag=LEVELS_REC))
    build_image(BuildRequest("app", "trixie", workload="mpi", tag=LEVELS_APP))


def test_deeper_levels_through_the_cli(trixie_pair, run_recapp, tmp_path):
    """L5 to L9 (issue 19) on the trixie pair, asked for by name, in one matrix run (one cluster):
    every one passes, and each cell says what it saw.
    L5: the children of PMIx_Spawn and of MPI_Comm_spawn run nested in the APP (PRRTE's exec agent),
    on both nodes; the one beside its parent has the parent's very root filesystem (same st_dev:st_ino
    of "/"). L6: two jobs of the DVM meet through MPI_Publish_name/MPI_Lookup_name and connect/accept.
    L7: an MPI-4 session on Open MPI 5.0.7. L8: the last rank exits 7; the three others are told.
    L9: pquery in the login pod reads the running job's process table from the DVM: the ranks' own
    pids and hosts."""
    out = tmp_path / "matrix-out"
    levels = ["L5", "L6", "L7", "L8", "L9"]
    result = run_recapp(
        "matrix", "--rec", LEVELS_REC, "--app", LEVELS_APP, "--levels", ",".join(levels), "--out", str(out),
        timeout=1800,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    record = json.loads((out / "matrix.json").read_text())
    assert record["levels"] == levels
    cells = {c["level"]: c for c in record["cells"]}
    for level in ("L6", "L7", "L8", "L9"):
        assert cells[level]["status"] == "PASS", f"{level}: {cells[level]['reason']}"
    for probe in ("pmix_spawn_probe", "spawn_probe"):
        spawned = cells["L5"]["observed"][f"{probe}.spawned"].split(",")
        assert sorted(s.split(":")[0].rsplit("-", 1)[-1] for s in spawned) == ["0", "1"], probe  # both nodes
        assert all(s.endswith(":nested=yes") for s in spawned), (probe, spawned)
    logs = sorted((out / "jobs").glob("*--L5-*.json"))
    assert len(logs) == 2
    for job in logs:
        log = Path(json.loads(job.read_text())["log_path"]).read_text()
        child0 = next(line for line in log.splitlines() if line.startswith("SPAWN_CHILD child=0 "))
        fields = dict(kv.split("=", 1) for kv in child0.split()[1:])
        assert fields["root"] == fields["parent_root"], job.name  # the APP's /, not the REC's
    assert cells["L8"]["observed"] == {"failed_rank": "3", "told": "3/3"}
    assert len(cells["L9"]["observed"]["pids"].split(",")) == 2
    # Known (issue 19, docs/compat-levels.md): on PRRTE 3.0.8 + PMIx 5.0.7 the children answer, nested,
    # and then the child on the other node never returns from its PMIx_Get of the key its parent
    # committed after it asked (not even at the Get's PMIX_TIMEOUT), so the job runs into its timeout:
    # HANG "after every probe verdict (2) was OK" (session 8: 2 of 2 here; session 6: 3 of 3, read then
    # as a lost daemon). The nesting above is asserted either way; any other L5 failure fails this test.
    reason = cells["L5"]["reason"] or ""
    if cells["L5"]["status"] == "HANG" and "after every probe verdict" in reason:
        pytest.xfail(f"L5 on PRRTE 3.0.8: {reason}")
    assert cells["L5"]["status"] == "PASS", f"L5: {cells['L5']['reason']}"
    assert record["pairs"][0]["levels"] == dict.fromkeys(levels, "PASS")
    assert record["pairs"][0]["first_failed_level"] is None


def test_a_cell_the_cluster_cannot_run_is_recorded_and_the_matrix_goes_on(engine, local_backend, tmp_path):
    """Issue 19: one node pod that stops answering (here: stopped when L2 starts on the first REC's
    cluster) costs that cell only. It is ERROR with the pod named, the first cluster is still brought
    down, and the second REC's cluster runs its cells (before: the JobError ended the whole matrix)."""
    clusters: list[str] = []
    stopped: list[str] = []

    def step(text: str) -> None:
        found = re.match(r"cluster (mx[0-9a-f]+) for ", text)
        if found:
            clusters.append(found[1])
        if ": L2 " in text and not stopped:
            victim = o.node_pod_names(local_backend.spec(clusters[0]))[1]
            engine.podman("stop", "-t", "0", victim)
            stopped.append(victim)

    record = run_matrix(local_backend, [REC, REC], [APP], ["L1", "L2"], tmp_path, step=step)
    assert len(clusters) == 2 and len(stopped) == 1
    got = [(c.level, c.status) for c in record.cells]
    assert got == [("L1", "PASS"), ("L2", "ERROR"), ("L1", "PASS"), ("L2", "PASS")], record.cells
    error = record.cells[1]
    assert error.reason and error.reason.startswith("not run: ") and stopped[0] in error.reason, error.reason
    assert [p.first_failed_level for p in record.pairs] == ["L2", None]
    assert record.errors == []
    for name in clusters:
        assert not local_backend.status(name).exists, f"cluster {name} was left behind"
    # The record so far was kept after every pair.
    assert (tmp_path / PARTIAL).exists()


def test_sigterm_mid_matrix_removes_its_cluster(default_images, engine, tmp_path):
    """A cancelled CI job sends SIGTERM: the matrix then removes its cluster as on Ctrl-C. Before
    recapp's CLI turned SIGTERM into Ctrl-C's path, a SIGTERM'd `recapp matrix` left its pods."""
    import signal
    import subprocess

    from ..conftest import recapp_executable

    def mine() -> set[str]:
        out = engine.podman("ps", "-a", "--format", "{{.Names}}", check=False).stdout.split()
        return {n for n in out if re.fullmatch(r"mx[0-9a-f]{6}-(node-\d+|login)", n)}

    before = mine()
    proc = subprocess.Popen(
        [recapp_executable(), "matrix", "--rec", "localhost/recapp/rec:trixie",
         "--app", "localhost/recapp/app-mpi:trixie", "--levels", "L1", "--out", str(tmp_path / "m")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 180
    while not (mine() - before) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.5)
    made = mine() - before
    assert made and proc.poll() is None, f"no matrix cluster appeared while it ran: {proc.poll()}"
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode != 0, out[-500:]
    assert not (mine() & made), f"left after SIGTERM: {sorted(mine() & made)}\n{out[-800:]}"
