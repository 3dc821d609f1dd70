"""The kustomize layout: reproducible bytes, ownership marker, private secret, and a real build."""

from __future__ import annotations

import base64
import copy
import shutil
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from recapp.errors import ClusterError
from recapp.k8s import objects as o
from recapp.k8s import pki, render
from recapp.k8s.spec import ClusterSpec
from recapp.k8s.validate import schema_versions, schema_violations

Make = Callable[..., ClusterSpec]
Obj = dict[str, Any]


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


# --- bytes and files -----------------------------------------------------------------------------------


def test_render_is_byte_identical_twice(
    spec: ClusterSpec, secret: str, credentials: pki.ClusterCredentials, tmp_path: Path
) -> None:
    render.render_kustomize(spec, tmp_path / "one", agent_secret=secret, credentials=credentials)
    render.render_kustomize(spec, tmp_path / "two", agent_secret=secret, credentials=credentials)
    one, two = tree_bytes(tmp_path / "one"), tree_bytes(tmp_path / "two")
    assert one == two
    assert (
        len(one) == 16 + 2 * 3 + 3
    )  # objects, kustomizations, patches, secret; TLS: 3 node pairs, CA, launcher


def test_rerender_in_place_is_identical_and_keeps_the_secret(spec: ClusterSpec, tmp_path: Path) -> None:
    # The TLS credentials are kept too: re-rendering must not invalidate running pods' certificates.
    out = tmp_path / "out"
    render.render_kustomize(spec, out)  # a fresh secret
    before = tree_bytes(out)
    render.render_kustomize(spec, out)  # no secret given: the existing one is kept
    assert tree_bytes(out) == before


def test_rotated_secret_survives_rerender(
    spec: ClusterSpec, secret: str, credentials: pki.ClusterCredentials, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    render.render_kustomize(spec, out, agent_secret=secret, credentials=credentials)
    rotated = "f" * 64
    (out / "base" / "agent-secret").write_text(rotated + "\n", encoding="utf-8")  # as `echo` would write it
    render.render_kustomize(spec, out)
    assert (out / "base" / "agent-secret").read_text(encoding="utf-8") == rotated


def test_a_broken_kept_secret_is_named(
    spec: ClusterSpec, secret: str, credentials: pki.ClusterCredentials, tmp_path: Path
) -> None:
    render.render_kustomize(spec, tmp_path, agent_secret=secret, credentials=credentials)
    (tmp_path / "base" / "agent-secret").write_text("too short", encoding="utf-8")
    with pytest.raises(ClusterError, match=r"^render: .*/base/agent-secret: agent secret: must be 32 to 512"):
        render.render_kustomize(spec, tmp_path)


def test_layout_files(
    spec: ClusterSpec, secret: str, credentials: pki.ClusterCredentials, tmp_path: Path
) -> None:
    written = render.render_kustomize(spec, tmp_path, agent_secret=secret, credentials=credentials)
    rel = sorted(str(p.relative_to(tmp_path)) for p in written)
    assert rel == [
        ".recapp-render",
        "base/agent-secret",
        "base/job.yaml",
        "base/kustomization.yaml",
        "base/namespace.yaml",
        "base/networkpolicy-demo-login.yaml",
        "base/networkpolicy-demo-node.yaml",
        "base/role.yaml",
        "base/rolebinding.yaml",
        "base/service.yaml",
        "base/serviceaccount.yaml",
        "base/statefulset.yaml",
        "base/tls/ca.crt",
        "base/tls/demo-node-0.crt",
        "base/tls/demo-node-0.key",
        "base/tls/demo-node-1.crt",
        "base/tls/demo-node-1.key",
        "base/tls/demo-node-2.crt",
        "base/tls/demo-node-2.key",
        "base/tls/launcher.crt",
        "base/tls/launcher.key",
        "overlays/agent/kustomization.yaml",
        "overlays/kubexec/kustomization.yaml",
        "overlays/kubexec/login-launcher.yaml",
        "overlays/kubexec/role-rules.yaml",
    ]


def test_secret_file_is_private_and_exact(
    spec: ClusterSpec, secret: str, credentials: pki.ClusterCredentials, tmp_path: Path
) -> None:
    render.render_kustomize(spec, tmp_path, agent_secret=secret, credentials=credentials)
    path = tmp_path / "base" / "agent-secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text(encoding="utf-8") == secret  # no newline: the Secret holds exactly the value
    assert not any(secret in p.read_text(encoding="utf-8") for p in tmp_path.rglob("*.yaml"))


def test_secret_file_mode_is_fixed_even_if_it_was_wider(
    spec: ClusterSpec, secret: str, credentials: pki.ClusterCredentials, tmp_path: Path
) -> None:
    render.render_kustomize(spec, tmp_path, agent_secret=secret, credentials=credentials)
    path = tmp_path / "base" / "agent-secret"
    path.chmod(0o644)
    render.render_kustomize(spec, tmp_path, agent_secret=secret, credentials=credentials)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_base_files_are_the_objects(
    spec: ClusterSpec, secret: str, credentials: pki.ClusterCredentials, tmp_path: Path
) -> None:
    render.render_kustomize(spec, tmp_path, agent_secret=secret, credentials=credentials)
    objects = o.cluster_objects(spec, agent_secret=secret, credentials=credentials)
    for obj in objects:
        if obj["kind"] == "Secret":
            continue
        name = f"{obj['kind'].lower()}.yaml"
        if obj["kind"] == "NetworkPolicy":
            name = f"networkpolicy-{obj['metadata']['name']}.yaml"
        assert load_yaml(tmp_path / "base" / name) == obj


def test_every_listed_resource_and_patch_exists(
    spec: ClusterSpec, secret: str, credentials: pki.ClusterCredentials, tmp_path: Path
) -> None:
    render.render_kustomize(spec, tmp_path, agent_secret=secret, credentials=credentials)
    for kustomization in tmp_path.rglob("kustomization.yaml"):
        data = load_yaml(kustomization)
        assert data["apiVersion"] == "kustomize.config.k8s.io/v1beta1" and data["kind"] == "Kustomization"
        for resource in data.get("resources", []):
            assert (kustomization.parent / resource).exists(), f"{kustomization}: {resource}"
        for patch in data.get("patches", []):
            assert (kustomization.parent / patch["path"]).is_file(), f"{kustomization}: {patch}"
        for generator in data.get("secretGenerator", []):
            for entry in generator["files"]:
                assert (kustomization.parent / entry.split("=", 1)[1]).is_file()
    generator = load_yaml(tmp_path / "base" / "kustomization.yaml")["secretGenerator"][0]
    assert generator["name"] == "demo-agent" and generator["namespace"] == "recapp-demo"
    assert generator["options"]["disableNameSuffixHash"] is True


def test_kubexec_patches_change_only_rbac_and_launcher(
    spec: ClusterSpec, secret: str, credentials: pki.ClusterCredentials, tmp_path: Path
) -> None:
    render.render_kustomize(spec, tmp_path, agent_secret=secret, credentials=credentials)
    role_patch = load_yaml(tmp_path / "overlays" / "kubexec" / "role-rules.yaml")
    assert {
        "apiGroups": [""],
        "resources": ["pods/exec"],
        "resourceNames": ["demo-node-0", "demo-node-1", "demo-node-2"],
        "verbs": ["create", "get"],
    } in role_patch["rules"]
    job_patch = load_yaml(tmp_path / "overlays" / "kubexec" / "login-launcher.yaml")
    assert job_patch["spec"]["template"]["spec"]["containers"] == [
        {
            "name": "login",
            "env": [{"name": "PRTE_MCA_plm_ssh_agent", "value": "/usr/local/bin/recapp-kubexec"}],
            "volumeMounts": [
                {
                    "name": "api-token",
                    "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                    "readOnly": True,
                }
            ],
        }
    ]
    base_role = load_yaml(tmp_path / "base" / "role.yaml")
    assert not any("pods/exec" in rule["resources"] for rule in base_role["rules"])


def test_base_is_the_agent_variant_whatever_the_spec_launcher(
    make_spec: Make, secret: str, credentials: pki.ClusterCredentials, tmp_path: Path
) -> None:
    render.render_kustomize(
        make_spec(launcher="kubexec"), tmp_path / "k", agent_secret=secret, credentials=credentials
    )
    render.render_kustomize(
        make_spec(launcher="agent"), tmp_path / "a", agent_secret=secret, credentials=credentials
    )
    assert tree_bytes(tmp_path / "k") == tree_bytes(tmp_path / "a")


# --- the out dir ---------------------------------------------------------------------------------------


def test_refuses_a_foreign_non_empty_dir(spec: ClusterSpec, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(
        ClusterError, match=r"is not empty and was not written by recapp \(no \.recapp-render\)"
    ):
        render.render_kustomize(spec, tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_refuses_a_file(spec: ClusterSpec, tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("x", encoding="utf-8")
    with pytest.raises(ClusterError, match=r"exists and is not a directory"):
        render.render_kustomize(spec, target)


def test_empty_dir_is_fine(
    spec: ClusterSpec, secret: str, credentials: pki.ClusterCredentials, tmp_path: Path
) -> None:
    render.render_kustomize(spec, tmp_path, agent_secret=secret, credentials=credentials)
    assert (tmp_path / ".recapp-render").is_file()


def test_rerender_removes_stale_files(
    spec: ClusterSpec, secret: str, credentials: pki.ClusterCredentials, tmp_path: Path
) -> None:
    render.render_kustomize(spec, tmp_path, agent_secret=secret, credentials=credentials)
    stale = tmp_path / "base" / "old-object.yaml"
    stale.write_text("kind: Old\n", encoding="utf-8")
    render.render_kustomize(spec, tmp_path, agent_secret=secret, credentials=credentials)
    assert not stale.exists()


def test_overlay_dir(tmp_path: Path) -> None:
    assert render.overlay_dir(tmp_path, "kubexec") == tmp_path / "overlays" / "kubexec"
    with pytest.raises(ClusterError, match=r"launcher 'podexec': no Kubernetes overlay"):
        render.overlay_dir(tmp_path, "podexec")


# --- a real kustomize build ----------------------------------------------------------------------------


def kustomize_argv() -> list[str] | None:
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    return None


needs_kustomize = pytest.mark.skipif(
    kustomize_argv() is None,
    reason="neither kubectl nor kustomize is on PATH (Debian: apt-get install kubernetes-client)",
)


def kustomize_build(path: Path) -> list[Obj]:
    argv = kustomize_argv()
    assert argv is not None
    proc = subprocess.run([*argv, str(path)], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return [doc for doc in yaml.safe_load_all(proc.stdout) if doc]


def normalised(objects: list[Obj]) -> dict[tuple[str, str], Obj]:
    """Objects keyed by (kind, name); Secrets as decoded `stringData` (kustomize writes base64 `data`,
    wrapped over lines); env lists in name order and mounts in path order (a strategic merge patch puts
    patched entries first, which changes nothing for the container)."""
    out: dict[tuple[str, str], Obj] = {}
    for obj in copy.deepcopy(objects):
        if obj["kind"] == "Secret" and "data" in obj:
            obj["stringData"] = {
                k: base64.b64decode("".join(v.split())).decode() for k, v in obj.pop("data").items()
            }
        template = obj.get("spec", {}).get("template", {}).get("spec", {})
        for ctr in [*template.get("initContainers", []), *template.get("containers", [])]:
            if "env" in ctr:
                ctr["env"] = sorted(ctr["env"], key=lambda e: e["name"])
            if "volumeMounts" in ctr:
                ctr["volumeMounts"] = sorted(ctr["volumeMounts"], key=lambda m: m["mountPath"])
        out[(obj["kind"], obj["metadata"]["name"])] = obj
    return out


@needs_kustomize
@pytest.mark.parametrize("launcher", ["agent", "kubexec"])
def test_kustomize_builds_exactly_the_objects(
    make_spec: Make, secret: str, credentials: pki.ClusterCredentials, tmp_path: Path, launcher: str
) -> None:
    spec = make_spec(launcher=launcher)
    render.render_kustomize(spec, tmp_path, agent_secret=secret, credentials=credentials)
    built = kustomize_build(render.overlay_dir(tmp_path, launcher))
    assert normalised(built) == normalised(
        o.cluster_objects(spec, agent_secret=secret, credentials=credentials)
    )


@needs_kustomize
def test_kustomize_output_passes_the_schemas(
    spec: ClusterSpec, secret: str, credentials: pki.ClusterCredentials, tmp_path: Path
) -> None:
    render.render_kustomize(spec, tmp_path, agent_secret=secret, credentials=credentials)
    for launcher in render.OVERLAYS:
        built = kustomize_build(render.overlay_dir(tmp_path, launcher))
        assert len(built) == 10
        assert schema_violations(built, schema_versions()) == []


def test_tls_files_are_private_and_hold_no_ca_key(
    spec: ClusterSpec, secret: str, credentials: pki.ClusterCredentials, tmp_path: Path
) -> None:
    render.render_kustomize(spec, tmp_path, agent_secret=secret, credentials=credentials)
    tls = sorted((tmp_path / "base" / "tls").iterdir())
    assert {stat.S_IMODE(p.stat().st_mode) for p in tls} == {0o600}
    keys = [p.name for p in tls if b"PRIVATE KEY" in p.read_bytes()]
    assert keys == ["demo-node-0.key", "demo-node-1.key", "demo-node-2.key", "launcher.key"]


def test_a_broken_kept_certificate_is_named(
    spec: ClusterSpec, secret: str, credentials: pki.ClusterCredentials, tmp_path: Path
) -> None:
    render.render_kustomize(spec, tmp_path, agent_secret=secret, credentials=credentials)
    (tmp_path / "base" / "tls" / "ca.crt").write_text("not a certificate", encoding="utf-8")
    with pytest.raises(ClusterError, match=r"^render: .*/base/tls: "):
        render.render_kustomize(spec, tmp_path)
