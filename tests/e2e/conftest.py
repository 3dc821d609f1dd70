"""e2e fixtures: the default images (built once, cached by recipe hash) and throwaway clusters."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Callable, Iterator

import pytest

from recapp.builder.build import BuildRequest, build_image
from recapp.builder.records import BuildRecord
from recapp.k8s.local.backend import LocalBackend
from recapp.k8s.spec import ClusterSpec, load_spec

REC_SUITES = ("trixie", "sid")
APP_SUITES = ("bookworm", "trixie", "sid")


@pytest.fixture(scope="session")
def default_images(engine) -> dict[str, BuildRecord]:
    """Every default image, keyed `rec:SUITE` / `app:SUITE`. A cold machine builds them here."""
    built: dict[str, BuildRecord] = {}
    for suite in REC_SUITES:
        built[f"rec:{suite}"] = build_image(BuildRequest("rec", suite))
    for suite in APP_SUITES:
        built[f"app:{suite}"] = build_image(BuildRequest("app", suite, workload="mpi"))
    return built


@pytest.fixture(scope="session")
def local_backend() -> LocalBackend:
    return LocalBackend()


ClusterFactory = Callable[..., ClusterSpec]


@pytest.fixture
def make_cluster(local_backend: LocalBackend, default_images) -> Iterator[ClusterFactory]:
    """Bring clusters up with unique names; every one is brought down, and checked gone, afterwards."""
    made: list[str] = []

    def make(
        nodes: int = 2,
        slots: int = 2,
        rec: str = "localhost/recapp/rec:trixie",
        up: bool = True,
        **extra: object,
    ) -> ClusterSpec:
        name = f"rt{secrets.token_hex(3)}"
        spec = load_spec(
            {
                "name": name,
                "nodes": nodes,
                "slots_per_node": slots,
                "rec_image": rec,
                "ready_timeout_s": 120,
                **extra,
            }
        )
        made.append(name)
        if up:
            local_backend.up(spec)
        return spec

    yield make
    for name in made:
        local_backend.down(name)
        assert not local_backend.status(name).exists, f"cluster {name} left objects behind after down"


@contextlib.contextmanager
def module_cluster(rec: str, nodes: int = 2, ready_timeout_s: int = 120) -> Iterator[ClusterSpec]:
    """A cluster of REC `rec` (2 nodes unless told), brought down and checked gone afterwards, also when
    it never became Ready (`up` keeps such a cluster for its user to look at)."""
    backend = LocalBackend()
    spec = load_spec(
        {
            "name": f"rs{secrets.token_hex(3)}",
            "nodes": nodes,
            "slots_per_node": 2,
            "rec_image": rec,
            "ready_timeout_s": ready_timeout_s,
        }
    )
    try:
        backend.up(spec)
        yield spec
    finally:
        backend.down(spec.name)
        assert not backend.status(spec.name).exists


@pytest.fixture(scope="session")
def cluster_of() -> Callable[..., contextlib.AbstractContextManager[ClusterSpec]]:
    """`with cluster_of(REC[, nodes=N]) as spec:` — a module's own cluster (2 nodes unless told)."""
    return module_cluster


@pytest.fixture(scope="module")
def shared_cluster(engine, default_images) -> Iterator[ClusterSpec]:
    """One 2-node trixie cluster for the read-only job tests of a module."""
    with module_cluster("localhost/recapp/rec:trixie") as spec:
        yield spec
