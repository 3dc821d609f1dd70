"""`recapp report DIR`: render every result record in DIR as Markdown, HTML, JUnit XML and merged JSON."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from recapp.cli.ui import console
from recapp.reports.render import render_dir


def report(
    src: Annotated[Path, typer.Argument(help="folder of result records (job, bench, matrix JSON)")],
    out: Annotated[Path | None, typer.Option("--out", help="output folder (default: SRC)")] = None,
) -> None:
    """Write report.md, report.html, junit.xml and records.json from the records in SRC."""
    for path in render_dir(src, out or src):
        console.print(str(path), markup=False)
