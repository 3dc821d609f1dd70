"""`recapp validate-app IMAGE`: certify a user's own APP image against one or more RECs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from recapp.cli.ui import console, print_table, progress
from recapp.conformance.matrix.levels import parse_levels
from recapp.conformance.validate_app import named
from recapp.conformance.validate_app import validate_app as run_validation
from recapp.errors import ConformanceError
from recapp.host.names import check_image_ref
from recapp.k8s.backends import cluster_backend
from recapp.reports import records


def validate_app(
    image: Annotated[str, typer.Argument(help="the APP image to validate (need not be built by recapp)")],
    rec: Annotated[
        list[str] | None, typer.Option("--rec", help="REC image (repeat); default rec:trixie")
    ] = None,
    levels: Annotated[str | None, typer.Option(help="comma-separated levels, default L1,L2,L3,L4")] = None,
    out: Annotated[Path, typer.Option("--out", help="folder for the matrix row and records")] = Path(
        "validate-out"
    ),
) -> None:
    """Discover versions, run the static APP checks, and run the matrix levels with injected probes."""
    recs = rec or ["localhost/recapp/rec:trixie"]
    check_image_ref(image, error=ConformanceError, what="APP image")
    for ref in recs:
        check_image_ref(ref, error=ConformanceError, what="--rec")
    with progress(f"validate {image}") as prog:
        static, record = run_validation(
            cluster_backend("local"), image, recs, parse_levels(levels), out, step=prog.step
        )
    path = records.write(record, out / "matrix.json")
    app = record.apps[0]
    console.print(
        f"{image}: {named(app.versions)}; static checks {'passed' if static == 0 else 'FAILED'}",
        markup=False,
    )
    print_table(
        ["REC", "reached", "status", "reason"],
        [[p.rec, p.highest_level or "-", p.status, p.reason or ""] for p in record.pairs],
    )
    console.print(f"matrix row: {path}", markup=False, soft_wrap=True)
    for why in sorted({c.reason for c in record.cells if c.status == "SKIPPED" and c.reason}):
        console.print(f"skipped: {why}", markup=False)
    # A row where no level ran certifies nothing (an image without a PMIx client).
    nothing_ran = all(c.status == "SKIPPED" for c in record.cells)
    if static != 0 or nothing_ran or any(p.status != "PASS" for p in record.pairs):
        raise typer.Exit(1)
