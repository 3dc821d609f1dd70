"""GROMACS nested in the APP: the CI-size water box on 2 ranks across 2 nodes passes its sanity
checks, and a user's own .tpr, bound into the APP from the node, runs the same way."""

from __future__ import annotations

import secrets

import pytest

from recapp.builder.build import BuildRequest, build_image
from recapp.k8s import objects as o
from recapp.k8s.jobs import JobRequest, run_job
from recapp.workloads.gromacs import gromacs_output

pytestmark = pytest.mark.e2e

APP = "localhost/recapp/app-gromacs:trixie"
CI_TPR = "/usr/local/share/recapp/gromacs/water-ci.tpr"


@pytest.fixture(scope="module")
def gromacs_app(engine) -> str:
    """The GROMACS APP (built once, cached by recipe hash like the default images)."""
    return build_image(BuildRequest("app", "trixie", workload="gromacs")).tag


def test_ci_water_box_across_two_nodes_passes_its_sanity_checks(shared_cluster, local_backend, gromacs_app):
    record = run_job(
        local_backend,
        JobRequest(
            cluster=shared_cluster.name,
            np=2,
            command=["gmx-water", "ci", "--nsteps", "500"],
            app=gromacs_app,
            map_by="ppr:1:node",
            timeout_s=400,
        ),
    )
    assert record.passed, (record.error, record.verification.reasons)
    nodes = o.node_pod_names(shared_cluster)
    assert [(r.rank, r.size, r.host) for r in record.ranks] == [(0, 2, nodes[0]), (1, 2, nodes[1])]
    figures = record.figures
    low = gromacs_output.REFERENCE_TEMPERATURE_K - gromacs_output.TEMPERATURE_TOLERANCE_K
    high = gromacs_output.REFERENCE_TEMPERATURE_K + gromacs_output.TEMPERATURE_TOLERANCE_K
    assert figures["gromacs_temperature_K"].unit == "K"
    assert low <= figures["gromacs_temperature_K"].value <= high
    assert figures["gromacs_ns_per_day"].unit == "ns/day" and figures["gromacs_ns_per_day"].value > 0
    atoms = figures["gromacs_atoms"].value
    assert 2500 <= atoms <= 2800 and atoms % 3 == 0  # SPC/E waters, 3 atoms each
    assert figures["gromacs_constraint_warnings"].value == 0
    result = gromacs_output.parse("\n".join(record_lines(record)))
    assert result is not None and result.mpi_ranks == 2 and result.nsteps == 500
    assert result.system == "water-ci"


def record_lines(record) -> list[str]:
    with open(record.log_path, encoding="utf-8") as log:
        return log.read().splitlines()


def test_users_own_tpr_bound_from_the_node(engine, shared_cluster, local_backend, gromacs_app, tmp_path):
    # The user's run input lives on the node (here: the image's CI system, copied out and in).
    ctr = engine.podman("create", "--pull=never", gromacs_app, "true").stdout.strip()
    try:
        engine.podman("cp", f"{ctr}:{CI_TPR}", str(tmp_path / "user.tpr"))
    finally:
        engine.podman("rm", "-f", ctr, check=False)
    node_path = f"/tmp/recapp-test-{secrets.token_hex(3)}.tpr"
    node = o.node_pod_names(shared_cluster)[0]
    engine.podman("cp", str(tmp_path / "user.tpr"), f"{node}:{node_path}")
    try:
        engine.podman("exec", node, "chmod", "0644", node_path)
        record = run_job(
            local_backend,
            JobRequest(
                cluster=shared_cluster.name,
                np=2,
                command=["gmx-water", "--tpr", "/data/user.tpr", "--nsteps", "100"],
                app=gromacs_app,
                map_by="ppr:2:node",
                mounts=[f"{node_path}:/data/user.tpr"],
                timeout_s=300,
            ),
        )
    finally:
        engine.podman("exec", node, "rm", "-f", node_path, check=False)
    assert record.passed, (record.error, record.verification.reasons)
    result = gromacs_output.parse("\n".join(record_lines(record)))
    assert result is not None
    assert (result.system, result.nsteps, result.mpi_ranks) == ("custom-user", 100, 2)
    assert record.figures["gromacs_atoms"].value == pytest.approx(result.atoms) and result.atoms > 0
