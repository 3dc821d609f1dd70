"""`recapp bench`: the benchmark set on the local backend, written as JSON + a table to a dated folder."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from recapp.builder.build import build_image
from recapp.cli.cluster_cmd import get_backend
from recapp.cli.ui import console, out, progress
from recapp.conformance.bench import run_cluster_bench
from recapp.reports import records
from recapp.reports.bench_table import markdown


def bench(
    suite: Annotated[str, typer.Option(help="Debian suite of the REC and APP")] = "trixie",
    repeats: Annotated[int, typer.Option(min=1, help="samples per variant (medians of these)")] = 5,
    nodes: Annotated[int, typer.Option(min=1, help="nodes for the launch benchmark")] = 4,
    np: Annotated[int, typer.Option("--np", min=1, help="ranks for the launch benchmark")] = 8,
    out_dir: Annotated[Path, typer.Option("--out", help="parent folder of the dated report folder")] = Path(
        "bench-results"
    ),
) -> None:
    """Cluster up→ready for 1, 2, 4 nodes; init_finalize nested vs native-in-REC vs persistent DVM."""
    with progress("images") as prog:
        rec = build_image("rec", suite, step=prog.step, on_line=prog.line)
        app = build_image("app", suite, workload="mpi", step=prog.step, on_line=prog.line)
    with progress("benchmarks") as prog:
        record = run_cluster_bench(
            get_backend("local"),
            rec=rec.tag,
            app=app.tag,
            sizes=[1, 2, 4],
            nodes=nodes,
            np=np,
            repeats=repeats,
            step=prog.step,
        )
    folder = out_dir / f"{datetime.now(UTC):%Y%m%dT%H%M%S}-cluster"
    records.write(record, folder / "bench.json")
    text = markdown(record)
    (folder / "bench.md").write_text(text)
    out.print(text, markup=False)
    console.print(f"results: {folder}/bench.json, {folder}/bench.md", markup=False)
