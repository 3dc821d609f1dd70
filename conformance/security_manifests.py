"""Security facts of Kubernetes manifests (plain dicts): what each pod asks for, and the RBAC scope.

Works on recapp's own objects (rendered from a cluster spec) or on any directory of YAML manifests,
so an operator can check what they are about to apply, edits included.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from recapp.errors import ConformanceError

# The baseline's capabilities, host namespaces and pod templates: one source, in the cluster room.
from recapp.k8s import validate
from recapp.k8s.validate import BASELINE_CAPABILITIES, HOST_NAMESPACES

Obj = Mapping[str, Any]

# RBAC grants that reach beyond a launcher's needs.
SENSITIVE_RESOURCES = frozenset({"secrets", "pods/exec", "pods/attach", "nodes", "*"})


@dataclass(frozen=True)
class PodTemplate:
    owner: str  # Kind/name of the object holding it
    spec: Obj  # the pod spec


def load_directory(directory: Path) -> list[dict[str, Any]]:
    """Every object (a mapping with apiVersion and kind) in the *.yaml/*.yml files under directory."""
    if not directory.is_dir():
        raise ConformanceError(f"manifests: {directory} is not a directory")
    objects: list[dict[str, Any]] = []
    patches = _kustomize_patches(directory)
    for path in sorted([*directory.rglob("*.yaml"), *directory.rglob("*.yml")]):
        if path.name.startswith("kustomization.") or path.resolve() in patches:
            continue
        try:
            docs = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ConformanceError(f"manifests: {path}: not valid YAML ({first})") from exc
        objects += [d for d in docs if isinstance(d, dict) and "apiVersion" in d and "kind" in d]
    if not objects:
        raise ConformanceError(f"manifests: no Kubernetes objects (apiVersion + kind) under {directory}")
    return objects


def _kustomize_patches(directory: Path) -> set[Path]:
    """Files kustomizations use as patches: fragments of objects, not objects (a render's overlays)."""
    found: set[Path] = set()
    for kustomization in [*directory.rglob("kustomization.yaml"), *directory.rglob("kustomization.yml")]:
        try:
            data = yaml.safe_load(kustomization.read_text(encoding="utf-8")) or {}
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        entries = [*(data.get("patches") or []), *(data.get("patchesStrategicMerge") or [])]
        for entry in entries:
            path = entry.get("path") if isinstance(entry, dict) else entry
            if isinstance(path, str):
                found.add((kustomization.parent / path).resolve())
    return found


def _name(obj: Obj) -> str:
    return f"{obj.get('kind')}/{(obj.get('metadata') or {}).get('name', '?')}"


def pod_templates(objects: Sequence[Obj]) -> Iterator[PodTemplate]:
    for owner, template in validate.pod_templates(objects):
        yield PodTemplate(owner, template.get("spec") or {})


def _containers(pod: Obj) -> list[Obj]:
    return [*(pod.get("initContainers") or []), *(pod.get("containers") or [])]


def capability_findings(template: PodTemplate) -> list[tuple[str, bool, str]]:
    """(container, ok, detail) per container: drops ALL and adds only baseline capabilities."""
    out = []
    for ctr in _containers(template.spec):
        caps = (ctr.get("securityContext") or {}).get("capabilities") or {}
        added = sorted(str(c).upper().removeprefix("CAP_") for c in caps.get("add") or [])
        drops_all = "ALL" in [str(c).upper() for c in caps.get("drop") or []]
        beyond = [c for c in added if c not in BASELINE_CAPABILITIES]
        detail = f"drop {'ALL' if drops_all else 'not ALL'}, add {', '.join(added) or 'nothing'}"
        if beyond:
            detail += f" (beyond the baseline: {', '.join(beyond)})"
        out.append((f"{template.owner} {ctr.get('name')}", drops_all and not beyond, detail))
    return out


def isolation_problems(template: PodTemplate) -> list[str]:
    """What breaks the pod's isolation from its node: privileged, host namespaces, hostPath, host ports."""
    pod = template.spec
    problems = [f"{key}: true" for key in HOST_NAMESPACES if pod.get(key)]
    problems += [f"hostPath volume {v.get('name')}" for v in pod.get("volumes") or [] if "hostPath" in v]
    psc = pod.get("securityContext") or {}
    for ctr in _containers(pod):
        sc = ctr.get("securityContext") or {}
        if sc.get("privileged"):
            problems.append(f"container {ctr.get('name')} privileged")
        if sc.get("runAsUser", psc.get("runAsUser")) == 0 or not sc.get(
            "runAsNonRoot", psc.get("runAsNonRoot", False)
        ):
            problems.append(f"container {ctr.get('name')} may run as root (runAsNonRoot not set)")
        problems += [
            f"container {ctr.get('name')} hostPort {p['hostPort']}"
            for p in ctr.get("ports") or []
            if p.get("hostPort")
        ]
    return problems


def isolation_summary(template: PodTemplate) -> str:
    pod = template.spec
    token = pod.get("automountServiceAccountToken")
    escalation = sorted(
        {
            str((c.get("securityContext") or {}).get("allowPrivilegeEscalation", "unset"))
            for c in _containers(pod)
        }
    )
    return (
        f"not privileged, no host namespaces or hostPath; API token {'mounted' if token else 'not mounted'};"
        f" allowPrivilegeEscalation {'/'.join(escalation)}"
    )


@dataclass(frozen=True)
class RbacFinding:
    subject: str
    ok: bool
    detail: str


def rbac_findings(objects: Sequence[Obj]) -> list[RbacFinding]:
    """Cluster-wide roles/bindings, wildcards and sensitive grants fail; namespaced least privilege passes."""
    out: list[RbacFinding] = []
    for obj in objects:
        kind = obj.get("kind")
        if kind == "ClusterRoleBinding":
            out.append(RbacFinding(_name(obj), False, "cluster-wide binding: grants reach every namespace"))
        if kind not in ("Role", "ClusterRole"):
            continue
        grants: list[str] = []
        wide: list[str] = []
        for rule in obj.get("rules") or []:
            resources = [str(r) for r in rule.get("resources") or []]
            verbs = [str(v) for v in rule.get("verbs") or []]
            grants.append(f"{','.join(resources)}: {','.join(verbs)}")
            if "*" in verbs or "*" in (rule.get("apiGroups") or []):
                wide.append("wildcard")
            wide += [r for r in resources if r in SENSITIVE_RESOURCES]
        namespace = (obj.get("metadata") or {}).get("namespace", "")
        if kind == "ClusterRole":
            where = "cluster-wide"
        else:
            where = f"namespace {namespace}" if namespace else "its namespace"
        detail = f"{where}; " + "; ".join(grants)
        # pods/exec is what the kubexec launcher exists for: reported, not failed, when it is the only one.
        failing = [w for w in wide if w != "pods/exec"]
        if "pods/exec" in wide and not failing:
            detail += " (pods/exec: the kubexec launcher's need)"
        elif failing:
            detail += f" (too wide: {', '.join(sorted(set(failing)))})"
        out.append(RbacFinding(_name(obj), kind == "Role" and not failing, detail))
    return out


# --- the launch path's hardening (issue 15) --------------------------------------------------------


def pod_security_findings(objects: Sequence[Obj]) -> list[RbacFinding]:
    """Each Namespace enforces a Pod Security level (baseline or restricted)."""
    out = []
    for obj in objects:
        if obj.get("kind") != "Namespace":
            continue
        labels = (obj.get("metadata") or {}).get("labels") or {}
        level = labels.get("pod-security.kubernetes.io/enforce")
        ok = level in ("baseline", "restricted")
        out.append(RbacFinding(_name(obj), ok, f"enforce: {level or 'none (any pod is admitted)'}"))
    return out


def exec_scope_findings(objects: Sequence[Obj]) -> list[RbacFinding]:
    """pods/exec, where granted, is limited to named pods (resourceNames)."""
    out = []
    for obj in objects:
        if obj.get("kind") not in ("Role", "ClusterRole"):
            continue
        for rule in obj.get("rules") or []:
            if "pods/exec" not in (rule.get("resources") or []):
                continue
            names = list(rule.get("resourceNames") or [])
            detail = (
                f"pods/exec on {', '.join(names)}" if names else "pods/exec on every pod of the namespace"
            )
            out.append(RbacFinding(_name(obj), bool(names), detail))
    return out


def token_findings(template: PodTemplate) -> tuple[bool, str]:
    """The API token is not automounted; where a container needs one, only that container mounts it."""
    pod = template.spec
    if pod.get("automountServiceAccountToken") is not False:
        return False, "automountServiceAccountToken not false: every container gets the API token"
    token_volumes = {
        v.get("name")
        for v in pod.get("volumes") or []
        if any("serviceAccountToken" in s for s in (v.get("projected") or {}).get("sources") or [])
    }
    holders = [
        str(c.get("name"))
        for c in _containers(pod)
        if any(m.get("name") in token_volumes for m in c.get("volumeMounts") or [])
    ]
    return True, f"API token only in: {', '.join(holders)}" if holders else "no API token in any container"


def network_policy_findings(objects: Sequence[Obj]) -> list[RbacFinding]:
    """Every NetworkPolicy limits ingress and egress, and selects pods by more than shared labels."""
    out = []
    policies = [o for o in objects if o.get("kind") == "NetworkPolicy"]
    for policy in policies:
        spec = policy.get("spec") or {}
        types = spec.get("policyTypes") or []
        by_name = bool((spec.get("podSelector") or {}).get("matchExpressions")) or any(
            "job-name" in k for k in ((spec.get("podSelector") or {}).get("matchLabels") or {})
        )
        problems = [f"no {t}" for t in ("Ingress", "Egress") if t not in types]
        if not by_name:
            problems.append("selects pods by shared labels only")
        detail = "; ".join(problems) or f"{'/'.join(types)}; pods selected by their controller-given names"
        out.append(RbacFinding(_name(policy), not problems, detail))
    if not policies:
        out.append(RbacFinding("(manifests)", False, "no NetworkPolicy: every pod can reach the agents"))
    return out


def resource_findings(template: PodTemplate) -> tuple[bool, str]:
    """Every container has a memory limit (a runaway rank stops at its pod, not the machine)."""
    missing = [
        str(c.get("name"))
        for c in _containers(template.spec)
        if "memory" not in (((c.get("resources") or {}).get("limits")) or {})
    ]
    if missing:
        return False, f"no memory limit: {', '.join(missing)}"
    return True, "every container has a memory limit"
