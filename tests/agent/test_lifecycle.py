"""Lost peers, stopping, reaping and the readiness probe, with real processes and signals.

In PRRTE 3.0 (tree spawn, the default) prted is not told to daemonize, so the agent connection
lives as long as the daemon: a node that dies mid-job must make recapp-launch exit 255 (PRRTE
then reports the daemon as failed), and a launcher that dies must take its daemon with it.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import Agent

SLEEPER = ("PRTE_TEST_MODE=sleep", "prted")


def test_killing_the_client_kills_the_remote_process_group(agent: Agent) -> None:
    client = agent.start_launch("127.0.0.1", *SLEEPER)
    pids = agent.group_pids()
    assert agent.still_alive(pids, 0) == pids

    client.kill()

    assert agent.still_alive(pids, 10) == []
    assert "decision=lost" in agent.log()


def test_killed_agent_makes_the_client_exit_255_naming_the_host(agent: Agent) -> None:
    client = agent.start_launch("127.0.0.1", *SLEEPER)
    agent.group_pids()
    started = time.monotonic()

    agent.process.kill()
    _, stderr = client.communicate(timeout=20)

    assert time.monotonic() - started < 20
    assert client.returncode == 255
    assert stderr.decode().startswith(f"recapp-launch: lost launch agent on 127.0.0.1:{agent.port}: ")


def test_silent_agent_is_declared_lost_after_the_heartbeat_timeout(start_agent: Callable[..., Agent]) -> None:
    # A frozen agent keeps its TCP connection open (the kernel still acknowledges), like a hung
    # node or a partition: only the missing heartbeats tell.
    agent = start_agent("--heartbeat", "0.5")
    client = agent.start_launch("127.0.0.1", *SLEEPER, RECAPP_AGENT_LOST_AFTER="2")
    pids = agent.group_pids()
    time.sleep(1.5)  # heartbeats keep a healthy connection alive past the 2 s limit
    assert client.poll() is None

    os.kill(agent.process.pid, signal.SIGSTOP)
    started = time.monotonic()
    _, stderr = client.communicate(timeout=15)
    waited = time.monotonic() - started
    os.kill(agent.process.pid, signal.SIGCONT)

    assert client.returncode == 255
    assert f"lost launch agent on 127.0.0.1:{agent.port}: nothing heard for 2 s" in stderr.decode()
    assert 1.5 < waited < 6
    assert agent.still_alive(pids, 10) == []  # once it runs again, the agent sees the client gone


def test_silent_client_makes_the_agent_kill_the_group(start_agent: Callable[..., Agent]) -> None:
    agent = start_agent("--lost-after", "2")
    client = agent.start_launch("127.0.0.1", *SLEEPER)
    pids = agent.group_pids()

    os.kill(client.pid, signal.SIGSTOP)

    assert agent.still_alive(pids, 10) == []
    assert "no heartbeat from the client for 2 s" in agent.log()


def test_agent_reaps_orphaned_daemons(agent: Agent) -> None:
    # prted --daemonize: the launched process exits at once and its detached grandchild is
    # re-parented to the agent (PID 1 in the pod; a subreaper here), which must reap it.
    result = agent.launch("127.0.0.1", "PRTE_TEST_MODE=daemonize", "PRTE_TEST_LINGER=0.5", "prted")
    assert result.returncode == 0
    daemon_file = agent.state / "daemon.pids"
    assert daemon_file.exists()
    daemon = int(daemon_file.read_text())

    assert wait_reaped(daemon, 10), "the orphan is still there (running or a zombie)"
    assert f"reaped orphan pid={daemon} status=0" in agent.log()


def wait_reaped(pid: int, timeout: float) -> bool:
    """True once /proc/PID is gone: the process exited *and* someone collected its status."""
    deadline = time.monotonic() + timeout
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return not Path(f"/proc/{pid}").exists()


def test_sigterm_stops_the_agent_and_its_commands(agent: Agent) -> None:
    client = agent.start_launch("127.0.0.1", *SLEEPER)
    pids = agent.group_pids()

    agent.process.terminate()

    assert agent.process.wait(15) == 0
    assert agent.still_alive(pids, 5) == []
    _, stderr = client.communicate(timeout=10)
    assert client.returncode == 128 + signal.SIGTERM, stderr.decode()
    assert "stopped" in agent.log().splitlines()[-1]


def test_ping_succeeds_with_the_shared_secret(agent: Agent) -> None:
    result = agent.ping()

    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.decode() == f"recapp-agent ping: 127.0.0.1:{agent.port}: ok\n"
    assert "decision=ping" in agent.log()


def test_ping_fails_on_a_wrong_secret(agent: Agent) -> None:
    result = agent.ping(secret_file=agent.other_secret("wrong"))

    assert result.returncode == 1
    assert result.stderr.decode() == (
        f"recapp-agent ping: 127.0.0.1:{agent.port}: refused: authentication failed "
        "(wrong secret, or the request was altered or replayed)\n"
    )


def test_ping_fails_when_nothing_listens(agent: Agent) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        result = agent.ping(port=probe.getsockname()[1])

    assert result.returncode == 1
    assert "Connection refused" in result.stderr.decode()
