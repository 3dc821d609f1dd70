"""Backends: the argv buildah runs is a pure function; the docker backend's stream handling and its
"nobody is listening" error, without an engine."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from recapp.builder.backends import BACKENDS, get_backend
from recapp.builder.backends.buildah import BuildahBackend, bud_argv
from recapp.builder.backends.docker import DockerBackend, _handle_chunk, engine_url
from recapp.errors import BuildError

ULIMITS = ["--ulimit", "nofile=20000:20000", "--ulimit", "nproc=32768:32768"]


def test_bud_argv_exact() -> None:
    ctx = Path("/state/contexts/rec-trixie-0123456789ab")
    argv = bud_argv(
        ctx,
        tag="localhost/recapp/rec:trixie",
        labels={"io.recapp.suite": "trixie", "io.recapp.kind": "rec", "a.first": "x y"},
        iidfile=Path("/state/contexts/rec-trixie-0123456789ab.iid"),
        ulimit_args=ULIMITS,
    )
    assert argv == [
        "buildah",
        "bud",
        "--isolation",
        "chroot",
        "--layers",
        "--force-rm",
        "--pull=never",
        "--iidfile",
        "/state/contexts/rec-trixie-0123456789ab.iid",
        "--ulimit",
        "nofile=20000:20000",
        "--ulimit",
        "nproc=32768:32768",
        "-f",
        "/state/contexts/rec-trixie-0123456789ab/Containerfile",
        "--label",
        "a.first=x y",
        "--label",
        "io.recapp.kind=rec",
        "--label",
        "io.recapp.suite=trixie",
        "--tag",
        "localhost/recapp/rec:trixie",
        "/state/contexts/rec-trixie-0123456789ab",
    ]


def test_bud_argv_untagged_build_has_no_tag_and_ends_with_the_context() -> None:
    argv = bud_argv(Path("/c"), tag=None, labels={}, iidfile=Path("/c.iid"), ulimit_args=[])
    assert "--tag" not in argv
    assert "--label" not in argv
    assert argv[-3:] == ["-f", "/c/Containerfile", "/c"]


def test_bud_argv_is_pure() -> None:
    labels = {"b": "2", "a": "1"}
    kwargs = {"tag": "t", "labels": labels, "iidfile": Path("/i"), "ulimit_args": ULIMITS}
    assert bud_argv(Path("/c"), **kwargs) == bud_argv(Path("/c"), **kwargs)  # type: ignore[arg-type]
    assert labels == {"b": "2", "a": "1"}


def test_get_backend_by_name() -> None:
    assert BACKENDS == ("buildah", "docker")
    assert isinstance(get_backend("buildah"), BuildahBackend)
    assert isinstance(get_backend("docker"), DockerBackend)  # lazy: no engine contacted yet


def test_get_backend_unknown() -> None:
    with pytest.raises(BuildError) as info:
        get_backend("kaniko")
    assert str(info.value) == "unknown backend 'kaniko': choose one of buildah, docker"


def test_docker_engine_url_from_docker_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///run/x.sock")
    assert engine_url() == "unix:///run/x.sock"
    monkeypatch.delenv("DOCKER_HOST")
    assert engine_url() == "unix:///var/run/docker.sock"


def test_docker_backend_with_nobody_listening(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"unix://{tmp_path}/nobody.sock"
    monkeypatch.setenv("DOCKER_HOST", url)
    backend = DockerBackend()
    with pytest.raises(BuildError) as info:
        backend.inspect("localhost/recapp/base:trixie")
    message = str(info.value)
    assert message.startswith(f"docker backend: no engine reachable at {url} (set DOCKER_HOST)")
    assert "\n" not in message


class FakeLog(io.StringIO):
    name = "/state/logs/build.log"


def test_stream_lines_go_to_log_and_sink() -> None:
    log, tail, seen = FakeLog(), [], []
    assert _handle_chunk({"stream": "STEP 1/3: FROM base\n"}, log, tail, seen.append) is None
    assert _handle_chunk({"stream": "\n"}, log, tail, seen.append) is None
    assert seen == ["STEP 1/3: FROM base"]
    assert tail == ["STEP 1/3: FROM base"]
    assert log.getvalue() == "STEP 1/3: FROM base\n\n"


def test_image_id_from_aux_and_from_the_classic_line() -> None:
    log: list[str] = []
    assert _handle_chunk({"aux": {"ID": "sha256:abc"}}, FakeLog(), log, None) == "sha256:abc"
    assert _handle_chunk({"stream": "Successfully built 3d77c04d890f\n"}, FakeLog(), log, None) == (
        "3d77c04d890f"
    )


def test_tail_keeps_the_last_twelve_lines() -> None:
    tail: list[str] = []
    for i in range(20):
        _handle_chunk({"stream": f"line {i}\n"}, FakeLog(), tail, None)
    assert tail == [f"line {i}" for i in range(8, 20)]


def test_error_chunk_raises_with_its_last_line() -> None:
    tail = ["STEP 2/3: RUN apt-get install -y nope"]
    with pytest.raises(BuildError) as info:
        _handle_chunk(
            {"error": 'E: Unable to locate package nope\nerror building at STEP "RUN": exit status 100'},
            FakeLog(),
            tail,
            None,
        )
    assert str(info.value) == 'docker build: error building at STEP "RUN": exit status 100'
    assert info.value.log_path == "/state/logs/build.log"
    assert info.value.hint == "STEP 2/3: RUN apt-get install -y nope"


def test_unknown_chunk_is_logged_as_json() -> None:
    log = FakeLog()
    assert _handle_chunk({"progressDetail": {}}, log, [], None) is None
    assert log.getvalue() == '{"progressDetail": {}}\n'


class FakeContainer:
    def __init__(self, fail_start: bool = False) -> None:
        self.fail_start = fail_start
        self.removed: dict[str, bool] | None = None

    def start(self) -> None:
        if self.fail_start:
            raise RuntimeError("OCI runtime error")

    def wait(self, timeout: float) -> dict[str, int]:
        return {"StatusCode": 3}

    def logs(self, stdout: bool, stderr: bool) -> bytes:
        return b"prterun (PRRTE) 3.0.8\n"

    def remove(self, v: bool = False, force: bool = False) -> None:
        self.removed = {"v": v, "force": force}


class FakeContainers:
    def __init__(self, container: FakeContainer) -> None:
        self.container = container
        self.created: list[tuple[str, list[str], str]] = []

    def create(self, ref: str, command: list[str], network_mode: str) -> FakeContainer:
        self.created.append((ref, command, network_mode))
        return self.container


class FakeClient:
    def __init__(self, container: FakeContainer) -> None:
        self.containers = FakeContainers(container)


def docker_with(container: FakeContainer) -> tuple[DockerBackend, FakeClient]:
    backend = DockerBackend()
    client = FakeClient(container)
    backend.__dict__["client"] = client  # the cached_property's slot: no engine contacted
    return backend, client


def test_docker_run_removes_container_and_its_anonymous_volumes() -> None:
    container = FakeContainer()
    backend, client = docker_with(container)
    assert backend.run("img", ["prterun", "--version"]) == (3, "prterun (PRRTE) 3.0.8\n")
    assert client.containers.created == [("img", ["prterun", "--version"], "none")]
    # The REC declares a VOLUME: without v=True every probe would leave an anonymous volume.
    assert container.removed == {"v": True, "force": True}


def test_docker_run_removes_the_container_when_start_fails() -> None:
    container = FakeContainer(fail_start=True)
    backend, _ = docker_with(container)
    with pytest.raises(RuntimeError, match="OCI runtime error"):
        backend.run("img", ["true"])
    assert container.removed == {"v": True, "force": True}
