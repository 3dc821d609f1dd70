"""Children: one reaper for everything (the agent may be PID 1)."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import threading

from .log import log
from .plan import LaunchPlan

PR_SET_CHILD_SUBREAPER = 36
SHUTDOWN_GRACE_S = 5.0  # SIGTERM -> SIGKILL for every group when the agent stops


def exit_code_of(status: int) -> tuple[int, int | None]:
    """(code as a shell would report it, signal number or None) for a wait status."""
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status), os.WTERMSIG(status)
    return os.WEXITSTATUS(status), None


class Reaper:
    """Collects every child's status, so orphans never stay zombies.

    Children are spawned under `lock`, and a status is handed out under it, so a child that
    exits at once is still matched to its session. A child is first seen exited without being
    reaped (waitid WNOWAIT), marked `reaped` under `lock`, and only then reaped: while a
    ChildWatch holds `lock` and is not marked, its pid — which is also its process group's id —
    cannot have been reused, so kill_group never signals a stranger's group.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.watchers: dict[int, ChildWatch] = {}
        self.children_may_exist = threading.Event()
        threading.Thread(target=self._loop, name="reaper", daemon=True).start()

    def spawn(self, plan: LaunchPlan, base_env: dict[str, str]) -> tuple[subprocess.Popen[bytes], ChildWatch]:
        with self.lock:
            process = subprocess.Popen(
                plan.argv,
                executable=plan.executable,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env={**base_env, **plan.env},
                cwd=plan.cwd,
                start_new_session=True,
                close_fds=True,
            )
            watch = ChildWatch(process.pid, self.lock)
            self.watchers[process.pid] = watch
            self.children_may_exist.set()
        return process, watch

    def active(self) -> list[ChildWatch]:
        with self.lock:
            return list(self.watchers.values())

    def _loop(self) -> None:
        while True:
            self.children_may_exist.clear()  # before waitpid: a spawn after this sets it again
            try:
                info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOWAIT)
            except ChildProcessError:
                self.children_may_exist.wait(1.0)  # orphans re-parented to us arrive unannounced
                continue
            except InterruptedError:
                continue
            if info is None:
                continue
            pid = info.si_pid
            with self.lock:
                watch = self.watchers.pop(pid, None)
                if watch is not None:
                    watch.reaped = True  # from the waitpid below on, pid and group id may be reused
            try:
                _, status = os.waitpid(pid, 0)
            except ChildProcessError:
                continue
            if watch is None:
                log(f"reaped orphan pid={pid} status={exit_code_of(status)[0]}")
            else:
                watch.finish(status)


class ChildWatch:
    def __init__(self, pid: int, lock: threading.Lock) -> None:
        self.pid = pid
        self.lock = lock  # the reaper's: `reaped` changes under it
        self.reaped = False
        self.exited = threading.Event()
        self.code = 0
        self.signal: int | None = None

    def finish(self, status: int) -> None:
        self.code, self.signal = exit_code_of(status)
        self.exited.set()

    def kill_group(self, sig: int) -> None:
        """Signal the command's process group, unless its leader is reaped (its id may be reused)."""
        with self.lock, contextlib.suppress(ProcessLookupError, PermissionError):
            if not self.reaped:
                os.killpg(self.pid, sig)  # start_new_session: the group id is the child's pid

    def terminate_group(self, grace: float) -> None:
        self.kill_group(signal.SIGTERM)
        if not self.exited.wait(grace):
            self.kill_group(signal.SIGKILL)
            self.exited.wait(grace)


def become_subreaper() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER) failed")


def stop_children(reaper: Reaper) -> None:
    watches = reaper.active()
    for watch in watches:
        watch.kill_group(signal.SIGTERM)
    for watch in watches:
        if not watch.exited.wait(SHUTDOWN_GRACE_S):
            watch.kill_group(signal.SIGKILL)
    for watch in watches:
        watch.exited.wait(1.0)
