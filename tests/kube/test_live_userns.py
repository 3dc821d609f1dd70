"""`hostUsers: false` node pods on a live cluster (issue 15): a nested job runs when the REC's
subordinate ids fit inside the pod's 65536 ids, and recapp says why in one line when they do not.

A user-namespaced pod maps ids 0..65535 only. The default REC gives rec the range 100000+65536
(/etc/subuid), so nested podman's newuidmap is refused ("write to uid_map failed"). A REC whose
range is 1000+64536 (inside, clear of rec's own 998) runs the APP nested.

Needs KUBECONFIG, RECAPP_K8S_REC_IMAGE (the default REC), and for the fitting REC either
RECAPP_K8S_USERNS_REC_IMAGE (one the cluster runs) or the local cluster of `make kube-up`, into
whose containerd this test loads one it derives from the default REC (and removes it after).
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from recapp.k8s import objects as o
from recapp.k8s.jobs import JobRequest, run_job
from recapp.k8s.kubernetes.backend import KubernetesBackend
from recapp.k8s.spec import ClusterSpec, load_spec
from tests.conftest import RunRecapp

pytestmark = pytest.mark.k8s

ROOT = Path(__file__).resolve().parents[2]
LOCALKUBE = ROOT / "k8s" / "localkube"
DERIVED = "localhost/recapp-test/rec-userns:trixie"
APP = os.environ.get("RECAPP_K8S_APP_IMAGE", "localhost/recapp/app-mpi:trixie")


def _spec(rec: str) -> ClusterSpec:
    data: dict[str, Any] = {
        "name": f"uns-{secrets.token_hex(3)}",
        "nodes": 2,
        "slots_per_node": 2,
        "rec_image": rec,
        "storage": os.environ.get("RECAPP_K8S_STORAGE", "emptyDir"),
        "image_pull_policy": os.environ.get("RECAPP_K8S_PULL_POLICY", "IfNotPresent"),
        "user_namespace": True,
        "ready_timeout_s": 600,
    }
    if os.environ.get("RECAPP_K8S_SECCOMP_PROFILE"):
        data["seccomp_localhost_profile"] = os.environ["RECAPP_K8S_SECCOMP_PROFILE"]
    return load_spec(data)


def _default_rec() -> str:
    image = os.environ.get("RECAPP_K8S_REC_IMAGE", "")
    if not image:
        pytest.skip("needs RECAPP_K8S_REC_IMAGE: a REC image the live cluster can run")
    return image


def test_default_rec_in_a_user_namespaced_pod_is_one_line_naming_the_ids(
    live_api: Any, run_recapp: RunRecapp
) -> None:
    spec = _spec(_default_rec())
    backend = KubernetesBackend(live_api)
    try:
        assert backend.up(spec).ready
        pod = client.CoreV1Api(live_api).read_namespaced_pod(o.node_pod_names(spec)[0], spec.namespace)
        assert pod.spec.host_users is False
        result = run_recapp(
            *("run", "--backend", "kubernetes", "--kubeconfig", os.environ["KUBECONFIG"]),
            *("--cluster", spec.name, "--app", APP, "--np", "2", "--", "hello"),
            timeout=300,
        )
        line = result.error_line()
    finally:
        backend.down(spec.name)
    assert "nested podman does not run: the REC's subordinate ids (100000-165535) lie outside" in line, line
    assert "newuidmap's write to uid_map is refused" in line, line


@pytest.fixture(scope="module")
def fitting_rec() -> Iterator[str]:
    given = os.environ.get("RECAPP_K8S_USERNS_REC_IMAGE")
    if given:
        yield given
        return
    kube_ctr = Path(os.environ.get("KUBE_BIN", "/root/.cache/recapp/kube/v1.37.2/bin")) / "ctr"
    if not kube_ctr.exists() or shutil.which("podman") is None:
        pytest.skip(
            "needs RECAPP_K8S_USERNS_REC_IMAGE, or the local cluster of make kube-up to load one into"
        )
    base = _default_rec()
    containerfile = (
        f"FROM {base}\nUSER root\n"
        'RUN echo "rec:1000:64536" > /etc/subuid && echo "rec:1000:64536" > /etc/subgid\n'
        "USER 998:995\n"
    )
    subprocess.run(["podman", "build", "-q", "-t", DERIVED, "-f", "-"], input=containerfile, text=True,
                   check=True, capture_output=True, timeout=600)  # fmt: skip
    try:
        subprocess.run([str(LOCALKUBE / "load-image"), DERIVED], check=True, capture_output=True, timeout=900)
        yield DERIVED
    finally:
        sock = "/run/recapp-kube/containerd/containerd.sock"
        subprocess.run([str(kube_ctr), "--address", sock, "-n", "k8s.io", "images", "rm", DERIVED],
                       capture_output=True, check=False, timeout=120)  # fmt: skip
        subprocess.run(["podman", "rmi", DERIVED], capture_output=True, check=False, timeout=120)


def test_user_namespaced_pods_run_a_nested_job_with_a_fitting_rec(
    live_api: Any, fitting_rec: str, tmp_path: Path
) -> None:
    spec = _spec(fitting_rec)
    backend = KubernetesBackend(live_api)
    try:
        assert backend.up(spec).ready
        node = o.node_pod_names(spec)[0]
        status, out = backend.node_exec(spec.name, node, ["cat", "/proc/self/uid_map"])
        inside, outside, count = (int(x) for x in out.split()[:3])
        assert status == 0 and inside == 0 and outside != 0 and count == 65536, out  # its own user namespace
        status, out = backend.node_exec(spec.name, node, ["podman", "unshare", "cat", "/proc/self/uid_map"])
        assert status == 0 and "1000" in out.split() and "64536" in out.split(), out
        record = run_job(
            backend,
            JobRequest(
                cluster=spec.name,
                np=4,
                map_by="ppr:2:node",
                app=APP,
                command=["hello"],
                timeout_s=900,
                record_path=tmp_path / "record.json",
            ),
        )
    finally:
        backend.down(spec.name)
    assert record.passed, (record.error, record.verification.reasons)
    assert sorted({r.host for r in record.ranks}) == o.node_pod_names(spec)
    assert {r.size for r in record.ranks} == {4}
