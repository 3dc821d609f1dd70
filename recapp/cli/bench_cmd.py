"""`recapp bench`: the benchmark set on the local backend, written to a dated report folder.

Workloads side by side (nested / native / traditional, alternating), then the launch benchmark
(init_finalize nested, nested-fresh, native, DVM) and cluster up→ready; every record, the job records
behind the samples, and the rendered report (report.md, report.html, junit.xml, records.json).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from recapp.bench import references
from recapp.bench.cluster import run_cluster_bench
from recapp.bench.side_by_side import MODELS, run_side_by_side
from recapp.builder.build import BuildRequest, build_image
from recapp.builder.recipe import available
from recapp.cli.ui import console, out, progress
from recapp.errors import RecappError
from recapp.k8s.backends import cluster_backend
from recapp.reports import bench_table, records
from recapp.reports import side_by_side as sbs
from recapp.reports.render import render_dir
from recapp.workloads.catalog import select

QUICK_SET = "quick"


def app_tag(workload: str, suite: str) -> str:
    return f"localhost/recapp/app-{workload}:{suite}"


def build_needed(suite: str, app_workloads: set[str], prog) -> None:
    """Build (cached) the REC and the APPs whose recipe exists; a workload without a recipe is left to
    the bench, which skips it saying the image is not built."""
    recipes = set(available())
    build_image(BuildRequest("rec", suite), step=prog.step, on_line=prog.line)
    if "aio" in recipes:  # the traditional model's all-in-one image
        build_image(BuildRequest("aio", suite), step=prog.step, on_line=prog.line)
    for workload in sorted(app_workloads):
        if f"app-{workload}" in recipes:
            build_image(BuildRequest("app", suite, workload=workload), step=prog.step, on_line=prog.line)
        else:
            prog.step(f"no recipe app-{workload}: its workloads will be skipped")


def bench(
    suite: Annotated[str, typer.Option(help="Debian suite of the REC and APPs")] = "trixie",
    workload_set: Annotated[
        list[str] | None,
        typer.Option("--set", "--workload", help="a workload set or workload (repeatable; default: default)"),
    ] = None,
    quick: Annotated[
        bool, typer.Option("--quick", help="the quick set only, no launch or cluster-up benchmarks")
    ] = False,
    repeats: Annotated[int, typer.Option(min=1, help="samples per model (medians of these)")] = 3,
    nodes: Annotated[int, typer.Option(min=1, help="nodes of the benchmark clusters")] = 2,
    aio: Annotated[
        str | None, typer.Option(help="all-in-one image for the traditional model (default: aio:SUITE)")
    ] = None,
    refs: Annotated[
        str, typer.Option("--references", help="references: a system name or a YAML file")
    ] = references.DEFAULT_SYSTEM,
    launch: Annotated[
        bool, typer.Option("--launch/--no-launch", help="the init_finalize launch variants")
    ] = True,
    cluster_up: Annotated[
        bool, typer.Option("--cluster-up/--no-cluster-up", help="cluster up→ready for 1, 2, 4 nodes")
    ] = True,
    launch_np: Annotated[int, typer.Option("--launch-np", min=1, help="ranks for the launch benchmark")] = 4,
    out_dir: Annotated[Path, typer.Option("--out", help="parent folder of the dated report folder")] = Path(
        "bench-results"
    ),
) -> None:
    """Workloads nested vs native vs traditional, launch variants, cluster up; → a dated report folder."""
    names = [QUICK_SET] if quick else (workload_set or ["default"])
    workloads = select(names)
    ref_data = references.load(refs)
    aio_ref = aio or f"localhost/recapp/aio:{suite}"
    with progress("images") as prog:
        build_needed(suite, {w.app for w in workloads} | {"mpi"}, prog)
    folder = out_dir / f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{'-'.join(names)}"
    folder.mkdir(parents=True, exist_ok=False)
    backend = cluster_backend("local")
    rec = f"localhost/recapp/rec:{suite}"
    with progress("workloads side by side") as prog:
        side = run_side_by_side(
            backend,
            workloads,
            rec=rec,
            aio=aio_ref,
            app_for=lambda w: app_tag(w, suite),
            nodes=nodes,
            repeats=repeats,
            references=ref_data,
            models=MODELS,
            records_dir=folder,
            suite=f"workloads ({', '.join(names)})",
            step=prog.step,
        )
    records.write(side, folder / "workloads.json")
    launch_record = None
    if launch and not quick:
        with progress("launch benchmark") as prog:
            launch_record = run_cluster_bench(
                backend,
                rec=rec,
                app=app_tag("mpi", suite),
                sizes=[1, 2, 4] if cluster_up else [],
                nodes=nodes,
                np=launch_np,
                repeats=repeats,
                step=prog.step,
            )
        records.write(launch_record, folder / "launch.json")
    paths = render_dir(folder, folder)
    # Ratios first: what the run is for.
    out.print(f"# recapp bench {', '.join(names)} ({repeats} repeats, models alternating)\n", markup=False)
    summary = sbs.summary_markdown(side) if side.ratios else "no ratios (see what was not measured)"
    out.print(summary, markup=False)
    if launch_record is not None:
        out.print("\n" + bench_table.ratio_table(launch_record), markup=False)
    out.print("\n" + sbs.markdown(side), markup=False)
    failed = [c for c in side.references if not c.passed]
    for c in failed:
        console.print(f"reference check failed: {c.workload} {c.figure}: {c.reason}", markup=False)
    console.print(f"report: {next(p for p in paths if p.name == 'report.html')}", markup=False)
    if not side.comparisons:
        raise RecappError("no workload could be measured: see 'Not measured' in the report")
