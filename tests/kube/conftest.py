"""Fixtures for the Kubernetes backend's tests: specs, and pods/events as the API returns them (JSON).

No cluster is needed here except in test_live.py (marked k8s). Pods are written the way the API
server serialises them, trimmed to the fields the backend reads.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
from kubernetes import client

from recapp.errors import ClusterError
from recapp.k8s import constants as c
from recapp.k8s.kubernetes.backend import load_api_client
from recapp.k8s.kubernetes.errors import is_unreachable, unreachable_error
from recapp.k8s.spec import ClusterSpec, load_spec

Obj = dict[str, Any]
SECRET = "0123456789abcdef" * 4


@pytest.fixture
def make_spec() -> Callable[..., ClusterSpec]:
    def make(**overrides: Any) -> ClusterSpec:
        data: dict[str, Any] = {
            "name": "demo",
            "nodes": 2,
            "rec_image": "registry.example.org/recapp/rec:trixie",
        }
        data.update(overrides)
        return load_spec(data)

    return make


@pytest.fixture
def spec(make_spec: Callable[..., ClusterSpec]) -> ClusterSpec:
    return make_spec()


def pod(
    name: str,
    component: str,
    *,
    phase: str = "Running",
    ready: bool = True,
    ip: str | None = "10.0.0.1",
    containers: list[Obj] | None = None,
    init: list[Obj] | None = None,
    conditions: list[Obj] | None = None,
    deleting: bool = False,
    created: str = "2026-01-01T00:00:00Z",
) -> Obj:
    """A pod as the API returns it. `ready` sets the Ready condition (unless conditions are given)."""
    meta: Obj = {
        "name": name,
        "namespace": "recapp-demo",
        "creationTimestamp": created,
        "labels": {c.LABEL_CLUSTER: "demo", c.LABEL_COMPONENT: component},
    }
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:10:00Z"
    status: Obj = {
        "phase": phase,
        "conditions": conditions
        if conditions is not None
        else [
            {"type": "PodScheduled", "status": "True"},
            {"type": "Ready", "status": "True" if ready else "False"},
        ],
    }
    if ip:
        status["podIP"] = ip
    if containers is not None:
        status["containerStatuses"] = containers
    if init is not None:
        status["initContainerStatuses"] = init
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "status": status}


def running(name: str, image: str = "registry.example.org/recapp/rec:trixie") -> Obj:
    return {
        "name": name,
        "image": image,
        "ready": True,
        "state": {"running": {"startedAt": "2026-01-01T00:00:01Z"}},
    }


def waiting(
    name: str, reason: str, message: str = "", image: str = "registry.example.org/recapp/rec:trixie"
) -> Obj:
    state: Obj = {"waiting": {"reason": reason}}
    if message:
        state["waiting"]["message"] = message
    return {"name": name, "image": image, "ready": False, "state": state}


def terminated(name: str, code: int, message: str = "", reason: str = "Error") -> Obj:
    term: Obj = {"exitCode": code, "reason": reason}
    if message:
        term["message"] = message
    return {
        "name": name,
        "image": "registry.example.org/recapp/rec:trixie",
        "ready": False,
        "state": {"terminated": term},
    }


def event(pod_name: str, reason: str, message: str, when: str = "2026-01-01T00:00:05Z") -> Obj:
    return {
        "kind": "Event",
        "involvedObject": {"kind": "Pod", "name": pod_name, "namespace": "recapp-demo"},
        "reason": reason,
        "message": message,
        "lastTimestamp": when,
        "type": "Warning",
    }


class ApiObjects:
    """The builders above, as one fixture (test modules cannot import conftest under importlib mode)."""

    pod = staticmethod(pod)
    running = staticmethod(running)
    waiting = staticmethod(waiting)
    terminated = staticmethod(terminated)
    event = staticmethod(event)


@pytest.fixture
def api() -> ApiObjects:
    return ApiObjects()


@pytest.fixture(scope="session")
def live_api() -> Any:
    """An ApiClient for the cluster $KUBECONFIG names, or a skip saying what is missing."""
    path = os.environ.get("KUBECONFIG")
    if not path:
        pytest.skip("needs a live cluster: KUBECONFIG is not set")
    try:
        api = load_api_client(path)
        client.VersionApi(api).get_code(_request_timeout=(5, 10))
    except ClusterError as exc:
        pytest.skip(f"needs a live cluster: {exc}")
    except Exception as exc:  # unreachable, TLS, auth: the reason goes into the skip
        why = str(unreachable_error(exc, api.configuration.host)) if is_unreachable(exc) else str(exc)
        pytest.skip(f"needs a live cluster: KUBECONFIG={path}: {' '.join(why.split())[:200]}")
    return api
