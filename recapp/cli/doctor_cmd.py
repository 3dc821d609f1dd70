"""`recapp doctor`: check and explain this host; exit 1 when recapp cannot work on it."""

from __future__ import annotations

from collections import Counter
from typing import Annotated

import typer

from recapp.cli.ui import console, out, print_json, print_table
from recapp.host.checks import Finding, Status, host_ok, run_checks


def doctor(
    json_output: Annotated[bool, typer.Option("--json", help="Print the findings as JSON.")] = False,
) -> None:
    """Check the host: engine, OCI runtime, ulimits, user namespaces, subids, overlay, disk, a smoke run."""
    findings = run_checks()
    ok = host_ok(findings)
    if json_output:
        print_json({"ok": ok, "findings": [f.as_dict() for f in findings]})
    else:
        print_table(
            ["check", "status", "detail"],
            [(f.name, f.status.value, f.detail) for f in findings],
            title="recapp doctor",
        )
        _print_fixes(findings)
        console.print(_summary(findings), markup=False)
    if not ok:
        raise typer.Exit(1)


def _print_fixes(findings: list[Finding]) -> None:
    # Fixes go on their own unwrapped lines so commands can be copied whole.
    for f in findings:
        if f.fix:
            out.print(f"{f.status.value} {f.name}: {f.fix}", markup=False)


def _summary(findings: list[Finding]) -> str:
    counts = Counter(f.status for f in findings)
    tally = ", ".join(f"{counts[s]} {s.value}" for s in Status if counts[s])
    failed = [f.name for f in findings if f.status is Status.FAIL]
    if failed:
        return f"host cannot run recapp: {', '.join(failed)} failed ({tally})"
    return f"host ok ({tally})"
