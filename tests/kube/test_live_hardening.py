"""Issue 15's checks on a live cluster: the NetworkPolicy probe at `cluster up` (passes where the
policy is enforced, refuses a cluster whose agent a foreign pod reaches), and the API token the login
and node pods hold.

The non-enforced case is real, not faked: a namespace given to recapp already holds an allow-all
ingress NetworkPolicy (NetworkPolicies add up, so recapp's deny rule no longer keeps anyone out), and
the probe pod really reaches node 0's agent.

Needs KUBECONFIG (an admin: the test makes a namespace) and RECAPP_K8S_REC_IMAGE, as test_live_jobs.py.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from recapp.k8s import constants as c
from recapp.k8s import hardening
from recapp.k8s import objects as o
from recapp.k8s.kubernetes.backend import KubernetesBackend
from recapp.k8s.spec import ClusterSpec, load_spec
from tests.conftest import RunRecapp

pytestmark = pytest.mark.k8s

SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


def _rec_image() -> str:
    image = os.environ.get("RECAPP_K8S_REC_IMAGE", "")
    if not image:
        pytest.skip("needs RECAPP_K8S_REC_IMAGE: a REC image the live cluster can run")
    return image


def _pod_options() -> list[str]:
    args = ["--storage", os.environ.get("RECAPP_K8S_STORAGE", "emptyDir")]
    args += ["--pull-policy", os.environ.get("RECAPP_K8S_PULL_POLICY", "IfNotPresent")]
    if os.environ.get("RECAPP_K8S_SECCOMP_PROFILE"):
        args += ["--seccomp-profile", os.environ["RECAPP_K8S_SECCOMP_PROFILE"]]
    return args


@pytest.fixture(scope="module")
def guarded(live_api: Any) -> Iterator[tuple[KubernetesBackend, ClusterSpec, list[str]]]:
    """A 1-node cluster brought up with the default probe (refuse), and the steps `up` reported."""
    data: dict[str, Any] = {
        "name": f"np-{secrets.token_hex(3)}",
        "nodes": 1,
        "slots_per_node": 1,
        "rec_image": _rec_image(),
        "storage": os.environ.get("RECAPP_K8S_STORAGE", "emptyDir"),
        "image_pull_policy": os.environ.get("RECAPP_K8S_PULL_POLICY", "IfNotPresent"),
        "ready_timeout_s": 600,
    }
    if os.environ.get("RECAPP_K8S_SECCOMP_PROFILE"):
        data["seccomp_localhost_profile"] = os.environ["RECAPP_K8S_SECCOMP_PROFILE"]
    spec = load_spec(data)
    assert spec.network_policy_probe == "refuse"  # the default is what is proven
    backend = KubernetesBackend(live_api)
    steps: list[str] = []
    try:
        assert backend.up(spec, step=steps.append).ready
        yield backend, spec, steps
    finally:
        backend.down(spec.name)


def test_probe_passes_where_kube_router_enforces_the_policy(guarded: Any) -> None:
    _backend, spec, steps = guarded
    target = f"{hardening.probe_target(spec)}:{spec.agent_port}"
    assert f"NetworkPolicy enforced: a pod outside the cluster cannot reach {target}" in steps
    assert f"probing NetworkPolicy enforcement (pod {hardening.probe_pod_name(spec)})" in steps


def test_probe_pod_is_gone_after_up(guarded: Any, live_api: Any) -> None:
    _backend, spec, _steps = guarded
    with pytest.raises(ApiException) as gone:
        client.CoreV1Api(live_api).read_namespaced_pod(hardening.probe_pod_name(spec), spec.namespace)
    assert gone.value.status == 404


def _exec(
    backend: KubernetesBackend, spec: ClusterSpec, pod: str, container: str, argv: list[str]
) -> tuple[int, str]:
    proc = backend.pod_exec(spec.namespace, pod, container, argv)
    try:
        out, err = proc.communicate(timeout=60)
    finally:
        proc.close()
    return (proc.returncode if proc.returncode is not None else 255), out + err


def test_login_pod_holds_no_api_token(guarded: Any, live_api: Any) -> None:
    backend, spec, _steps = guarded
    pod_name = backend.login_pod(spec.name)
    pod = client.CoreV1Api(live_api).read_namespaced_pod(pod_name, spec.namespace)
    assert pod.spec.automount_service_account_token is False
    by_name = {ct.name: ct for ct in [*pod.spec.init_containers, *pod.spec.containers]}
    mounts = {name: {m.mount_path for m in ct.volume_mounts or []} for name, ct in by_name.items()}
    # Only wait-nodes (it lists the node pods) gets the token; the login container, where jobs run, none.
    assert SA_DIR in mounts[c.WAIT_NODES_CONTAINER]
    assert SA_DIR not in mounts[c.LOGIN_CONTAINER]
    status, out = _exec(backend, spec, pod_name, c.LOGIN_CONTAINER, ["ls", SA_DIR])
    assert status != 0 and "No such file or directory" in out, (status, out)


def test_node_pods_hold_no_api_token(guarded: Any, live_api: Any) -> None:
    backend, spec, _steps = guarded
    node = o.node_pod_names(spec)[0]
    pod = client.CoreV1Api(live_api).read_namespaced_pod(node, spec.namespace)
    assert pod.spec.automount_service_account_token is False
    status, out = _exec(backend, spec, node, c.NODE_CONTAINER, ["ls", SA_DIR])
    assert status != 0 and "No such file or directory" in out, (status, out)


@pytest.fixture
def open_namespace(live_api: Any) -> Iterator[str]:
    """A namespace (not recapp's) whose allow-all ingress policy lets any pod in: recapp's deny rule is
    one more policy there, and policies only add what they allow."""
    name = f"k8s-open-{secrets.token_hex(3)}"
    core = client.CoreV1Api(live_api)
    labels = {"pod-security.kubernetes.io/enforce": "baseline"}
    core.create_namespace({"metadata": {"name": name, "labels": labels}})
    allow_all = {
        "metadata": {"name": "allow-all-ingress"},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{}]},
    }
    client.NetworkingV1Api(live_api).create_namespaced_network_policy(name, allow_all)
    try:
        yield name
    finally:
        core.delete_namespace(name)


def test_probe_refuses_a_cluster_a_foreign_pod_reaches(
    live_api: Any, run_recapp: RunRecapp, open_namespace: str
) -> None:
    name = f"np-{secrets.token_hex(3)}"
    result = run_recapp(
        *("cluster", "up", "--backend", "kubernetes", "--kubeconfig", os.environ["KUBECONFIG"]),
        *("--name", name, "--nodes", "1", "--rec", _rec_image(), "--namespace", open_namespace),
        *_pod_options(),
        timeout=600,
    )
    line = result.error_line()
    spec = load_spec({"name": name, "nodes": 1, "namespace": open_namespace, "rec_image": _rec_image()})
    target = f"{hardening.probe_target(spec)}:{spec.agent_port}"
    assert f"NetworkPolicy NOT enforced: a pod without the cluster's labels reached {target}" in line, line
    assert "refusing the cluster (network_policy_probe: warn to accept it)" in line, line
    assert f"removed what this `up` created in {open_namespace}" in line, line
    # Nothing of the cluster is left; the namespace (not recapp's) and its own policy stay.
    core = client.CoreV1Api(live_api)
    selector = f"{c.LABEL_CLUSTER}={name}"
    assert core.list_namespaced_pod(open_namespace, label_selector=selector).items == []
    assert core.list_namespaced_config_map(open_namespace, label_selector=selector).items == []
    assert client.AppsV1Api(live_api).list_namespaced_stateful_set(open_namespace).items == []
    policies = client.NetworkingV1Api(live_api).list_namespaced_network_policy(open_namespace).items
    assert [p.metadata.name for p in policies] == ["allow-all-ingress"]
    assert core.read_namespace(open_namespace).status.phase == "Active"


def test_probe_warn_keeps_the_cluster_and_says_so(live_api: Any, open_namespace: str) -> None:
    spec = load_spec(
        {
            "name": f"np-{secrets.token_hex(3)}",
            "namespace": open_namespace,
            "nodes": 1,
            "slots_per_node": 1,
            "rec_image": _rec_image(),
            "storage": os.environ.get("RECAPP_K8S_STORAGE", "emptyDir"),
            "image_pull_policy": os.environ.get("RECAPP_K8S_PULL_POLICY", "IfNotPresent"),
            "network_policy_probe": "warn",
            "ready_timeout_s": 600,
        }
    )
    backend = KubernetesBackend(live_api)
    steps: list[str] = []
    try:
        assert backend.up(spec, step=steps.append).ready
    finally:
        backend.down(spec.name, namespace=open_namespace)
    warnings = [s for s in steps if s.startswith("warning: NetworkPolicy NOT enforced")]
    assert len(warnings) == 1, steps
