"""Readiness and the hostfile format, as wait-nodes and both backends share them (recapp.node.pods)."""

from __future__ import annotations

from typing import Any

import pytest

from recapp.node import pods


def pod(name: str, ip: str, ready: str | None) -> dict[str, Any]:
    conditions = [{"type": "PodScheduled", "status": "True"}]
    if ready is not None:
        conditions.append({"type": "Ready", "status": ready})
    return {"metadata": {"name": name}, "status": {"podIP": ip, "conditions": conditions}}


@pytest.mark.parametrize(("ready", "expected"), [("True", True), ("False", False), (None, False)])
def test_ready_means_the_ready_condition_is_true(ready: str | None, expected: bool) -> None:
    assert pods.is_ready(pod("n-0", "10.0.0.1", ready)) is expected


def test_a_pod_without_status_is_not_ready() -> None:
    assert pods.is_ready({"metadata": {"name": "n-0"}}) is False
    assert pods.is_ready({"status": {"conditions": None}}) is False
    assert pods.condition(pod("n-0", "10.0.0.1", "True"), "PodScheduled") == "True"


def test_hostfiles_keep_the_order_given() -> None:
    texts = pods.hostfiles([("demo-node-1", "10.0.0.2"), ("demo-node-0", "10.0.0.1")], "demo-nodes", 3)
    assert texts == {
        "hostfile": "demo-node-1.demo-nodes slots=3\ndemo-node-0.demo-nodes slots=3\n",
        "hostfile.ip": "10.0.0.2 slots=3\n10.0.0.1 slots=3\n",
    }


def test_wait_nodes_writes_them_sorted_by_pod_name() -> None:
    from recapp.node import wait_nodes

    by_name, by_ip = wait_nodes.hostfiles(
        [pod("demo-node-1", "10.0.0.2", "True"), pod("demo-node-0", "10.0.0.1", "True")], "demo-nodes", 2
    )
    assert by_name == "demo-node-0.demo-nodes slots=2\ndemo-node-1.demo-nodes slots=2\n"
    assert by_ip == "10.0.0.1 slots=2\n10.0.0.2 slots=2\n"


def test_owned_by_needs_the_controller_reference() -> None:
    ref = {"kind": "StatefulSet", "name": "demo-node", "controller": True}
    assert pods.owned_by({"metadata": {"ownerReferences": [ref]}}, "StatefulSet", "demo-node")
    # A pod that only copies the labels (no owner), or names another owner, or is not controlled.
    assert not pods.owned_by(
        {"metadata": {"labels": {"recapp.io/cluster": "demo"}}}, "StatefulSet", "demo-node"
    )
    assert not pods.owned_by(
        {"metadata": {"ownerReferences": [{**ref, "name": "x"}]}}, "StatefulSet", "demo-node"
    )
    assert not pods.owned_by(
        {"metadata": {"ownerReferences": [{**ref, "controller": False}]}}, "StatefulSet", "demo-node"
    )
