"""The reaper never signals a process group whose leader it has reaped (its id may be reused).

Run in a child interpreter: a Reaper waits for *every* child of its process, pytest's included."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = r"""
import os, signal, time
from recapp.node.agent.plan import LaunchPlan
from recapp.node.agent.reaper import Reaper

reaper = Reaper()
# A leader that leaves a member in its group and exits at once.
plan = LaunchPlan("/bin/sh", ["sh", "-c", "sleep 30 & echo $!; exit 0"], cwd="/")
process, watch = reaper.spawn(plan, dict(os.environ))
member = int(process.stdout.readline())
process.returncode = 0
assert watch.exited.wait(10), "leader not reaped"
assert watch.reaped
watch.kill_group(signal.SIGKILL)  # must be a no-op: the group id is no longer ours to use
time.sleep(0.3)
os.kill(member, 0)  # still alive
print("member-alive")
os.kill(member, signal.SIGKILL)
"""


def test_a_reaped_leaders_group_is_not_signalled() -> None:
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "member-alive"
