"""recapp-kubexec: PRRTE's ssh-style argv → `kubectl exec` into the pod HOST names.

The argv mapping is checked on the module's own functions (recapp.node.kubexec); the program itself
runs as PRRTE would run it (the REC's entry point, installed below a scratch prefix), without
kubectl (one line, exit 255) and with the real kubectl against an API server that is not there
(kubectl's own error and status come through).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from recapp.node import install
from recapp.node import kubexec as kubexec_module


@pytest.fixture(scope="module")
def kubexec() -> ModuleType:
    return kubexec_module


@pytest.fixture(scope="module")
def script(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """bin/recapp-kubexec as the builder installs it into the REC."""
    return install.install(tmp_path_factory.mktemp("node-prefix"), ["recapp-kubexec"])["recapp-kubexec"]


ENV = {"RECAPP_NAMESPACE": "recapp-demo"}
PRTED = [
    "prted",
    "--prtemca",
    "ess",
    '"env"',
    "--prtemca",
    "prte_hnp_uri",
    '"prterun-x@0.0;tcp://10.0.0.9:4000"',
]


def test_prrte_3_command_runs_in_the_pod_named_by_the_first_label(kubexec: ModuleType) -> None:
    argv = kubexec.kubectl_argv("/usr/bin/kubectl", ["demo-node-1.demo-nodes", *PRTED], ENV)
    assert argv == [
        "/usr/bin/kubectl", "exec", "-i", "--namespace", "recapp-demo", "demo-node-1", "-c", "node",
        "--", "sh", "-c", " ".join(PRTED),
    ]  # fmt: skip


def test_prrte_5_options_user_and_port_are_dropped(kubexec: ModuleType) -> None:
    argv = kubexec.kubectl_argv(
        "kubectl",
        ["-x", "-o", "BatchMode=yes", "-T", "rec@demo-node-0.demo-nodes", "-p", "2222", *PRTED],
        ENV,
    )
    assert argv[:8] == ["kubectl", "exec", "-i", "--namespace", "recapp-demo", "demo-node-0", "-c", "node"]
    assert argv[-1] == " ".join(PRTED)


def test_minus_n_does_not_forward_stdin(kubexec: ModuleType) -> None:
    argv = kubexec.kubectl_argv("kubectl", ["-n", "demo-node-0.demo-nodes", "prted"], {})
    assert argv == ["kubectl", "exec", "demo-node-0", "-c", "node", "--", "sh", "-c", "prted"]


def test_container_can_be_chosen(kubexec: ModuleType) -> None:
    argv = kubexec.kubectl_argv("kubectl", ["demo-node-0", "hostname"], {"RECAPP_KUBEXEC_CONTAINER": "rec"})
    assert argv[argv.index("-c") + 1] == "rec"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["10.1.2.3", "prted"], "10.1.2.3 is an address, not a pod name (use the hostfile, not hostfile.ip)"),
        (["demo-node-0"], "no command given for demo-node-0 (interactive sessions are not supported)"),
        ([], "usage: recapp-kubexec [ssh options] HOST COMMAND..."),
    ],
)
def test_bad_arguments_are_refused(kubexec: ModuleType, argv: list[str], message: str) -> None:
    with pytest.raises(kubexec.LaunchError) as info:
        kubexec.kubectl_argv("kubectl", argv, {})
    assert str(info.value) == message


def run_script(script: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(script), *args], capture_output=True, text=True, env=env, timeout=60, check=False
    )


def test_without_kubectl_one_line_and_255(tmp_path: Path, script: Path) -> None:
    proc = run_script(script, "demo-node-0.demo-nodes", "prted", env={"PATH": str(tmp_path)})
    assert proc.returncode == 255
    assert proc.stderr == (
        "recapp-kubexec: kubectl not found: the kubexec launcher needs kubectl in the REC image, "
        "which recapp's REC does not ship (use the agent launcher, or add kubectl to the REC)\n"
    )


def test_bad_arguments_exit_255_not_0(tmp_path: Path, script: Path) -> None:
    proc = run_script(script, env={"PATH": os.environ["PATH"]})
    assert proc.returncode == 255
    assert proc.stderr.startswith("recapp-kubexec: ")


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not on PATH")
def test_runs_the_real_kubectl(tmp_path: Path, script: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = tmp_path / "config"
    config.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: t\n"
        f"clusters: [{{name: t, cluster: {{server: 'https://127.0.0.1:{port}'}}}}]\n"
        "contexts: [{name: t, context: {cluster: t, user: t}}]\nusers: [{name: t, user: {token: x}}]\n"
    )
    env = {
        "PATH": os.environ["PATH"],
        "KUBECONFIG": str(config),
        "RECAPP_NAMESPACE": "recapp-demo",
        "HOME": str(tmp_path),
    }
    proc = run_script(script, "-n", "demo-node-0.demo-nodes", "hostname", env=env)
    assert proc.returncode == 1  # kubectl's status: the script exec'd it
    assert f"127.0.0.1:{port}" in proc.stderr and "connection refused" in proc.stderr
