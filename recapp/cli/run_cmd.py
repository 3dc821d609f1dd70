"""`recapp run`: one MPI job on a virtual cluster, verified and recorded."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from recapp.cli.ui import console, out, print_json, print_table, progress
from recapp.errors import RecappError
from recapp.k8s.backends import cluster_backend
from recapp.k8s.jobs import JobRequest, run_job


def run(
    command: Annotated[list[str], typer.Argument(help="the command each rank runs (after --)")],
    cluster: Annotated[str, typer.Option("--cluster", help="cluster name")],
    np: Annotated[int, typer.Option("--np", help="number of ranks")],
    app: Annotated[str | None, typer.Option("--app", help="APP image (nested runs)")] = None,
    map_by: Annotated[str | None, typer.Option("--map-by", help="PRRTE mapping, e.g. ppr:2:node")] = None,
    bind_to: Annotated[
        str | None,
        typer.Option(
            "--bind-to",
            help="PRRTE binding, e.g. core; default none on a local cluster (its node pods share this "
            "host's cores), PRRTE's own elsewhere",
        ),
    ] = None,
    timeout: Annotated[float, typer.Option(help="seconds before the job is killed")] = 300,
    native: Annotated[
        bool, typer.Option("--native", help="run the APP's binary natively in the REC")
    ] = False,
    dvm: Annotated[bool, typer.Option("--dvm", help="use the cluster's persistent PRRTE DVM (prun)")] = False,
    fresh_containers: Annotated[
        bool,
        typer.Option(
            "--fresh-containers",
            help="one `podman run` per rank instead of the node's persistent APP sandbox (nested only)",
        ),
    ] = False,
    spawn: Annotated[
        bool,
        typer.Option(
            "--spawn",
            help="processes the job spawns (MPI_Comm_spawn) run nested in the APP too: PRRTE's exec "
            "agent wraps every process (nested only)",
        ),
    ] = False,
    mca: Annotated[
        list[str] | None,
        typer.Option(
            "--mca",
            help="Open MPI parameter NAME=VALUE for the ranks (repeatable); on a local cluster with "
            "ranks >= cores mpi_yield_when_idle=1 is the default",
        ),
    ] = None,
    no_verify: Annotated[bool, typer.Option("--no-verify", help="skip rank/size/host verification")] = False,
    record: Annotated[Path | None, typer.Option("--record", help="write the result record here")] = None,
    backend: Annotated[str, typer.Option("--backend")] = "local",
    kubeconfig: Annotated[str | None, typer.Option(help="kubeconfig file (kubernetes backend)")] = None,
    context: Annotated[str | None, typer.Option(help="kubeconfig context (kubernetes backend)")] = None,
    namespace: Annotated[str | None, typer.Option(help="namespace (kubernetes backend)")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print the result record as JSON")] = False,
) -> None:
    """Run COMMAND on NP ranks: prterun in the login pod, each rank nested in the REC via wrap-container."""
    params = {}
    for item in mca or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise RecappError(f"--mca wants NAME=VALUE, got {item!r}")
        params[name] = value
    req = JobRequest(
        cluster=cluster,
        np=np,
        command=command,
        app=app,
        map_by=map_by,
        timeout_s=timeout,
        mode="native" if native else "nested",
        dvm=dvm,
        fresh_containers=fresh_containers,
        verify=not no_verify,
        record_path=record,
        mca=params,
        bind_to=bind_to,
        spawn=spawn,
    )
    if native and fresh_containers:
        raise RecappError("--fresh-containers applies to nested jobs only, not with --native")
    if native and spawn:
        raise RecappError("--spawn applies to nested jobs only, not with --native")
    echo = None if json_out else (lambda line: out.print(line, markup=False, highlight=False))
    with progress(f"job on {cluster}") as prog:
        result = run_job(
            cluster_backend(backend, kubeconfig, context, namespace), req, step=prog.step, on_output=echo
        )
    if json_out:
        print_json(result.model_dump(mode="json") | {"passed": result.passed})
    else:
        hosts = sorted({r.host for r in result.ranks})
        print_table(
            ["ranks", "size", "hosts", "exit", "wall s", "verified"],
            [
                [
                    len(result.ranks),
                    result.np,
                    ", ".join(hosts),
                    result.exit_status,
                    f"{result.wall_s:.2f}",
                    "PASS" if result.passed else "FAIL",
                ]
            ],
        )
        for reason in ([result.error] if result.error else []) + result.verification.reasons:
            console.print(f"  {reason}", markup=False)
        console.print(f"record: {result.record_path}  log: {result.log_path}", markup=False)
    if not result.passed:
        raise typer.Exit(1)
