"""When FORWARD's jump to netavark's isolation chain must be put back (recapp/host/netavark.py)."""

from __future__ import annotations

from recapp.host.netavark import isolation_needs_jump

# Shaped like `iptables -S` here with two isolated cluster networks up (bridges podman1, podman2).
CHAIN_IN_USE = """\
-N NETAVARK_ISOLATION_1
-A NETAVARK_ISOLATION_1 -i podman2 ! -o podman2 -j NETAVARK_ISOLATION_2
-A NETAVARK_ISOLATION_1 -i podman1 ! -o podman1 -j NETAVARK_ISOLATION_2
"""
CHAIN_EMPTY = "-N NETAVARK_ISOLATION_1\n"
FORWARD_WITH_JUMP = """\
-P FORWARD ACCEPT
-A FORWARD -j NETAVARK_ISOLATION_1
-A FORWARD -m comment --comment "netavark firewall plugin rules" -j NETAVARK_FORWARD
"""
# What one network's last container leaving makes of it: the shared jump gone for everyone.
FORWARD_WITHOUT_JUMP = """\
-P FORWARD ACCEPT
-A FORWARD -m comment --comment "kube-router netpol - TEMCG2JMHZYE7H7T" -j KUBE-ROUTER-FORWARD
-A FORWARD -m comment --comment "netavark firewall plugin rules" -j NETAVARK_FORWARD
"""


def test_networks_in_use_without_the_jump_need_it_back() -> None:
    assert isolation_needs_jump(CHAIN_IN_USE, FORWARD_WITHOUT_JUMP)


def test_nothing_to_do_with_the_jump_there_or_no_isolated_network_in_use() -> None:
    assert not isolation_needs_jump(CHAIN_IN_USE, FORWARD_WITH_JUMP)
    assert not isolation_needs_jump(CHAIN_EMPTY, FORWARD_WITHOUT_JUMP)
    assert not isolation_needs_jump("", "")


def test_a_jump_with_more_matches_is_not_the_shared_one() -> None:
    narrower = "-A FORWARD -i podman1 -j NETAVARK_ISOLATION_1\n"
    assert isolation_needs_jump(CHAIN_IN_USE, narrower)
