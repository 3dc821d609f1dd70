"""The CLI imports only the command it runs: a preflight refusal must not pay for pytest, matplotlib
or the Kubernetes client, while `recapp --help` still lists every command."""

from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

from recapp.cli.main import COMMANDS, build_app, invoked_command

HEAVY = ("pytest", "matplotlib", "kubernetes", "recapp.conformance.session", "recapp.reports.render")

PROBE = """
import sys
from recapp.cli.main import main
sys.argv = ["recapp", "build", "rec", "--flavor", "source", "--suite", "bookworm",
            "--pmix", "4.2.2", "--prrte", "3.0.8"]
try:
    main()
except SystemExit as exc:
    print("exit", exc.code)
print("loaded", ",".join(m for m in {heavy!r} if m in sys.modules) or "-")
"""


def test_refusal_loads_only_the_build_command(tmp_path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY)],
        capture_output=True,
        text=True,
        env={"RECAPP_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    lines = proc.stdout.splitlines()
    assert "exit 2" in lines, proc.stdout + proc.stderr
    assert "preflight rule prrte-3.0.1-pmix-min" in proc.stderr
    assert lines[-1] == "loaded -", f"a refusal imported {lines[-1]}"


def test_invoked_command() -> None:
    assert invoked_command(["build", "rec"]) == "build"
    assert invoked_command(["cluster", "up"]) == "cluster"
    assert invoked_command(["--help"]) is None
    assert invoked_command([]) is None
    assert invoked_command(["bogus"]) is None


def test_help_lists_every_command_and_one_command_keeps_its_name() -> None:
    runner = CliRunner()
    full = runner.invoke(build_app(), ["--help"], terminal_width=200)
    assert full.exit_code == 0
    for name in COMMANDS:
        assert name in full.output, name
    only = build_app("images")
    assert [c.name for c in only.registered_commands] == ["images"]
    # The command name is still required and checked: typer does not fold a lone command into the root.
    res = runner.invoke(only, ["images", "--help"], terminal_width=200)
    assert res.exit_code == 0 and "Usage: recapp images" in res.output
