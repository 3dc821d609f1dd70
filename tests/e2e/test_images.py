"""Images end to end: cached builds, `recapp images`, static conformance of the default images, precise
conformance failures on deliberately broken images, the docker backend through podman's compat API,
and a failing build that leaves nothing behind.

Everything made here is named localhost/recapp-test/… or recapp-test-… and removed by the fixtures.
The default images (localhost/recapp/…) are only read, except that `recapp build rec --suite trixie`
rebuilds localhost/recapp/rec:trixie when its recipe files changed since it was built, as it would for
a user.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

from recapp.host import labels as L

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
# Fixtures from tests/conftest.py: `engine` (podman with recapp's settings), `run_recapp` (the CLI in a
# subprocess, returning a result with .error_line()), `scratch_images` (tags removed at teardown).
Engine = Any
RunRecapp = Callable[..., Any]

REC_TRIXIE = "localhost/recapp/rec:trixie"
DEFAULT_RECS = [REC_TRIXIE, "localhost/recapp/rec:sid"]
DEFAULT_APPS = [
    "localhost/recapp/app-mpi:bookworm",
    "localhost/recapp/app-mpi:trixie",
    "localhost/recapp/app-mpi:sid",
]
# Checks in conformance/images: 3 PRRTE binaries + PMIx label + no sshd + non-root + file caps + nesting;
# 10 launcher/sshd names + libpmix linkage + configure line + labels vs contents + non-root.
REC_CHECKS = 9
APP_CHECKS = 15  # 14 + test_distribution_mca_defaults_present (an Open MPI APP; the MPICH check skips)
# Open MPI 4 (ORTE) singletons exec orted, which an APP must not carry: that one check skips, saying so.
ORTE_SINGLETON_SKIP = "singletons exec orted, which an APP must not carry"
MPICH_ONLY_SKIP = "not an MPICH APP built by recapp"


# --- helpers ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PytestRun:
    """A conformance run: exit status, summary-line counts, and each check's outcome and message."""

    returncode: int
    output: str
    counts: dict[str, int]
    outcomes: dict[str, tuple[str, str]]  # check name → (passed|failed|error|skipped, message)

    def named(self, outcome: str) -> dict[str, str]:
        return {name: msg for name, (out, msg) in self.outcomes.items() if out == outcome}


def run_conformance(tmp_path: Path, *options: str, timeout: float = 900) -> PytestRun:
    """`pytest conformance/images …` in a subprocess, as `recapp conformance` or CI would run it."""
    junit = tmp_path / f"conformance-{len(list(tmp_path.glob('conformance-*.xml')))}.xml"
    argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "conformance/images", *options]
    argv.append(f"--junitxml={junit}")
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, timeout=timeout, check=False)
    output = proc.stdout + proc.stderr
    summary = [ln for ln in output.splitlines() if re.match(r"^=+ .* in [\d.]+s", ln)]
    assert summary, f"no pytest summary line in:\n{output[-3000:]}"
    counts = {word: int(n) for n, word in re.findall(r"(\d+) (\w+)", summary[-1])}
    outcomes: dict[str, tuple[str, str]] = {}
    for case in ElementTree.parse(junit).iter("testcase"):
        outcome, message = "passed", ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome = {"failure": "failed"}.get(child.tag, child.tag)
                message = child.get("message", "")
        outcomes[case.get("name", "?")] = (outcome, message)
    return PytestRun(proc.returncode, output, counts, outcomes)


def buildah_bud(engine: Engine, context: Path, tag: str) -> None:
    """Build a scratch image the way recapp's buildah backend does (chroot isolation, host ulimits)."""
    argv = ["buildah", "bud", "--isolation", "chroot", "--pull=never", "--layers=false", *engine.ulimit_args]
    argv += ["--tag", tag, str(context)]
    proc = subprocess.run(argv, capture_output=True, text=True, env=engine.env, timeout=600, check=False)
    assert proc.returncode == 0, f"buildah bud {tag} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"


def containers_of(engine: Engine, image_ids: set[str]) -> list[str]:
    """Containers (podman's, and buildah's working containers) whose image is one of image_ids."""
    data = json.loads(engine.podman("ps", "-a", "--external", "--format", "json").stdout or "[]")
    return [f"{c.get('Names')} ({c.get('Image')})" for c in data if c.get("ImageID") in image_ids]


def write_context(
    directory: Path, containerfile: str, files: dict[str, tuple[str, int]] | None = None
) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "Containerfile").write_text(containerfile)
    for name, (text, mode) in (files or {}).items():
        (directory / name).write_text(text)
        (directory / name).chmod(mode)
    return directory


def state_files(state: Path) -> list[str]:
    return sorted(p.relative_to(state).as_posix() for p in state.rglob("*") if p.is_file())


@pytest.fixture(autouse=True, scope="module")
def _default_images_built(default_images: dict[str, Any]) -> None:
    """A cold machine builds every default image first (tests/e2e/conftest.py); later runs hit the cache."""


def require_image(engine: Engine, ref: str) -> None:
    assert engine.image_exists(ref), f"{ref} should have been built by the default_images fixture"


# --- cached build, `recapp images` ------------------------------------------------------------


@pytest.fixture(scope="module")
def rec_trixie_record(engine: Engine, run_recapp: RunRecapp) -> dict[str, Any]:
    """`recapp build rec --suite trixie`: a no-op when the image matches the recipe, else a real build."""
    result = run_recapp("build", "rec", "--suite", "trixie", "--json", timeout=1800)
    assert result.returncode == 0, f"recapp build rec failed:\n{result.stderr[-3000:]}"
    return json.loads(result.stdout)


def test_second_build_is_cached(
    engine: Engine, run_recapp: RunRecapp, rec_trixie_record: dict[str, Any]
) -> None:
    started = time.monotonic()
    result = run_recapp("build", "rec", "--suite", "trixie", "--json")
    seconds = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    again = json.loads(result.stdout)
    assert again["cached"] is True
    assert again["id"] == rec_trixie_record["id"]
    assert again["recipe_hash"] == rec_trixie_record["recipe_hash"]
    assert seconds < 10, f"a cached build took {seconds:.1f} s: the recipe hash did not short-cut the build"
    assert again["versions"] == {"pmix": "5.0.7", "podman": "5.4.2", "prrte": "3.0.8"}
    labels = engine.image_labels(REC_TRIXIE)
    assert labels[L.RECIPE_HASH] == again["recipe_hash"]
    assert L.versions_from_labels(labels) == again["versions"]
    assert labels[L.USER] == "998:995"


def test_images_json_lists_versions(
    engine: Engine, run_recapp: RunRecapp, rec_trixie_record: dict[str, Any]
) -> None:
    result = run_recapp("images", "--json")
    assert result.returncode == 0, result.stderr
    by_tag = {entry["tag"]: entry for entry in json.loads(result.stdout)}
    rec = by_tag[REC_TRIXIE]
    assert (rec["kind"], rec["suite"], rec["workload"]) == ("rec", "trixie", None)
    assert rec["versions"]["pmix"] == "5.0.7"
    assert rec["recipe_hash"] == rec_trixie_record["recipe_hash"]
    assert "localhost/recapp/base:trixie" not in by_tag, "base images are not REC/APP images"
    if engine.image_exists("localhost/recapp/app-mpi:sid"):
        app = by_tag["localhost/recapp/app-mpi:sid"]
        assert (app["kind"], app["suite"], app["workload"]) == ("app", "sid", "mpi")
        assert app["versions"] == {"ompi": "6.0.0~rc2", "pmix": "7.0.0~rc1"}


# --- static conformance of the default images --------------------------------------------------


@pytest.mark.parametrize("image", DEFAULT_RECS)
def test_default_rec_conforms(engine: Engine, image: str, tmp_path: Path) -> None:
    require_image(engine, image)
    run = run_conformance(tmp_path, "--rec-image", image, "-m", "rec")
    assert run.counts.get("failed", 0) == 0 and run.counts.get("error", 0) == 0, run.output[-4000:]
    assert run.counts.get("passed") == REC_CHECKS, run.output[-4000:]
    assert run.returncode == 0


@pytest.mark.parametrize("image", DEFAULT_APPS)
def test_default_app_conforms(engine: Engine, image: str, tmp_path: Path) -> None:
    require_image(engine, image)
    run = run_conformance(tmp_path, "--app-image", image, "-m", "app")
    assert run.counts.get("failed", 0) == 0 and run.counts.get("error", 0) == 0, run.output[-4000:]
    skipped = run.named("skipped")
    # The MPICH label check is for MPICH APPs (issue 19): an Open MPI APP skips it, saying why.
    assert MPICH_ONLY_SKIP in skipped.pop("test_mpich_label_matches_the_library", ""), run.output[-4000:]
    if image.endswith(":bookworm"):
        assert list(skipped) == ["test_labels_match_contents"], run.output[-4000:]
        assert ORTE_SINGLETON_SKIP in skipped["test_labels_match_contents"]
        assert run.counts.get("passed") == APP_CHECKS - 1, run.output[-4000:]
    else:
        assert skipped == {}, run.output[-4000:]
        assert run.counts.get("passed") == APP_CHECKS, run.output[-4000:]
    assert run.returncode == 0


# --- conformance fails, precisely, on broken images ---------------------------------------------


def _broken_app_fails_one_check(
    engine: Engine,
    scratch_images: list[str],
    tmp_path: Path,
    name: str,
    lines: str,
    files: dict[str, tuple[str, int]] | None = None,
) -> tuple[str, str]:
    """Build app-mpi:trixie plus `lines` as a scratch APP, run the static APP checks on it, and
    return the one check that failed with its message (every other check must pass)."""
    base = "localhost/recapp/app-mpi:trixie"
    require_image(engine, base)
    tag = f"localhost/recapp-test/app-bad:{name}"
    scratch_images.append(tag)
    buildah_bud(engine, write_context(tmp_path / name, f"FROM {base}\n{lines}", files), tag)
    run = run_conformance(tmp_path, "--app-image", tag, "-m", "app")
    failed = run.named("failed")
    assert len(failed) == 1, run.output[-4000:]
    assert run.counts.get("passed") == APP_CHECKS - 1, run.output[-4000:]
    assert run.returncode == 1
    return next(iter(failed.items()))


def test_app_with_a_launcher_fails_naming_it(
    engine: Engine, scratch_images: list[str], tmp_path: Path
) -> None:
    check, why = _broken_app_fails_one_check(
        engine, scratch_images, tmp_path, "mpirun", "COPY mpirun /usr/bin/mpirun\n",
        {"mpirun": ("#!/bin/sh\necho 'a launcher an APP must not carry'\n", 0o755)},
    )  # fmt: skip
    assert check == "test_no_launcher_or_sshd[mpirun]"
    assert why.startswith(
        "AssertionError: APP contains `mpirun` on PATH: an APP must carry no launcher and no sshd"
    )


def test_app_without_debians_mca_defaults_fails_naming_the_file(
    engine: Engine, scratch_images: list[str], tmp_path: Path
) -> None:
    check, why = _broken_app_fails_one_check(
        engine, scratch_images, tmp_path, "no-mca-defaults",
        "USER root\nRUN rm /etc/openmpi/openmpi-mca-params.conf\nUSER 1000:1000\n",
    )  # fmt: skip
    assert check == "test_distribution_mca_defaults_present"
    assert "/etc/openmpi/openmpi-mca-params.conf" in why and "btl = ^uct,openib,ofi" in why


def test_rec_with_setuid_newuidmap_fails_nesting(
    engine: Engine, scratch_images: list[str], tmp_path: Path
) -> None:
    require_image(engine, REC_TRIXIE)
    tag = "localhost/recapp-test/rec-bad:setuid"
    scratch_images.append(tag)
    # setuid-root instead of file capabilities: DESIGN.md says nested user namespaces break.
    context = write_context(
        tmp_path / "rec-bad",
        f"FROM {REC_TRIXIE}\n"
        "USER root\n"
        "RUN chmod u+s /usr/bin/newuidmap /usr/bin/newgidmap"
        " && setcap -r /usr/bin/newuidmap && setcap -r /usr/bin/newgidmap\n"
        "USER 998:995\n",
    )
    buildah_bud(engine, context, tag)
    run = run_conformance(tmp_path, "--rec-image", tag, "-m", "rec")
    assert run.counts.get("failed") == 2, run.output[-4000:]
    assert run.counts.get("passed") == REC_CHECKS - 2, run.output[-4000:]
    failed = run.named("failed")
    caps = failed.get("test_newuidmap_uses_file_capabilities", "")
    nest = failed.get("test_unprivileged_user_runs_nested_container", "")
    assert len(failed) == 2 and caps and nest, run.output[-4000:]
    assert "/usr/bin/newuidmap is setuid-root: nested user namespaces need file capabilities" in caps
    assert nest.startswith("AssertionError: REC user cannot run a nested container"), nest
    assert "newuidmap" in nest, "the nesting failure names the tool that refused"
    assert not containers_of(engine, {engine.image_id(tag)}), "conformance left containers of the bad REC"


def all_volumes(engine: Engine) -> set[str]:
    return set(engine.podman("volume", "ls", "-q").stdout.split())


def test_rec_declares_no_volume_and_checks_leave_none(engine: Engine) -> None:
    from recapp.conformance.containers import running

    require_image(engine, REC_TRIXIE)
    # An image-declared VOLUME leaves an anonymous volume behind every plain `podman run`; the inner
    # storage comes from the pod spec instead.
    config = json.loads(engine.podman("image", "inspect", REC_TRIXIE).stdout)[0].get("Config", {})
    assert not config.get("Volumes"), f"the REC declares volumes: {config.get('Volumes')}"
    before = all_volumes(engine)
    with running(REC_TRIXIE) as name:
        assert engine.podman("container", "exists", name, check=False).returncode == 0
    assert engine.podman("container", "exists", name, check=False).returncode != 0
    assert all_volumes(engine) - before == set(), "a conformance container left a volume behind"


# --- the docker backend, through podman's Docker-compatible API -------------------------------


def wait_for_socket(path: Path, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"podman system service exited with {process.returncode}", pytrace=False)
        if path.exists():
            with socket.socket(socket.AF_UNIX) as s:
                try:
                    s.connect(str(path))
                    return
                except OSError:
                    pass
        time.sleep(0.2)
    pytest.fail(f"podman system service did not listen on {path} within {timeout:.0f} s", pytrace=False)


@pytest.fixture(scope="module")
def podman_service(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`podman system service` on a private socket, with recapp's containers.conf; yields DOCKER_HOST."""
    directory = tmp_path_factory.mktemp("recapp-test-docker")
    sock = directory / "podman.sock"
    url = f"unix://{sock}"
    with open(directory / "service.log", "wb") as log:
        process = subprocess.Popen(
            ["podman", "system", "service", "--time=0", url], env=engine.env, stdout=log, stderr=log
        )
        try:
            wait_for_socket(sock, process)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def test_docker_backend_builds_the_same_recipe(
    engine: Engine,
    run_recapp: RunRecapp,
    rec_trixie_record: dict[str, Any],
    podman_service: str,
    scratch_images: list[str],
    tmp_path: Path,
) -> None:
    tag = "localhost/recapp-test/rec-docker:trixie"
    scratch_images.append(tag)
    # The buildah-built image is current (a cached no-op, or rebuilt if the recipe files moved on).
    current = run_recapp("build", "rec", "--suite", "trixie", "--json", timeout=1800)
    assert current.returncode == 0, current.stderr
    buildah_hash = json.loads(current.stdout)["recipe_hash"]
    env = {"DOCKER_HOST": podman_service, "RECAPP_HOME": str(tmp_path / "state")}
    args = ["build", "rec", "--suite", "trixie", "--backend", "docker", "--tag", tag, "--force", "--json"]
    result = run_recapp(*args, env=env, timeout=1800)
    assert result.returncode == 0, f"docker backend build failed:\n{result.stderr[-3000:]}"
    record = json.loads(result.stdout)
    assert (record["backend"], record["tag"], record["cached"]) == ("docker", tag, False)
    labels = engine.image_labels(tag)
    rec_labels = engine.image_labels(REC_TRIXIE)
    assert labels[L.RECIPE_HASH] == record["recipe_hash"]
    assert labels[L.RECIPE_HASH] == buildah_hash == rec_labels[L.RECIPE_HASH], (
        "same recipe and base, different context digests from the buildah and docker backends "
        "(or a recipe file changed while the test ran)"
    )
    assert L.versions_from_labels(labels) == L.versions_from_labels(rec_labels) == record["versions"]
    assert (labels[L.KIND], labels[L.USER]) == ("rec", "998:995")
    final = engine.image_id(tag)
    parent = engine.podman("image", "inspect", "--format", "{{.Parent}}", tag).stdout.strip()
    left = containers_of(engine, {final, parent} - {""})
    assert not left, f"the docker backend left containers behind: {left}"


def test_docker_backend_probe_leaves_no_volume(
    engine: Engine, podman_service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from recapp.builder.backends.docker import DockerBackend

    require_image(engine, REC_TRIXIE)
    monkeypatch.setenv("DOCKER_HOST", podman_service)
    before = all_volumes(engine)
    status, out = DockerBackend().run(REC_TRIXIE, ["sh", "-c", "id -u; cat /etc/os-release"])
    assert status == 0, out
    assert out.split()[0] == "998", out
    assert "trixie" in out
    assert all_volumes(engine) - before == set(), "the docker backend's probe left a volume behind"


def test_docker_backend_without_an_engine(
    engine: Engine, run_recapp: RunRecapp, tmp_path_factory: pytest.TempPathFactory
) -> None:
    directory = tmp_path_factory.mktemp("recapp-test-nobody")
    url = f"unix://{directory}/nobody.sock"
    state = directory / "state"
    tag = "localhost/recapp-test/rec-nobody:trixie"
    args = ["build", "rec", "--suite", "trixie", "--backend", "docker", "--tag", tag]
    result = run_recapp(*args, env={"DOCKER_HOST": url, "RECAPP_HOME": str(state)})
    line = result.error_line()
    assert line.startswith(f"docker backend: no engine reachable at {url} (set DOCKER_HOST)"), line
    assert not engine.image_exists(tag)
    assert not (directory / "nobody.sock").exists()
    assert state_files(state) == []


# --- a build that fails leaves nothing -------------------------------------------------------------


def test_failed_preflight_leaves_nothing(
    engine: Engine, run_recapp: RunRecapp, scratch_images: list[str], tmp_path: Path
) -> None:
    require_image(engine, "localhost/recapp/base:trixie")
    base = "localhost/recapp-test/base-nolists:trixie"
    scratch_images.append(base)
    context = write_context(
        tmp_path / "base-nolists", "FROM localhost/recapp/base:trixie\nRUN rm -rf /var/lib/apt/lists/*\n"
    )
    buildah_bud(engine, context, base)
    base_id = engine.image_id(base)
    tag = "localhost/recapp-test/app-fail:x"
    scratch_images.append(tag)
    state = tmp_path / "state"
    args = ["build", "app", "--suite", "trixie", "--base-image", base, "--tag", tag]
    result = run_recapp(*args, env={"RECAPP_HOME": str(state)}, timeout=600)
    line = result.error_line()
    assert line.startswith("recipe app-mpi: suite trixie: unknown package or version: "), line
    assert line.endswith(f"(not in the package lists of {base})"), line
    missing = line.split("unknown package or version: ", 1)[1].split(" (not in", 1)[0].split(", ")
    assert {"libopenmpi40", "libpmix2t64", "libopenmpi-dev", "gcc"} <= set(missing), missing
    assert not engine.image_exists(tag)
    assert not containers_of(engine, {base_id}), "the preflight left containers of its base behind"
    # Only the engine settings recapp writes for itself; no context, log or build record.
    assert state_files(state) == ["engine/containers.conf"]
