"""`recapp demo`: the main job end to end on the local backend — build (cached), deploy a 2-node
virtual cluster, run the MPI examples nested across both nodes, show the results, tear down."""

from __future__ import annotations

from typing import Annotated

import typer

from recapp.builder.build import build_image
from recapp.cli.cluster_cmd import get_backend
from recapp.cli.ui import console, print_table, progress
from recapp.conformance.jobs import JobRequest, run_job
from recapp.k8s.spec import load_spec

DEMO_JOBS: list[list[str]] = [["hello"], ["init_finalize"], ["ring"]]


def demo(
    suite: Annotated[str, typer.Option(help="Debian suite of the REC and APP")] = "trixie",
    name: Annotated[str, typer.Option(help="cluster name")] = "demo",
    nodes: Annotated[int, typer.Option(help="node pods")] = 2,
    np: Annotated[int, typer.Option("--np", help="ranks per job")] = 4,
    keep: Annotated[bool, typer.Option("--keep", help="leave the cluster up afterwards")] = False,
) -> None:
    """Build, deploy, run hello / init_finalize / ring across the nodes, report, and clean up."""
    with progress("images") as prog:
        rec = build_image("rec", suite, step=prog.step, on_line=prog.line)
        app = build_image("app", suite, workload="mpi", step=prog.step, on_line=prog.line)
    for rec_or_app in (rec, app):
        state = "cached" if rec_or_app.cached else f"built in {rec_or_app.seconds:.0f} s"
        console.print(f"{rec_or_app.tag}: {state}", markup=False)
    backend = get_backend("local")
    backend.down(name)  # a leftover from an interrupted demo
    spec = load_spec(
        {"name": name, "nodes": nodes, "slots_per_node": max(1, np // nodes), "rec_image": rec.tag}
    )
    results = []
    try:
        with progress(f"cluster {name} up") as prog:
            backend.up(spec, step=prog.step)
        per_node = max(1, np // nodes)
        for command in DEMO_JOBS:
            req = JobRequest(
                cluster=name,
                np=np,
                command=command,
                app=app.tag,
                map_by=f"ppr:{per_node}:node",
                timeout_s=180,
            )
            with progress(f"{command[0]} on {np} ranks") as prog:
                results.append(run_job(backend, req, step=prog.step))
    finally:
        if not keep:
            backend.down(name)
    rows = []
    for r in results:
        fig = r.figures.get("init_finalize_s")
        rows.append(
            [
                " ".join(r.command),
                f"{len(r.ranks)}/{r.np}",
                ", ".join(sorted({x.host for x in r.ranks})),
                f"{r.wall_s:.2f}",
                f"{fig.value:.3f}" if fig else "",
                "PASS" if r.passed else "FAIL",
            ]
        )
    print_table(
        ["job", "ranks", "hosts", "wall s", "init+finalize s", "result"],
        rows,
        title=f"REC {rec.tag} (PMIx {rec.versions.get('pmix')}, PRRTE {rec.versions.get('prrte')}) · "
        f"APP {app.tag} (Open MPI {app.versions.get('ompi')})",
    )
    for r in results:
        for reason in ([r.error] if r.error else []) + r.verification.reasons:
            console.print(f"{' '.join(r.command)}: {reason}", markup=False)
        console.print(f"record: {r.record_path}", markup=False)
    if not keep:
        console.print(f"cluster {name} removed", markup=False)
    if not all(r.passed for r in results):
        raise typer.Exit(1)
