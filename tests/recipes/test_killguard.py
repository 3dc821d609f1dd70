"""killguard.c, the REC's guard for a PRRTE daemon that signals ranks it has just forked (issue 16).

The library is compiled here with the host's gcc, exactly as the REC's build stage does, and
preloaded into a real process that plays prted: the leader of its own group, with a forked child
that has not exec'd yet (a rank between fork() and exec). The daemon then does what PRRTE 3.0.8's
odls does to that child: SIGTERM to -getpgid(child), later SIGKILL."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[2] / "recipes" / "files" / "rec" / "killguard.c"

# The daemon: its own group, a child still in it (not exec'd), then PRRTE's kill of that child by
# its group: SIGTERM, then SIGKILL. Prints how the child ended and whether the daemon lived.
DAEMON = """
import os, signal, sys, time
os.setpgid(0, 0)
child = os.fork()
if child == 0:
    time.sleep(30)
    os._exit(0)
print("preload-in-env", "LD_PRELOAD" in os.environ, flush=True)
os.kill(-os.getpgid(child), signal.SIGTERM)
time.sleep(0.2)
os.kill(-os.getpgid(child), signal.SIGKILL)
_, status = os.waitpid(child, 0)
how = ("signal", os.WTERMSIG(status)) if os.WIFSIGNALED(status) else ("exit", os.WEXITSTATUS(status))
print("child", *how, flush=True)
print("daemon alive", flush=True)
"""

# The relay: the daemon's signal handler writes the signal number to a socket its event loop reads
# (libevent in prted, set_wakeup_fd here). A forked child that has not exec'd runs the same handler
# on the same socket, so a SIGTERM sent to the child reaches the daemon's loop as its own.
RELAY = """
import os, signal, socket, time
loop, handler_end = socket.socketpair()
handler_end.setblocking(False)
signal.set_wakeup_fd(handler_end.fileno())
signal.signal(signal.SIGTERM, lambda *_: None)
child = os.fork()
if child == 0:
    os.setpgid(0, 0)
    time.sleep(30)
    os._exit(0)
time.sleep(0.3)
os.kill(-child, signal.SIGTERM)
loop.settimeout(1.0)
try:
    heard = list(loop.recv(16))
except socket.timeout:
    heard = []
os.kill(-child, signal.SIGKILL)
_, status = os.waitpid(child, 0)
print("loop heard", heard, "child signal", os.WTERMSIG(status), flush=True)
"""


@pytest.fixture(scope="module")
def killguard(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed on this host (the REC compiles killguard.c in a build stage)")
    out = tmp_path_factory.mktemp("killguard") / "libkillguard.so"
    flags = ["-shared", "-fPIC", "-O2", "-Wall", "-Wextra", "-Werror"]  # as the REC's killguard stage
    subprocess.run(["gcc", *flags, "-o", str(out), str(SOURCE), "-ldl"], check=True)
    return out


def _run_daemon(preload: Path | None) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin"}
    if preload is not None:
        env["LD_PRELOAD"] = str(preload)
    return subprocess.run([sys.executable, "-c", DAEMON], env=env, capture_output=True, text=True, timeout=60)


def test_without_the_guard_the_daemon_kills_itself() -> None:
    """The defect as PRRTE 3.0.8 meets it: the SIGTERM meant for the child ends the daemon."""
    done = _run_daemon(None)
    assert done.returncode == -signal.SIGTERM
    assert "daemon alive" not in done.stdout


def test_with_the_guard_the_daemon_lives_and_its_sigkill_ends_the_child(killguard: Path) -> None:
    done = _run_daemon(killguard)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines == ["preload-in-env False", f"child signal {int(signal.SIGKILL)}", "daemon alive"]


def _run(script: str, preload: Path | None) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin"}
    if preload is not None:
        env["LD_PRELOAD"] = str(preload)
    return subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)


def test_without_the_guard_an_unexeced_child_hands_its_sigterm_to_the_daemon() -> None:
    done = _run(RELAY, None)
    assert done.returncode == 0, done.stderr
    heard, killed = f"[{int(signal.SIGTERM)}]", str(int(signal.SIGKILL))
    assert done.stdout.split() == ["loop", "heard", heard, "child", "signal", killed]


def test_with_the_guard_the_sigterm_is_held_back_from_an_unexeced_child(killguard: Path) -> None:
    done = _run(RELAY, killguard)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["loop", "heard", "[]", "child", "signal", str(int(signal.SIGKILL))]


def test_a_child_that_has_execed_gets_catchable_signals_as_usual(killguard: Path) -> None:
    script = (
        "import os, signal, subprocess, time\n"
        "child = subprocess.Popen(['sleep', '30'], start_new_session=True)\n"
        "time.sleep(0.3)\n"
        "os.kill(-child.pid, signal.SIGTERM)\n"
        "print(-child.wait())\n"
    )
    done = _run(script, killguard)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(int(signal.SIGTERM))]


def test_other_kills_pass_through(killguard: Path) -> None:
    """A child in a group of its own is signalled by that group, as without the guard."""
    script = (
        "import os, signal, time\n"
        "child = os.fork()\n"
        "if child == 0:\n"
        "    os.setpgid(0, 0); time.sleep(30); os._exit(0)\n"
        "time.sleep(0.2)\n"
        "os.kill(-child, signal.SIGKILL)\n"
        "_, status = os.waitpid(child, 0)\n"
        "print(os.WTERMSIG(status))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={"PATH": "/usr/bin:/bin", "LD_PRELOAD": str(killguard)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(int(signal.SIGKILL))]


def test_the_agent_preloads_the_guard_only_where_the_node_has_it(tmp_path: Path) -> None:
    from recapp.node.agent.plan import KILL_GUARD, with_kill_guard

    assert KILL_GUARD == "/usr/local/lib/recapp/libkillguard.so"  # where the REC's template puts it
    guard = tmp_path / "libkillguard.so"
    assert with_kill_guard({"PATH": "/bin"}, str(guard)) == {"PATH": "/bin"}
    guard.write_bytes(b"")
    assert with_kill_guard({"PATH": "/bin"}, str(guard)) == {"PATH": "/bin", "LD_PRELOAD": str(guard)}


def test_the_rec_template_builds_the_guard_where_the_agent_looks() -> None:
    from recapp.node.agent.plan import KILL_GUARD

    template = (SOURCE.parents[2] / "templates" / "rec.Containerfile.j2").read_text()
    assert f"COPY --from=killguard /src/libkillguard.so {KILL_GUARD}" in template
