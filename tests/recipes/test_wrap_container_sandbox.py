"""wrap-container's sandbox state and entry, attacked the way a rank or a hostile APP image would.

The real script runs under bash with a fake `podman` (it answers `inspect` with the pid of a real
sleeping process standing in for the sandbox, and `image inspect` with an image's Env) and a fake
`nsenter` that records its arguments and its own environment instead of entering anything.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

WRAP = Path(__file__).resolve().parents[2] / "recipes" / "files" / "rec" / "wrap-container"

FAKE_PODMAN = """#!/bin/sh
echo "$*" >> {calls}
case "$*" in
  *"inspect --format {{{{.State.Pid}}}}"*) cat {pid_file} ;;
  *"image inspect"*) cat {env_file} ;;
esac
"""
FAKE_NSENTER = f"""#!{sys.executable}
import json, os, sys
with open({{record!r}}, "w") as out:
    json.dump({{{{"argv": sys.argv[1:], "LD_PRELOAD": os.environ.get("LD_PRELOAD")}}}}, out)
"""


class Sandbox:
    def __init__(self, tmp: Path, sleeper: subprocess.Popen[bytes]) -> None:
        self.tmp = tmp
        self.state = tmp / "home" / ".cache" / "recapp-sandbox"
        self.record = tmp / "nsenter.json"
        self.env_file = tmp / "image.env"
        self.calls = tmp / "calls"
        bin_dir = tmp / "bin"
        bin_dir.mkdir()
        (tmp / "pid").write_text(f"{sleeper.pid}\n")
        self.env_file.write_text("PATH=/usr/bin\n")
        for name, body in (
            ("podman", FAKE_PODMAN.format(calls=self.calls, pid_file=tmp / "pid", env_file=self.env_file)),
            ("nsenter", FAKE_NSENTER.format(record=str(self.record))),
        ):
            (bin_dir / name).write_text(body)
            (bin_dir / name).chmod(0o755)
        self.path = f"{bin_dir}:/usr/bin:/bin"

    def run(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        full = {"PATH": self.path, "HOME": str(self.tmp / "home"), **env}
        (self.tmp / "home").mkdir(exist_ok=True)
        return subprocess.run(
            ["bash", str(WRAP), "--image", "app:x", "--", *args],
            env=full, capture_output=True, text=True, timeout=30,
        )  # fmt: skip

    def entered(self) -> dict[str, object]:
        return json.loads(self.record.read_text())


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    sleeper = subprocess.Popen(["sleep", "300"])
    try:
        yield Sandbox(tmp_path, sleeper)
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_rank_enters_through_namespace_files_with_the_image_env_after_entering(sandbox: Sandbox) -> None:
    sandbox.env_file.write_text("PATH=/usr/bin\nAPP_HOME=/opt/app\n")
    proc = sandbox.run("hello", "-v")
    assert proc.returncode == 0, proc.stderr
    argv = sandbox.entered()["argv"]
    assert argv == [
        "--user=/proc/self/fd/6",
        "--mount=/proc/self/fd/7",
        "--preserve-credentials",
        "--",
        "env",
        "APP_HOME=/opt/app",
        "hello",
        "-v",
    ]  # fmt: skip (PATH is set in the REC: its value wins, as with --env-host)


def test_state_is_a_private_directory_outside_tmp(sandbox: Sandbox) -> None:
    assert sandbox.run("true").returncode == 0
    mode = stat.S_IMODE(sandbox.state.stat().st_mode)
    assert (mode, sandbox.state.stat().st_uid) == (0o700, os.getuid())
    assert [p.suffix for p in sorted(sandbox.state.glob("*.env"))] == [".env"]
    assert not str(sandbox.state).startswith("/tmp/.recapp-sandbox")


def test_ld_preload_from_the_state_never_reaches_nsenter(sandbox: Sandbox) -> None:
    # The escape: a rank (same uid, shared /tmp) writes LD_PRELOAD=/tmp/x.so into the sandbox's
    # .env; the old script exported it into nsenter, which runs in the REC's view, at the next launch.
    # Here the image itself carries it, which the old script handled the same way.
    sandbox.env_file.write_text("LD_PRELOAD=/tmp/x.so\n")
    proc = sandbox.run("hello")
    assert proc.returncode == 0, proc.stderr
    entered = sandbox.entered()
    assert entered["LD_PRELOAD"] is None  # nsenter (REC's view) did not get it
    assert "LD_PRELOAD=/tmp/x.so" in entered["argv"]  # the APP's env applies it, inside the APP


def test_a_state_dir_planted_as_a_symlink_is_refused(sandbox: Sandbox, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    sandbox.state.parent.mkdir(parents=True)
    sandbox.state.symlink_to(elsewhere)
    proc = sandbox.run("hello")
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"wrap-container: sandbox state {sandbox.state} is a symlink; refusing it"
    assert not sandbox.record.exists()


def test_a_state_dir_others_can_write_is_refused(sandbox: Sandbox) -> None:
    sandbox.state.mkdir(parents=True)
    sandbox.state.chmod(0o777)
    proc = sandbox.run("hello")
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"wrap-container: sandbox state {sandbox.state} has mode 777, not 700"


def test_command_substitution_in_an_env_name_is_refused_not_run(sandbox: Sandbox, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    sandbox.env_file.write_text(f"a[$(touch {marker})]=1\n")
    proc = sandbox.run("hello")
    assert proc.returncode == 2
    assert proc.stderr.startswith(
        "wrap-container: image app:x has an environment entry with a bad name: a[$("
    )
    assert not marker.exists()
    assert not sandbox.record.exists()


def test_a_bad_name_planted_in_old_state_is_refused_too(sandbox: Sandbox, tmp_path: Path) -> None:
    assert sandbox.run("true").returncode == 0
    marker = tmp_path / "ran"
    (env_file,) = sandbox.state.glob("*.env")
    env_file.write_text(f"x[$(touch {marker})]=1\n")
    sandbox.record.unlink()
    proc = sandbox.run("hello")
    assert proc.returncode == 2 and "holds a bad name" in proc.stderr
    assert not marker.exists()


def test_a_recycled_pid_is_not_entered(sandbox: Sandbox) -> None:
    assert sandbox.run("true").returncode == 0
    (pid_file,) = sandbox.state.glob("*.pid")
    pid, _started = pid_file.read_text().split()
    pid_file.write_text(f"{pid} 1\n")  # as if the sandbox died and its pid now names another process
    sandbox.record.unlink()
    calls_before = sandbox.calls.read_text().count("run -d")
    proc = sandbox.run("hello")
    # Not entered blindly: the stale record makes the script start a fresh sandbox.
    assert sandbox.calls.read_text().count("run -d") == calls_before + 1, proc.stderr


def test_reset_keeps_the_lock_and_removes_the_state(sandbox: Sandbox) -> None:
    assert sandbox.run("true").returncode == 0
    proc = subprocess.run(
        ["bash", str(WRAP), "--reset"],
        env={"PATH": sandbox.path, "HOME": str(sandbox.tmp / "home")},
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in sandbox.state.iterdir()) == [".lock"]


def test_reset_waits_for_a_rank_holding_the_lock(sandbox: Sandbox) -> None:
    assert sandbox.run("true").returncode == 0
    holder = subprocess.Popen(["flock", "-s", str(sandbox.state / ".lock"), "sleep", "2"])
    try:
        proc = subprocess.run(
            ["bash", str(WRAP), "--reset"],
            env={"PATH": sandbox.path, "HOME": str(sandbox.tmp / "home")},
            capture_output=True, text=True, timeout=1,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        proc = None  # it waited, as it must
    finally:
        holder.wait()
    assert proc is None
