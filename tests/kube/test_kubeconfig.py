"""The backend against real kubeconfig files and a real (closed) TCP port: the client's own loader and
transport run; only the API server is missing."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from recapp.errors import ClusterError
from recapp.k8s.kubernetes.backend import KubernetesBackend, load_api_client
from recapp.k8s.spec import ClusterSpec


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kubeconfig(server: str, *, context: str = "test") -> str:
    return f"""apiVersion: v1
kind: Config
current-context: {context}
clusters:
- name: test
  cluster: {{server: "{server}", insecure-skip-tls-verify: true}}
contexts:
- name: test
  context: {{cluster: test, user: test, namespace: default}}
users:
- name: test
  user: {{token: not-a-real-token}}
"""


@pytest.fixture
def unreachable(tmp_path: Path) -> tuple[KubernetesBackend, str]:
    server = f"https://127.0.0.1:{closed_port()}"
    path = tmp_path / "config"
    path.write_text(kubeconfig(server))
    return KubernetesBackend.from_kubeconfig(path), server


def one_line(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text, text
    return text


# --- malformed kubeconfigs ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "why"),
    [
        (
            "apiVersion: v1\nclusters: [\n  - {name: x\n",
            "not valid YAML (expected the node content, but found '-' at line 3)",
        ),
        ("", "file is empty"),
        ("- a\n- b\n", "not a kubeconfig (TypeError: list indices must be integers or slices, not str)"),
        (
            "apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n",
            "Expected key current-context",
        ),
    ],
)
def test_malformed_kubeconfig_is_one_line_naming_the_file(tmp_path: Path, text: str, why: str) -> None:
    path = tmp_path / "kubeconfig"
    path.write_text(text)
    with pytest.raises(ClusterError) as info:
        KubernetesBackend.from_kubeconfig(path)
    assert one_line(info.value) == f"kubeconfig {path}: {why}"


def test_unknown_context_is_named(tmp_path: Path) -> None:
    path = tmp_path / "kubeconfig"
    path.write_text(kubeconfig("https://127.0.0.1:6443"))
    with pytest.raises(ClusterError) as info:
        load_api_client(path, context="prod")
    assert one_line(info.value) == f"kubeconfig {path}: Expected object with name prod in its contexts list"


def test_missing_kubeconfig_is_named(tmp_path: Path) -> None:
    path = tmp_path / "nope"
    with pytest.raises(ClusterError) as info:
        load_api_client(path)
    assert one_line(info.value) == f"kubeconfig {path}: no such file (set --kubeconfig or KUBECONFIG)"


def test_kubeconfig_env_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "from-env"
    path.write_text(kubeconfig("https://10.9.8.7:6443"))
    monkeypatch.setenv("KUBECONFIG", str(path))
    assert load_api_client().configuration.host == "https://10.9.8.7:6443"


def test_loading_leaves_the_clients_global_default_alone(tmp_path: Path) -> None:
    before = client.Configuration.get_default_copy().host
    path = tmp_path / "config"
    path.write_text(kubeconfig("https://10.9.8.7:6443"))
    backend = KubernetesBackend.from_kubeconfig(path)
    assert backend.host == "https://10.9.8.7:6443"
    assert client.Configuration.get_default_copy().host == before


# --- an API server that is not there --------------------------------------------------------------


def assert_unreachable(call: Any, server: str) -> None:
    start = time.monotonic()
    with pytest.raises(ClusterError) as info:
        call()
    assert one_line(info.value) == f"cannot reach the Kubernetes API at {server}: connection refused"
    assert time.monotonic() - start < 5


def test_status_against_a_closed_port(unreachable: tuple[KubernetesBackend, str]) -> None:
    backend, server = unreachable
    assert_unreachable(lambda: backend.status("demo"), server)


def test_up_against_a_closed_port(unreachable: tuple[KubernetesBackend, str], spec: ClusterSpec) -> None:
    backend, server = unreachable
    assert_unreachable(lambda: backend.up(spec), server)


def test_down_and_spec_against_a_closed_port(unreachable: tuple[KubernetesBackend, str]) -> None:
    backend, server = unreachable
    assert_unreachable(lambda: backend.down("demo"), server)
    assert_unreachable(lambda: backend.spec("demo"), server)


def test_exec_against_a_closed_port(unreachable: tuple[KubernetesBackend, str]) -> None:
    backend, server = unreachable
    start = time.monotonic()
    with pytest.raises(ClusterError) as info:
        backend.pod_exec("recapp-demo", "demo-login-x", "login", ["hostname"])
    assert one_line(info.value).startswith(f"cannot reach the Kubernetes API at {server}: ")
    assert "Connection refused" in str(info.value)
    assert time.monotonic() - start < 5
