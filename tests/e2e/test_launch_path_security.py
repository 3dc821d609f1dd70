"""The launch path on a real cluster: nothing readable on the agents' port, and a slow-client flood
from a neighbouring pod neither stops a job nor grows the agent (issue 15's Done-when)."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from recapp.conformance import agent_flood, pcap
from recapp.k8s import objects as o
from recapp.k8s.jobs import JobRequest, run_job
from recapp.k8s.local.backend import cluster_dir, login_pod_name, network_name
from recapp.node import protocol

pytestmark = [pytest.mark.e2e, pytest.mark.reliability]

APP = "localhost/recapp/app-mpi:trixie"


def _agent_stat(engine, pod: str) -> tuple[int, int]:
    """(threads, RSS in kB) of the node's agent (its PID 1)."""
    out = engine.podman("exec", pod, "grep", "-E", "^(Threads|VmRSS)", "/proc/1/status").stdout
    values = dict(line.split(":", 1) for line in out.splitlines())
    return int(values["Threads"]), int(values["VmRSS"].split()[0])


@pytest.mark.skipif(
    shutil.which("tcpdump") is None, reason="tcpdump is not installed (apt-get install tcpdump)"
)
def test_a_capture_of_a_job_launch_shows_nothing_of_the_launch_in_clear(
    engine, shared_cluster, local_backend, tmp_path
):
    bridge = json.loads(engine.podman("network", "inspect", network_name(shared_cluster.name)).stdout)[0]
    capture = tmp_path / "launch.pcap"
    dump = subprocess.Popen(
        ["tcpdump", "-i", bridge["network_interface"], "-s", "0", "-U", "-w", str(capture)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        time.sleep(1.0)
        record = run_job(
            local_backend, JobRequest(cluster=shared_cluster.name, np=4, command=["hello"], app=APP)
        )
        time.sleep(1.0)
    finally:
        dump.terminate()
        dump.wait(10)
    assert record.passed, record.error
    flows = pcap.tcp_payloads(capture.read_bytes())
    to_agents = [f for f in flows if f.dport == protocol.AGENT_PORT]
    assert len(to_agents) >= 2, "no connection to the agents was captured"  # one per node at least
    secret = (
        cluster_dir(shared_cluster.name) / "agent-secret" / login_pod_name(shared_cluster.name) / "secret"
    )
    needles = {
        "the agent secret": secret.read_bytes().strip(),
        "prted's command line": b"prted",
        "PRRTE's MCA options": b"--prtemca",
        "the agent's HELLO": b"recapp-agent",
    }
    assert pcap.leaks(flows, needles, port=protocol.AGENT_PORT) == []
    assert pcap.leaks(flows, {"the agent secret": needles["the agent secret"]}) == []  # nowhere at all


def test_a_slow_client_flood_from_a_neighbour_neither_stops_a_job_nor_grows_the_agent(
    engine, shared_cluster, local_backend
):
    target, attacker = o.node_pod_names(shared_cluster)
    dns = f"{target}.{o.nodes_service_name(shared_cluster)}"
    threads_before, rss_before = _agent_stat(engine, target)
    script = Path(agent_flood.__file__).read_text()
    result: dict[str, str] = {}

    def attack() -> None:
        proc = subprocess.run(
            ["podman", "exec", "-i", attacker, "python3", "-", dns, str(protocol.AGENT_PORT), "300", "40"],
            input=script, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        result["out"] = proc.stdout

    flooder = threading.Thread(target=attack)
    flooder.start()
    peak = (threads_before, rss_before)
    try:
        time.sleep(8)
        record = run_job(
            local_backend, JobRequest(cluster=shared_cluster.name, np=4, command=["hello"], app=APP)
        )
        while flooder.is_alive():
            now = _agent_stat(engine, target)
            peak = (max(peak[0], now[0]), max(peak[1], now[1]))
            time.sleep(1)
    finally:
        flooder.join(120)
    assert record.passed, record.error
    counts = json.loads(result["out"])
    assert counts["connections"] > 300  # the clients kept coming back
    # Bounded: at most the login caps' threads on top of the job's, and a few MiB.
    assert peak[0] <= threads_before + protocol.MAX_LOGINS_PER_PEER + 12, peak
    assert peak[1] - rss_before < 16 * 1024, peak
