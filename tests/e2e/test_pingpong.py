"""pingpong nested in the APP sandbox: within one node (shared memory) and across nodes (TCP), every
payload validated, the raw transports measured beside MPI; the corrupt switch makes validation fail
and the record says why."""

from __future__ import annotations

import json

import pytest

from recapp.k8s import objects as o
from recapp.k8s.jobs import JobRequest, run_job

pytestmark = pytest.mark.e2e

APP = "localhost/recapp/app-mpi:trixie"
SIZES = [8, 64, 512, 4096, 32768, 262144, 1048576, 4194304]


def _pingpong(cluster: str, backend, map_by: str, command: list[str]):
    return run_job(
        backend, JobRequest(cluster=cluster, np=2, command=command, app=APP, map_by=map_by, timeout_s=240)
    )


@pytest.mark.parametrize(
    ("map_by", "same_node"),
    [("ppr:2:node", True), ("ppr:1:node", False)],
    ids=["intra-node", "inter-node"],
)
def test_pingpong_measures_every_size_with_validated_payloads(
    shared_cluster, local_backend, map_by, same_node
):
    record = _pingpong(shared_cluster.name, local_backend, map_by, ["pingpong"])
    assert record.passed, (record.error, record.verification.reasons)
    nodes = o.node_pod_names(shared_cluster)
    expected_hosts = [nodes[0], nodes[0]] if same_node else [nodes[0], nodes[1]]
    assert [(r.rank, r.size, r.host) for r in record.ranks] == [
        (0, 2, expected_hosts[0]),
        (1, 2, expected_hosts[1]),
    ]
    for size in SIZES:
        lat, bw = record.figures[f"pingpong_lat_{size}"], record.figures[f"pingpong_bw_{size}"]
        assert lat.unit == "us" and lat.value > 0
        assert bw.unit == "MB/s" and bw.value > 0
    assert record.figures["pingpong_validated"].value == 1.0
    assert record.figures["pingpong_same_node"].value == (1.0 if same_node else 0.0)
    # The physical limit between the same two ranks: TCP always, shared memory on one node only.
    raw = {"tcp", "shm"} if same_node else {"tcp"}
    for transport in ("tcp", "shm"):
        for size in SIZES:
            lat = record.figures.get(f"raw_{transport}_lat_{size}")
            assert (lat is not None and lat.unit == "us" and lat.value > 0) == (transport in raw), transport


def test_corrupted_payload_fails_the_job_naming_the_message(shared_cluster, local_backend):
    command = ["env", "RECAPP_PINGPONG_CORRUPT=1", "pingpong"]
    record = _pingpong(shared_cluster.name, local_backend, "ppr:1:node", command)
    assert record.exit_status != 0
    assert not record.passed
    assert record.error == "rank 0 exited with status 1" or record.error == "rank 1 exited with status 1", (
        record.error
    )
    assert record.figures["pingpong_validated"].value == 0.0
    reasons = [r for r in record.verification.reasons if "validation failed" in r]
    assert len(reasons) == 1 and "bytes=4194304" in reasons[0] and "offset=4194296" in reasons[0], (
        record.verification.reasons
    )


def test_cli_run_json_reports_mpi_beside_raw_tcp_across_two_nodes(shared_cluster, run_recapp):
    result = run_recapp(
        "run", "--cluster", shared_cluster.name, "--np", "2", "--app", APP, "--map-by", "ppr:1:node",
        "--json", "--", "pingpong", timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    figures = json.loads(result.stdout)["figures"]
    for name in ("pingpong_lat_8", "raw_tcp_lat_8"):
        assert figures[name]["unit"] == "us" and figures[name]["value"] > 0, name
    assert figures["raw_tcp_bw_4194304"]["unit"] == "MB/s" and figures["raw_tcp_bw_4194304"]["value"] > 0
    assert figures["pingpong_same_node"]["value"] == 0.0 and figures["pingpong_validated"]["value"] == 1.0
    assert not any(name.startswith("raw_shm_") for name in figures)
