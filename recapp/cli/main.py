"""`recapp`: entry point. Each command lives in its own small module and is registered here.

Commands are imported only when they run: the modules behind `bench` or `conformance` pull in pytest,
matplotlib and the Kubernetes client, and a refusal such as a preflight rule should answer well
under a second. `recapp`, `recapp --help` or an unknown name registers them all.
"""

from __future__ import annotations

import importlib
import signal
import sys

import typer

from recapp.cli.ui import debug_enabled, fail
from recapp.errors import RecappError

HELP = "Build and certify REC/APP containers for PMIx-enabled MPI applications (the separated model)."

# name → (module in recapp.cli, attribute, whether it is a group of subcommands), in help order.
COMMANDS: dict[str, tuple[str, str, bool]] = {
    "doctor": ("doctor_cmd", "doctor", False),
    "base": ("base_cmd", "base", False),
    "build": ("build_cmd", "build", False),
    "images": ("images_cmd", "images", False),
    "conformance": ("conformance_cmd", "conformance", True),
    "cluster": ("cluster_cmd", "cluster", True),
    "run": ("run_cmd", "run", False),
    "demo": ("demo_cmd", "demo", False),
    "bench": ("bench_cmd", "bench", False),
    "matrix": ("matrix_cmd", "matrix", False),
    "push": ("push_cmd", "push", False),
    "report": ("report_cmd", "report", False),
    "validate-app": ("validate_app_cmd", "validate_app", False),
}


def build_app(only: str | None = None) -> typer.Typer:
    """The CLI with every command, or with just `only` (the one being run)."""
    app = typer.Typer(
        name="recapp",
        help=HELP,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )

    # With a callback typer keeps the command name even when a single command is registered.
    @app.callback()
    def _root() -> None:
        pass

    for name, (module, attr, group) in COMMANDS.items():
        if only is not None and name != only:
            continue
        target = getattr(importlib.import_module(f"recapp.cli.{module}"), attr)
        if group:
            app.add_typer(target, name=name)
        else:
            app.command(name)(target)
    return app


def invoked_command(argv: list[str]) -> str | None:
    """The command named on the line, when it is a known one (options come after it)."""
    return argv[0] if argv and argv[0] in COMMANDS else None


def __getattr__(name: str) -> typer.Typer:
    # `from recapp.cli.main import app` (tests, typer's CliRunner) gets the whole CLI.
    if name == "app":
        return build_app()
    raise AttributeError(name)


def _terminated(signum: int, frame: object) -> None:
    # SIGTERM (a CI job cancelled, `kill`, `timeout`) takes Ctrl-C's path: the `finally` blocks and
    # context managers that remove what a command made (a matrix's clusters, a half-made cluster) run.
    # Before this a SIGTERM'd `recapp matrix` left its cluster's containers behind.
    raise KeyboardInterrupt


def main() -> None:
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _terminated)
    try:
        build_app(invoked_command(sys.argv[1:]))()
    except RecappError as exc:
        if debug_enabled():
            raise
        fail(exc)
        sys.exit(exc.exit_code)
