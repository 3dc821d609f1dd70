"""`recapp matrix`: the REC × APP PMIx cross-version matrix, as data (JSON) plus tables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from recapp.builder.images import source_flavor_tags
from recapp.cli.ui import console, print_json, print_table, progress
from recapp.conformance.matrix.levels import parse_levels
from recapp.conformance.matrix.runner import run_matrix, short_ref
from recapp.errors import ConformanceError
from recapp.host.names import check_image_ref
from recapp.k8s.backends import cluster_backend
from recapp.reports import records


def matrix(
    rec: Annotated[list[str] | None, typer.Option("--rec", help="REC image (repeat for several)")] = None,
    app: Annotated[list[str] | None, typer.Option("--app", help="APP image (repeat for several)")] = None,
    source: Annotated[
        bool,
        typer.Option(
            "--source", help="also every source-flavor REC/APP built here (recapp build --flavor source)"
        ),
    ] = False,
    levels: Annotated[str | None, typer.Option(help="comma-separated levels, default L1,L2,L3,L4")] = None,
    out: Annotated[Path, typer.Option("--out", help="folder for matrix.json, job records and logs")] = Path(
        "matrix-out"
    ),
    json_out: Annotated[bool, typer.Option("--json", help="print the matrix record as JSON")] = False,
) -> None:
    """Run every APP against every REC through the levels; one cluster per REC is reused across APPs."""
    rec, app = list(rec or []), list(app or [])
    if source:
        rec += [t for t in source_flavor_tags("rec") if t not in rec]
        app += [t for t in source_flavor_tags("app") if t not in app]
    if not rec or not app:
        raise ConformanceError("give at least one --rec and one --app")
    for option, refs in (("--rec", rec), ("--app", app)):
        for ref in refs:
            check_image_ref(ref, error=ConformanceError, what=option)
    chosen = parse_levels(levels)
    with progress("matrix") as prog:
        record = run_matrix(cluster_backend("local"), rec, app, chosen, out, step=prog.step)
    path = records.write(record, out / "matrix.json")
    if json_out:
        print_json(record.model_dump(mode="json"))
        return
    rows: list[list[str]] = []
    notes: list[str] = []
    for pair in record.pairs:
        level = pair.highest_level or "-"
        cell = f"{level} PASS" if pair.status == "PASS" else f"{level} → {pair.status}"
        if pair.reason:
            notes.append(f"[{len(notes) + 1}] {short_ref(pair.rec)} × {short_ref(pair.app)}: {pair.reason}")
            cell += f" [{len(notes)}]"
        rows.append([short_ref(pair.rec), short_ref(pair.app), cell, pair.expected, pair.disagreement or ""])
    print_table(
        ["REC", "APP", "reached", "documented", "disagreement"],
        rows,
        title=f"PMIx matrix ({', '.join(chosen)}), {record.wall_s:.0f} s",
    )
    for note in notes:
        console.print(note, markup=False, soft_wrap=True)
    console.print(f"matrix: {path}", markup=False)
