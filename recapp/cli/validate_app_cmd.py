"""`recapp validate-app IMAGE`: certify a user's own APP image against one or more RECs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from recapp.cli.ui import console, print_table, progress
from recapp.conformance.matrix.levels import parse_levels
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
        f"{image}: Open MPI {app.versions.get('ompi', '?')}, PMIx {app.versions.get('pmix', '?')}; "
        f"static checks {'passed' if static == 0 else 'FAILED'}",
        markup=False,
    )
    print_table(
        ["REC", "reached", "status", "reason"],
        [[p.rec, p.highest_level or "-", p.status, p.reason or ""] for p in record.pairs],
    )
    console.print(f"matrix row: {path}", markup=False, soft_wrap=True)
    if static != 0 or any(p.status != "PASS" for p in record.pairs):
        raise typer.Exit(1)
