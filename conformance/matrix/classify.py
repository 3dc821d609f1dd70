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


@dataclass(frozen=True)
class Verdict:
    status: str
    reason: str | None = None
    observed: dict[str, str] = field(default_factory=dict)


def first_error_line(output: str) -> str | None:
    for line in output.splitlines():
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
    """(step, detail) of every probe step that reported FAIL."""
    failed = []
    for line in output.splitlines():
        if line.startswith("PMIX_PROBE "):
            f = fields(line[len("PMIX_PROBE ") :])
            if f.get("status") == "FAIL":
                failed.append((f.get("step", "?"), f.get("detail", "")))
    return failed


def classify(record: JobRecord, output: str) -> Verdict:
    observed = probe_observations(output)
    if record.exit_status == 124 or (record.error or "").startswith("job timed out"):
        return Verdict("HANG", record.error or "timed out", observed)
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
            return Verdict("FAIL", f"probe step {step}: {detail}", observed)
        line = first_error_line(output)
        why = record.error or f"exit {record.exit_status}"
        return Verdict("FAIL", f"{why}: {line}" if line and line not in why else why, observed)
    if failures:
        step, detail = failures[0]
        return Verdict("WRONG", f"probe step {step}: {detail}", observed)
    if not record.verification.passed:
        return Verdict("WRONG", "; ".join(record.verification.reasons[:2]), observed)
    return Verdict("PASS", None, observed)
