"""Two deliveries of one APP image into one node pod at the same time (issue 16's concurrency run and
the scaling bench saw `podman load` fail with "manifest.json: not a directory" when they shared the
tarball's name in the node's volume): both load it, and no tarball is left in the volume. And one
delivery into several nodes loads into up to `delivery_concurrency` of them at once (issue 18)."""

from __future__ import annotations

import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from recapp.errors import ClusterError
from recapp.host import engine as host_engine
from recapp.k8s.local.backend import LocalBackend

pytestmark = pytest.mark.e2e

BASE = "localhost/recapp/base:trixie"


def _loaded_and_no_archive_left(backend: LocalBackend, cluster: str, pod: str, image: str) -> None:
    """The node's nested podman has the image, and no delivered archive (whole or partial) is left."""
    status, out = backend.node_exec(cluster, pod, ["podman", "image", "exists", image])
    assert status == 0, out
    status, out = backend.node_exec(cluster, pod, ["sh", "-c", "ls /var/lib/recapp/images"])
    assert [f for f in out.split() if f.endswith((".tar", ".part"))] == []


def test_two_deliveries_of_one_image_into_one_node_both_load(make_cluster, local_backend) -> None:
    spec = make_cluster(nodes=1)
    # A tag of its own on a small image the node does not hold, so both deliveries really load.
    image = f"localhost/recapp-test/deliver-{secrets.token_hex(3)}:x"
    host_engine.podman("tag", BASE, image)
    try:
        with ThreadPoolExecutor(2) as pool:
            results = list(pool.map(lambda _: local_backend.deliver_image(spec.name, image), range(2)))
        assert len(results) == 2
        _loaded_and_no_archive_left(local_backend, spec.name, f"{spec.name}-node-0", image)
    finally:
        host_engine.podman("rmi", image, check=False)


class _TimedLoads(LocalBackend):
    """The real local backend, noting when each node's `podman load` starts and ends."""

    def __init__(self, delivery_concurrency: int) -> None:
        super().__init__(delivery_concurrency)
        self.loads: list[tuple[float, float]] = []
        self._lock = threading.Lock()

    def node_exec(self, name, node, argv, *, timeout=600):  # type: ignore[no-untyped-def]
        t0 = time.monotonic()
        result = super().node_exec(name, node, argv, timeout=timeout)
        if list(argv[:2]) == ["podman", "load"]:
            with self._lock:
                self.loads.append((t0, time.monotonic()))
        return result


def _most_at_once(spans: list[tuple[float, float]]) -> int:
    edges = sorted([(t0, 1) for t0, _ in spans] + [(t1, -1) for _, t1 in spans], key=lambda e: (e[0], e[1]))
    now = most = 0
    for _, step in edges:
        now += step
        most = max(most, now)
    return most


def test_nodes_load_the_image_at_once_up_to_the_bound(make_cluster) -> None:
    spec = make_cluster(nodes=3, slots=1)
    image = f"localhost/recapp-test/deliver-{secrets.token_hex(3)}:x"
    host_engine.podman("tag", BASE, image)
    backend = _TimedLoads(delivery_concurrency=2)
    try:
        assert backend.deliver_image(spec.name, image) == image
        assert len(backend.loads) == 3  # each node loaded it once
        assert _most_at_once(backend.loads) == 2  # two at once, never the third: the bound holds
        for i in range(3):
            _loaded_and_no_archive_left(backend, spec.name, f"{spec.name}-node-{i}", image)
    finally:
        host_engine.podman("rmi", image, check=False)


def test_a_concurrency_below_one_is_refused() -> None:
    with pytest.raises(ClusterError, match="delivery concurrency must be at least 1, got 0"):
        LocalBackend(delivery_concurrency=0)
