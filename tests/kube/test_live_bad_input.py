"""Bad input on a live cluster (issue 13): one line naming the cause, exit 2, nothing left behind.

- a REC image the kubelet cannot get (pull policy Never, image not in the node's runtime): the line
  names the image and the kubelet's reason, and what `up` created is deleted by default;
- a user who may not create namespaces (a ServiceAccount with no rights, its token in a kubeconfig
  made here): the line names the namespace and the missing permission, and nothing is created.

Needs KUBECONFIG (an admin of the cluster: the test makes and removes a ServiceAccount).
"""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tests.conftest import RunRecapp

pytestmark = pytest.mark.k8s

MISSING_IMAGE = "localhost/recapp/nope:x"


def _namespaces(api: Any) -> set[str]:
    return {n.metadata.name for n in client.CoreV1Api(api).list_namespace().items}


def test_rec_image_the_kubelet_cannot_get_is_one_line_and_removed(
    live_api: Any, run_recapp: RunRecapp
) -> None:
    name = f"badimg-{secrets.token_hex(3)}"
    result = run_recapp(
        *("cluster", "up", "--backend", "kubernetes", "--kubeconfig", os.environ["KUBECONFIG"]),
        *("--name", name, "--nodes", "1", "--rec", MISSING_IMAGE, "--pull-policy", "Never"),
        *("--storage", "emptyDir", "--timeout", "120"),
        timeout=300,
    )
    line = result.error_line()
    # The kubelet's own reason, the image, and what became of the objects.
    assert f"cannot pull image {MISSING_IMAGE}" in line, line
    assert "is not present with pull policy of Never" in line, line
    assert f"removed what this `up` created in recapp-{name}" in line, line
    assert f"recapp-{name}" not in _namespaces(live_api)


def test_keep_on_failure_keeps_the_cluster_for_a_look(live_api: Any, run_recapp: RunRecapp) -> None:
    name = f"badimg-{secrets.token_hex(3)}"
    kubeconfig = os.environ["KUBECONFIG"]
    try:
        result = run_recapp(
            *("cluster", "up", "--backend", "kubernetes", "--kubeconfig", kubeconfig, "--keep-on-failure"),
            *("--name", name, "--nodes", "1", "--rec", MISSING_IMAGE, "--pull-policy", "Never"),
            *("--storage", "emptyDir", "--timeout", "120"),
            timeout=300,
        )
        line = result.error_line()
        assert f"cannot pull image {MISSING_IMAGE}" in line and "cluster kept" in line, line
        assert f"recapp-{name}" in _namespaces(live_api)
    finally:
        down = run_recapp(
            "cluster", "down", "--backend", "kubernetes", "--kubeconfig", kubeconfig, "--name", name
        )
        assert down.returncode == 0, down.stderr
    assert f"recapp-{name}" not in _namespaces(live_api)


@pytest.fixture
def unprivileged_kubeconfig(live_api: Any, tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """(kubeconfig, user) for a ServiceAccount bound to nothing: it may not create or read namespaces."""
    core = client.CoreV1Api(live_api)
    home = f"rbac-probe-{secrets.token_hex(3)}"
    core.create_namespace(
        {"metadata": {"name": home, "labels": {"app.kubernetes.io/managed-by": "recapp-tests"}}}
    )
    try:
        core.create_namespaced_service_account(home, {"metadata": {"name": "nobody"}})
        token = core.create_namespaced_service_account_token(
            "nobody", home, {"spec": {"expirationSeconds": 600}}
        ).status.token
        admin = yaml.safe_load(Path(os.environ["KUBECONFIG"]).read_text())
        cluster = dict(admin["clusters"][0]["cluster"])
        if "certificate-authority" in cluster:  # inline the CA: the file is relative to the admin's
            ca = Path(cluster.pop("certificate-authority")).read_bytes()
            cluster["certificate-authority-data"] = base64.b64encode(ca).decode()
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "live", "cluster": cluster}],
            "users": [{"name": "nobody", "user": {"token": token}}],
            "contexts": [{"name": "nobody", "context": {"cluster": "live", "user": "nobody"}}],
            "current-context": "nobody",
        }
        path = tmp_path / "nobody.kubeconfig"
        path.write_text(yaml.safe_dump(config))
        path.chmod(0o600)
        yield path, f"system:serviceaccount:{home}:nobody"
    finally:
        core.delete_namespace(home)


def test_namespace_the_user_may_not_create_is_one_line_and_nothing_made(
    live_api: Any, run_recapp: RunRecapp, unprivileged_kubeconfig: tuple[Path, str]
) -> None:
    path, user = unprivileged_kubeconfig
    # The API server itself refuses this user namespaces (so the test is about the real RBAC).
    auth = client.AuthorizationV1Api(live_api)
    review = auth.create_subject_access_review(
        {"spec": {"user": user, "resourceAttributes": {"verb": "create", "resource": "namespaces"}}}
    )
    assert review.status.allowed is False
    name = f"nons-{secrets.token_hex(3)}"
    before = _namespaces(live_api)
    result = run_recapp(
        *("cluster", "up", "--backend", "kubernetes", "--kubeconfig", str(path), "--name", name),
        *("--nodes", "1", "--pull-policy", "Never", "--storage", "emptyDir"),
        timeout=120,
    )
    line = result.error_line()
    assert line.startswith("forbidden: create namespaces at cluster scope (RBAC)"), line
    assert f"cannot make namespace recapp-{name}" in line, line
    assert f"configmaps in recapp-{name} (RBAC)" in line, line
    assert _namespaces(live_api) == before
    with pytest.raises(ApiException) as gone:
        client.CoreV1Api(live_api).read_namespace(f"recapp-{name}")
    assert gone.value.status == 404
