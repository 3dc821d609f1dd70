"""Reading packages and versions out of an image, and the package preflight, against a scripted backend.

Also: `build_image` refuses bad requests before it touches any backend or the state directory.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pytest

from recapp.builder import build as build_module
from recapp.builder import probe
from recapp.builder.backends.base import BuildBackend, ImageInfo
from recapp.builder.build import BuildRequest, build_image
from recapp.builder.recipe import load
from recapp.errors import BuildError, RecappError, RecipeError
from recapp.host.progress import Step

# Captured from localhost/recapp/rec:trixie (dpkg-query with probe.DPKG_QUERY's format), trimmed.
DPKG_REC_TRIXIE = (
    "ii \tadduser\t3.152\n"
    "ii \tlibpmix2t64\t5.0.7-1\n"
    "ii \topenmpi-bin\t5.0.7-1\n"
    "rc \told-removed\t1.0-1\n"
    "ii \tpodman\t5.4.2+ds1-2+b2\n"
    "ii \tbsdutils\t1:2.41.5-0+deb13u1\n"
    "garbage line\n"
)
PRTERUN_VERSION_TRIXIE = "prterun (PRRTE) 3.0.8\n\nReport bugs to: https://github.com/openpmix/prrte\n"
PODMAN_VERSION_TRIXIE = "podman version 5.4.2\n"


class ScriptedBackend(BuildBackend):
    """Answers `run` from a table keyed by argv[0]; records every call."""

    name = "scripted"

    def __init__(self, answers: Mapping[str, tuple[int, str]]) -> None:
        self.answers = dict(answers)
        self.calls: list[tuple[str, list[str]]] = []

    def build(
        self,
        context_dir: Path,
        *,
        tag: str | None,
        labels: Mapping[str, str],
        log_path: Path,
        on_line: Step | None = None,
    ) -> str:
        raise AssertionError("build must not be reached")

    def inspect(self, ref: str) -> ImageInfo | None:
        raise AssertionError("inspect must not be reached")

    def run(self, ref: str, argv: Sequence[str], *, timeout: float = 120) -> tuple[int, str]:
        self.calls.append((ref, list(argv)))
        return self.answers[argv[0]]

    def remove(self, ref: str) -> None:
        raise AssertionError("remove must not be reached")

    def push(self, ref: str, destination: str) -> None:
        raise AssertionError("push must not be reached")


def test_installed_packages_keeps_installed_only() -> None:
    backend = ScriptedBackend({"dpkg-query": (0, DPKG_REC_TRIXIE)})
    packages = probe.installed_packages(backend, "img")
    assert packages == {
        "adduser": "3.152",
        "libpmix2t64": "5.0.7-1",
        "openmpi-bin": "5.0.7-1",
        "podman": "5.4.2+ds1-2+b2",
        "bsdutils": "1:2.41.5-0+deb13u1",
    }
    assert backend.calls == [("img", probe.DPKG_QUERY)]


def test_installed_packages_failure() -> None:
    backend = ScriptedBackend({"dpkg-query": (127, "sh: dpkg-query: not found\n")})
    with pytest.raises(BuildError, match=r"^cannot list packages in img: \['sh: dpkg-query: not found'\]"):
        probe.installed_packages(backend, "img")


def test_component_versions_of_the_rec() -> None:
    backend = ScriptedBackend(
        {
            "dpkg-query": (0, DPKG_REC_TRIXIE),
            "prterun": (0, PRTERUN_VERSION_TRIXIE),
            "podman": (0, PODMAN_VERSION_TRIXIE),
        }
    )
    packages = probe.installed_packages(backend, "img")
    versions = probe.component_versions(backend, "img", load("rec"), packages)
    assert versions == {"pmix": "5.0.7", "podman": "5.4.2", "prrte": "3.0.8"}


def test_component_versions_sid_release_candidates() -> None:
    backend = ScriptedBackend(
        {
            "prterun": (
                0,
                "\nprterun (PRRTE) 5.0.0rc1\n\nReport bugs to: https://github.com/openpmix/prrte\n",
            ),
            "podman": (0, "podman version 5.8.6\n"),
        }
    )
    versions = probe.component_versions(backend, "img", load("rec"), {"libpmix2t64": "7.0.0~rc1-2+b1"})
    assert versions == {"pmix": "7.0.0~rc1", "podman": "5.8.6", "prrte": "5.0.0rc1"}


def test_component_versions_first_listed_package_wins() -> None:
    app = load("app-mpi")
    both = {"libopenmpi40": "5.0.7-1", "libopenmpi3": "4.1.4-3", "libpmix2": "4.2.2-1"}
    assert probe.component_versions(ScriptedBackend({}), "img", app, both) == {
        "ompi": "5.0.7",
        "pmix": "4.2.2",
    }


def test_component_version_missing_package() -> None:
    with pytest.raises(BuildError) as info:
        probe.component_versions(ScriptedBackend({}), "img", load("app-mpi"), {"libpmix2": "4.2.2-1"})
    assert str(info.value) == "img: ompi version: none of libopenmpi40, libopenmpi3 is installed"


@pytest.mark.parametrize(
    "answer",
    [(0, "prterun: unrecognized option\n"), (127, "prterun (PRRTE) 3.0.8\n")],
    ids=["no-match", "non-zero-exit"],
)
def test_component_version_command_without_version(answer: tuple[int, str]) -> None:
    backend = ScriptedBackend({"prterun": answer, "podman": (0, PODMAN_VERSION_TRIXIE)})
    with pytest.raises(BuildError) as info:
        probe.component_versions(backend, "img", load("rec"), {"libpmix2t64": "5.0.7-1"})
    assert str(info.value).startswith(
        f"img: prrte version: `prterun --version` gave no version (exit {answer[0]})"
    )


def test_missing_packages_passes_names_as_arguments() -> None:
    backend = ScriptedBackend({"sh": (0, "MISSING libopenmpi99\nMISSING gcc=0.1\nnoise\n")})
    wanted = ["gcc=0.1", "libopenmpi99", "make", "$(reboot)"]
    assert probe.missing_packages(backend, "base", wanted) == ["libopenmpi99", "gcc=0.1"]
    ref, argv = backend.calls[0]
    assert ref == "base"
    assert argv == ["sh", "-c", probe.MISSING_SCRIPT, "sh", *wanted]
    assert "$(reboot)" not in probe.MISSING_SCRIPT


def test_check_packages_exist_names_the_missing_ones() -> None:
    backend = ScriptedBackend({"sh": (0, "MISSING libopenmpi40\nMISSING libpmix2t64\n")})
    with pytest.raises(RecipeError) as info:
        probe.check_packages_exist(backend, "localhost/recapp-test/base:x", load("app-mpi"), "trixie")
    assert str(info.value) == (
        "recipe app-mpi: suite trixie: unknown package or version: libopenmpi40, libpmix2t64 "
        "(not in the package lists of localhost/recapp-test/base:x)"
    )
    wanted = backend.calls[0][1][4:]
    assert wanted == sorted(set(wanted))
    assert {"libopenmpi40", "gcc", "openmpi-bin"} <= set(wanted)


def test_check_packages_exist_quiet_when_all_there() -> None:
    probe.check_packages_exist(ScriptedBackend({"sh": (0, "")}), "base", load("rec"), "sid")


def test_package_query_failure() -> None:
    backend = ScriptedBackend({"sh": (125, "Error: no such image\n")})
    with pytest.raises(BuildError, match=r"^cannot query the package lists of base: Error: no such image$"):
        probe.missing_packages(backend, "base", ["gcc"])


# --- build_image: refused before any work ---------------------------------------------------------


@pytest.fixture
def no_work(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[[], list[str]]:
    """Any backend use, base-image work or state write fails the test; returns what was attempted."""
    attempted: list[str] = []

    def forbidden(what: str) -> Callable[..., object]:
        def call(*args: object, **kwargs: object) -> object:
            attempted.append(what)
            raise AssertionError(f"{what} reached")

        return call

    monkeypatch.setattr(build_module, "get_backend", forbidden("get_backend"))
    monkeypatch.setattr(build_module, "build_base", forbidden("build_base"))
    monkeypatch.setattr(build_module, "sub", forbidden("state dir"))
    monkeypatch.setenv("RECAPP_HOME", str(tmp_path / "state"))
    return lambda: attempted


@pytest.mark.parametrize(
    ("kind", "suite", "kwargs", "error", "message"),
    [
        (
            "rec",
            "bookworm",
            {},
            RecipeError,
            "recipe rec: suite bookworm is not supported: Debian bookworm ships no PRRTE",
        ),
        ("rec", "buster", {}, RecipeError, "unknown suite 'buster': choose one of bookworm, trixie, sid"),
        ("app", "trixie", {"workload": "nope"}, RecipeError, "unknown recipe 'app-nope'"),
        ("rec", "trixie", {"workload": "mpi"}, RecappError, "--workload applies to APP images only"),
        ("vm", "trixie", {}, RecipeError, "unknown image kind 'vm': choose rec, app or aio"),
    ],
)
def test_build_image_refuses_before_any_work(
    no_work: Callable[[], list[str]],
    kind: str,
    suite: str,
    kwargs: dict[str, str],
    error: type[RecappError],
    message: str,
) -> None:
    with pytest.raises(error) as info:
        build_image(BuildRequest(kind, suite, **kwargs))  # type: ignore[arg-type]
    assert str(info.value).startswith(message)
    assert no_work() == []


def test_build_image_unknown_backend_before_any_image_work(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(build_module, "build_base", lambda *a, **k: pytest.fail("build_base reached"))
    monkeypatch.setattr(build_module, "sub", lambda *a: pytest.fail("state dir reached"))
    with pytest.raises(BuildError, match=r"^unknown backend 'kaniko': choose one of buildah, docker$"):
        build_image(BuildRequest("rec", "trixie", backend_name="kaniko"))


class InspectOnlyBackend(ScriptedBackend):
    """Knows one image's size; everything else is forbidden."""

    def __init__(self, image_id: str, size: int) -> None:
        super().__init__({})
        self.image_id, self.size = image_id, size

    def inspect(self, ref: str) -> ImageInfo | None:
        return ImageInfo(id=ref, tags=[], size=self.size) if ref == self.image_id else None


def test_record_comes_from_the_request_the_recipe_and_the_result() -> None:
    req = build_module.BuildRequest("aio", "trixie", backend_name="buildah")
    recipe = build_module.load("aio")
    built = build_module.Built(
        "localhost/recapp/aio:trixie",
        "sha256:abc",
        "d1g35t",
        "localhost/recapp/base:trixie",
        {"pmix": "5.0.7"},
        {"podman": "5.4.2"},
        "/logs/build.log",
        "/ctx",
        steps={"ompi make": 12.0},
    )
    record = build_module._record(InspectOnlyBackend("sha256:abc", 1234), req, recipe, built, 3.14159, {})
    assert (record.tag, record.id, record.recipe, record.recipe_hash) == (
        "localhost/recapp/aio:trixie",
        "sha256:abc",
        "aio",
        "d1g35t",
    )
    # The all-in-one image is recorded as a REC (the recipe's kind), not as the requested "aio".
    assert (record.kind, record.suite, record.workload, record.backend) == ("rec", "trixie", None, "scripted")
    assert (record.size_bytes, record.seconds, record.cached) == (1234, 3.14, False)
    assert record.versions == {"pmix": "5.0.7"} and record.packages == {"podman": "5.4.2"}
    assert (record.log_path, record.context_dir, record.steps) == (
        "/logs/build.log",
        "/ctx",
        {"ompi make": 12.0},
    )


def test_build_request_is_frozen() -> None:
    req = build_module.BuildRequest("rec", "trixie")
    with pytest.raises(AttributeError):
        req.suite = "sid"  # type: ignore[misc]
