"""The DVM's keeper (k8s/dvm.py), run by a real `sh` against a stand-in `prte` on PATH: it restarts a
`prte` that ended without a stop, stamps each restart with PRRTE's own error line, ends after a stop,
and gives up on a DVM that cannot stay up. The live side (a real prte killed under a job) is
tests/e2e/test_dvm_keeper.py."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from recapp.k8s.dvm import (
    KNOWN_ISSUE,
    LATE_LAUNCH_REPORT,
    MAX_RESTARTS,
    RESTART_MARK,
    keeper_script,
    restart_error,
)

LATE = f"[login:00011] PRTE ERROR: Not found in file ../src/mca/plm/base/{LATE_LAUNCH_REPORT}"
# The stand-in: writes its URI, then exits when told to (a file), printing what it was told to print.
FAKE_PRTE = """#!/bin/sh
while [ $# -gt 0 ]; do [ "$1" = --report-uri ] && uri=$2; shift; done
echo "prte-fake@0.0;tcp4://127.0.0.1:1" > "$uri"
dir=$(dirname "$uri")
while ! [ -e "$dir/exit-now" ]; do sleep 0.05; done
cat "$dir/exit-now"; rm -f "$dir/exit-now"
"""


@pytest.fixture
def keeper(tmp_path: Path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "prte").write_text(FAKE_PRTE)
    (bin_dir / "prte").chmod(0o755)
    files = {k: str(tmp_path / f"dvm.{k}") for k in ("uri", "log", "stop", "pidfile")}
    script = keeper_script("/nonexistent/hostfile", **files)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    proc = subprocess.Popen(["sh", "-c", script], env=env)
    yield tmp_path, files, proc
    Path(files["stop"]).touch()
    (tmp_path / "exit-now").write_text("")
    proc.wait(timeout=10)


def wait_for(path: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not (Path(path).is_file() and Path(path).stat().st_size):
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def end_prte(tmp_path: Path, files: dict[str, str], says: str) -> None:
    """Make the stand-in exit (printing `says`) and wait until the keeper has started the next one."""
    wait_for(files["uri"])
    (tmp_path / "exit-now").write_text(says + "\n")
    deadline = time.monotonic() + 10
    while (tmp_path / "exit-now").exists():
        assert time.monotonic() < deadline
        time.sleep(0.05)


def restart_lines(files: dict[str, str], at_least: int = 0) -> list[str]:
    deadline = time.monotonic() + 10
    while True:
        log = Path(files["log"])
        lines = (
            [ln for ln in log.read_text().splitlines() if ln.startswith(RESTART_MARK)] if log.exists() else []
        )
        if len(lines) >= at_least or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def test_a_prte_that_ends_unasked_is_restarted_and_the_restart_names_prrtes_error(keeper) -> None:
    tmp_path, files, proc = keeper
    t0 = int(time.time())
    end_prte(tmp_path, files, f"[login:00011] PRTE ERROR: earlier, unrelated\n{LATE}")
    (line,) = restart_lines(files, at_least=1)
    wait_for(files["uri"])
    assert proc.poll() is None, "the keeper ended instead of restarting prte"
    stamp = int(line.removeprefix(RESTART_MARK).split(":", 1)[0])
    assert t0 <= stamp <= int(time.time())
    assert line.endswith(LATE), line  # the late launch report is named, not the last error seen
    assert KNOWN_ISSUE in restart_error([line])
    assert "it exited: none" in restart_error(
        [f"{RESTART_MARK}{stamp}: prte exited (status 0) ...; error: none"]
    )


def test_a_stop_ends_the_keeper_without_a_restart_and_removes_its_files(keeper) -> None:
    tmp_path, files, proc = keeper
    wait_for(files["uri"])
    Path(files["stop"]).touch()
    (tmp_path / "exit-now").write_text("TERMINATING DVM...DONE\n")
    assert proc.wait(timeout=10) == 0
    assert restart_lines(files) == []
    assert [f for f in ("uri", "stop", "pidfile") if Path(files[f]).exists()] == []


def test_a_dvm_that_cannot_stay_up_is_given_up_after_the_restart_limit(keeper) -> None:
    tmp_path, files, proc = keeper
    for _ in range(MAX_RESTARTS + 1):
        end_prte(tmp_path, files, "[login:00011] PRTE ERROR: no route")
    assert proc.wait(timeout=10) == 0
    assert len(restart_lines(files)) == MAX_RESTARTS
    assert f"prte exited {MAX_RESTARTS + 1} times within" in Path(files["log"]).read_text()
    assert not Path(files["uri"]).exists() and not Path(files["pidfile"]).exists()


class _LateRestartLogin:
    """A login pod whose DVM log gains the keeper's restart line only on the third read (prte exits
    after its prun has returned)."""

    def __init__(self, line: str) -> None:
        self.line, self.reads = line, 0

    def login_exec(self, cluster: str, argv: list[str]):
        self.reads += 1
        out = self.line if self.reads >= 3 else ""
        return subprocess.Popen(["printf", "%s", out], stdout=subprocess.PIPE, text=True)


def test_a_failed_prun_waits_briefly_for_the_keepers_restart_line_and_a_failing_rank_does_not():
    from recapp.k8s.dvm import PRUN_FAILED, restarts_after_job

    line = f"{RESTART_MARK}{int(time.time())}: prte exited (status 0) without pterm; error: {LATE}"
    login = _LateRestartLogin(line)
    assert restarts_after_job(login, "c", time.time() - 60, PRUN_FAILED) == [line]  # type: ignore[arg-type]
    assert login.reads == 3
    # A job whose rank exited 3 is a failing job like most: no wait, no restart seen.
    login = _LateRestartLogin(line)
    assert restarts_after_job(login, "c", time.time() - 60, 3) == []  # type: ignore[arg-type]
    assert login.reads == 1
