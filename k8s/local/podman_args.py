"""Pod template → `podman run` arguments: how the local backend realises the rendered objects.

Pure: the same template and placement give the same argv. Whatever the template asks for that one
machine cannot honour safely (privileged, host namespaces, hostPath, env from the API) is refused
rather than silently dropped, so the local run never differs from the manifests unnoticed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recapp.errors import ClusterError
from recapp.k8s.validate import HOST_NAMESPACES

Obj = Mapping[str, Any]


@dataclass(frozen=True)
class Placement:
    """Where one pod lands on this machine."""

    pod: str  # container name = pod name, e.g. demo-node-0
    hostname: str
    network: str
    aliases: Sequence[str] = ()
    # volume name → podman mount source: a named volume, or an absolute host path (secrets)
    volume_sources: Mapping[str, str] = field(default_factory=dict)
    extra_labels: Mapping[str, str] = field(default_factory=dict)
    ulimit_args: Sequence[str] = ()


def _container(template: Obj, name: str) -> Obj:
    for container in template["spec"].get("containers", []):
        if container["name"] == name:
            found: Obj = container
            return found
    raise ClusterError(f"pod template has no container {name!r}")


def _refuse_host_access(pod_spec: Obj) -> None:
    for key in HOST_NAMESPACES:
        if pod_spec.get(key):
            raise ClusterError(f"pod template sets {key}: the local backend refuses host namespaces")
    for vol in pod_spec.get("volumes", []) or []:
        if "hostPath" in vol:
            raise ClusterError(f"pod template volume {vol['name']!r} is a hostPath: refused")


def user_args(pod_spec: Obj, container: Obj) -> list[str]:
    psc = pod_spec.get("securityContext", {}) or {}
    csc = container.get("securityContext", {}) or {}
    uid = csc.get("runAsUser", psc.get("runAsUser"))
    gid = csc.get("runAsGroup", psc.get("runAsGroup"))
    non_root = csc.get("runAsNonRoot", psc.get("runAsNonRoot"))
    args: list[str] = []
    if uid is not None:
        if non_root and int(uid) == 0:
            raise ClusterError("pod template: runAsNonRoot with runAsUser 0")
        args += ["--user", f"{uid}:{gid}" if gid is not None else str(uid)]
    fs_group = psc.get("fsGroup")
    if fs_group is not None and fs_group != gid:
        args += ["--group-add", str(fs_group)]
    return args


def security_args(pod_spec: Obj, container: Obj) -> list[str]:
    csc = container.get("securityContext", {}) or {}
    if csc.get("privileged"):
        raise ClusterError(f"container {container['name']!r} is privileged: the local backend refuses it")
    args: list[str] = []
    if csc.get("allowPrivilegeEscalation") is False:
        args += ["--security-opt", "no-new-privileges"]
    caps = csc.get("capabilities", {}) or {}
    for cap in caps.get("drop", []) or []:
        args += ["--cap-drop", cap]
    for cap in caps.get("add", []) or []:
        args += ["--cap-add", cap]
    seccomp = (
        csc.get("seccompProfile") or (pod_spec.get("securityContext", {}) or {}).get("seccompProfile")
    ) or {}
    kind = seccomp.get("type", "RuntimeDefault")
    if kind == "Unconfined":
        raise ClusterError("pod template asks for seccomp Unconfined: refused")
    if kind == "Localhost":
        args += ["--security-opt", f"seccomp={local_profile(seccomp['localhostProfile'])}"]
    return args


# The local backend's counterpart of the kubelet's seccomp directory: the profiles recapp ships.
SECCOMP_DIR = Path(__file__).resolve().parent.parent / "seccomp"


def local_profile(name: str) -> Path:
    """A Localhost profile name (relative, as the kubelet takes it) → the shipped file of that name,
    so `--seccomp-profile recapp-nested-podman.json` means the same file locally and on a cluster."""
    path = SECCOMP_DIR / name
    if not path.is_file():
        known = ", ".join(sorted(p.name for p in SECCOMP_DIR.glob("*.json"))) or "none"
        raise ClusterError(f"seccomp profile {name!r}: not in {SECCOMP_DIR} (known: {known})")
    return path


def env_args(container: Obj) -> list[str]:
    args: list[str] = []
    for item in container.get("env", []) or []:
        if "value" not in item:
            raise ClusterError(f"env {item['name']!r} uses valueFrom, which the local backend cannot resolve")
        args += ["--env", f"{item['name']}={item['value']}"]
    return args


def volume_args(pod_spec: Obj, container: Obj, placement: Placement) -> list[str]:
    volumes = {v["name"]: v for v in pod_spec.get("volumes", []) or []}
    args: list[str] = []
    for mount in container.get("volumeMounts", []) or []:
        name, path = mount["name"], mount["mountPath"]
        vol = volumes.get(name, {})
        if vol.get("emptyDir", {}).get("medium") == "Memory" and path == "/dev/shm":
            limit = vol["emptyDir"].get("sizeLimit")
            args += ["--shm-size", _podman_size(limit) if limit else "1g"]
            continue
        source = placement.volume_sources.get(name)
        if source is None:
            raise ClusterError(f"pod {placement.pod}: no local source for volume {name!r}")
        options = "ro" if mount.get("readOnly") else "rw"
        args += ["--volume", f"{source}:{path}:{options}"]
    return args


def resource_args(container: Obj) -> list[str]:
    limits = (container.get("resources", {}) or {}).get("limits", {}) or {}
    args: list[str] = []
    if "cpu" in limits:
        args += ["--cpus", str(_cpus(limits["cpu"]))]
    if "memory" in limits:
        args += ["--memory", _podman_size(limits["memory"])]
    return args


def _cpus(quantity: str) -> float:
    text = str(quantity)
    return int(text[:-1]) / 1000 if text.endswith("m") else float(text)


def _podman_size(quantity: str) -> str:
    units = {"Ki": "k", "Mi": "m", "Gi": "g", "Ti": "t", "K": "k", "M": "m", "G": "g", "T": "t"}
    for suffix, unit in units.items():
        if str(quantity).endswith(suffix):
            return str(quantity)[: -len(suffix)] + unit
    return str(quantity)


def run_argv(template: Obj, container_name: str, placement: Placement) -> list[str]:
    """`podman run -d …` for one container of a pod template, placed on this machine."""
    pod_spec = template["spec"]
    _refuse_host_access(pod_spec)
    container = _container(template, container_name)
    labels = {**(template.get("metadata", {}).get("labels", {}) or {}), **placement.extra_labels}
    argv = [
        "podman",
        "run",
        "--detach",
        "--name",
        placement.pod,
        "--hostname",
        placement.hostname,
        "--network",
        placement.network,
        "--pull=never",
        *placement.ulimit_args,
    ]
    for alias in placement.aliases:
        argv += ["--network-alias", alias]
    for key in sorted(labels):
        argv += ["--label", f"{key}={labels[key]}"]
    argv += user_args(pod_spec, container)
    argv += security_args(pod_spec, container)
    argv += env_args(container)
    argv += volume_args(pod_spec, container, placement)
    argv += resource_args(container)
    if container.get("workingDir"):
        argv += ["--workdir", container["workingDir"]]
    command = container.get("command")
    if command:
        argv += ["--entrypoint", json.dumps(list(command))]
    argv.append(container["image"])
    argv += [str(a) for a in container.get("args", []) or []]
    return argv


def probe_command(template: Obj, container_name: str) -> list[str] | None:
    probe = (_container(template, container_name).get("readinessProbe") or {}).get("exec")
    return [str(a) for a in probe["command"]] if probe else None
