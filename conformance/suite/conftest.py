"""Fixtures of the running suite: one virtual cluster of the REC for the whole session, the session's
results (written as records when it ends), and the parameters (levels, workloads) from the options."""

from __future__ import annotations

import json
import secrets
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from recapp.bench import references
from recapp.conformance.matrix.levels import parse_levels
from recapp.conformance.suite.results import SessionResults
from recapp.k8s.backend import ClusterBackend
from recapp.k8s.backends import cluster_backend
from recapp.k8s.spec import load_spec
from recapp.workloads.catalog import Workload, select


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    config = metafunc.config
    if "level" in metafunc.fixturenames:
        metafunc.parametrize("level", parse_levels(config.getoption("--levels")))
    if "workload" in metafunc.fixturenames:
        names = [n.strip() for n in config.getoption("--workloads").split(",") if n.strip()]
        chosen = select(names)
        metafunc.parametrize("workload", chosen, ids=[w.name for w in chosen])


@pytest.fixture(scope="session")
def given_images(pytestconfig: pytest.Config) -> tuple[str | None, str | None]:
    return pytestconfig.getoption("--rec-image"), pytestconfig.getoption("--app-image")


@pytest.fixture(scope="session")
def results(pytestconfig: pytest.Config, given_images) -> Iterator[SessionResults]:
    out = pytestconfig.getoption("--records-dir") or tempfile.mkdtemp(prefix="recapp-conformance-")
    res = SessionResults(out_dir=Path(out), rec=given_images[0], app=given_images[1])
    res.parameters = {
        "workloads": pytestconfig.getoption("--workloads"),
        "references": pytestconfig.getoption("--references"),
        "repeats": pytestconfig.getoption("--repeats"),
        "nodes": pytestconfig.getoption("--nodes"),
        "models": ["nested", "native"],
    }
    yield res
    res.write()


@pytest.fixture(scope="session")
def refs(pytestconfig: pytest.Config) -> references.References:
    return references.load(pytestconfig.getoption("--references"))


@pytest.fixture(scope="session")
def cluster_settings(pytestconfig: pytest.Config) -> dict[str, Any]:
    settings: dict[str, Any] = json.loads(pytestconfig.getoption("--cluster-settings") or "{}")
    return settings


@pytest.fixture(scope="session")
def backend(pytestconfig: pytest.Config, cluster_settings: dict[str, Any]) -> ClusterBackend:
    return cluster_backend(
        pytestconfig.getoption("--backend"),
        pytestconfig.getoption("--kubeconfig"),
        pytestconfig.getoption("--kube-context"),
        cluster_settings.get("namespace"),
    )


@pytest.fixture(scope="session")
def nodes(pytestconfig: pytest.Config) -> int:
    return int(pytestconfig.getoption("--nodes"))


@pytest.fixture(scope="session")
def cluster(
    backend: ClusterBackend, rec_image: str, nodes: int, cluster_settings: dict[str, Any]
) -> Iterator[str]:
    """A virtual cluster of the REC, 2 slots per node, for the whole session; removed at the end."""
    name = f"rcf{secrets.token_hex(3)}"
    own = {"name": name, "nodes": nodes, "slots_per_node": 2, "rec_image": rec_image, "ready_timeout_s": 300}
    spec = load_spec({**cluster_settings, **own})
    try:
        backend.up(spec)
        yield name
    finally:
        backend.down(name)


__all__ = ["Workload"]
