"""`recapp conformance`: the whole suite for a REC and/or an APP in one pytest session, ending in the
report; `recapp conformance images`: the static image checks only; `recapp conformance security`:
the security report (JSON + table)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from recapp.bench import references
from recapp.cli.pod_options import (
    BackendOpt,
    ContextOpt,
    KubeconfigOpt,
    NamespaceOpt,
    PullPolicyOpt,
    SeccompProfileOpt,
    StorageOpt,
    pod_settings,
)
from recapp.cli.ui import console, print_json, print_table, progress
from recapp.conformance.matrix.levels import parse_levels
from recapp.conformance.session import FullRun, run_full_suite, run_suite
from recapp.errors import ConformanceError, RecappError
from recapp.host import images as host_images
from recapp.host.names import check_image_ref
from recapp.host.paths import sub
from recapp.reports.render import render_dir
from recapp.workloads.catalog import select

conformance = typer.Typer(
    help="Run the conformance suite against REC and APP images.",
    invoke_without_command=True,
)

PYTEST_JUNIT = "pytest-junit.xml"


@conformance.callback()
def full(
    ctx: typer.Context,
    rec: Annotated[str | None, typer.Option("--rec", help="REC image")] = None,
    app: Annotated[str | None, typer.Option("--app", help="APP image")] = None,
    out: Annotated[Path, typer.Option("--out", help="records, report and JUnit go here")] = Path(
        "conformance-out"
    ),
    workloads: Annotated[
        str, typer.Option(help="workload set or names, comma-separated (catalog.yaml)")
    ] = "conformance",
    refs: Annotated[
        str, typer.Option("--references", help="references: a system name or a YAML file")
    ] = references.DEFAULT_SYSTEM,
    repeats: Annotated[int, typer.Option(min=1, help="runs per model and workload")] = 1,
    nodes: Annotated[int, typer.Option(min=2, help="node pods of the conformance cluster")] = 2,
    levels: Annotated[str | None, typer.Option(help="PMIx levels, comma-separated (default: all)")] = None,
    backend: BackendOpt = "local",
    kubeconfig: KubeconfigOpt = None,
    context: ContextOpt = None,
    namespace: NamespaceOpt = None,
    storage: StorageOpt = None,
    pull_policy: PullPolicyOpt = None,
    seccomp_profile: SeccompProfileOpt = None,
) -> None:
    """Image checks, the REC as a cluster, the PMIx levels of the pair and the workloads with their
    sanity and reference checks — one pytest session; then report.html, junit.xml and records.json
    in OUT (and pytest's own JUnit, every check, as pytest-junit.xml). Give --rec, --app or both:
    what needs the other image is skipped, saying so. With --backend kubernetes the cluster checks,
    levels and workloads run there (the image checks stay on this machine's store)."""
    if ctx.invoked_subcommand is not None:
        return
    if not rec and not app:
        console.print(ctx.get_help(), markup=False)
        raise RecappError("give --rec and/or --app")
    # Bad input fails here, in one line, before any container starts.
    select([w.strip() for w in workloads.split(",") if w.strip()])
    references.load(refs)
    parse_levels(levels)
    for option, ref in (("--rec", rec), ("--app", app)):
        if ref:
            check_image_ref(ref, error=RecappError, what=option)
        if ref and host_images.image_id(ref) is None:
            raise RecappError(f"{option} {ref}: image not found in the local image store")
    out.mkdir(parents=True, exist_ok=True)
    code = run_full_suite(
        FullRun(
            rec_image=rec,
            app_image=app,
            records_dir=out,
            workloads=workloads,
            references=refs,
            repeats=repeats,
            nodes=nodes,
            levels=levels,
            junit=out / PYTEST_JUNIT,
            backend=backend,
            kubeconfig=kubeconfig,
            context=context,
            cluster_settings=pod_settings(namespace, storage, pull_policy, seccomp_profile),
        )
    )
    if any(out.rglob("*.json")):
        for path in render_dir(out, out):
            console.print(str(path), markup=False)
    console.print(f"{out / PYTEST_JUNIT} (every check)", markup=False)
    raise typer.Exit(code)


@conformance.command("images")
def images(
    rec_image: Annotated[str | None, typer.Option(help="REC image to check")] = None,
    app_image: Annotated[str | None, typer.Option(help="APP image to check")] = None,
    junit: Annotated[str | None, typer.Option(help="write JUnit XML here")] = None,
) -> None:
    """Static checks of a REC and/or an APP image (pytest + testinfra)."""
    if not rec_image and not app_image:
        raise RecappError("give --rec-image and/or --app-image")
    for option, ref in (("--rec-image", rec_image), ("--app-image", app_image)):
        if ref is not None:
            check_image_ref(ref, error=ConformanceError, what=option)
    code = run_suite("images", rec_image=rec_image, app_image=app_image, junit=junit)
    raise typer.Exit(code)


@conformance.command("security")
def security(
    rec: Annotated[
        str | None, typer.Option("--rec", help="REC image: files, user, launch-agent attacks")
    ] = None,
    app: Annotated[str | None, typer.Option("--app", help="APP image: files and user")] = None,
    manifests: Annotated[
        Path | None,
        typer.Option("--manifests", help="directory of manifests (default: recapp's own, rendered)"),
    ] = None,
    checkov: Annotated[
        bool, typer.Option("--checkov/--no-checkov", help="scan the manifests with checkov")
    ] = True,
    out: Annotated[Path | None, typer.Option("--out", help="write the JSON report here")] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="print the JSON report instead of the table")
    ] = False,
) -> None:
    """Security report: sshd, default user, setuid/capability files, pod capabilities and isolation,
    RBAC scope, launch-agent authentication, checkov. Exit 1 when a check fails."""
    from recapp.conformance.security import security_report
    from recapp.reports.security import TABLE_HEADERS, table_rows, write_report

    with progress("security report") as prog:
        report = security_report(rec=rec, app=app, manifests=manifests, checkov=checkov, step=prog.step)
    path = write_report(
        report, out or (sub("records", "security") / f"{report.created_at:%Y%m%dT%H%M%S}.json")
    )
    if json_out:
        print_json(report.model_dump(mode="json") | {"passed": report.passed})
    else:
        counts = report.counts()
        print_table(
            TABLE_HEADERS,
            table_rows(report),
            title=f"security: {counts['PASS']} pass, {counts['FAIL']} fail, {counts['SKIP']} skipped",
        )
        console.print(f"report: {path}", markup=False)
    if not report.passed:
        raise typer.Exit(1)
