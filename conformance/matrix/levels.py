"""The matrix levels, as data: what each runs, on how many ranks, where, and for how long."""

from __future__ import annotations

from dataclasses import dataclass, field

from recapp.conformance.matrix import tools


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
    # The levels that must have passed for this one to run. None: the level before it in the run
    # (L1-L4 build on each other). The deeper levels test features independent of each other, so
    # one failing must not hide the others.
    requires: tuple[str, ...] | None = None
    # How the level's jobs are launched (k8s.jobs.JobRequest): PRRTE's exec agent for spawned
    # processes, the persistent DVM, extra prterun arguments.
    spawn: bool = False
    dvm: bool = False
    launcher_args: tuple[str, ...] = ()
    # The commands run as separate jobs at the same time (the DVM's jobs meeting each other),
    # not one after the other.
    concurrent: bool = False
    # A rank ends on purpose with this status: the job's exit status when all went as planned.
    expect_exit: int | None = None
    # Every command runs even when one before it failed (they test separate features of the level).
    each_command: bool = False
    # A PMIx tool (conformance/matrix/tools.py) queries the job from the login pod while it runs;
    # the level's one command is what every rank runs meanwhile.
    tool: bool = False


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
    # The deeper levels (issue 19): MPI probes of the workload mpi_levels, each with its own
    # LEVEL_PROBE verdict. Not in the default set: they need an APP carrying those probes.
    "L5": Level(
        "L5",
        "PMIx_Spawn and MPI_Comm_spawn of 2 children across nodes; the children run nested in the APP "
        "and answer",
        2,
        "ppr:1:node",
        # PMIx first: the layer MPI_Comm_spawn is built on, so an MPI failure is read against it.
        [["pmix_spawn_probe"], ["spawn_probe"]],
        120,
        requires=("L3",),
        spawn=True,
        each_command=True,
    ),
    "L6": Level(
        "L6",
        "Two jobs of one DVM: MPI_Publish_name/MPI_Lookup_name, MPI_Comm_accept/connect, allreduce over both",
        2,
        "ppr:1:node",
        [["pubsub_probe", "server"], ["pubsub_probe", "client"]],
        180,
        requires=("L3",),
        dvm=True,
        concurrent=True,
    ),
    "L7": Level(
        "L7",
        "MPI-4 session: psets from PMIx, a communicator from mpi://WORLD, a checked allreduce",
        4,
        "ppr:2:node",
        [["session_probe"]],
        120,
        requires=("L3",),
    ),
    # PRRTE tears a job down when a rank fails unless the job is recoverable, and notifies the
    # others only when asked (errmgr_dvm: check_send_notification needs PRTE_JOB_NOTIFY_ERRORS).
    "L8": Level(
        "L8",
        "Events: the last rank exits 7 unfinalized; every other rank is told by a PMIx event naming it",
        4,
        "ppr:2:node",
        [["event_probe"]],
        120,
        requires=("L3",),
        launcher_args=("--runtime-options", "recoverable,notifyerrors"),
        expect_exit=7,
    ),
    # A debugger's first step: attach to the REC's PMIx server (the DVM's prte) as a tool and read the
    # job's process table. Any APP: the ranks are plain shells, the table is PRRTE's. The DVM has
    # the URI file a tool connects by (`prte --report-uri`).
    "L9": Level(
        "L9",
        "Tools: pquery in the login pod attaches to the DVM and reads the running job's namespace and "
        "process table; ranks, hosts and pids must match the ranks' own",
        2,
        "ppr:1:node",
        [["sh", "-c", tools.rank_script(2)]],
        150,
        requires=(),
        dvm=True,
        tool=True,
    ),
}
ORDER = list(LEVELS)
DEFAULT = ["L1", "L2", "L3", "L4"]


def parse_levels(text: str | None) -> list[str]:
    if not text:
        return list(DEFAULT)
    from recapp.errors import ConformanceError

    if text.strip().lower() == "all":
        return list(ORDER)
    wanted = [t.strip().upper() for t in text.split(",") if t.strip()]
    if not wanted:  # e.g. " , ": running no level would "pass" with nothing checked
        raise ConformanceError(f"no level named in {text!r}: choose from {', '.join(ORDER)}")
    unknown = [t for t in wanted if t not in LEVELS]
    if unknown:
        # repr: the user's text stays on one line, quoted, whatever it holds.
        shown = ", ".join(repr(t) if not t.isalnum() else t for t in unknown)
        raise ConformanceError(f"unknown level(s) {shown}: choose from {', '.join(ORDER)}")
    return [lvl for lvl in ORDER if lvl in wanted]
