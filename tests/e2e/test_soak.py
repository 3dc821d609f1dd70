"""Soak: 20 consecutive jobs on one cluster, with and without the persistent DVM. Every job passes and
nothing accumulates: processes, zombies, /tmp entries (PRRTE session directories, sandbox state),
nested containers (at most one APP sandbox per node and image), volumes, host objects, state files.

The footprint is taken after a first warm-up job (which loads the APP and starts each node's
sandbox, and the DVM), then after every job; the last must not exceed the warm-up's on any count.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import time
from collections.abc import Iterator

import pytest

from recapp.errors import JobError
from recapp.host.paths import sub
from recapp.k8s import constants as c
from recapp.k8s import objects as o
from recapp.k8s.dvm import (
    DVM_URI,
    KNOWN_ISSUE,
    LATE_LAUNCH_REPORT,
    ensure_dvm,
    log_tail,
    restarts_after_job,
    stop_dvm,
)
from recapp.k8s.jobs import LOST_DAEMON, JobRequest, failed_rank, run_job
from recapp.k8s.local.backend import login_pod_name
from recapp.k8s.spec import ClusterSpec

from ..conftest import recapp_executable
from .footprint import Footprint, measure

pytestmark = [pytest.mark.e2e, pytest.mark.reliability]

APP = "localhost/recapp/app-mpi:trixie"
JOBS = 20


@pytest.fixture
def soak_app(engine, default_images, scratch_images) -> str:
    """The APP under a tag of this test's own: another session rebuilding the shared tag mid-soak
    would make every node load the new build (that path is checked in test_rebuilt_app_…)."""
    tag = f"localhost/recapp-test/app-soak-{secrets.token_hex(3)}:trixie"
    engine.podman("tag", APP, tag)
    scratch_images.append(tag)
    return tag


@pytest.mark.slow
@pytest.mark.parametrize("dvm", [False, True], ids=["prterun", "dvm"])
def test_twenty_jobs_pass_and_leave_nothing_behind(engine, make_cluster, local_backend, soak_app, dvm: bool):
    spec = make_cluster(nodes=2, slots=2)

    def job() -> bool:
        record = run_job(
            local_backend,
            JobRequest(
                cluster=spec.name, np=4, command=["hello"], app=soak_app, map_by="ppr:2:node", dvm=dvm,
                timeout_s=120,
            ),
        )  # fmt: skip
        return record.passed

    assert job(), "warm-up job failed"
    baseline = measure(engine, spec)
    history: list[Footprint] = [baseline]
    passed = 0
    for _ in range(JOBS):
        passed += job()
        history.append(measure(engine, spec))
    last = history[-1]
    figures = {
        "jobs": JOBS,
        "passed": passed,
        "dvm": dvm,
        "baseline": baseline.as_dict(),
        "last": last.as_dict(),
        "max": {k: max(h.as_dict()[k] for h in history) for k in baseline.as_dict()},
        "new_tmp_paths": last.new_tmp_paths(baseline),
    }
    # Kept for the closing note of the reliability run (`make reliability` prints them).
    out = sub("reliability") / f"soak-{'dvm' if dvm else 'prterun'}-{spec.name}.json"
    out.write_text(json.dumps(figures, indent=2) + "\n")
    if dvm:
        stop_dvm(local_backend, spec.name)
    assert passed == JOBS, f"{passed}/{JOBS} jobs passed"
    assert last.zombies == 0, f"zombies after {JOBS} jobs: {last.zombies}"
    assert last.nested_containers == spec.nodes, f"expected one APP sandbox per node: {last}"
    grown = last.grown(baseline)
    assert grown == {}, (
        f"grew over {JOBS} jobs (before, after): {grown}; new in /tmp: {last.new_tmp_paths(baseline)}"
    )


def test_rebuilt_app_replaces_the_old_build_in_every_node(
    engine, make_cluster, local_backend, soak_app, scratch_images, tmp_path
):
    # A new build under the same tag is loaded into each node; the old build must not stay there.
    spec = make_cluster(nodes=2, slots=2)
    request = JobRequest(cluster=spec.name, np=4, command=["hello"], app=soak_app, map_by="ppr:2:node")
    assert run_job(local_backend, request).passed
    before = measure(engine, spec)
    (tmp_path / "Containerfile").write_text(
        f"FROM {soak_app}\nLABEL io.recapp.test.rebuilt={tmp_path.name}\n"
    )
    engine.podman("build", "-q", "-t", soak_app, str(tmp_path), timeout=300)
    record = run_job(local_backend, request)
    assert record.passed, (record.error, record.verification.reasons)
    for node in (f"{spec.name}-node-0", f"{spec.name}-node-1"):
        node_id = engine.podman("exec", node, "podman", "image", "inspect", "--format", "{{.Id}}", soak_app)
        assert node_id.stdout.strip() == engine.image_id(soak_app)
    after = measure(engine, spec)
    assert after.nested_images == before.nested_images, (before.nested_images, after.nested_images)
    assert after.nested_containers == spec.nodes


# --- Short jobs by the hundred (issue 16) -------------------------------------------------------------
# Ranks that exit at once: all `true`, one rank `exit 3`, one rank killed by SIGSEGV, in turn; every
# other job by hand (`recapp cluster login -- prterun|prun …`, the user's own command line) and every
# other one by `recapp run`. RECAPP_SOAK_JOBS sets how many consecutive jobs, with and again without
# the DVM (200 in `make reliability`, a dozen in `make test`).
SHORT_JOBS = int(os.environ.get("RECAPP_SOAK_JOBS", "12"))
# A hang, not a latency target: at load ≈ 45 on 2 cores one `recapp cluster login -- prterun … true`
# took 47 s (the 30 s of test_short_jobs is for a machine that is not that busy). Times are recorded.
SHORT_LIMIT_S = 120.0
NP = 8
KINDS = {"true": 0, "exit 3": 3, "segv": 139}
RSS_TOLERANCE = 0.10  # the agents' memory may move by this fraction of the warm-up's, not more


def _short_command(kind: str, rank: int) -> list[str]:
    if kind == "true":
        return ["true"]
    act = "exit 3" if kind == "exit 3" else "kill -SEGV $$"
    return ["sh", "-c", f'test "$PMIX_RANK" = {rank} && {act}; exit 0']


def _expected_error(kind: str, rank: int, dvm: bool, error: str | None) -> bool:
    if kind == "true":
        return error is None
    if kind == "exit 3":
        return error == f"rank {rank} exited with status 3"
    named = f"rank {rank} was killed by signal 11 (SIGSEGV)"
    # Through the DVM PRRTE 3 often prints nothing for a signalled rank, and `prun` cannot ask for the
    # error manager's line: the record then says what happened without a rank.
    return error == named or (
        dvm and error == "a rank was killed by signal 11 (SIGSEGV); PRRTE did not name it"
    )


@pytest.fixture(scope="module")
def four_node_cluster(cluster_of, default_images) -> Iterator[ClusterSpec]:
    # Four node pods on a host shared with other work: 120 s was not enough at load ≈ 45 on 2 cores.
    with cluster_of("localhost/recapp/rec:trixie", nodes=4, ready_timeout_s=300) as spec:
        yield spec


# In `make reliability`, not `make test`, for its length. It found PRRTE 3.0.8's daemon signalling
# itself through a rank it had just forked (docs/prrte-hang.md): a failing rank's status was lost
# and prterun exited 0 in 3 of 80 jobs before the REC's killguard.
@pytest.mark.slow
@pytest.mark.parametrize("dvm", [False, True], ids=["prterun", "dvm"])
def test_short_jobs_end_with_their_status_and_failed_rank_and_leave_nothing(
    engine, local_backend, four_node_cluster, dvm: bool
):
    spec = four_node_cluster
    launcher = ["prun", "--dvm-uri", f"file:{DVM_URI}"] if dvm else ["prterun", "--hostfile", c.HOSTFILE_PATH]
    login = [recapp_executable(), "cluster", "login", "--name", spec.name, "--"]

    def by_hand(command: list[str]) -> tuple[int, float, str]:
        argv = [*login, *launcher, "-np", str(NP), "--map-by", "ppr:2:node", *command]
        t0 = time.monotonic()
        try:
            proc = subprocess.run(
                argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=SHORT_LIMIT_S
            )
        except subprocess.TimeoutExpired:
            return 124, SHORT_LIMIT_S, ""
        return proc.returncode, time.monotonic() - t0, proc.stdout + proc.stderr

    def by_recapp(command: list[str]) -> tuple[int, float, str | None]:
        request = JobRequest(
            cluster=spec.name, np=NP, command=command, map_by="ppr:2:node", mode="native", verify=False,
            timeout_s=SHORT_LIMIT_S, dvm=dvm,
        )  # fmt: skip
        t0 = time.monotonic()
        try:
            record = run_job(local_backend, request)
        except JobError as exc:  # refused before it ran (a node missed its probes): a failed job, counted
            return -1, time.monotonic() - t0, f"refused: {exc}"
        return record.exit_status, record.wall_s, record.error

    if dvm:
        ensure_dvm(local_backend, spec.name)
    # Warm-up: one job each way, so the baseline holds what every job leaves by design (the DVM).
    warm = (by_hand(["true"])[:2], by_recapp(["true"]))
    assert warm[0][0] == 0 and warm[1][0] == 0, f"warm-up jobs failed (status, s[, error]): {warm}"
    load_before = os.getloadavg()
    # The first rootless `podman` call in a pod (the measure's own `podman ps`) starts that user's
    # pause process (`catatonit -P`, one per node pod, kept): measured once first, it is in the baseline.
    measure(engine, spec)
    baseline = measure(engine, spec)
    history: list[Footprint] = [baseline]
    checkpoint = max(2, SHORT_JOBS // 4)
    bad: list[tuple[int, str, str, int, str]] = []
    times: dict[str, list[float]] = {"hand": [], "recapp": []}
    prrte_named = {"hand": 0, "recapp": 0}
    failing = {"hand": 0, "recapp": 0}
    # Jobs whose DVM went down under them through PRRTE's known defect (k8s/dvm.py: the HNP ends on a
    # late launch report), each with the keeper's restart line that shows it; any other restart is bad.
    dvm_lost: list[tuple[int, str, str, int, str]] = []
    for i in range(SHORT_JOBS):
        kind = list(KINDS)[i % 3]
        rank = (i // 3) % NP
        path = "hand" if i % 2 == 0 else "recapp"
        command = _short_command(kind, rank)
        job_started = time.time()
        if path == "hand":
            status, seconds, output = by_hand(command)
            named = failed_rank(output, status)
            # The user's own command line: the exit status is the contract; PRRTE's report is counted.
            ok = status == KINDS[kind] and (named is None or named.startswith(f"rank {rank} "))
            # A wrong status by hand: keep what says why (PRRTE 3 may exit 0 after losing a daemon).
            lost = LOST_DAEMON.search(output)
            launch = [ln for ln in output.splitlines() if ln.startswith("recapp-launch:")]
            detail = named or (f"lost daemon on {lost.group(1)}; " if lost else "") + " | ".join(launch)[:200]
        else:
            status, seconds, error = by_recapp(command)
            named = error if error and error.startswith("rank ") else None
            ok = status == KINDS[kind] and _expected_error(kind, rank, dvm, error)
            detail = error or ""
        if dvm and not ok:
            restarts = restarts_after_job(local_backend, spec.name, job_started - 1, status)
            if restarts and all(LATE_LAUNCH_REPORT in r for r in restarts):
                ensure_dvm(local_backend, spec.name)  # a user's next `prun` waits for the keeper too
                said = path == "hand" or (error or "").startswith("the PRRTE DVM went down during this job")
                if said:
                    dvm_lost.append((i, path, kind, status, restarts[-1][-160:]))
                    ok = True
            if not ok:  # what the DVM said then, for the next diagnosis (two such jobs had no output)
                keeper = restarts[-1][-160:] if restarts else "no restart"
                detail = f"{detail} | keeper: {keeper} | dvm log: {log_tail(local_backend, spec.name)}"
        times[path].append(seconds)
        if kind != "true":
            failing[path] += 1
            prrte_named[path] += named is not None
        if not ok:
            bad.append((i, path, kind, status, detail))
        if (i + 1) % checkpoint == 0:
            history.append(measure(engine, spec))
    if SHORT_JOBS % checkpoint:
        history.append(measure(engine, spec))
    last = history[-1]
    load_after = os.getloadavg()

    def pct(xs: list[float], q: float) -> float:
        return round(sorted(xs)[min(len(xs) - 1, int(q * len(xs)))], 2)

    figures = {
        "jobs": SHORT_JOBS,
        "passed": SHORT_JOBS - len(bad) - len(dvm_lost),
        "dvm": dvm,
        "nodes": spec.nodes,
        "np": NP,
        "bad": bad[:20],
        # not counted as passed: each lost its status to PRRTE's defect (KNOWN_ISSUE), shown by its restart
        "dvm_lost_to_known_issue": dvm_lost,
        "seconds": {
            p: {"p50": pct(t, 0.5), "p95": pct(t, 0.95), "max": round(max(t), 2)} for p, t in times.items()
        },
        "failing_jobs": failing,
        "failed_rank_named": prrte_named,
        "loadavg_before": load_before,
        "loadavg_after": load_after,
        "baseline": baseline.as_dict(),
        "last": last.as_dict(),
        "max": {k: max(h.as_dict()[k] for h in history) for k in baseline.as_dict()},
        "checkpoints": [h.as_dict() for h in history],
        "new_tmp_paths": last.new_tmp_paths(baseline),
    }
    out = sub("reliability") / f"soak-short-{'dvm' if dvm else 'prterun'}-{spec.name}.json"
    out.write_text(json.dumps(figures, indent=2) + "\n")
    if dvm:
        stop_dvm(local_backend, spec.name)
        left = [
            (pod, engine.podman("exec", pod, "pgrep", "-a", "-x", "prte|prted", check=False).stdout.strip())
            for pod in [*o.node_pod_names(spec), login_pod_name(spec.name)]
        ]
        assert not [x for x in left if x[1]], f"the DVM left daemons running after stop_dvm: {left}"
    assert not bad, (
        f"{len(bad)} of {SHORT_JOBS} short jobs ended wrongly (job, path, kind, status, report): {bad[:10]};"
        f" besides, lost to {KNOWN_ISSUE}: {dvm_lost}"
    )
    assert last.zombies == 0, f"zombies after {SHORT_JOBS} jobs: {last.zombies}"
    grown = last.grown(baseline)
    assert grown == {}, (
        f"grew over {SHORT_JOBS} jobs (before, after): {grown}; new in /tmp: {last.new_tmp_paths(baseline)}"
    )
    rss_limit = baseline.agent_rss_kib * (1 + RSS_TOLERANCE)
    assert last.agent_rss_kib <= rss_limit, (
        f"the launch agents' memory grew from {baseline.agent_rss_kib} to {last.agent_rss_kib} KiB"
    )
