"""Fixtures shared by every room's tests: the `recapp` command as a user runs it, and podman helpers.

Everything a test creates in the container engine is named `localhost/recapp-test/…` (images) or
`recapp-test-…` (containers, volumes, sockets) and is removed by the fixture that made it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TEST_IMAGE_PREFIX = "localhost/recapp-test/"
TEST_NAME_PREFIX = "recapp-test-"
PROGRESS_PREFIX = "… "  # the CLI's plain-mode progress lines on stderr


def recapp_executable() -> str:
    """The `recapp` console script of the interpreter running the tests (the venv's)."""
    candidate = Path(sys.executable).with_name("recapp")
    if candidate.is_file():
        return str(candidate)
    found = shutil.which("recapp")
    if found is None:
        pytest.fail("the `recapp` console script is not installed (pip install -e .)", pytrace=False)
    return found


@dataclass(frozen=True)
class CliResult:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str

    def error_line(self) -> str:
        """The one error line a failed command prints on stderr, without the `error: ` prefix.

        Fails the test when the command did not exit 2, printed a traceback, or spread its error
        over several lines (progress lines `… step` are allowed before it).
        """
        context = f"`{' '.join(self.argv[1:])}`\nstdout:\n{self.stdout}\nstderr:\n{self.stderr}"
        assert self.returncode == 2, f"expected exit 2, got {self.returncode} from {context}"
        assert "Traceback" not in self.stderr, f"traceback on stderr from {context}"
        lines = [ln for ln in self.stderr.splitlines() if ln.strip()]
        errors = [ln for ln in lines if ln.startswith("error: ")]
        other = [ln for ln in lines if not ln.startswith(("error: ", PROGRESS_PREFIX))]
        assert len(errors) == 1, f"expected exactly one `error:` line from {context}"
        assert not other, f"the error is not one line (wrapped or extra output: {other!r}) from {context}"
        return errors[0].removeprefix("error: ").rstrip()


RunRecapp = Callable[..., CliResult]


@pytest.fixture(scope="session")
def run_recapp() -> RunRecapp:
    """Run the installed `recapp` in a subprocess, as a user or a CI job would (stderr not a tty)."""
    exe = recapp_executable()

    def run(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> CliResult:
        full_env = {k: v for k, v in os.environ.items() if k != "RECAPP_DEBUG"}
        full_env.update(env or {})
        argv = [exe, *args]
        proc = subprocess.run(
            argv, capture_output=True, text=True, env=full_env, timeout=timeout, cwd=ROOT, check=False
        )
        return CliResult(argv, proc.returncode, proc.stdout, proc.stderr)

    return run


# --- podman (e2e) -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Engine:
    """podman as recapp drives it: with recapp's own containers.conf (OCI runtime, ulimits)."""

    env: dict[str, str]
    ulimit_args: list[str]

    def podman(
        self, *args: str, check: bool = True, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            ["podman", *args], capture_output=True, text=True, env=self.env, timeout=timeout, check=False
        )
        if check and proc.returncode != 0:
            pytest.fail(
                f"podman {' '.join(args)}: exit {proc.returncode}: {proc.stderr.strip()}", pytrace=False
            )
        return proc

    def image_exists(self, ref: str) -> bool:
        return self.podman("image", "exists", ref, check=False).returncode == 0

    def image_id(self, ref: str) -> str:
        return self.podman("image", "inspect", "--format", "{{.Id}}", ref).stdout.strip()

    def image_labels(self, ref: str) -> dict[str, str]:
        data = json.loads(self.podman("image", "inspect", ref).stdout)[0]
        return dict(data.get("Labels") or {})


@pytest.fixture(scope="session")
def engine() -> Engine:
    """podman and buildah, or a skip saying which is missing (e2e tests cannot say anything without)."""
    missing = [tool for tool in ("podman", "buildah") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"e2e needs {' and '.join(missing)} on PATH")
    from recapp.host import engine as host_engine

    settings = host_engine.settings()
    return Engine(env={**os.environ, **settings.env}, ulimit_args=list(settings.ulimit_args))


@pytest.fixture
def scratch_images(engine: Engine) -> Iterator[list[str]]:
    """Tags a test creates; each must start with localhost/recapp-test/ and is removed afterwards."""
    tags: list[str] = []
    yield tags
    for tag in tags:
        assert tag.startswith(TEST_IMAGE_PREFIX), f"test image {tag} is outside {TEST_IMAGE_PREFIX}"
        engine.podman("rmi", "-f", tag, check=False)
    left = [tag for tag in tags if engine.image_exists(tag)]
    assert not left, f"test images left behind: {left}"
