"""`recapp doctor`: check and explain this host; exit 1 when recapp cannot work on it."""

from __future__ import annotations

from collections import Counter
from typing import Annotated

import typer

from recapp.builder.base import base_tag, build_base
from recapp.cli.ui import console, out, print_json, print_table, progress
from recapp.errors import RecappError
from recapp.host import engine
from recapp.host.checks import SMOKE_IMAGES, Finding, Status, host_ok, probe_image, run_checks, which

# The suite whose base image the probes build when there is none: the demo's, so it is reused.
PROBE_SUITE = "trixie"


def doctor(
    json_output: Annotated[bool, typer.Option("--json", help="Print the findings as JSON.")] = False,
) -> None:
    """Check the host: engine, OCI runtime, ulimits, user namespaces, subids, overlay, disk, a smoke run,
    a container network with name resolution."""
    image, why = _probe_image()
    findings = run_checks(image=image, why_no_image=why)
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


def _probe_image() -> tuple[str | None, str]:
    """A base image for the smoke run and the network probe; built from Debian's archive when there is
    none, so the probes run before any recapp image exists. Kept afterwards: the REC is built on it."""
    if which("podman") is None:
        return None, "podman not found"
    try:
        found = probe_image(engine.settings())
        if found:
            return found, ""
        if which("mmdebstrap") is None:
            return None, f"none of {', '.join(SMOKE_IMAGES)} exists and mmdebstrap is not installed"
        with progress(f"no base image yet: building {base_tag(PROBE_SUITE)} for the probes") as prog:
            build_base(PROBE_SUITE, on_line=prog.line)
        return base_tag(PROBE_SUITE), ""
    except RecappError as exc:
        return None, str(exc)


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
