"""Classify one attempt (a job record and its output) as PASS, FAIL, REFUSED, HANG or WRONG. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from recapp.reports.records import JobRecord, fields

# A PMIx client turned away at connection time, by version or protocol.
REFUSED_PATTERNS = re.compile(
    r"PMIX_ERR_UNREACH|UNREACHABLE|connection refused|version (?:mismatch|not supported)|unsupported version|"
    r"PMIX_ERR_NOT_SUPPORTED.*(?:init|connect)|handshake",
    re.IGNORECASE,
)
# Lines that say why something failed, most specific first.
ERROR_HINTS = re.compile(
    r"(error|failed|failure|segmentation fault|abort|not found|cannot|unable|PMIX_ERR_\w+|signal \d+"
    r"|refused)",
    re.IGNORECASE,
)
NOISE = re.compile(r"^[-=*\s]*$|level=warning msg=|^\s*(Sorry!|You were supposed to get help)|^\*\*\*\s*$")


# PRRTE's daemon did not find a program on a node: for a job started nested this means a process
# the daemons started on their own (a spawned child) was looked for in the REC, not in the APP.
EXE_NOT_FOUND = re.compile(
    r"unable to find the specified executable file.*?Node:\s*(\S+)\s+Executable:\s*(\S+)", re.S
)


@dataclass(frozen=True)
class Verdict:
    status: str
    reason: str | None = None
    observed: dict[str, str] = field(default_factory=dict)


# PRRTE's launcher warns on every run here (setpgid under the node pod's rootless user): never a reason.
LAUNCH_NOISE = re.compile(r"plm:ssh: Warning: setpgid")
# A PMIx library's own error report names the failing call and file: preferred over other lines.
PMIX_ERROR = re.compile(r"PMIX ERROR: .*")


def first_error_line(output: str) -> str | None:
    pmix = PMIX_ERROR.search(output)
    if pmix:
        return pmix.group(0)[:300]
    for line in output.splitlines():
        if LAUNCH_NOISE.search(line):
            continue
        text = line.strip()
        if not text or NOISE.search(text):
            continue
        if ERROR_HINTS.search(text) and not text.startswith(("PMIX_PROBE ", "RANK ", "HELLO ")):
            return text[:300]
    return None


def probe_observations(output: str) -> dict[str, str]:
    """client/server PMIx versions and the probe's verdict, from rank 0's summary line."""
    for line in output.splitlines():
        if line.startswith("PMIX_PROBE_SUMMARY "):
            f = fields(line[len("PMIX_PROBE_SUMMARY ") :])
            if f.get("rank") == "0":
                return {k: f[k] for k in ("client_version", "server_version", "status") if k in f}
    return {}


def probe_failures(output: str) -> list[tuple[str, str]]:
    """(step, detail) of every probe step that reported FAIL: the PMIx probe's steps, and the
    level probes' verdicts (workloads/mpi_levels), whose step is their level."""
    failed = []
    for line in output.splitlines():
        if line.startswith("PMIX_PROBE "):
            f = fields(line[len("PMIX_PROBE ") :])
            if f.get("status") == "FAIL":
                failed.append((f.get("step", "?"), f.get("detail", "")))
        elif line.startswith("LEVEL_PROBE "):
            f = fields(line[len("LEVEL_PROBE ") :])
            if f.get("status") == "FAIL":
                failed.append((f.get("level", "?"), f.get("detail", "")))
    return failed


def spawn_children(output: str) -> list[dict[str, str]]:
    """The SPAWN_CHILD records of the L5 probe: where each spawned child ran, and whether nested."""
    return [
        fields(line[len("SPAWN_CHILD ") :]) for line in output.splitlines() if line.startswith("SPAWN_CHILD ")
    ]


def level_verdicts(output: str) -> list[dict[str, str]]:
    """The LEVEL_PROBE records of the level probes (workloads/mpi_levels), in output order."""
    return [
        fields(line[len("LEVEL_PROBE ") :]) for line in output.splitlines() if line.startswith("LEVEL_PROBE ")
    ]


def victims(output: str) -> list[str]:
    """The ranks the L8 probe made end on purpose (EVENT_VICTIM records)."""
    return [
        fields(line[len("EVENT_VICTIM ") :]).get("rank", "?")
        for line in output.splitlines()
        if line.startswith("EVENT_VICTIM ")
    ]


def classify(record: JobRecord, output: str, expect_exit: int | None = None) -> Verdict:
    """`expect_exit`: a rank ends on purpose with that status (L8); the job ending with it, on its
    own, is then the plan, and the probes' verdicts decide."""
    observed = probe_observations(output)
    children = spawn_children(output)
    if children:  # L5: where the spawned children ran, for the record (the probe gives the verdict)
        observed["spawned"] = ",".join(
            f"{c.get('host', '?')}:nested={c.get('nested', '?')}" for c in children
        )
    if record.exit_status == 124 or (record.error or "").startswith("job timed out"):
        return Verdict("HANG", _after_the_work(record.error or "timed out", output, timed_out=True), observed)
    if expect_exit is not None:
        return _planned_failure(record, output, expect_exit, observed)
    failures = probe_failures(output)
    init_failures = [d for step, d in failures if step == "init"]
    if init_failures and REFUSED_PATTERNS.search(init_failures[0]):
        detail = init_failures[0]
        return Verdict(
            "REFUSED", detail if detail.startswith("PMIx_Init") else f"PMIx_Init: {detail}", observed
        )
    if record.exit_status != 0 or record.error:
        if failures:
            step, detail = failures[0]
            return Verdict("FAIL", _with_launch_diagnosis(f"probe step {step}: {detail}", output), observed)
        line = first_error_line(output)
        why = record.error or f"exit {record.exit_status}"
        why = _after_the_work(_with_launch_diagnosis(why, output), output)
        return Verdict("FAIL", f"{why}: {line}" if line and line not in why else why, observed)
    if failures:
        step, detail = failures[0]
        return Verdict("WRONG", f"probe step {step}: {detail}", observed)
    if not record.verification.passed:
        return Verdict("WRONG", "; ".join(record.verification.reasons[:2]), observed)
    return Verdict("PASS", None, observed)


# PRRTE's line when it loses a daemon's connection (errmgr_dvm.c).
DAEMON_LOST = re.compile(r"errmgr:dvm: for proc \[[^\]]*@0,(\d+)\] state COMMUNICATION FAILURE")


def _after_the_work(reason: str, output: str, *, timed_out: bool = False) -> str:
    """A job that ended badly after every probe had reported OK says so: the feature worked, the end
    of the job did not (and which daemon PRRTE lost, if it said). After a timeout, PRRTE's
    COMMUNICATION FAILURE lines are the kill's own doing (the daemons are ended with the job), not a
    cause: session 6 read them as one for L5 on PRRTE 3.0.8, whose job in fact waited on a spawned
    child still blocked in PMIx_Get (docs/compat-levels.md)."""
    verdicts = level_verdicts(output)
    if not verdicts or any(v.get("status") != "OK" for v in verdicts):
        return reason
    lost = None if timed_out else DAEMON_LOST.search(output)
    daemon = f"; PRRTE then lost daemon {lost[1]} (COMMUNICATION FAILURE)" if lost else ""
    return f"{reason}, after every probe verdict ({len(verdicts)}) was OK{daemon}"


def _with_launch_diagnosis(reason: str, output: str) -> str:
    found = EXE_NOT_FOUND.search(output)
    if not found:
        return reason
    node, program = found.groups()
    return (
        f"{reason} — diagnosed: PRRTE looked for {program!r} on {node} in the REC, where the APP's "
        "programs are not (a process the REC's daemons started outside the APP)"
    )


def _planned_failure(record: JobRecord, output: str, expect_exit: int, observed: dict[str, str]) -> Verdict:
    """A job where one rank ends on purpose: PASS when the job ended by itself with that rank's status,
    and every other rank reported (LEVEL_PROBE OK) that it was told which rank ended."""
    failed = victims(output)
    verdicts = level_verdicts(output)
    ok = [v for v in verdicts if v.get("status") == "OK"]
    observed["failed_rank"] = ",".join(failed) or "none"
    observed["told"] = f"{len(ok)}/{max(record.np - len(failed), 0)}"
    bad = next((v for v in verdicts if v.get("status") != "OK"), None)
    if bad is not None:
        return Verdict("FAIL", f"probe step {bad.get('level', '?')}: {bad.get('detail', '')}", observed)
    if not failed:
        return Verdict("FAIL", _failed_run_reason(record, output, "no rank ended as planned"), observed)
    if len(ok) < record.np - len(failed):
        told = f"{len(ok)} of {record.np - len(failed)} surviving ranks were told rank {failed[0]} ended"
        silent = _silent_survivors(output, record.np, failed) if verdicts else []
        if silent:
            # Not "not told": other survivors reported, and this rank's last line never reached
            # prterun (PRRTE < 4.1.0 ends a recoverable job one process early: known issue
            # prte-ends-a-recoverable-job-one-proc-early). A job torn down before any verdict is
            # another story, told by prterun's own lines.
            told += (
                f"; rank(s) {', '.join(silent)} started (RANK) but printed no verdict that reached prterun"
            )
        return Verdict("FAIL", _failed_run_reason(record, output, told), observed)
    if record.exit_status != expect_exit:
        return Verdict(
            "WRONG",
            f"every survivor was told, but the job ended with status {record.exit_status}, "
            f"not the failed rank's {expect_exit}",
            observed,
        )
    if not record.verification.passed:
        return Verdict("WRONG", "; ".join(record.verification.reasons[:2]), observed)
    return Verdict("PASS", None, observed)


def _silent_survivors(output: str, np: int, failed: list[str]) -> list[str]:
    """Surviving ranks that printed their RANK line but no LEVEL_PROBE verdict."""
    started = {
        fields(line[len("RANK ") :]).get("rank") for line in output.splitlines() if line.startswith("RANK ")
    }
    said = {v.get("rank") for v in level_verdicts(output)}
    return [str(r) for r in range(np) if str(r) not in failed and str(r) in started and str(r) not in said]


def _failed_run_reason(record: JobRecord, output: str, what: str) -> str:
    line = first_error_line(output)
    status = f"job ended with status {record.exit_status}"
    return f"{what}; {status}: {line}" if line else f"{what}; {status}"
