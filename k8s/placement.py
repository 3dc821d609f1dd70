"""The placement verification every run must pass (the rank reports come from the job's output).

mpi-operator #842: Open MPI 5 jobs silently ran on one node and reported success. Here a run passes
only when every expected rank reported once, each saw the expected world size, and each sits on
the host the mapping puts it on.
"""

from __future__ import annotations

import re
from collections import Counter

from recapp.reports.records import RankReport, Verification


def ppr_per_node(map_by: str | None) -> int | None:
    match = re.fullmatch(r"ppr:(\d+):node(?::.*)?", map_by or "")
    return int(match.group(1)) if match else None


def expected_placement(np: int, nodes: list[str], slots: int, map_by: str | None) -> dict[int, str] | None:
    """rank → node for mappings whose placement is determined (ppr:K:node, or by slot).

    None when the mapping gives no exact placement (then only the host set is checked).
    """
    per_node = ppr_per_node(map_by)
    if per_node is None and map_by not in (None, "", "slot"):
        return None
    per_node = per_node or slots
    if np > per_node * len(nodes):
        return None
    return {rank: nodes[rank // per_node] for rank in range(np)}


def verify(
    reports: list[RankReport], np: int, nodes: list[str], slots: int, map_by: str | None
) -> Verification:
    reasons: list[str] = []
    placement = expected_placement(np, nodes, slots, map_by)
    expected_hosts = sorted(set(placement.values())) if placement else sorted(nodes)
    by_rank = Counter(r.rank for r in reports)
    if reports and all(r.size == 1 for r in reports) and np > 1:
        reasons.append(f"all {len(reports)} process(es) came up as singletons (size=1), not one job of {np}")
    missing = [r for r in range(np) if by_rank[r] == 0]
    if missing:
        reasons.append(f"rank(s) {_ranges(missing)} never reported ({len(reports)} of {np} reports)")
    extra = sorted(r for r, n in by_rank.items() if n > 1 or r >= np or r < 0)
    if extra:
        reasons.append(f"rank(s) {_ranges(extra)} reported more than once or out of range")
    wrong_size = sorted({(r.rank, r.size) for r in reports if r.size != np})
    if wrong_size and not _singletons(reasons):
        rank, size = wrong_size[0]
        reasons.append(f"rank {rank} saw world size {size}, expected {np} ({len(wrong_size)} rank(s) wrong)")
    if placement:
        misplaced = [
            (r.rank, r.host, placement[r.rank])
            for r in reports
            if r.rank in placement and r.host != placement[r.rank]
        ]
        if misplaced:
            rank, got, want = misplaced[0]
            reasons.append(f"rank {rank} ran on {got}, expected {want} ({len(misplaced)} rank(s) misplaced)")
    seen_hosts = {r.host for r in reports}
    unknown = sorted(seen_hosts - set(nodes))
    if unknown:
        reasons.append(f"ranks ran on host(s) outside the cluster's nodes: {', '.join(unknown)}")
    absent = sorted(set(expected_hosts) - seen_hosts)
    if absent and reports:
        reasons.append(f"no rank ran on {', '.join(absent)} (ranks all on {', '.join(sorted(seen_hosts))})")
    return Verification(passed=not reasons, expected_np=np, expected_hosts=expected_hosts, reasons=reasons)


def _singletons(reasons: list[str]) -> bool:
    return any("singletons" in r for r in reasons)


def _ranges(values: list[int]) -> str:
    if len(values) > 6:
        return ", ".join(map(str, values[:6])) + ", …"
    return ", ".join(map(str, values))
