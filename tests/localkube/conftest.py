"""Fixtures for the local Kubernetes of k8s/localkube (`make test-kube` brings it up).

The cluster is the one $KUBECONFIG names; the busybox toolbox image is the one `up`
imports into the node's containerd.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config

LOCALKUBE = Path(__file__).resolve().parents[2] / "k8s" / "localkube"
BUSYBOX = "localhost/recapp-kube/busybox:1.35"


def localkube_env(name: str) -> str:
    """A setting of k8s/localkube/env.sh, as the scripts see it."""
    out = subprocess.run(
        ["bash", "-c", f'source "{LOCALKUBE}/env.sh" && printf %s "${name}"'],
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout


@pytest.fixture(scope="session")
def kube() -> client.ApiClient:
    path = os.environ.get("KUBECONFIG")
    if not path:
        pytest.skip("needs the local cluster: run `make test-kube` (or set KUBECONFIG from `make kube-up`)")
    api = config.new_client_from_config(config_file=path)
    client.VersionApi(api).get_code(_request_timeout=(5, 10))
    return api


@pytest.fixture(scope="session")
def core(kube: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(kube)


@pytest.fixture
def namespace(core: client.CoreV1Api) -> Iterator[str]:
    """A fresh namespace at Pod Security level baseline (as recapp's), deleted afterwards."""
    name = f"lk-{secrets.token_hex(3)}"
    labels = {"pod-security.kubernetes.io/enforce": "baseline"}
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name, labels=labels)))
    yield name
    core.delete_namespace(name, grace_period_seconds=0)


def busybox_pod(name: str, script: str, labels: dict[str, str] | None = None, **spec: Any) -> client.V1Pod:
    """A pod that runs `sh -c SCRIPT` in the toolbox image, restricted as recapp's pods are."""
    container = client.V1Container(
        name="main",
        image=BUSYBOX,
        image_pull_policy="Never",
        command=["/bin/sh", "-c", script],
        security_context=client.V1SecurityContext(
            allow_privilege_escalation=False,
            run_as_non_root=True,
            run_as_user=1000,
            capabilities=client.V1Capabilities(drop=["ALL"]),
            seccomp_profile=client.V1SeccompProfile(type="RuntimeDefault"),
        ),
    )
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name, labels=labels or {}),
        spec=client.V1PodSpec(containers=[container], restart_policy="Never", **spec),
    )


def wait_phase(
    core: client.CoreV1Api, ns: str, name: str, phases: set[str], timeout: float = 120
) -> client.V1Pod:
    end = time.monotonic() + timeout
    while True:
        pod = core.read_namespaced_pod(name, ns)
        if pod.status.phase in phases:
            return pod
        if time.monotonic() > end:
            raise AssertionError(f"pod {ns}/{name} still {pod.status.phase} after {timeout}s: {pod.status}")
        time.sleep(1)


def run_to_completion(
    core: client.CoreV1Api, ns: str, pod: client.V1Pod, timeout: float = 120
) -> tuple[str, str]:
    """Create POD, wait until it ends, return (phase, logs)."""
    core.create_namespaced_pod(ns, pod)
    done = wait_phase(core, ns, pod.metadata.name, {"Succeeded", "Failed"}, timeout)
    return done.status.phase, core.read_namespaced_pod_log(pod.metadata.name, ns)
