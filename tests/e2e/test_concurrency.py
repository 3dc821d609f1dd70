"""Two clusters at once: separate networks, secrets and hostfiles; jobs run side by side; a job in one
cannot reach the other's launch agents (the network refuses it, and the secret would refuse it too)."""

from __future__ import annotations

import json
import threading

import pytest

from recapp.k8s import objects as o
from recapp.k8s.jobs import JobRequest, run_job
from recapp.k8s.local.backend import cluster_dir, login_pod_name, network_name
from recapp.node import protocol

pytestmark = [pytest.mark.e2e, pytest.mark.reliability]

APP = "localhost/recapp/app-mpi:trixie"
SECRET = protocol.SECRET_FILE


def _ip(engine, pod: str, network: str) -> str:
    data = json.loads(engine.podman("inspect", pod).stdout)[0]
    return data["NetworkSettings"]["Networks"][network]["IPAddress"]


def _as_rec(engine, spec, pod: str, *argv: str, env: dict[str, str] | None = None):
    env_args = [a for k, v in (env or {}).items() for a in ("--env", f"{k}={v}")]
    return engine.podman("exec", "--user", f"{spec.uid}:{spec.gid}", *env_args, pod, *argv, check=False)


def test_two_clusters_are_separate_and_cannot_reach_each_others_agents(engine, make_cluster, local_backend):
    specs = [make_cluster(nodes=2, up=False) for _ in range(2)]
    ups = [threading.Thread(target=local_backend.up, args=(spec,)) for spec in specs]
    for t in ups:
        t.start()
    for t in ups:
        t.join(timeout=300)
    a, b = specs
    assert local_backend.status(a.name).ready and local_backend.status(b.name).ready

    # Separate networks (isolated), secrets and hostfiles.
    nets = [json.loads(engine.podman("network", "inspect", network_name(s.name)).stdout)[0] for s in specs]
    assert nets[0]["subnets"][0]["subnet"] != nets[1]["subnets"][0]["subnet"]
    assert [n["options"].get("isolate") for n in nets] == ["true", "true"]
    secrets = [
        (cluster_dir(s.name) / "agent-secret" / login_pod_name(s.name) / "secret").read_text() for s in specs
    ]
    assert secrets[0] != secrets[1] and all(len(x) == 64 for x in secrets)
    cas = [
        (cluster_dir(s.name) / "agent-secret" / login_pod_name(s.name) / "ca.crt").read_text() for s in specs
    ]
    assert cas[0] != cas[1]  # one CA per cluster: one cluster's launcher is a stranger to the other's agents
    for spec in specs:
        hostfile = _as_rec(
            engine, spec, login_pod_name(spec.name), "cat", "/etc/recapp/hostfile/hostfile"
        ).stdout
        assert [line.split(".")[0] for line in hostfile.splitlines()] == o.node_pod_names(spec)

    # Jobs in both at the same time: each passes on its own nodes.
    records: dict[str, object] = {}

    def job(spec) -> None:
        records[spec.name] = run_job(
            local_backend,
            JobRequest(cluster=spec.name, np=4, command=["hello"], app=APP, map_by="ppr:2:node"),
        )

    jobs = [threading.Thread(target=job, args=(s,)) for s in specs]
    for t in jobs:
        t.start()
    for t in jobs:
        t.join(timeout=300)
    for spec in specs:
        record = records[spec.name]
        assert record.passed, (record.error, record.verification.reasons)
        assert {r.host for r in record.ranks} == set(o.node_pod_names(spec))

    # From A's login pod, as a job would: B's names do not resolve, B's agents cannot be reached.
    login_a = login_pod_name(a.name)
    b_node = o.node_pod_names(b)[0]
    b_ip = _ip(engine, b_node, network_name(b.name))
    assert (
        _as_rec(engine, a, login_a, "getent", "hosts", f"{b_node}.{o.nodes_service_name(b)}").returncode != 0
    )
    launch = _as_rec(
        engine, a, login_a, "recapp-launch", b_ip, "prted", env={"RECAPP_AGENT_CONNECT_TIMEOUT": "5"}
    )
    assert launch.returncode == 255
    assert f"recapp-launch: cannot reach launch agent on {b_ip}:" in launch.stderr, launch.stderr
    prterun = _as_rec(
        engine, a, login_a, "timeout", "60", "prterun", "--host", f"{b_ip}:1", "-np", "1", "hostname",
        env={"RECAPP_AGENT_CONNECT_TIMEOUT": "5"},
    )  # fmt: skip
    assert prterun.returncode not in (0, 124), prterun.stdout + prterun.stderr
    assert b_node not in prterun.stdout  # nothing ran there

    # The second wall: even from inside B's network, A's secret is refused by B's agents.
    login_b = login_pod_name(b.name)
    _as_rec(engine, b, login_b, "sh", "-c", f"umask 077; printf %s '{secrets[0]}' > /tmp/other-secret")
    refused = _as_rec(
        engine, b, login_b, "recapp-launch", f"{b_node}.{o.nodes_service_name(b)}", "prted",
        env={"RECAPP_AGENT_SECRET_FILE": "/tmp/other-secret"},
    )  # fmt: skip
    assert refused.returncode == 255
    assert "refused by" in refused.stderr and "authentication failed" in refused.stderr, refused.stderr
    assert _as_rec(engine, b, b_node, "pgrep", "-x", "prted").stdout.strip() == ""
