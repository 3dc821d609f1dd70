"""Keep podman's isolated networks isolated after one of them is removed (netavark's iptables driver).

Every local cluster has its own network created with `isolate=true` (the NetworkPolicy as podman can
say it). netavark's iptables driver (Debian 12 has 1.4; the driver is the same until its removal in
2.0) puts one rule in FORWARD for all isolated networks, `-j NETAVARK_ISOLATION_1`, and each network
its own rules in that chain. It removes that one shared jump whenever *any* isolated network loses
its last container (TeardownPolicy::OnComplete in src/firewall/varktables/types.rs), so from the
`cluster down` of one cluster until a container starts again on some isolated network, every other
cluster can reach its neighbours' pods (issue 16: under concurrency a job's login pod reached another
cluster's agent, whose TLS then refused it). Measured here: with networks a, b, c each holding one
container, a→b TCP timed out (dropped); after c's container was removed, a→b was refused by b's
kernel (reached); after a container started on c again, it timed out once more.

So after removing a network, recapp puts the jump back exactly as netavark writes it, while isolated
networks remain (their rules are still in NETAVARK_ISOLATION_1). netavark's nftables driver keeps its
jump in its own table for good: there the chain does not exist and nothing is done.
"""

from __future__ import annotations

import os
import shutil

from recapp.errors import HostError
from recapp.host.runner import run

CHAIN = "NETAVARK_ISOLATION_1"
JUMP = ["FORWARD", "-j", CHAIN]


def isolation_needs_jump(chain_rules: str, forward_rules: str) -> bool:
    """From `iptables -S NETAVARK_ISOLATION_1` and `iptables -S FORWARD`: isolated networks have rules
    in the chain but FORWARD no longer jumps to it."""
    in_use = any(line.startswith(f"-A {CHAIN} ") for line in chain_rules.splitlines())
    jumps = any(line.split() == ["-A", *JUMP] for line in forward_rules.splitlines())
    return in_use and not jumps


def restore_isolation() -> bool:
    """Put FORWARD's jump to NETAVARK_ISOLATION_1 back when isolated networks remain without it;
    True when it was missing and is back. Rootless podman's networks live in their own namespace,
    with their own firewall: nothing to do there, nor without iptables."""
    if os.geteuid() != 0 or shutil.which("iptables") is None:
        return False
    chain = run(["iptables", "-w", "-S", CHAIN], check=False, timeout=30, error=HostError)
    if chain.returncode != 0:  # no such chain: the nftables driver, or no isolated network ever
        return False
    forward = run(["iptables", "-w", "-S", "FORWARD"], error=HostError, timeout=30)
    if not isolation_needs_jump(chain.stdout, forward.stdout):
        return False
    # netavark inserts it first in FORWARD; a rule another tool put first since then stays after it.
    run(["iptables", "-w", "-I", "FORWARD", "1", "-j", CHAIN], error=HostError, timeout=30,
        what="restoring netavark's isolation of podman networks")  # fmt: skip
    return True
