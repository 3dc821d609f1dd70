"""Shared fixtures for the k8s room's tests: specs and objects as plain data, no cluster."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from recapp.k8s import pki
from recapp.k8s.objects import cluster_objects, new_credentials
from recapp.k8s.spec import ClusterSpec, load_spec

# A fixed secret, so objects and renders are reproducible in tests.
SECRET = "0123456789abcdef" * 4


@pytest.fixture
def make_spec() -> Callable[..., ClusterSpec]:
    def make(**overrides: Any) -> ClusterSpec:
        data: dict[str, Any] = {"name": "demo", "nodes": 3, "rec_image": "localhost/recapp-rec:trixie"}
        data.update(overrides)
        return load_spec(data)

    return make


@pytest.fixture
def spec(make_spec: Callable[..., ClusterSpec]) -> ClusterSpec:
    return make_spec()


@pytest.fixture
def secret() -> str:
    return SECRET


@pytest.fixture
def credentials(spec: ClusterSpec) -> pki.ClusterCredentials:
    return new_credentials(spec)


@pytest.fixture
def objects(spec: ClusterSpec, credentials: pki.ClusterCredentials) -> list[dict[str, Any]]:
    return cluster_objects(spec, agent_secret=SECRET, credentials=credentials)
