"""Check cluster objects before anything is applied: Kubernetes OpenAPI schemas, and Pod Security.

- `schema_violations`: every object against the OpenAPI schemas (strict: unknown fields fail) that
  the `kubernetes-validate` package ships, for Kubernetes 1.29 and the newest version it has.
- `pss_baseline_violations`: the Pod Security Standards *baseline* profile as a pure function over
  one pod spec (the controls of https://kubernetes.io/docs/concepts/security/pod-security-standards/).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from recapp.errors import ClusterError

OLDEST_VERSION = "1.29"

# --- schema validation ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SchemaViolation:
    version: str
    kind: str
    name: str
    path: str  # dotted path inside the object, e.g. spec.template.spec.containers.0.image
    message: str

    def __str__(self) -> str:
        return (
            f"{self.kind}/{self.name} (Kubernetes {self.version}): {self.path or '(object)'}: {self.message}"
        )


def _kubernetes_validate() -> Any:
    try:
        import kubernetes_validate  # a dev/CI dependency; only schema checks need it
    except ImportError as exc:
        raise ClusterError(
            "schema check: kubernetes-validate is not installed (pip install 'recapp[dev]')"
        ) from exc
    return kubernetes_validate


def schema_versions() -> tuple[str, ...]:
    """The versions checked: 1.29 (oldest supported) and the newest kubernetes-validate ships."""
    newest = _kubernetes_validate().latest_version()
    return (OLDEST_VERSION, newest) if newest != OLDEST_VERSION else (OLDEST_VERSION,)


def schema_violations(
    objects: Iterable[Mapping[str, Any]], versions: Iterable[str] | None = None
) -> list[SchemaViolation]:
    """Every object against the strict OpenAPI schema of each version; [] when all are valid."""
    kv = _kubernetes_validate()
    out: list[SchemaViolation] = []
    for version in tuple(versions) if versions is not None else schema_versions():
        for obj in objects:
            kind = str(obj.get("kind", "?"))
            name = str(obj.get("metadata", {}).get("name", "?"))
            try:
                kv.validate(dict(obj), version, strict=True)
            except kv.ValidationError as exc:
                path = ".".join(str(p) for p in exc.path)
                out.append(SchemaViolation(version, kind, name, path, exc.message.splitlines()[0]))
            except kv.SchemaNotFoundError as exc:
                out.append(SchemaViolation(version, kind, name, "", exc.message))
    return out


# --- Pod Security Standards: baseline -------------------------------------------------------------

# Capabilities a baseline pod may add. SETUID and SETGID are in it (nested podman needs them).
BASELINE_CAPABILITIES = frozenset(
    {
        "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
        "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
    }
)  # fmt: skip
# The "safe" sysctls, as of the newest baseline (some were added in 1.27 and 1.29).
BASELINE_SYSCTLS = frozenset(
    {
        "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
    }
)  # fmt: skip
BASELINE_SELINUX_TYPES = frozenset(
    {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
)
HOST_NAMESPACES = ("hostNetwork", "hostPID", "hostIPC")
_APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"
_CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")


@dataclass(frozen=True)
class PssViolation:
    rule: str  # the control's name in the Pod Security Standards, e.g. "Capabilities"
    field: str  # where, e.g. spec.containers[node].securityContext.capabilities.add
    detail: str

    def __str__(self) -> str:
        return f"PSS baseline '{self.rule}': {self.field}: {self.detail}"


def _containers(pod_spec: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for list_name in _CONTAINER_LISTS:
        for container in pod_spec.get(list_name) or []:
            yield f"spec.{list_name}[{container.get('name', '?')}]", container


def _security_contexts(pod_spec: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """The pod's securityContext and every container's, with where each is."""
    yield "spec.securityContext", pod_spec.get("securityContext") or {}
    for where, container in _containers(pod_spec):
        yield f"{where}.securityContext", container.get("securityContext") or {}


def _check_host_process(pod_spec: Mapping[str, Any]) -> Iterator[PssViolation]:
    for where, sc in _security_contexts(pod_spec):
        if (sc.get("windowsOptions") or {}).get("hostProcess"):
            yield PssViolation("HostProcess", f"{where}.windowsOptions.hostProcess", "must not be true")


def _check_host_namespaces(pod_spec: Mapping[str, Any]) -> Iterator[PssViolation]:
    for key in HOST_NAMESPACES:
        if pod_spec.get(key):
            yield PssViolation("Host Namespaces", f"spec.{key}", "must not be true")


def _check_privileged(pod_spec: Mapping[str, Any]) -> Iterator[PssViolation]:
    for where, container in _containers(pod_spec):
        if (container.get("securityContext") or {}).get("privileged"):
            yield PssViolation(
                "Privileged Containers", f"{where}.securityContext.privileged", "must not be true"
            )


def _check_capabilities(pod_spec: Mapping[str, Any]) -> Iterator[PssViolation]:
    for where, container in _containers(pod_spec):
        added = ((container.get("securityContext") or {}).get("capabilities") or {}).get("add") or []
        extra = sorted(
            str(cap) for cap in added if str(cap).upper().removeprefix("CAP_") not in BASELINE_CAPABILITIES
        )
        if extra:
            yield PssViolation(
                "Capabilities",
                f"{where}.securityContext.capabilities.add",
                f"not allowed: {', '.join(extra)}",
            )


def _check_host_path(pod_spec: Mapping[str, Any]) -> Iterator[PssViolation]:
    for volume in pod_spec.get("volumes") or []:
        if "hostPath" in volume:
            yield PssViolation(
                "HostPath Volumes", f"spec.volumes[{volume.get('name', '?')}].hostPath", "not allowed"
            )


def _check_host_ports(pod_spec: Mapping[str, Any]) -> Iterator[PssViolation]:
    for where, container in _containers(pod_spec):
        for port in container.get("ports") or []:
            if port.get("hostPort"):
                yield PssViolation(
                    "Host Ports", f"{where}.ports.hostPort", f"must be 0 or unset (got {port['hostPort']})"
                )


def _check_apparmor(pod_spec: Mapping[str, Any], annotations: Mapping[str, str]) -> Iterator[PssViolation]:
    for key, value in annotations.items():
        if (
            key.startswith(_APPARMOR_ANNOTATION)
            and value != "runtime/default"
            and not value.startswith("localhost/")
        ):
            yield PssViolation(
                "AppArmor",
                f"metadata.annotations[{key}]",
                f"must be runtime/default or localhost/* (got {value!r})",
            )
    for where, sc in _security_contexts(pod_spec):
        profile_type = (sc.get("appArmorProfile") or {}).get("type")
        if profile_type not in (None, "RuntimeDefault", "Localhost"):
            yield PssViolation(
                "AppArmor",
                f"{where}.appArmorProfile.type",
                f"must be RuntimeDefault or Localhost (got {profile_type!r})",
            )


def _check_selinux(pod_spec: Mapping[str, Any]) -> Iterator[PssViolation]:
    for where, sc in _security_contexts(pod_spec):
        options = sc.get("seLinuxOptions") or {}
        if options.get("type", "") not in BASELINE_SELINUX_TYPES:
            yield PssViolation("SELinux", f"{where}.seLinuxOptions.type", f"not allowed: {options['type']!r}")
        for key in ("user", "role"):
            if options.get(key):
                yield PssViolation("SELinux", f"{where}.seLinuxOptions.{key}", "must be unset")


def _check_proc_mount(pod_spec: Mapping[str, Any]) -> Iterator[PssViolation]:
    for where, container in _containers(pod_spec):
        proc_mount = (container.get("securityContext") or {}).get("procMount")
        if proc_mount not in (None, "Default"):
            yield PssViolation(
                "/proc Mount Type",
                f"{where}.securityContext.procMount",
                f"must be Default (got {proc_mount!r})",
            )


def _check_seccomp(pod_spec: Mapping[str, Any]) -> Iterator[PssViolation]:
    for where, sc in _security_contexts(pod_spec):
        if (sc.get("seccompProfile") or {}).get("type") == "Unconfined":
            yield PssViolation("Seccomp", f"{where}.seccompProfile.type", "must not be Unconfined")


def _check_sysctls(pod_spec: Mapping[str, Any]) -> Iterator[PssViolation]:
    for sysctl in (pod_spec.get("securityContext") or {}).get("sysctls") or []:
        if sysctl.get("name") not in BASELINE_SYSCTLS:
            yield PssViolation(
                "Sysctls", "spec.securityContext.sysctls", f"unsafe sysctl {sysctl.get('name')!r}"
            )


def pss_baseline_violations(
    pod_spec: Mapping[str, Any], annotations: Mapping[str, str] | None = None
) -> list[PssViolation]:
    """Violations of the Pod Security *baseline* by one pod spec (and its pod's annotations, for
    AppArmor); [] when the pod would be admitted under `pod-security.kubernetes.io/enforce: baseline`."""
    checks: list[Iterator[PssViolation]] = [
        _check_host_process(pod_spec),
        _check_host_namespaces(pod_spec),
        _check_privileged(pod_spec),
        _check_capabilities(pod_spec),
        _check_host_path(pod_spec),
        _check_host_ports(pod_spec),
        _check_apparmor(pod_spec, annotations or {}),
        _check_selinux(pod_spec),
        _check_proc_mount(pod_spec),
        _check_seccomp(pod_spec),
        _check_sysctls(pod_spec),
    ]
    return [violation for check in checks for violation in check]


def pod_templates(objects: Iterable[Mapping[str, Any]]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(`Kind/name`, pod template: metadata + spec) for every object that makes pods.

    Tolerant of missing parts (an empty template), so the security report can read hand-edited manifests.
    """
    for obj in objects:
        kind, name = obj.get("kind"), (obj.get("metadata") or {}).get("name", "?")
        spec = obj.get("spec") or {}
        if kind == "Pod":
            yield f"Pod/{name}", obj
        elif kind in ("StatefulSet", "Deployment", "DaemonSet", "ReplicaSet", "Job"):
            yield f"{kind}/{name}", spec.get("template") or {}
        elif kind == "CronJob":
            yield f"{kind}/{name}", ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}


def check_objects(objects: list[Mapping[str, Any]], versions: Iterable[str] | None = None) -> None:
    """Raise ClusterError naming the first problem if any object fails its schema or the PSS baseline."""
    schema = schema_violations(objects, versions)
    if schema:
        more = f" (and {len(schema) - 1} more)" if len(schema) > 1 else ""
        raise ClusterError(f"cluster objects: {schema[0]}{more}")
    for where, template in pod_templates(objects):
        pss = pss_baseline_violations(
            template.get("spec") or {}, (template.get("metadata") or {}).get("annotations")
        )
        if pss:
            raise ClusterError(f"cluster objects: {where}: {pss[0]}")
