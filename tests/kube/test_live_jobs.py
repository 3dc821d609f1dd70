"""The Kubernetes backend end to end on a live cluster: MPI jobs (nested and native) on two node pods,
what the API server itself refuses in recapp's namespace, and a kubeconfig for a cluster that is down.

Needs KUBECONFIG (a reachable cluster whose user may create namespaces, e.g. `make kube-up`'s) and
RECAPP_K8S_REC_IMAGE (a REC the kubelet runs, e.g. localhost/recapp/rec:trixie loaded into the node's
containerd). The APP images come from this machine's podman store (streamed into the node pods):
RECAPP_K8S_APP_IMAGE (default localhost/recapp/app-mpi:trixie), RECAPP_K8S_NAS_IMAGE (default
localhost/recapp/app-nas:trixie). On containerd nodes nested podman needs a Localhost seccomp profile:
RECAPP_K8S_SECCOMP_PROFILE (e.g. recapp-nested-podman.json in the kubelet's seccomp directory).
RECAPP_K8S_STORAGE (default emptyDir) and RECAPP_K8S_PULL_POLICY (default IfNotPresent) as in
test_live.py.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from recapp.k8s import objects as o
from recapp.k8s.jobs import JobRequest, run_job
from recapp.k8s.kubernetes.backend import KubernetesBackend
from recapp.k8s.spec import ClusterSpec, load_spec
from recapp.reports.records import JobRecord
from tests.conftest import RunRecapp

pytestmark = pytest.mark.k8s


def _env_image(name: str, default: str | None = None) -> str:
    image = os.environ.get(name, default or "")
    if not image:
        pytest.skip(f"needs {name}: an image the live cluster can run (see this module's docstring)")
    return image


@pytest.fixture(scope="module")
def live_spec() -> ClusterSpec:
    data: dict[str, Any] = {
        "name": f"live-{secrets.token_hex(3)}",
        "nodes": 2,
        "slots_per_node": 2,
        "rec_image": _env_image("RECAPP_K8S_REC_IMAGE"),
        "storage": os.environ.get("RECAPP_K8S_STORAGE", "emptyDir"),
        "image_pull_policy": os.environ.get("RECAPP_K8S_PULL_POLICY", "IfNotPresent"),
        "ready_timeout_s": 600,
    }
    if os.environ.get("RECAPP_K8S_SECCOMP_PROFILE"):
        data["seccomp_localhost_profile"] = os.environ["RECAPP_K8S_SECCOMP_PROFILE"]
    return load_spec(data)


@pytest.fixture(scope="module")
def live_cluster(live_api: Any, live_spec: ClusterSpec) -> Iterator[KubernetesBackend]:
    backend = KubernetesBackend(live_api)
    try:
        status = backend.up(live_spec, cleanup_on_failure=False)
        assert status.ready, status
        yield backend
    finally:
        backend.down(live_spec.name)
    ns = client.CoreV1Api(live_api)
    with pytest.raises(ApiException) as gone:
        ns.read_namespace(live_spec.namespace)
    assert gone.value.status == 404


def _job(backend: KubernetesBackend, spec: ClusterSpec, tmp_path: Path, **kwargs: Any) -> JobRecord:
    req = JobRequest(cluster=spec.name, record_path=tmp_path / "record.json", timeout_s=600, **kwargs)
    return run_job(backend, req)


def test_namespace_enforces_pod_security_baseline(
    live_api: Any, live_cluster: KubernetesBackend, live_spec: ClusterSpec
) -> None:
    labels = client.CoreV1Api(live_api).read_namespace(live_spec.namespace).metadata.labels
    assert labels["pod-security.kubernetes.io/enforce"] == "baseline"


def test_hello_four_ranks_on_both_node_pods(
    live_cluster: KubernetesBackend, live_spec: ClusterSpec, tmp_path: Path
) -> None:
    app = _env_image("RECAPP_K8S_APP_IMAGE", "localhost/recapp/app-mpi:trixie")
    record = _job(live_cluster, live_spec, tmp_path, np=4, map_by="ppr:2:node", app=app, command=["hello"])
    assert record.passed, (record.error, record.verification.reasons)
    assert record.exit_status == 0
    assert sorted(r.rank for r in record.ranks) == [0, 1, 2, 3]
    assert {r.size for r in record.ranks} == {4}
    hosts = [r.host for r in record.ranks]
    assert sorted(set(hosts)) == o.node_pod_names(live_spec)
    assert all(hosts.count(h) == 2 for h in set(hosts))


def test_native_hello_runs_the_app_binaries_in_the_rec(
    live_cluster: KubernetesBackend, live_spec: ClusterSpec, tmp_path: Path
) -> None:
    app = _env_image("RECAPP_K8S_APP_IMAGE", "localhost/recapp/app-mpi:trixie")
    record = _job(
        live_cluster,
        live_spec,
        tmp_path,
        np=2,
        map_by="ppr:1:node",
        app=app,
        command=["hello"],
        mode="native",
    )
    assert record.passed, (record.error, record.verification.reasons)
    assert sorted(r.host for r in record.ranks) == o.node_pod_names(live_spec)
    assert record.launcher_argv[-1].startswith("/var/lib/recapp/images/native/")


def test_ep_class_s_verifies(live_cluster: KubernetesBackend, live_spec: ClusterSpec, tmp_path: Path) -> None:
    app = _env_image("RECAPP_K8S_NAS_IMAGE", "localhost/recapp/app-nas:trixie")
    record = _job(live_cluster, live_spec, tmp_path, np=2, map_by="ppr:1:node", app=app, command=["ep.S.x"])
    assert record.passed, (record.error, record.verification.reasons)
    assert {r.size for r in record.ranks} == {2}
    assert record.figures, "EP printed no figures the NAS parser read"


def test_api_server_refuses_a_privileged_pod(
    live_api: Any, live_cluster: KubernetesBackend, live_spec: ClusterSpec
) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "privileged-probe"},
        "spec": {
            "containers": [
                {
                    "name": "c",
                    "image": live_spec.rec_image,
                    "command": ["true"],
                    "securityContext": {"privileged": True},
                }
            ]
        },
    }
    with pytest.raises(ApiException) as refused:
        client.CoreV1Api(live_api).create_namespaced_pod(live_spec.namespace, pod)
    assert refused.value.status == 403
    assert 'violates PodSecurity "baseline:latest": privileged' in _message(refused.value)


def _message(error: ApiException) -> str:
    """The API server's own words: the message of the metav1.Status in the error's body."""
    return str(json.loads(error.body)["message"])


def _login_identity(spec: ClusterSpec) -> str:
    return f"system:serviceaccount:{spec.namespace}:{o.service_account_name(spec)}"


@pytest.mark.parametrize(
    ("verb", "resource", "subresource", "allowed"),
    [
        ("list", "pods", "", True),  # wait-nodes: its Role grants this
        ("watch", "pods", "", True),
        ("get", "secrets", "", False),  # the agent's key and TLS files are not the login's to read
        ("create", "pods", "", False),
        ("delete", "pods", "", False),
        ("create", "pods", "exec", False),  # agent launcher: no exec at all
        ("list", "pods", "", False),  # in another namespace (see below)
    ],
)
def test_login_service_account_gets_only_its_role(
    live_api: Any,
    live_cluster: KubernetesBackend,
    live_spec: ClusterSpec,
    verb: str,
    resource: str,
    subresource: str,
    allowed: bool,
) -> None:
    # The last case asks about kube-system: a Role never reaches beyond its namespace.
    namespace = live_spec.namespace if allowed or verb != "list" else "kube-system"
    review = client.V1SubjectAccessReview(
        spec=client.V1SubjectAccessReviewSpec(
            user=_login_identity(live_spec),
            groups=["system:serviceaccounts", f"system:serviceaccounts:{live_spec.namespace}"],
            resource_attributes=client.V1ResourceAttributes(
                namespace=namespace, verb=verb, resource=resource, subresource=subresource or None
            ),
        )
    )
    answer = client.AuthorizationV1Api(live_api).create_subject_access_review(review)
    assert answer.status.allowed is allowed, answer.status


def test_login_token_is_forbidden_what_its_role_does_not_grant(
    live_api: Any, live_cluster: KubernetesBackend, live_spec: ClusterSpec
) -> None:
    """With a real token of the login ServiceAccount: listing pods works, reading Secrets is a 403."""
    request = client.AuthenticationV1TokenRequest(
        spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=600)
    )
    token = (
        client.CoreV1Api(live_api)
        .create_namespaced_service_account_token(
            o.service_account_name(live_spec), live_spec.namespace, request
        )
        .status.token
    )
    configuration = client.Configuration()
    configuration.host = live_api.configuration.host
    configuration.ssl_ca_cert = live_api.configuration.ssl_ca_cert
    configuration.api_key = {"authorization": f"Bearer {token}"}
    as_login = client.CoreV1Api(client.ApiClient(configuration))
    pods = as_login.list_namespaced_pod(live_spec.namespace)
    assert {p.metadata.name for p in pods.items} >= set(o.node_pod_names(live_spec))
    with pytest.raises(ApiException) as refused:
        as_login.list_namespaced_secret(live_spec.namespace)
    assert refused.value.status == 403
    assert f'User "{_login_identity(live_spec)}" cannot list resource "secrets"' in _message(refused.value)


def test_kubeconfig_of_a_cluster_that_is_down_is_one_line_and_creates_nothing(
    live_api: Any, run_recapp: RunRecapp, tmp_path: Path
) -> None:
    config = yaml.safe_load(Path(os.environ["KUBECONFIG"]).read_text())
    for entry in config["clusters"]:
        server = entry["cluster"]["server"]
        # The same API server's address on a port where nothing listens.
        entry["cluster"]["server"] = server.rsplit(":", 1)[0] + ":1"
    down = tmp_path / "down.kubeconfig"
    down.write_text(yaml.safe_dump(config))
    name = f"down-{secrets.token_hex(3)}"
    result = run_recapp(
        "cluster", "up", "--backend", "kubernetes", "--kubeconfig", str(down), "--name", name, timeout=120
    )
    line = result.error_line()
    assert "cannot reach the Kubernetes API" in line and ":1" in line, line
    names = {n.metadata.name for n in client.CoreV1Api(live_api).list_namespace().items}
    assert f"recapp-{name}" not in names


def test_kubexec_launcher_runs_hello_on_both_node_pods(
    live_api: Any, live_spec: ClusterSpec, tmp_path: Path
) -> None:
    """PRRTE's daemons started through `kubectl exec` from the login pod, with the login's own token."""
    rec = _env_image("RECAPP_K8S_KUBEXEC_REC_IMAGE")  # a REC with kubectl (recapp's REC ships none)
    app = _env_image("RECAPP_K8S_APP_IMAGE", "localhost/recapp/app-mpi:trixie")
    spec = live_spec.model_copy(
        update={"name": f"kx-{secrets.token_hex(3)}", "rec_image": rec, "launcher": "kubexec"}
    )
    spec = load_spec(spec.model_dump(exclude={"namespace"}))  # namespace follows the new name
    backend = KubernetesBackend(live_api)
    try:
        assert backend.up(spec).ready
        record = _job(backend, spec, tmp_path, np=4, map_by="ppr:2:node", app=app, command=["hello"])
    finally:
        backend.down(spec.name)
    assert record.passed, (record.error, record.verification.reasons)
    assert sorted({r.host for r in record.ranks}) == o.node_pod_names(spec)
    assert {r.size for r in record.ranks} == {4}
