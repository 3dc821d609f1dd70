"""pytest plugin (entry point `recapp-conformance`): options and fixtures for the conformance suite.

pytest conformance/images --rec-image localhost/recapp/rec:trixie --app-image localhost/recapp/app-mpi:trixie
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from recapp.conformance import oneline
from recapp.host import images


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("recapp", "recapp conformance")
    group.addoption("--rec-image", action="store", default=None, help="REC image to check")
    group.addoption("--app-image", action="store", default=None, help="APP image to check")
    group.addoption(
        "--nest-image",
        action="store",
        default=None,
        help="image the REC user runs nested (default: the REC's recapp base image, else the REC)",
    )
    # The running part (conformance/suite): cluster, PMIx levels, workloads.
    group.addoption("--records-dir", default=None, help="write result records here (matrix, workloads, jobs)")
    group.addoption("--workloads", default="conformance", help="workload set or names, comma-separated")
    group.addoption("--references", default="local", help="references: a system name or a YAML file")
    group.addoption("--repeats", type=int, default=1, help="runs per model and workload")
    group.addoption("--nodes", type=int, default=2, help="node pods of the conformance cluster")
    group.addoption("--levels", default=None, help="PMIx levels, comma-separated (default: all)")
    group.addoption("--backend", default="local", help="cluster backend: local or kubernetes")
    group.addoption("--kubeconfig", default=None, help="kubeconfig file (kubernetes backend)")
    group.addoption("--kube-context", default=None, help="kubeconfig context (kubernetes backend)")
    group.addoption(
        "--cluster-settings",
        default="{}",
        help="JSON object of cluster spec fields (namespace, storage, image_pull_policy, …)",
    )
    group.addoption(
        oneline.ONELINE_OPTION, action="store_true", default=False, help="one line per failing check"
    )


def _image(config: pytest.Config, option: str) -> str:
    ref = config.getoption(option)
    if not ref:
        pytest.skip(f"no {option} given")
    if images.image_id(ref) is None:
        pytest.fail(f"{option} {ref}: image not found in the local image store", pytrace=False)
    return ref


@pytest.fixture(scope="session")
def rec_image(pytestconfig: pytest.Config) -> str:
    return _image(pytestconfig, "--rec-image")


@pytest.fixture(scope="session")
def app_image(pytestconfig: pytest.Config) -> str:
    return _image(pytestconfig, "--app-image")


@pytest.fixture(scope="session")
def rec_labels(rec_image: str) -> dict[str, str]:
    return images.labels(rec_image)


@pytest.fixture(scope="session")
def app_labels(app_image: str) -> dict[str, str]:
    return images.labels(app_image)


def _testinfra_host(image: str, user: str | None) -> Iterator[object]:
    import testinfra

    from recapp.conformance.containers import running

    with running(image) as name:
        target = f"podman://{user}@{name}" if user else f"podman://{name}"
        yield testinfra.get_host(target)


@pytest.fixture(scope="session")
def rec_host(rec_image: str) -> Iterator[object]:
    """The REC as its default (unprivileged) user."""
    yield from _testinfra_host(rec_image, None)


@pytest.fixture(scope="session")
def rec_root(rec_image: str) -> Iterator[object]:
    """The REC inspected as root (to read every file, e.g. for setuid scans)."""
    yield from _testinfra_host(rec_image, "root")


@pytest.fixture(scope="session")
def app_host(app_image: str) -> Iterator[object]:
    yield from _testinfra_host(app_image, None)


@pytest.fixture(scope="session")
def app_root(app_image: str) -> Iterator[object]:
    yield from _testinfra_host(app_image, "root")


def pytest_configure(config: pytest.Config) -> None:
    oneline.configure(config)
    config.addinivalue_line("markers", "rec: checks of a REC image")
    config.addinivalue_line("markers", "app: checks of an APP image")
