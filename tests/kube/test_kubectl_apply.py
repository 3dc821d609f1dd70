"""`kubectl apply -k --dry-run=client` accepts both overlays of a render.

Even a client-side dry run asks the API server for discovery (which kind is which resource), so this
needs kubectl *and* a reachable cluster; without them it is skipped with the reason. The offline
part — that kustomize builds exactly the objects — is tests/k8s/test_kustomize_render.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from recapp.k8s import render
from recapp.k8s.spec import ClusterSpec

SECRET = "0123456789abcdef" * 4


@pytest.mark.k8s
@pytest.mark.parametrize("overlay", render.OVERLAYS)
def test_kubectl_dry_run_accepts_the_overlay(
    overlay: str, make_spec: Callable[..., ClusterSpec], tmp_path: Path, live_api: Any
) -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not on PATH (Debian: apt-get install kubernetes-client)")
    render.render_kustomize(make_spec(), tmp_path, agent_secret=SECRET)
    argv = [
        kubectl,
        "apply",
        "-k",
        str(render.overlay_dir(tmp_path, overlay)),
        "--dry-run=client",
        "-o",
        "name",
    ]
    proc = subprocess.run(
        argv, capture_output=True, text=True, timeout=120, check=False, env=os.environ.copy()
    )
    assert proc.returncode == 0, proc.stderr
    assert sorted(proc.stdout.split()) == sorted(
        [
            "namespace/recapp-demo", "serviceaccount/demo", "role.rbac.authorization.k8s.io/demo",
            "rolebinding.rbac.authorization.k8s.io/demo", "secret/demo-agent", "service/demo-nodes",
            "statefulset.apps/demo-node", "job.batch/demo-login",
            "networkpolicy.networking.k8s.io/demo-login", "networkpolicy.networking.k8s.io/demo-node",
        ]
    )  # fmt: skip
