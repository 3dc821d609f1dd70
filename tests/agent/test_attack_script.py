"""The security report's attacks (conformance/agent_attacks.py) against a real agent on 127.0.0.1:
the right secret is accepted, every attack is refused and nothing it asked for ran."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest

from recapp.conformance import agent_attacks

if TYPE_CHECKING:
    from conftest import Agent

pytestmark = pytest.mark.reliability


@pytest.fixture(autouse=True)
def tls_dir(agent: Agent, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(agent_attacks, "TLS_DIR", str(agent.tls.dir))


def test_every_attack_is_refused_and_the_baseline_accepted(agent: Agent) -> None:
    assert not os.path.exists(agent_attacks.MARKER)
    results = agent_attacks.attacks(agent.port, agent.secret_file.read_bytes().strip())
    by_name = {r["attack"]: r for r in results}
    assert by_name["ping with the cluster's secret"]["outcome"] == "accepted"
    refused = [r for r in results if r["expect"] == "refused"]
    assert len(refused) == len(results) - 1 >= 17
    wrong = [r for r in refused if r["outcome"] != "refused"]
    assert wrong == [], wrong
    assert "authentication failed" in by_name["ping with a wrong secret"]["reason"]
    assert "not allowed" in by_name["program not allow-listed (touch)"]["reason"]
    assert by_name["NUL byte in an environment value"]["reason"].startswith("NUL byte")
    assert by_name["a node's certificate asks to launch"]["reason"].startswith("a node certificate may not")
    assert agent.runs() == []  # not even the allowed prted ran: nothing was accepted to launch


def test_a_permissive_agent_would_be_caught(agent: Agent) -> None:
    # The report is only worth something if it can fail: with the secret of the *attacker* given as
    # the cluster's, the "wrong secret" attack uses a random one and the baseline fails.
    results = agent_attacks.attacks(agent.port, b"not the cluster secret")
    baseline = next(r for r in results if r["attack"] == "ping with the cluster's secret")
    assert baseline["outcome"] == "refused" and baseline["expect"] == "accepted"
