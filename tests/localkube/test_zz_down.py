"""`down` leaves the host as `up` found it: no process, mount, network namespace,
link, iptables/nftables rule, ipset or changed sysctl (k8s/localkube/snapshot).

Runs the real `down`, so `make test-kube` runs this file last, on its own.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from .conftest import LOCALKUBE, localkube_env

pytestmark = pytest.mark.k8s


def test_down_leaves_nothing_behind(kube: object) -> None:
    before_file = Path(localkube_env("KUBE_STATE")) / "host-before.txt"
    assert before_file.is_file(), f"{before_file}: written by `up` on a clean start"
    subprocess.run([str(LOCALKUBE / "down")], check=True, capture_output=True, timeout=300)
    after = subprocess.run([str(LOCALKUBE / "snapshot")], check=True, capture_output=True, text=True).stdout
    before = before_file.read_text()
    left = sorted(set(after.splitlines()) - set(before.splitlines()))
    changed_back = sorted(set(before.splitlines()) - set(after.splitlines()))
    assert left == [], "left behind by the cluster"
    assert changed_back == [], "gone or changed since before `up`"
    # down again: nothing to do, still succeeds.
    subprocess.run([str(LOCALKUBE / "down")], check=True, capture_output=True, timeout=120)
