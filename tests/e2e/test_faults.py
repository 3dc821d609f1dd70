"""Faults with real containers: each ends within a bounded time (60 s) with one error naming its cause,
and `cluster down` then leaves nothing. (The node killed mid-job and the hung job are in
test_cluster.py and test_matrix.py; the launch agent's refusals in tests/agent/.)"""

from __future__ import annotations

import os
import signal
import time

import pytest

from recapp.errors import JobError
from recapp.k8s import objects as o
from recapp.k8s.jobs import JobRequest, run_job
from recapp.k8s.local.backend import LocalBackend, login_pod_name

from .footprint import measure
from .midjob import sleeping_job

pytestmark = [pytest.mark.e2e, pytest.mark.reliability]

APP = "localhost/recapp/app-mpi:trixie"
BOUND_S = 60  # the bound on how long a fault may take to be reported


def _hello(cluster: str, **extra) -> JobRequest:
    return JobRequest(cluster=cluster, np=4, command=["hello"], app=APP, map_by="ppr:2:node", **extra)


def _down_leaves_nothing(engine, backend: LocalBackend, name: str) -> None:
    backend.down(name)
    selector = f"label=recapp.io/cluster={name}"
    for what in (("ps", "-aq"), ("volume", "ls", "-q"), ("network", "ls", "-q")):
        left = engine.podman(*what, "--filter", selector).stdout.split()
        assert left == [], f"`cluster down` left {what[0]} objects: {left}"
    assert not backend.status(name).exists


def _sandboxes(engine, node: str) -> list[str]:
    out = engine.podman("exec", node, "podman", "ps", "-a", "--filter", "label=io.recapp.sandbox",
                        "--format", "{{.Names}}").stdout  # fmt: skip
    return out.split()


def test_engine_restart_between_up_and_run_names_the_stopped_pods(engine, make_cluster, local_backend):
    # podman here is daemonless: "restarting the engine" or rebooting the host leaves every container
    # stopped (none has a restart policy). Only this cluster's containers are stopped, never others'.
    spec = make_cluster(nodes=2)
    pods = [*o.node_pod_names(spec), login_pod_name(spec.name)]
    engine.podman("stop", "-t", "0", *pods)
    started = time.monotonic()
    with pytest.raises(JobError) as info:
        run_job(local_backend, _hello(spec.name))
    assert time.monotonic() - started < BOUND_S
    message = str(info.value)
    assert "not running" in message and "cluster down" in message
    for pod in pods:
        assert f"{pod} (exited)" in message, message
    _down_leaves_nothing(engine, local_backend, spec.name)


def test_engine_restart_through_the_cli_is_one_line_exit_2(engine, make_cluster, run_recapp):
    spec = make_cluster(nodes=2)
    engine.podman("stop", "-t", "0", o.node_pod_names(spec)[1])
    result = run_recapp("run", "--cluster", spec.name, "--np", "2", "--app", APP, "--", "hello")
    line = result.error_line()
    assert f"{o.node_pod_names(spec)[1]} (exited)" in line, line
    assert o.node_pod_names(spec)[0] not in line  # the running node is not blamed


def test_launch_agent_stopped_mid_job_ends_the_job_naming_the_node(engine, make_cluster, local_backend):
    # The agent is the node pod's PID 1: SIGTERM is what the kubelet sends when it stops the pod. The
    # agent kills its daemons and exits; the job must end promptly, naming the node.
    spec = make_cluster(nodes=2)
    victim = o.node_pod_names(spec)[1]
    thread, result = sleeping_job(engine, local_backend, spec.name, APP, victim)
    agent_pid = engine.podman("inspect", "--format", "{{.State.Pid}}", victim).stdout.strip()
    assert engine.podman("exec", victim, "cat", "/proc/1/comm").stdout.strip() == "recapp-agent"
    stopped_at = time.monotonic()
    os.kill(int(agent_pid), signal.SIGTERM)
    thread.join(timeout=BOUND_S + 30)
    assert not thread.is_alive(), "the job did not end after the node's launch agent stopped"
    assert time.monotonic() - stopped_at < BOUND_S
    record = result["record"]
    assert not record.passed
    assert victim in (record.error or ""), record.error
    # The next job is refused up front, naming the node whose agent is gone.
    with pytest.raises(JobError, match=victim):
        run_job(local_backend, _hello(spec.name))
    _down_leaves_nothing(engine, local_backend, spec.name)


class _NoDelivery(LocalBackend):
    """Everything real except the APP delivery step: as when a node's registry pull did not happen."""

    def deliver_image(self, name, image, *, step=None):
        return image


def test_app_image_missing_on_one_node_is_named(engine, make_cluster, local_backend):
    spec = make_cluster(nodes=2)
    second = o.node_pod_names(spec)[1]
    assert run_job(local_backend, _hello(spec.name)).passed
    # The image and its sandbox vanish from the second node only.
    engine.podman("exec", second, "wrap-container", "--reset")
    engine.podman("exec", second, "podman", "rmi", "-f", APP)
    started = time.monotonic()
    record = run_job(_NoDelivery(), _hello(spec.name, timeout_s=120))
    assert time.monotonic() - started < BOUND_S
    assert not record.passed
    assert record.error == f"APP image {APP} is missing on node pod(s) {second}", record.error
    # With delivery, the missing node gets the image again and the job passes.
    healed = run_job(local_backend, _hello(spec.name))
    assert healed.passed, (healed.error, healed.verification.reasons)
    node_id = engine.podman("exec", second, "podman", "image", "inspect", "--format", "{{.Id}}", APP).stdout
    assert node_id.strip() == engine.image_id(APP)
    _down_leaves_nothing(engine, local_backend, spec.name)


def test_app_sandbox_killed_between_jobs_is_recreated(engine, make_cluster, local_backend):
    spec = make_cluster(nodes=2)
    node = o.node_pod_names(spec)[0]
    assert run_job(local_backend, _hello(spec.name)).passed
    [sandbox] = _sandboxes(engine, node)
    old_pid = engine.podman("exec", node, "podman", "inspect", "--format", "{{.State.Pid}}", sandbox).stdout
    engine.podman("exec", node, "podman", "kill", sandbox)
    record = run_job(local_backend, _hello(spec.name))
    assert record.passed, (record.error, record.verification.reasons)
    after = _sandboxes(engine, node)
    assert len(after) == 1, after  # recreated, not one more
    new_pid = engine.podman("exec", node, "podman", "inspect", "--format", "{{.State.Pid}}", after[0]).stdout
    assert new_pid.strip() != old_pid.strip()


@pytest.mark.slow  # CI has the same fault through the matrix (test_matrix.py: HANG)
def test_hung_job_is_killed_at_its_timeout_and_leaves_nothing(engine, make_cluster, local_backend):
    spec = make_cluster(nodes=2)
    assert run_job(local_backend, _hello(spec.name)).passed
    before = measure(engine, spec)
    started = time.monotonic()
    record = run_job(
        local_backend,
        JobRequest(cluster=spec.name, np=4, command=["sleep", "600"], app=APP, map_by="ppr:2:node",
                   verify=False, timeout_s=10),
    )  # fmt: skip
    assert time.monotonic() - started < 10 + BOUND_S
    assert record.exit_status == 124
    assert record.error == "job timed out after 10 s and was killed"
    after = measure(engine, spec)
    assert after.grown(before) == {}, after.grown(before)
    for node in o.node_pod_names(spec):
        assert engine.podman("exec", node, "pgrep", "-x", "sleep", check=False).stdout.strip() == ""
    _down_leaves_nothing(engine, local_backend, spec.name)
