"""MPI single copy (CMA) between the two ranks of one node, nested, with no added capability: the
node pods' shipped seccomp profile allows `kcmp` (Open MPI's pre-check), the kernel's ptrace check
does the rest. Under podman's default profile the same job falls back to two copies, saying why."""

from __future__ import annotations

from pathlib import Path

import pytest

from recapp.k8s.jobs import JobRequest, run_job

pytestmark = pytest.mark.e2e

APP = "localhost/recapp/app-mpi:trixie"
REFUSED = "mca_smsc_cma_module_get_endpoint: can not proceed"
SELECTED = "selected shared-memory single-copy component: cma"


def _pingpong(backend, cluster: str) -> tuple[bool, str]:
    record = run_job(
        backend,
        JobRequest(
            cluster=cluster, np=2, command=["pingpong"], app=APP, map_by="ppr:2:node",
            mca={"smsc_base_verbose": "100"}, timeout_s=240,
        ),
    )  # fmt: skip
    assert record.passed, (record.error, record.verification.reasons)
    assert record.figures["pingpong_same_node"].value == 1.0
    assert record.log_path
    return record.passed, Path(record.log_path).read_text()


def test_single_copy_is_used_under_the_shipped_profile_and_refused_under_podmans(make_cluster, local_backend):
    shipped = make_cluster(nodes=1, slots=2, seccomp_localhost_profile="recapp-nested-podman.json")
    _, log = _pingpong(local_backend, shipped.name)
    assert log.count(SELECTED) == 2 and REFUSED not in log
    default = make_cluster(nodes=1, slots=2)
    _, log = _pingpong(local_backend, default.name)
    assert log.count(REFUSED) == 2  # EPERM from kcmp, each rank: CMA closed, two copies per message
