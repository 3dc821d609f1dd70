"""L9, a PMIx tool attaching to a running job the way debuggers do: OpenPMIx's `pquery`, run in the
login pod, connects to the REC's PMIx server (the persistent DVM, by its URI) and asks for the
namespaces and the job's process table (PMIX_QUERY_NAMESPACES, PMIX_QUERY_PROC_TABLE). The verdict
compares the values with what every rank reported of itself (TOOL_TARGET records). Pure: parsing and
judging only; the runner runs the job and the tool."""

from __future__ import annotations

import re
from dataclasses import dataclass

from recapp.conformance.matrix.classify import Verdict, first_error_line
from recapp.reports.records import fields, short_host

# A rank of the L9 job says who it is. `$$` of the rank's shell is the process PRRTE started: the APP
# sandbox enters the APP with nsenter and exec (wrap-container), so no process sits in between.
TARGET = "TOOL_TARGET"
RELEASE_DIR = "/tmp"
RELEASE_PREFIX = "recapp-l9-release-"


def rank_script(np: int, wait_s: int = 90) -> str:
    """What each rank of the L9 job runs (in the APP's /bin/sh): its RANK and TOOL_TARGET records, then
    it waits until the runner releases the job (a file named after the job's namespace in /tmp, which
    the APP shares with its node pod) or `wait_s` seconds pass. Plain shell, no PMIx client: the
    process table is PRRTE's record of what it launched, and every APP has a shell."""
    ticks = wait_s * 5
    return (
        f'h=$(uname -n); echo "RANK rank=$PMIX_RANK size={np} host=$h"; '
        f'echo "{TARGET} rank=$PMIX_RANK pid=$$ host=$h nspace=$PMIX_NAMESPACE'
        ' parent=$(cat /proc/$PPID/comm 2>/dev/null)"; '
        f'i=0; while [ ! -e "{RELEASE_DIR}/{RELEASE_PREFIX}$PMIX_NAMESPACE" ] && [ $i -lt {ticks} ]; '
        "do sleep 0.2; i=$((i+1)); done"
    )


def release_path(nspace: str) -> str:
    return f"{RELEASE_DIR}/{RELEASE_PREFIX}{nspace}"


def targets(output: str) -> list[dict[str, str]]:
    """The TOOL_TARGET records of the ranks, in output order."""
    return [fields(line[len(TARGET) + 1 :]) for line in output.splitlines() if line.startswith(TARGET + " ")]


def tool_argvs(uri_file: str, nspace: str) -> list[list[str]]:
    """The two queries, each its own tool connection (one failing does not hide the other). `pquery`
    takes qualifiers as KEY[QUAL=VALUE] (src/tools/pquery/pquery.c); PRRTE answers the proc table
    for the job named by PMIX_NSPACE (src/prted/pmix/pmix_server_queries.c)."""
    uri = f"file:{uri_file}"
    return [
        ["pquery", "--uri", uri, "PMIX_QUERY_NAMESPACES"],
        ["pquery", "--uri", uri, f"PMIX_QUERY_PROC_TABLE[PMIX_NSPACE={nspace}]"],
    ]


@dataclass(frozen=True)
class ProcEntry:
    nspace: str
    rank: int
    host: str
    executable: str
    pid: int
    state: str


# pquery prints a proc table through PMIx_Value_string (bfrop_base_print.c, print_pinfo):
#   PROC: <nspace>:<rank>
#   Hostname: <host>	Executable: <path>
#   Pid: <pid>	Exit code: <n>	State: <state>
PROC = re.compile(
    r"PROC: (\S+):(\d+)\s+Hostname: (\S+)\s+Executable: (\S+)\s+"
    r"Pid: (\d+)\s+Exit code: -?\d+[ \t]+State: ([^\n]*)"
)


def proc_table(output: str) -> list[ProcEntry]:
    return [
        ProcEntry(nspace=m[0], rank=int(m[1]), host=m[2], executable=m[3], pid=int(m[4]), state=m[5].strip())
        for m in PROC.findall(output)
    ]


def namespaces(output: str) -> list[str]:
    """The namespaces pquery listed under PMIX_QUERY_NAMESPACES (one per indented line)."""
    listed: list[str] = []
    seen = False
    for line in output.splitlines():
        if line.startswith("PMIX_QUERY_NAMESPACES:"):
            seen = True
            continue
        if seen and line.startswith("    ") and line.strip():
            listed.append(line.strip())
        elif seen and line.strip():
            seen = False
    return listed


@dataclass(frozen=True)
class ToolRun:
    argv: list[str]
    status: int
    output: str


def verdict(np: int, job_output: str, runs: list[ToolRun]) -> Verdict:
    """PASS when the tool found the job's namespace and a process table of exactly its ranks, each on
    the host and with the pid that rank reported. What the table says is kept in `observed`."""
    ranks = {t.get("rank", "?"): t for t in targets(job_output)}
    spaces = {t.get("nspace", "") for t in ranks.values()}
    observed: dict[str, str] = {}
    if len(ranks) != np or len(spaces) != 1 or "" in spaces:
        return Verdict("FAIL", f"{len(ranks)} of {np} ranks reported their namespace and pid", observed)
    nspace = spaces.pop()
    observed["nspace"] = nspace
    for run in runs:
        if run.status != 0:
            line = first_error_line(run.output) or (run.output.strip().splitlines() or ["no output"])[-1]
            return Verdict(
                "FAIL", f"{' '.join(run.argv[:1] + run.argv[3:])} exited {run.status}: {line}", observed
            )
    listing = next((namespaces(r.output) for r in runs if "PMIX_QUERY_NAMESPACES:" in r.output), None)
    if listing is None:
        return Verdict("FAIL", "the tool printed no PMIX_QUERY_NAMESPACES answer", observed)
    observed["namespaces"] = ",".join(listing)
    if nspace not in listing:
        return Verdict(
            "WRONG", f"the job's namespace {nspace} is not among the namespaces the tool got", observed
        )
    table = [e for r in runs for e in proc_table(r.output)]
    if not table:
        return Verdict("FAIL", "the tool printed no process table", observed)
    observed["executable"] = ",".join(sorted({e.executable for e in table}))
    observed["states"] = ",".join(sorted({e.state for e in table}))
    problems: list[str] = []
    if any(e.nspace != nspace for e in table):
        problems.append(f"the table holds namespace(s) {sorted({e.nspace for e in table} - {nspace})}")
    by_rank = {str(e.rank): e for e in table if e.nspace == nspace}
    if sorted(by_rank) != sorted(ranks):
        problems.append(f"the table has ranks {sorted(by_rank)}, the job {sorted(ranks)}")
    for rank, said in sorted(ranks.items()):
        entry = by_rank.get(rank)
        if entry is None:
            continue
        if short_host(entry.host) != short_host(said.get("host", "")):
            problems.append(f"rank {rank}: table host {entry.host}, the rank runs on {said.get('host')}")
        if str(entry.pid) != said.get("pid"):
            problems.append(f"rank {rank}: table pid {entry.pid}, the rank's own pid {said.get('pid')}")
    observed["pids"] = ",".join(f"{r}:{by_rank[r].pid}" for r in sorted(by_rank))
    if problems:
        reason = "; ".join(problems[:3])
        if any(said.get("parent") == "conmon" for said in ranks.values()):
            # A REC that starts each rank with a `podman run` of its own (RECAPP_RANK_CONTAINERS=fresh,
            # the source REC): PRRTE forked the podman client; the rank runs under conmon.
            reason += (
                " — diagnosed: each rank runs in a container of its own (its parent is conmon), so the"
                " table holds the pid PRRTE started, the `podman run` client, not the rank's"
            )
        return Verdict("WRONG", reason, observed)
    return Verdict("PASS", None, observed)
