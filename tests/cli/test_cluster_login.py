"""`recapp cluster login` refusals that need no cluster: one line, exit 2, in the order a user fixes them."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from ..conftest import CliResult, recapp_executable


def login(tmp_path: Path, *args: str) -> CliResult:
    # stdin from /dev/null, never the terminal pytest may have been started from.
    argv = [recapp_executable(), "cluster", "login", *args]
    env = {**os.environ, "RECAPP_HOME": str(tmp_path / "state")}
    proc = subprocess.run(
        argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env, timeout=120
    )
    return CliResult(argv, proc.returncode, proc.stdout, proc.stderr)


def test_without_a_command_a_shell_needs_a_terminal(tmp_path: Path) -> None:
    line = login(tmp_path, "--name", "c1").error_line()
    assert line == "no command given and stdin is not a terminal: give one after --"


def test_a_bad_name_is_heard_of_first(tmp_path: Path) -> None:
    assert "cluster name 'A B'" in login(tmp_path, "--name", "A B").error_line()


def test_a_missing_cluster_is_named(tmp_path: Path) -> None:
    line = login(tmp_path, "--name", "nosuch", "--", "hostname").error_line()
    assert line == "no cluster named 'nosuch' on the local backend (recapp cluster up --name nosuch)"
    assert not (tmp_path / "state" / "clusters").exists()


def test_kubernetes_names_a_missing_kubeconfig(tmp_path: Path) -> None:
    # The kubernetes backend logs in through `kubectl exec` (tests/kube/test_live_jobs.py runs it live).
    missing = tmp_path / "nope.kubeconfig"
    result = login(
        tmp_path, "--name", "c1", "--backend", "kubernetes", "--kubeconfig", str(missing), "--", "id"
    )
    assert result.returncode == 2
    assert result.error_line() == f"kubeconfig {missing}: no such file (set --kubeconfig or KUBECONFIG)"
