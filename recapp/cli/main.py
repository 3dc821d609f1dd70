"""`recapp`: entry point. Each command lives in its own small module and is registered here."""

from __future__ import annotations

import sys

import typer

from recapp.cli import (
    base_cmd,
    bench_cmd,
    build_cmd,
    cluster_cmd,
    conformance_cmd,
    demo_cmd,
    doctor_cmd,
    images_cmd,
    matrix_cmd,
    push_cmd,
    report_cmd,
    run_cmd,
    validate_app_cmd,
)
from recapp.cli.ui import debug_enabled, fail
from recapp.errors import RecappError

app = typer.Typer(
    name="recapp",
    help="Build and certify REC/APP containers for PMIx-enabled MPI applications (the separated model).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("doctor")(doctor_cmd.doctor)
app.command("base")(base_cmd.base)
app.command("build")(build_cmd.build)
app.command("images")(images_cmd.images)
app.add_typer(conformance_cmd.conformance, name="conformance")
app.add_typer(cluster_cmd.cluster, name="cluster")
app.command("run")(run_cmd.run)
app.command("demo")(demo_cmd.demo)
app.command("bench")(bench_cmd.bench)
app.command("matrix")(matrix_cmd.matrix)
app.command("push")(push_cmd.push)
app.command("report")(report_cmd.report)
app.command("validate-app")(validate_app_cmd.validate_app)


def main() -> None:
    try:
        app()
    except RecappError as exc:
        if debug_enabled():
            raise
        fail(exc)
        sys.exit(exc.exit_code)
