"""Write the cluster's objects as a kustomize layout, so `kubectl apply -k` deploys the same cluster.

    <out>/
      .recapp-render            marker: recapp wrote this directory and may rewrite it
      base/                     one YAML per object + kustomization.yaml; the agent Secret comes from
        agent-secret            a secretGenerator reading this file (mode 0600)
        tls/                    and these: the cluster CA's certificate, node and launcher pairs (0600)
      overlays/agent/           the default launcher: base as is
      overlays/kubexec/         adds pods/exec to the Role, points PRRTE at the kubexec script

Output is byte-identical for identical input (spec + agent secret + TLS credentials). The agent
secret and the TLS files survive re-rendering: when none are given and base/ holds them, they are
kept, so a secret the user rotated stays rotated and the pods' certificates stay valid.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import yaml

from recapp.errors import ClusterError
from recapp.k8s import constants as c
from recapp.k8s import objects as o
from recapp.k8s import pki
from recapp.k8s.spec import ClusterSpec

MARKER_FILE = ".recapp-render"
AGENT_SECRET_FILE = "agent-secret"
TLS_DIR = "tls"
OVERLAYS = ("agent", "kubexec")
_OWNED_DIRS = ("base", "overlays")
_KUSTOMIZE_API = "kustomize.config.k8s.io/v1beta1"

_MARKER_TEXT = "Written by recapp (k8s render). recapp rewrites base/ and overlays/ here on every render.\n"


def _header(spec: ClusterSpec) -> str:
    return (
        f"# Virtual cluster '{spec.name}', written by recapp. Deploy with one overlay:\n"
        "#   kubectl apply -k overlays/agent      (launch agent; default)\n"
        "#   kubectl apply -k overlays/kubexec    (kubectl exec launcher)\n"
        f"# base/{AGENT_SECRET_FILE} is the launch agents' shared secret (mode 0600; keep it private).\n"
        "# To rotate it, write a new value (32+ characters, e.g. `openssl rand -hex 32`), re-apply, then\n"
        f"# restart the node pods (kubectl -n {spec.namespace} rollout restart statefulset "
        f"{o.node_statefulset_name(spec)})\n"
        f"# and the login pod (delete job {o.login_job_name(spec)}, re-apply). Re-rendering keeps the file.\n"
    )


def _dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, width=4096)


def overlay_dir(out_dir: Path, launcher: str) -> Path:
    """The overlay to `kubectl apply -k` for a launcher (podexec has none: it is local-only)."""
    if launcher not in OVERLAYS:
        raise ClusterError(
            f"launcher '{launcher}': no Kubernetes overlay (choose one of {', '.join(OVERLAYS)})"
        )
    return out_dir / "overlays" / launcher


def _resource_file_name(obj: dict[str, Any], objects: list[dict[str, Any]]) -> str:
    """`<kind>.yaml`, or `<kind>-<name>.yaml` for a kind the cluster has more than one of."""
    kind = obj["kind"].lower()
    if sum(other["kind"] == obj["kind"] for other in objects) > 1:
        return f"{kind}-{obj['metadata']['name']}.yaml"
    return f"{kind}.yaml"


def _base_files(spec: ClusterSpec, objects: list[dict[str, Any]], secret: str) -> dict[str, str]:
    resources = [obj for obj in objects if obj["kind"] != "Secret"]  # the Secret is generated, see below
    names = [_resource_file_name(obj, resources) for obj in resources]
    if len(set(names)) != len(names):
        raise ClusterError("render: two objects of one kind; file names would collide")
    files = {f"base/{name}": _dump(obj) for name, obj in zip(names, resources, strict=True)}
    secret_obj = o.find_object(objects, "Secret", c.COMPONENT_AGENT)
    tls = {k: v for k, v in o.agent_secret_files(objects).items() if k != c.AGENT_SECRET_KEY}
    tls_keys = sorted(tls)
    kustomization = {
        "apiVersion": _KUSTOMIZE_API,
        "kind": "Kustomization",
        "resources": names,
        "secretGenerator": [
            {
                "name": secret_obj["metadata"]["name"],
                "namespace": spec.namespace,
                "type": secret_obj["type"],
                "files": [f"{c.AGENT_SECRET_KEY}={AGENT_SECRET_FILE}"]
                + [f"{key}={TLS_DIR}/{key}" for key in tls_keys],
                "options": {
                    # A stable name: pods reference `<name>-agent`, and a Job's pod template cannot be
                    # changed after creation, so a hash suffix would make every rotation a redeploy.
                    "disableNameSuffixHash": True,
                    "labels": dict(secret_obj["metadata"]["labels"]),
                },
            }
        ],
    }
    files["base/kustomization.yaml"] = _header(spec) + _dump(kustomization)
    files[f"base/{AGENT_SECRET_FILE}"] = secret
    files.update({f"base/{TLS_DIR}/{key}": text for key, text in tls.items()})
    return files


def _kubexec_patches(spec: ClusterSpec, kubexec_objects: list[dict[str, Any]]) -> dict[str, str]:
    """Strategic-merge patches taking base (agent) to kubexec, cut from the kubexec objects themselves."""
    role = o.find_object(kubexec_objects, "Role", c.COMPONENT_RBAC)
    role_patch = {
        "apiVersion": role["apiVersion"],
        "kind": "Role",
        "metadata": {"name": role["metadata"]["name"], "namespace": spec.namespace},
        "rules": role["rules"],  # a list without merge key: the patch replaces the rules whole
    }
    job = o.find_object(kubexec_objects, "Job", c.COMPONENT_LOGIN)
    container = next(
        x for x in job["spec"]["template"]["spec"]["containers"] if x["name"] == c.LOGIN_CONTAINER
    )
    plm_env = [e for e in container["env"] if e["name"] == c.PLM_AGENT_ENV]
    token_mount = [m for m in container["volumeMounts"] if m["name"] == o.SA_TOKEN_VOLUME]
    job_patch = {
        "apiVersion": job["apiVersion"],
        "kind": "Job",
        "metadata": {"name": job["metadata"]["name"], "namespace": spec.namespace},
        # containers merge by name, env by name and volumeMounts by path: this variable and kubectl's
        # API token are all that change.
        "spec": {
            "template": {
                "spec": {
                    "containers": [{"name": c.LOGIN_CONTAINER, "env": plm_env, "volumeMounts": token_mount}]
                }
            }
        },
    }
    return {"role-rules.yaml": _dump(role_patch), "login-launcher.yaml": _dump(job_patch)}


def layout_files(spec: ClusterSpec, agent_secret: str, credentials: pki.ClusterCredentials) -> dict[str, str]:
    """Every file of the layout, relative path -> text (pure; `render_kustomize` writes them)."""
    agent_objects = o.cluster_objects(
        spec.model_copy(update={"launcher": "agent"}), agent_secret=agent_secret, credentials=credentials
    )
    kubexec_objects = o.cluster_objects(
        spec.model_copy(update={"launcher": "kubexec"}), agent_secret=agent_secret, credentials=credentials
    )
    files = _base_files(spec, agent_objects, agent_secret)
    files["overlays/agent/kustomization.yaml"] = _dump(
        {"apiVersion": _KUSTOMIZE_API, "kind": "Kustomization", "resources": ["../../base"]}
    )
    patches = _kubexec_patches(spec, kubexec_objects)
    for name, text in patches.items():
        files[f"overlays/kubexec/{name}"] = text
    files["overlays/kubexec/kustomization.yaml"] = _dump(
        {
            "apiVersion": _KUSTOMIZE_API,
            "kind": "Kustomization",
            "resources": ["../../base"],
            "patches": [{"path": name} for name in patches],
        }
    )
    return files


def _check_out_dir(out_dir: Path) -> bool:
    """True if out_dir holds an earlier render; raise if it is something recapp must not touch."""
    if not out_dir.exists():
        return False
    if not out_dir.is_dir():
        raise ClusterError(f"render: {out_dir} exists and is not a directory")
    if (out_dir / MARKER_FILE).is_file():
        return True
    if any(out_dir.iterdir()):
        raise ClusterError(f"render: {out_dir} is not empty and was not written by recapp (no {MARKER_FILE})")
    return False


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        os.fchmod(f.fileno(), 0o600)  # also when the file existed with a wider mode, whatever the umask
        f.write(text)


def _kept_credentials(spec: ClusterSpec, tls_dir: Path) -> pki.ClusterCredentials | None:
    """The TLS files of an earlier render, if they are complete for this spec's pods."""
    pods = o.node_pod_names(spec)
    keys = [c.TLS_CA_KEY, c.TLS_LAUNCHER_CERT_KEY, c.TLS_LAUNCHER_KEY_KEY]
    keys += [k for pod in pods for k in (o.node_cert_key(pod), o.node_key_key(pod))]
    if not all((tls_dir / key).is_file() for key in keys):
        return None
    read = {key: (tls_dir / key).read_bytes() for key in keys}
    try:
        return pki.credentials_from_files(read, pods)
    except ValueError as exc:
        raise ClusterError(f"render: {tls_dir}: {exc}") from exc


def render_kustomize(
    spec: ClusterSpec,
    out_dir: Path,
    *,
    agent_secret: str | None = None,
    credentials: pki.ClusterCredentials | None = None,
) -> list[Path]:
    """Write the kustomize layout for `spec` to out_dir and return the files written, sorted.

    Refuses a non-empty out_dir that recapp did not write. In one it did write, base/ and overlays/
    are replaced whole (no stale files). The agent secret is, in order: `agent_secret`, the existing
    base/agent-secret, a fresh one.
    """
    earlier = _check_out_dir(out_dir)
    secret_path = out_dir / "base" / AGENT_SECRET_FILE
    if agent_secret is None and earlier and secret_path.is_file():
        kept = secret_path.read_text(encoding="utf-8").strip()
        try:
            agent_secret = o.check_agent_secret(kept)
        except ClusterError as exc:
            raise ClusterError(f"render: {secret_path}: {exc}") from exc
    secret = o.check_agent_secret(agent_secret if agent_secret is not None else o.new_agent_secret())
    if credentials is None and earlier:
        credentials = _kept_credentials(spec, out_dir / "base" / TLS_DIR)
    files = layout_files(spec, secret, credentials or o.new_credentials(spec))

    out_dir.mkdir(parents=True, exist_ok=True)
    for owned in _OWNED_DIRS:
        target = out_dir / owned
        if target.is_symlink() or target.is_file():
            target.unlink()
        elif target.is_dir():
            shutil.rmtree(target)
    (out_dir / MARKER_FILE).write_text(_MARKER_TEXT, encoding="utf-8")
    written = [out_dir / MARKER_FILE]
    for rel, text in sorted(files.items()):
        path = out_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if rel == f"base/{AGENT_SECRET_FILE}" or rel.startswith(f"base/{TLS_DIR}/"):
            _write_private(path, text)
        else:
            path.write_text(text, encoding="utf-8")
        written.append(path)
    return sorted(written)
