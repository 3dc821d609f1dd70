"""The persistent DVM under its keeper (k8s/dvm.py), live: a `prte` that ends under a job is restarted,
the job says its DVM went down instead of passing (prun exited 0 here when its DVM was terminated in
the middle of a 6-s job), the next job runs, and stopping the DVM leaves no prte, keeper or file."""

from __future__ import annotations

import threading

import pytest

from recapp.k8s import objects as o
from recapp.k8s.dvm import DVM_KEEPER_PID, DVM_STOP, DVM_URI, RESTART_MARK, ensure_dvm, stop_dvm
from recapp.k8s.jobs import JobRequest, run_job

pytestmark = [pytest.mark.e2e, pytest.mark.reliability]


def sh(backend, cluster: str, script: str) -> str:
    proc = backend.login_exec(cluster, ["sh", "-c", script])
    out = proc.stdout.read() if proc.stdout else ""
    proc.wait()
    return out.strip()


def test_prte_ending_under_a_job_is_named_and_restarted_and_stop_leaves_nothing(
    local_backend, shared_cluster
):
    name = shared_cluster.name
    ensure_dvm(local_backend, name)
    first = sh(local_backend, name, "pgrep -x prte")
    assert first.isdigit(), f"no prte after ensure_dvm: {first!r}"
    req = JobRequest(
        cluster=name, np=4, command=["sleep", "6"], map_by="ppr:2:node", mode="native", verify=False,
        timeout_s=120, dvm=True,
    )  # fmt: skip
    threading.Timer(2.5, lambda: sh(local_backend, name, "pkill -x prte")).start()
    hit = run_job(local_backend, req)
    assert not hit.passed
    assert hit.error is not None and hit.error.startswith(
        "the PRRTE DVM went down during this job (it exited"
    ), (
        hit.exit_status,
        hit.error,
    )
    second = sh(local_backend, name, "pgrep -x prte")
    assert second.isdigit() and second != first, f"the keeper did not restart prte: {first} then {second!r}"
    assert sh(local_backend, name, f"grep -c '{RESTART_MARK}' /tmp/recapp-dvm.log") == "1"
    after = run_job(
        local_backend,
        JobRequest(
            cluster=name,
            np=4,
            command=["sh", "-c", 'test "$PMIX_RANK" = 1 && exit 3; exit 0'],
            map_by="ppr:2:node",
            mode="native",
            verify=False,
            timeout_s=120,
            dvm=True,
        ),
    )
    assert (after.exit_status, after.error) == (3, "rank 1 exited with status 3")
    stop_dvm(local_backend, name)
    # Two calls: a shell whose own command line names the keeper's files would match the pattern.
    left = sh(local_backend, name, "pgrep -a -x prte; pgrep -af 'recapp-dvm[.]keeper'")
    left += sh(local_backend, name, f"ls {DVM_URI} {DVM_STOP} {DVM_KEEPER_PID} 2>/dev/null")
    assert left == "", f"left after stop_dvm: {left}"
    for node in o.node_pod_names(shared_cluster):
        _, out = local_backend.node_exec(name, node, ["pgrep", "-a", "-x", "prted"])
        assert out.strip() == "", f"{node} still runs a prted: {out}"
