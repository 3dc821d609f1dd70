"""Jobs whose ranks exit at once end at once: the hang of issue 16.

PRRTE 3.0.x's prted forks each rank on a launch thread and stores the pid only after fork()
returns, while its SIGCHLD handler reaps with waitpid(-1) on another thread and drops a pid it
cannot match yet: a rank that exits at once was never recorded and the job waited forever (11 of
30 hand-run `prterun … true` jobs on a 4-node cluster here). The REC launches ranks on the
progress thread instead (recipe `rec`, `prrte_mca`); these tests run the user's own command line
through `recapp cluster login` and the same job through `recapp run`.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator

import pytest

from recapp.host.paths import sub
from recapp.k8s import constants as c
from recapp.k8s.jobs import JobRequest, run_job
from recapp.k8s.spec import ClusterSpec

from ..conftest import recapp_executable

pytestmark = [pytest.mark.e2e, pytest.mark.reliability]

HAND_RUNS = 30
RECAPP_RUNS = 10
LIMIT_S = 30.0
PRTERUN = ["prterun", "--hostfile", c.HOSTFILE_PATH, "-np", "8", "--map-by", "ppr:2:node", "true"]


def _keep_figures(
    kind: str, cluster: str, outcomes: list[tuple[int, float]], load_before: tuple[float, float, float]
) -> None:
    """Job times and statuses for the closing note (`make reliability` prints them)."""
    times = sorted(s for _, s in outcomes)

    def pct(q: float) -> float:
        return round(times[min(len(times) - 1, int(q * len(times)))], 2)

    figures = {
        "jobs": len(outcomes),
        "exit_0": sum(rc == 0 for rc, _ in outcomes),
        "under_limit": sum(s < LIMIT_S for _, s in outcomes),
        "limit_s": LIMIT_S,
        "seconds": {"p50": pct(0.5), "p95": pct(0.95), "max": round(times[-1], 2)},
        "loadavg_before": load_before,
        "loadavg_after": os.getloadavg(),
    }
    (sub("reliability") / f"short-jobs-{kind}-{cluster}.json").write_text(
        json.dumps(figures, indent=2) + "\n"
    )


@pytest.fixture(scope="module")
def four_nodes(cluster_of, default_images) -> Iterator[ClusterSpec]:
    with cluster_of("localhost/recapp/rec:trixie", nodes=4, ready_timeout_s=300) as spec:
        yield spec


def test_hand_run_prterun_of_true_ends_every_time(four_nodes) -> None:
    argv = [recapp_executable(), "cluster", "login", "--name", four_nodes.name, "--", *PRTERUN]
    outcomes: list[tuple[int, float]] = []
    load_before = os.getloadavg()
    for _ in range(HAND_RUNS):
        t0 = time.monotonic()
        try:
            proc = subprocess.run(
                argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=LIMIT_S
            )
            outcomes.append((proc.returncode, time.monotonic() - t0))
        except subprocess.TimeoutExpired:
            outcomes.append((124, LIMIT_S))
    _keep_figures("hand", four_nodes.name, outcomes, load_before)
    bad = [(n, rc, round(s, 1)) for n, (rc, s) in enumerate(outcomes) if rc != 0]
    assert not bad, f"{len(bad)} of {HAND_RUNS} hand-run jobs did not end with 0 within {LIMIT_S:g} s: {bad}"


def test_recapp_run_of_true_ends_every_time(four_nodes, local_backend) -> None:
    request = JobRequest(
        cluster=four_nodes.name, np=8, command=["true"], map_by="ppr:2:node", mode="native",
        verify=False, timeout_s=LIMIT_S,
    )  # fmt: skip
    load_before = os.getloadavg()
    records = [run_job(local_backend, request) for _ in range(RECAPP_RUNS)]
    _keep_figures(
        "recapp",
        four_nodes.name,
        [(r.exit_status if not r.error else -1, r.wall_s) for r in records],
        load_before,
    )
    bad = [(r.id, r.exit_status, r.wall_s, r.error) for r in records if r.exit_status != 0 or r.error]
    assert not bad, f"{len(bad)} of {RECAPP_RUNS} `recapp run` jobs failed or hung: {bad}"
    assert max(r.wall_s for r in records) < LIMIT_S


def test_cluster_login_passes_stdin_output_and_status_through(four_nodes) -> None:
    script = 'id -un; cat; echo to-stderr >&2; test "$PRTE_MCA_odls_base_max_threads" = 0 || exit 9; exit 7'
    argv = [recapp_executable(), "cluster", "login", "--name", four_nodes.name, "--", "sh", "-c", script]
    proc = subprocess.run(argv, input="from-stdin\n", capture_output=True, text=True, timeout=120)
    assert proc.returncode == 7, proc.stderr
    assert proc.stdout == "rec\nfrom-stdin\n"
    assert proc.stderr == "to-stderr\n"
