"""`recapp demo`: the main job end to end on the local backend — build (cached), deploy a 2-node
virtual cluster, run the MPI examples and the demo workloads (NAS EP class S, ping-pong, the CI-size
GROMACS run) nested across both nodes, show the results, write the report, tear down."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from recapp.bench.side_by_side import has_program
from recapp.builder.build import BuildRequest, build_image
from recapp.builder.recipe import available
from recapp.cli.ui import console, print_table, progress
from recapp.errors import ClusterError
from recapp.host.names import check_cluster_name
from recapp.k8s.backends import cluster_backend
from recapp.k8s.jobs import JobRequest, run_job
from recapp.k8s.spec import load_spec
from recapp.reports.records import JobRecord
from recapp.reports.render import render_dir
from recapp.workloads.catalog import select

MPI_EXAMPLES: list[list[str]] = [["hello"], ["init_finalize"], ["ring"]]
DEMO_SET = "demo"  # catalog.yaml: the workloads the demo runs after the MPI examples


def demo(
    suite: Annotated[str, typer.Option(help="Debian suite of the REC and APPs")] = "trixie",
    name: Annotated[str, typer.Option(help="cluster name")] = "demo",
    nodes: Annotated[int, typer.Option(help="node pods")] = 2,
    np: Annotated[int, typer.Option("--np", help="ranks per MPI example")] = 4,
    mpi_only: Annotated[bool, typer.Option("--mpi-only", help="the MPI examples only")] = False,
    out_dir: Annotated[Path, typer.Option("--out", help="parent folder of the dated report folder")] = Path(
        "demo-results"
    ),
    keep: Annotated[bool, typer.Option("--keep", help="leave the cluster up afterwards")] = False,
) -> None:
    """Build, deploy, run hello / init_finalize / ring and the demo workloads across the nodes, report,
    clean up."""
    check_cluster_name(name, error=ClusterError, what="--name")  # before minutes of building
    workloads = [] if mpi_only else select([DEMO_SET])
    recipes = set(available())
    with progress("images") as prog:
        rec = build_image(BuildRequest("rec", suite), step=prog.step, on_line=prog.line)
        apps = {
            "mpi": build_image(BuildRequest("app", suite, workload="mpi"), step=prog.step, on_line=prog.line)
        }
        for w in workloads:
            if w.app not in apps and f"app-{w.app}" in recipes:
                apps[w.app] = build_image(
                    BuildRequest("app", suite, workload=w.app), step=prog.step, on_line=prog.line
                )
    for built in (rec, *apps.values()):
        state = "cached" if built.cached else f"built in {built.seconds:.0f} s"
        console.print(f"{built.tag}: {state}", markup=False)
    runnable, left_out = [], []
    for w in workloads:
        app = apps.get(w.app)
        if app is None:
            left_out.append(f"{w.name}: no recipe app-{w.app} yet")
        elif not has_program(app.tag, w.command[0]):
            left_out.append(f"{w.name}: {w.command[0]} is not in {app.tag}")
        else:
            runnable.append(w)
    folder = out_dir / f"{datetime.now(UTC):%Y%m%dT%H%M%S}-demo"
    backend = cluster_backend("local")
    backend.down(name)  # a leftover from an interrupted demo
    per_node = max(1, np // nodes)
    slots = max([per_node, *(w.per_node(w.np[0], nodes) for w in runnable)])
    spec = load_spec({"name": name, "nodes": nodes, "slots_per_node": slots, "rec_image": rec.tag})
    results: list[JobRecord] = []
    try:
        with progress(f"cluster {name} up") as prog:
            backend.up(spec, step=prog.step)
        jobs = [(apps["mpi"].tag, command, np, per_node, 180.0) for command in MPI_EXAMPLES]
        jobs += [
            (apps[w.app].tag, w.command, w.np[0], w.per_node(w.np[0], nodes), w.timeout_s) for w in runnable
        ]
        for app_tag, command, ranks, ppn, timeout in jobs:
            req = JobRequest(
                cluster=name,
                np=ranks,
                command=command,
                app=app_tag,
                map_by=f"ppr:{ppn}:node",
                timeout_s=timeout,
            )
            with progress(f"{command[0]} on {ranks} ranks") as prog:
                record = run_job(backend, req, step=prog.step)
            results.append(record)
            if record.record_path:
                dest = folder / "jobs" / f"{record.id}.json"
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_text(Path(record.record_path).read_text())
    finally:
        if not keep:
            backend.down(name)
    _show(results, rec)
    for line in left_out:
        console.print(f"left out: {line}", markup=False)
    if not keep:
        console.print(f"cluster {name} removed", markup=False)
    if results:
        paths = render_dir(folder, folder)
        console.print(f"report: {next(p for p in paths if p.name == 'report.html')}", markup=False)
    if not all(r.passed for r in results):
        raise typer.Exit(1)


def _show(results: list[JobRecord], rec) -> None:
    rows = []
    for r in results:
        figures = ", ".join(f"{k} = {v.value:g} {v.unit}" for k, v in _headline(r).items())
        app = f"{r.app.ref.rsplit('/', 1)[-1]} (Open MPI {r.app.versions.get('ompi', '?')})" if r.app else ""
        rows.append(
            [
                " ".join(r.command),
                app,
                f"{len(r.ranks)}/{r.np}",
                ", ".join(sorted({x.host for x in r.ranks})),
                f"{r.wall_s:.2f}",
                figures,
                "PASS" if r.passed else "FAIL",
            ]
        )
    print_table(
        ["job", "APP", "ranks", "hosts", "wall s", "figures", "result"],
        rows,
        title=f"REC {rec.tag} (PMIx {rec.versions.get('pmix')}, PRRTE {rec.versions.get('prrte')}), "
        "every job nested",
    )
    for r in results:
        for reason in ([r.error] if r.error else []) + r.verification.reasons:
            console.print(f"{' '.join(r.command)}: {reason}", markup=False)


def _headline(r: JobRecord) -> dict:
    """A few figures per job, not a ping-pong's every message size."""
    keep = ("init_finalize_s", "npb_mops", "npb_verified", "gromacs_ns_per_day", "pingpong_lat_8")
    shown = {k: v for k, v in r.figures.items() if k in keep or k.startswith("pingpong_bw_4194304")}
    return shown
