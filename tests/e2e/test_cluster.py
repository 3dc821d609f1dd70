"""The local virtual cluster end to end: up/down, hostfiles, nested jobs across nodes, verification,
and the faults the issue names (bad REC, node never ready, failing rank, node killed mid-job)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from recapp.errors import ClusterError
from recapp.k8s import objects as o
from recapp.k8s.jobs import JobRequest, run_job
from recapp.k8s.local.backend import LocalBackend, login_pod_name

from .midjob import sleeping_job

pytestmark = pytest.mark.e2e

APP = "localhost/recapp/app-mpi:trixie"


def _leftovers(engine, name: str) -> dict[str, list[str]]:
    selector = f"label=recapp.io/cluster={name}"
    return {
        "containers": engine.podman("ps", "-aq", "--filter", selector).stdout.split(),
        "volumes": engine.podman("volume", "ls", "-q", "--filter", selector).stdout.split(),
        "networks": engine.podman("network", "ls", "-q", "--filter", selector).stdout.split(),
    }


def test_up_writes_hostfiles_and_down_leaves_nothing(engine, make_cluster, local_backend: LocalBackend):
    spec = make_cluster(nodes=2, slots=3)
    status = local_backend.status(spec.name)
    assert status.ready
    assert sorted(p.name for p in status.pods) == sorted([*o.node_pod_names(spec), login_pod_name(spec.name)])
    login = login_pod_name(spec.name)
    hostfile = engine.podman("exec", login, "cat", "/etc/recapp/hostfile/hostfile").stdout
    assert hostfile.splitlines() == [f"{spec.name}-node-{i}.{spec.name}-nodes slots=3" for i in range(2)]
    node_ips = {p.ip for p in status.pods if p.component == "node"}
    by_ip = engine.podman("exec", login, "cat", "/etc/recapp/hostfile/hostfile.ip").stdout
    assert {line.split()[0] for line in by_ip.splitlines()} == node_ips
    # The DNS names the hostfile uses resolve inside the cluster network, as the headless service's do.
    resolved = engine.podman("exec", login, "getent", "hosts", f"{spec.name}-node-1.{spec.name}-nodes").stdout
    assert resolved.split()[0] in node_ips
    # Secrets are readable by the unprivileged user only through its group.
    mode = engine.podman("exec", login, "stat", "-c", "%a %u %g", "/etc/recapp/agent/secret").stdout.split()
    assert mode == ["440", "0", str(spec.gid)]

    # One source of truth: the running node container is the rendered StatefulSet pod template.
    template = o.node_pod_template(o.cluster_objects(spec))
    container = template["spec"]["containers"][0]
    inspected = json.loads(engine.podman("container", "inspect", f"{spec.name}-node-0").stdout)[0]
    assert inspected["Config"]["User"] == f"{spec.uid}:{spec.gid}"
    assert inspected["Config"]["Entrypoint"] == container["command"] or (
        inspected["Config"]["Entrypoint"] == " ".join(container["command"])
    )
    env = dict(e.split("=", 1) for e in inspected["Config"]["Env"])
    assert all(env.get(e["name"]) == e["value"] for e in container["env"])
    # drop ALL + add: exactly the template's capabilities remain in the bounding set.
    bounding = {cap.removeprefix("CAP_") for cap in inspected.get("BoundingCaps") or []}
    assert bounding == set(container["securityContext"]["capabilities"]["add"])
    assert inspected["HostConfig"]["Privileged"] is False

    removed = local_backend.down(spec.name)
    assert any(r.startswith("network") for r in removed)
    assert _leftovers(engine, spec.name) == {"containers": [], "volumes": [], "networks": []}
    assert local_backend.down(spec.name) == []  # idempotent


def test_nested_job_across_both_nodes(shared_cluster, local_backend):
    record = run_job(
        local_backend,
        JobRequest(cluster=shared_cluster.name, np=4, command=["hello"], app=APP, map_by="ppr:2:node"),
    )
    assert record.passed, (record.error, record.verification.reasons)
    assert [r.rank for r in record.ranks] == [0, 1, 2, 3]
    assert {r.size for r in record.ranks} == {4}
    nodes = o.node_pod_names(shared_cluster)
    assert [r.host for r in record.ranks] == [nodes[0], nodes[0], nodes[1], nodes[1]]
    assert record.app and record.app.versions.get("ompi") == "5.0.7"
    assert record.rec.versions.get("pmix") == "5.0.7"
    saved = json.loads(Path(record.record_path or "").read_text())
    assert saved["passed"] is True and saved["np"] == 4 and len(saved["ranks"]) == 4


def test_ring_and_init_finalize_report_figures(shared_cluster, local_backend):
    ring = run_job(
        local_backend, JobRequest(cluster=shared_cluster.name, np=4, command=["ring", "20"], app=APP)
    )
    assert ring.passed, (ring.error, ring.verification.reasons)
    timing = run_job(
        local_backend,
        JobRequest(
            cluster=shared_cluster.name, np=4, command=["init_finalize"], app=APP, map_by="ppr:2:node"
        ),
    )
    assert timing.passed
    assert {"init_s", "barrier_s", "finalize_s", "init_finalize_s", "total_s"} <= set(timing.figures)
    assert 0 < timing.figures["init_s"].value < 60
    assert timing.figures["init_s"].unit == "s"


def test_verification_catches_ranks_all_on_one_node(shared_cluster, local_backend):
    # The launcher is told to pack all four ranks onto one node while the job expects by-slot placement
    # (2 slots per node): a run that "succeeds" on one node must not pass.
    record = run_job(
        local_backend,
        JobRequest(
            cluster=shared_cluster.name,
            np=4,
            command=["hello"],
            app=APP,
            extra_prterun_args=["--map-by", "ppr:4:node", "--oversubscribe"],
        ),
    )
    assert record.exit_status == 0
    assert not record.passed
    assert any("expected" in r and "ran on" in r for r in record.verification.reasons), (
        record.verification.reasons
    )


def test_verification_catches_singletons(shared_cluster, local_backend):
    # Each rank loses its PMIx connection details, so Open MPI starts it as a singleton (size 1): every
    # process "succeeds", none is part of a 2-rank job.
    strip_pmix = 'for v in $(env | grep -o "^PMIX_[A-Z0-9_]*"); do unset "$v"; done; exec hello'
    record = run_job(
        local_backend,
        JobRequest(
            cluster=shared_cluster.name,
            np=2,
            command=["sh", "-c", strip_pmix],
            app=APP,
            map_by="ppr:1:node",
            timeout_s=120,
        ),
    )
    assert record.exit_status == 0
    assert not record.passed
    assert [r.size for r in record.ranks] == [1, 1]
    assert any("singletons" in r for r in record.verification.reasons), record.verification.reasons


def test_failing_rank_is_named_with_its_exit_code(shared_cluster, local_backend):
    command = ["sh", "-c", 'test "$PMIX_RANK" != 1 || exit 7']
    record = run_job(
        local_backend, JobRequest(cluster=shared_cluster.name, np=2, command=command, app=APP, verify=False)
    )
    assert record.exit_status != 0
    assert not record.passed
    assert record.error == "rank 1 exited with status 7", record.error


def test_not_a_rec_is_refused_before_anything_is_created(engine, make_cluster, local_backend):
    for rec, message in ((APP, "is not a REC"), ("localhost/recapp-test/no-such-image:1", "not found")):
        spec = make_cluster(rec=rec, up=False)
        with pytest.raises(ClusterError, match=message):
            local_backend.up(spec)
        assert not local_backend.status(spec.name).exists
        assert _leftovers(engine, spec.name) == {"containers": [], "volumes": [], "networks": []}


def test_node_that_never_becomes_ready_times_out_naming_it(
    engine, make_cluster, local_backend, scratch_images, tmp_path
):
    tag = "localhost/recapp-test/rec-noready:trixie"
    scratch_images.append(tag)
    # Same REC, but its agent never listens: the pods run and never turn Ready.
    (tmp_path / "Containerfile").write_text(
        "FROM localhost/recapp/rec:trixie\nUSER root\n"
        "RUN printf '#!/bin/sh\\nexec sleep infinity\\n' > /usr/local/bin/recapp-agent\nUSER 998:995\n"
    )
    engine.podman("build", "-q", "-t", tag, str(tmp_path), timeout=300)
    spec = make_cluster(rec=tag, up=False, ready_timeout_s=6)
    started = time.monotonic()
    with pytest.raises(ClusterError) as info:
        local_backend.up(spec, cleanup_on_failure=False)  # --keep-on-failure
    assert time.monotonic() - started < 60
    message = str(info.value)
    assert "not Ready after 6 s" in message and "cluster kept" in message
    for pod in o.node_pod_names(spec):
        assert pod in message
    assert local_backend.status(spec.name).exists  # kept for `cluster status`
    local_backend.down(spec.name)
    assert _leftovers(engine, spec.name) == {"containers": [], "volumes": [], "networks": []}
    # By default a failed `up` removes what it made.
    with pytest.raises(ClusterError) as info:
        local_backend.up(spec)
    assert f"(cluster {spec.name} removed)" in str(info.value)
    assert not local_backend.status(spec.name).exists
    assert _leftovers(engine, spec.name) == {"containers": [], "volumes": [], "networks": []}


def test_node_killed_mid_job_ends_the_job_naming_it(engine, make_cluster, local_backend):
    spec = make_cluster(nodes=2)
    victim = o.node_pod_names(spec)[1]
    # Once the victim node runs its ranks, kill the node container outright.
    thread, result = sleeping_job(engine, local_backend, spec.name, APP, victim)
    killed_at = time.monotonic()
    engine.podman("kill", victim)
    thread.join(timeout=90)
    assert not thread.is_alive(), "the job did not end after its node was killed"
    assert time.monotonic() - killed_at < 60
    record = result["record"]
    assert not record.passed
    assert victim in (record.error or ""), record.error


PARENT_PROBE = (
    "RANK rank=$PMIX_RANK size=2 host=$(cat /proc/sys/kernel/hostname) parent=$(cat /proc/$PPID/comm)"
)


def _sandboxes(engine, node: str) -> list[str]:
    """The APP sandbox containers of a node pod's nested engine, as `name image`."""
    out = engine.podman(
        "exec", node, "podman", "ps", "-a", "--filter", "label=io.recapp.sandbox",
        "--format", "{{.Names}} {{.Image}}",
    ).stdout  # fmt: skip
    return sorted(line for line in out.splitlines() if line.strip())


def test_ranks_enter_one_persistent_app_sandbox_per_node(engine, shared_cluster, local_backend):
    nodes = o.node_pod_names(shared_cluster)
    probe = [
        "sh", "-c",
        'echo "RANK rank=$PMIX_RANK size=4 host=$(cat /proc/sys/kernel/hostname)"; cat /etc/debian_version',
    ]  # fmt: skip
    for image, version in (("localhost/recapp/app-mpi:bookworm", "12."), (APP, "13.")):
        first = run_job(
            local_backend,
            JobRequest(cluster=shared_cluster.name, np=4, command=probe, app=image, map_by="ppr:2:node"),
        )
        assert first.passed, (first.error, first.verification.reasons)
        log = Path(first.log_path or "").read_text()
        # Each rank ran in the APP's root filesystem (its Debian release), not the REC's.
        assert sum(line.startswith(version) for line in log.splitlines()) == 4, log
        again = run_job(
            local_backend,
            JobRequest(cluster=shared_cluster.name, np=4, command=probe, app=image, map_by="ppr:2:node"),
        )
        assert again.passed
    # One sandbox per node and image, reused by the second job (not one per rank or per job).
    for node in nodes:
        sandboxes = _sandboxes(engine, node)
        assert len(sandboxes) == 2, sandboxes
        assert {s.split()[1] for s in sandboxes} == {"localhost/recapp/app-mpi:bookworm", APP}
    # A rank is the PRRTE daemon's own child: no podman between them.
    record = run_job(
        local_backend,
        JobRequest(
            cluster=shared_cluster.name,
            np=2,
            command=["sh", "-c", f'echo "{PARENT_PROBE}"'],
            app=APP,
            map_by="ppr:1:node",
        ),
    )
    assert record.passed
    assert "parent=prted" in Path(record.log_path or "").read_text()


def test_fresh_containers_leave_no_container_and_reset_removes_sandboxes(
    engine, shared_cluster, local_backend
):
    node = o.node_pod_names(shared_cluster)[0]
    record = run_job(
        local_backend,
        JobRequest(
            cluster=shared_cluster.name, np=4, command=["hello"], app=APP, map_by="ppr:2:node",
            fresh_containers=True,
        ),
    )  # fmt: skip
    assert record.passed, (record.error, record.verification.reasons)
    assert "--fresh" in record.launcher_argv and record.fresh_containers
    before = _sandboxes(engine, node)
    everything = engine.podman("exec", node, "podman", "ps", "-aq").stdout.split()
    assert len(everything) == len(before)  # the per-rank containers are gone (--rm)
    engine.podman("exec", node, "wrap-container", "--reset", APP)
    assert all(APP not in s for s in _sandboxes(engine, node))
