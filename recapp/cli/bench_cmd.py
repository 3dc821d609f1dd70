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
from recapp.bench.cluster import run_cluster_bench, run_scaling_bench
from recapp.bench.side_by_side import MODELS, run_side_by_side
from recapp.builder.build import BuildRequest, build_image
from recapp.builder.recipe import available
from recapp.cli.pod_options import PullPolicyOpt, SeccompProfileOpt, StorageOpt
from recapp.cli.ui import console, out, progress
from recapp.errors import RecappError
from recapp.k8s.backends import cluster_backend
from recapp.k8s.jobs import CPU_LIST
from recapp.reports import bench_table, records
from recapp.reports import side_by_side as sbs
from recapp.reports.render import render_dir
from recapp.workloads.catalog import select

QUICK_SET = "quick"


def app_tag(workload: str, suite: str) -> str:
    return f"localhost/recapp/app-{workload}:{suite}"


def build_needed(suite: str, app_workloads: set[str], prog, *, aio: bool = True) -> None:
    """Build (cached) the REC and the APPs whose recipe exists; a workload without a recipe is left to
    the bench, which skips it saying the image is not built."""
    recipes = set(available())
    build_image(BuildRequest("rec", suite), step=prog.step, on_line=prog.line)
    if aio and "aio" in recipes:  # the traditional model's all-in-one image
        build_image(BuildRequest("aio", suite), step=prog.step, on_line=prog.line)
    for workload in sorted(app_workloads):
        if f"app-{workload}" in recipes:
            build_image(BuildRequest("app", suite, workload=workload), step=prog.step, on_line=prog.line)
        else:
            prog.step(f"no recipe app-{workload}: its workloads will be skipped")


def parse_sizes(text: str) -> list[int]:
    """`1,2,4,8,16` → [1, 2, 4, 8, 16]; one-line error on anything else."""
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        sizes = []
    if not sizes or any(n < 1 for n in sizes) or len(set(sizes)) != len(sizes):
        raise RecappError(f"--scaling {text!r}: expected distinct node counts ≥ 1, e.g. 1,2,4,8,16")
    return sizes  # in the order given: `16,8,4,2,1` measures the largest first


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
    scaling: Annotated[
        str | None,
        typer.Option(
            "--scaling",
            help="node counts, e.g. 1,2,4,8,16: cluster up → ready and init_finalize (tree spawn on/off, "
            "DVM) at each, with the least-squares slope per node",
        ),
    ] = None,
    sweeps: Annotated[
        int,
        typer.Option(
            "--scaling-sweeps", min=1, help="cluster ups per size (--repeats: launches per cluster)"
        ),
    ] = 1,
    scaling_mode: Annotated[
        str,
        typer.Option(
            "--scaling-mode",
            help="nested (the APP image delivered to every node first) or native (the APP's binaries in "
            "the REC: the same PRRTE launch without the per-node image load)",
        ),
    ] = "nested",
    workloads_too: Annotated[
        bool, typer.Option("--workloads/--no-workloads", help="the workloads side by side")
    ] = True,
    taskset: Annotated[
        str | None,
        typer.Option("--taskset", help="pin every rank of the workloads to these CPUs (taskset -c LIST)"),
    ] = None,
    backend_name: Annotated[
        str, typer.Option("--backend", help="cluster backend of the scaling part (the rest runs locally)")
    ] = "local",
    kubeconfig: Annotated[str | None, typer.Option(help="kubeconfig file (kubernetes backend)")] = None,
    storage: StorageOpt = None,
    pull_policy: PullPolicyOpt = None,
    seccomp_profile: SeccompProfileOpt = None,
    out_dir: Annotated[Path, typer.Option("--out", help="parent folder of the dated report folder")] = Path(
        "bench-results"
    ),
) -> None:
    """Workloads nested vs native vs traditional, launch variants, cluster up; → a dated report folder."""
    names = [QUICK_SET] if quick else (workload_set or ["default"])
    workloads = select(names)
    sizes = parse_sizes(scaling) if scaling else []
    if backend_name != "local" and (workloads_too or launch):
        raise RecappError(
            f"--backend {backend_name}: only the scaling part runs there; add --no-workloads --no-launch"
        )
    if scaling_mode not in ("nested", "native"):
        raise RecappError(f"--scaling-mode {scaling_mode!r}: expected nested or native")
    if taskset and not CPU_LIST.fullmatch(taskset):
        raise RecappError(f"--taskset {taskset!r}: expected a CPU list such as 1, 0-1 or 0,2")
    ref_data = references.load(refs)
    aio_ref = aio or f"localhost/recapp/aio:{suite}"
    with progress("images") as prog:
        # Only what this run uses: launch and scaling need app-mpi, the workloads their APPs and aio.
        build_needed(
            suite, ({w.app for w in workloads} if workloads_too else set()) | {"mpi"}, prog, aio=workloads_too
        )
    folder = out_dir / f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{'-'.join(names)}"
    folder.mkdir(parents=True, exist_ok=False)
    backend = cluster_backend("local")
    rec = f"localhost/recapp/rec:{suite}"
    side = None
    if workloads_too:
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
                taskset=taskset,
            )
        records.write(side, folder / "workloads.json")
    launch_record = None
    if launch and not quick:
        with progress("launch benchmark") as prog:
            launch_record = run_cluster_bench(
                backend,
                rec=rec,
                app=app_tag("mpi", suite),
                sizes=[1, 2, 4] if cluster_up and not sizes else [],  # --scaling measures them
                nodes=nodes,
                np=launch_np,
                repeats=repeats,
                step=prog.step,
            )
        records.write(launch_record, folder / "launch.json")
    scaling_record = None
    if sizes:
        with progress("scaling") as prog:
            pod = {
                "storage": storage,
                "image_pull_policy": pull_policy,
                "seccomp_localhost_profile": seccomp_profile,
            }
            scaling_record = run_scaling_bench(
                backend if backend_name == "local" else cluster_backend(backend_name, kubeconfig),
                rec=rec,
                app=app_tag("mpi", suite),
                sizes=sizes,
                repeats=repeats,
                step=prog.step,
                backend_name=backend_name,
                pod={k: v for k, v in pod.items() if v},
                sweeps=sweeps,
                mode="native" if scaling_mode == "native" else "nested",
                # After each size: an interrupted run keeps what it measured.
                on_record=lambda r: records.write(r, folder / "scaling.json"),
            )
        records.write(scaling_record, folder / "scaling.json")
    paths = render_dir(folder, folder)
    # Ratios first: what the run is for.
    out.print(f"# recapp bench {', '.join(names)} ({repeats} repeats, models alternating)\n", markup=False)
    if side is not None:
        summary = sbs.summary_markdown(side) if side.ratios else "no ratios (see what was not measured)"
        out.print(summary, markup=False)
    if launch_record is not None:
        out.print("\n" + bench_table.ratio_table(launch_record), markup=False)
    if scaling_record is not None:
        out.print("\n" + bench_table.series_table(scaling_record), markup=False)
        out.print("\n" + bench_table.fit_table(scaling_record), markup=False)
    if side is None:
        console.print(f"report: {next(p for p in paths if p.name == 'report.html')}", markup=False)
        return
    out.print("\n" + sbs.markdown(side), markup=False)
    failed = [c for c in side.references if not c.passed]
    for c in failed:
        console.print(f"reference check failed: {c.workload} {c.figure}: {c.reason}", markup=False)
    console.print(f"report: {next(p for p in paths if p.name == 'report.html')}", markup=False)
    if not side.comparisons:
        raise RecappError("no workload could be measured: see 'Not measured' in the report")
