"""The traditional all-in-one image (recipes/aio.yaml): a cluster takes it as its REC and runs the
programs built into it natively — no APP image, nothing delivered, nothing nested."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from recapp.builder.build import BuildRequest, build_image
from recapp.host.labels import KIND, RECIPE
from recapp.k8s import objects as o
from recapp.k8s.jobs import JobRequest, run_job
from recapp.k8s.local.backend import LocalBackend
from recapp.k8s.spec import ClusterSpec

pytestmark = pytest.mark.e2e

AIO = "localhost/recapp/aio:trixie"


@pytest.fixture(scope="module")
def aio_cluster(engine, cluster_of) -> Iterator[ClusterSpec]:
    record = build_image(BuildRequest("aio", "trixie"))
    assert record.tag == AIO
    with cluster_of(AIO) as spec:
        yield spec


def _native(spec: ClusterSpec, np: int, command: list[str], map_by: str):
    req = JobRequest(cluster=spec.name, np=np, command=command, mode="native", map_by=map_by, timeout_s=300)
    return run_job(LocalBackend(), req)


def test_image_is_labelled_a_rec_and_holds_launcher_and_applications(engine):
    build_image(BuildRequest("aio", "trixie"))
    labels = engine.image_labels(AIO)
    assert (labels[KIND], labels[RECIPE]) == ("rec", "aio")
    found = engine.podman(
        "run",
        "--rm",
        "--pull=never",
        *engine.ulimit_args,
        "--entrypoint",
        "sh",
        AIO,
        "-c",
        "for x in prterun prted recapp-agent hello pingpong ep.S.x gmx_mpi gmx-water podman sshd; do"
        ' command -v "$x" >/dev/null && echo "$x"; done; ls /usr/local/share/recapp/gromacs',
        check=False,
    ).stdout.split()
    assert found == [
        "prterun", "prted", "recapp-agent", "hello", "pingpong", "ep.S.x", "gmx_mpi", "gmx-water",
        "em.mdp", "eq.mdp", "md.mdp", "water-bench.top", "water-bench.tpr", "water-ci.top", "water-ci.tpr",
    ]  # fmt: skip


def test_hello_runs_natively_on_both_nodes(aio_cluster):
    record = _native(aio_cluster, 4, ["hello"], "ppr:2:node")
    assert record.passed, (record.error, record.verification.reasons)
    assert record.app is None and record.mode == "native"
    assert record.launcher_argv[-1] == "hello"  # on PATH in the REC itself, no wrap-container
    nodes = o.node_pod_names(aio_cluster)
    assert [r.host for r in record.ranks] == [nodes[0], nodes[0], nodes[1], nodes[1]]


def test_pingpong_across_nodes_is_validated(aio_cluster):
    record = _native(aio_cluster, 2, ["pingpong"], "ppr:1:node")
    assert record.passed, (record.error, record.verification.reasons)
    assert record.figures["pingpong_validated"].value == 1.0
    assert record.figures["pingpong_same_node"].value == 0.0
    assert record.figures["pingpong_bw_4194304"].value > 0


def test_gromacs_ci_box_runs_natively(aio_cluster):
    record = _native(aio_cluster, 2, ["gmx-water", "ci", "--nsteps", "200"], "ppr:1:node")
    assert record.passed, (record.error, record.verification.reasons)
    assert 290 <= record.figures["gromacs_temperature_K"].value <= 310
    assert record.figures["gromacs_ns_per_day"].value > 0
