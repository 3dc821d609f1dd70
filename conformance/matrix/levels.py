"""The matrix levels, as data: what each runs, on how many ranks, where, and for how long."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Level:
    name: str
    title: str
    np: int
    map_by: str
    commands: list[list[str]]
    timeout_s: float
    env: dict[str, str] = field(default_factory=dict)
    mounts: list[str] = field(default_factory=list)


LEVELS: dict[str, Level] = {
    "L1": Level("L1", "PMIx probe, 2 ranks on one node", 2, "ppr:2:node", [["pmix_probe"]], 60),
    "L2": Level(
        "L2",
        "PMIx probe across nodes (put/commit/fence with data/get)",
        2,
        "ppr:1:node",
        [["pmix_probe"]],
        60,
    ),
    "L3": Level(
        "L3", "MPI init_finalize across nodes, placement verified", 4, "ppr:2:node", [["init_finalize"]], 120
    ),
    "L4": Level(
        "L4",
        "MPI collectives and ring with checked results",
        4,
        "ppr:2:node",
        [["collectives"], ["ring", "10"]],
        120,
    ),
}
ORDER = list(LEVELS)


def parse_levels(text: str | None) -> list[str]:
    if not text:
        return ORDER
    from recapp.errors import ConformanceError

    wanted = [t.strip().upper() for t in text.split(",") if t.strip()]
    if not wanted:  # e.g. " , ": running no level would "pass" with nothing checked
        raise ConformanceError(f"no level named in {text!r}: choose from {', '.join(ORDER)}")
    unknown = [t for t in wanted if t not in LEVELS]
    if unknown:
        # repr: the user's text stays on one line, quoted, whatever it holds.
        shown = ", ".join(repr(t) if not t.isalnum() else t for t in unknown)
        raise ConformanceError(f"unknown level(s) {shown}: choose from {', '.join(ORDER)}")
    return [lvl for lvl in ORDER if lvl in wanted]
