"""A 2-node virtual cluster on a live Kubernetes cluster: up, `prterun hostname` on both nodes from
the login pod, status, spec, down.

Needs KUBECONFIG naming a reachable cluster where the kubeconfig's user may create namespaces, and
RECAPP_K8S_REC_IMAGE: a REC image (e.g. localhost/recapp/rec:trixie pushed to a registry the
cluster pulls from, or loaded into kind/k3s nodes). Optional: RECAPP_K8S_STORAGE=volume to use a
PVC per node (needs a default StorageClass; the default here is emptyDir), RECAPP_K8S_PULL_POLICY
(default IfNotPresent; `Never` for images loaded into the nodes).
"""

from __future__ import annotations

import os
import secrets
from typing import Any

import pytest

from recapp.k8s import constants as c
from recapp.k8s import objects as o
from recapp.k8s.kubernetes.backend import KubernetesBackend
from recapp.k8s.spec import load_spec

pytestmark = pytest.mark.k8s


@pytest.fixture
def rec_image() -> str:
    image = os.environ.get("RECAPP_K8S_REC_IMAGE")
    if not image:
        pytest.skip(
            "needs RECAPP_K8S_REC_IMAGE: a REC image the cluster can run (see this module's docstring)"
        )
    return image


def test_two_nodes_run_hostname_through_prterun(live_api: Any, rec_image: str) -> None:
    spec = load_spec(
        {
            "name": f"live-{secrets.token_hex(3)}",
            "nodes": 2,
            "slots_per_node": 1,
            "rec_image": rec_image,
            "storage": os.environ.get("RECAPP_K8S_STORAGE", "emptyDir"),
            "image_pull_policy": os.environ.get("RECAPP_K8S_PULL_POLICY", "IfNotPresent"),
            "ready_timeout_s": 600,
        }
    )
    backend = KubernetesBackend(live_api)
    steps: list[str] = []
    try:
        status = backend.up(spec, cleanup_on_failure=False, step=steps.append)
        assert status.ready, status
        assert sorted(p.name for p in status.pods if p.component == c.COMPONENT_NODE) == o.node_pod_names(
            spec
        )
        # The stored spec is the one asked for, with hostUsers settled by the server's version.
        stored = backend.spec(spec.name)
        assert stored.user_namespace is not None
        assert stored.model_copy(update={"user_namespace": None}) == spec

        proc = backend.login_exec(
            spec.name, ["prterun", "--hostfile", c.HOSTFILE_PATH, "-np", "2", "hostname"]
        )
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        assert sorted(out.split()) == o.node_pod_names(spec)

        code, output = backend.node_exec(spec.name, o.node_pod_names(spec)[0], ["id", "-u"])
        assert (code, output.strip()) == (0, str(spec.uid))
    finally:
        removed = backend.down(spec.name)
    assert removed == [f"namespace {spec.namespace}"]
    assert not backend.status(spec.name).exists
    assert backend.down(spec.name) == []  # idempotent
