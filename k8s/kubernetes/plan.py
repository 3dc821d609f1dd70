"""What the Kubernetes backend does, as pure functions: which API serves each kind, in what order
objects are created and deleted, where the spec is kept, and what a list of pods says about
readiness. kube.py only carries these plans out against the API.

The spec is kept in a ConfigMap `<name>-spec` (key `spec.json`) in the cluster's namespace, created
right after the Namespace: it is namespaced (no cluster-scope permission beyond creating the
Namespace), works when the namespace already existed and belongs to someone else, and goes away with
the other objects.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from recapp.errors import ClusterError
from recapp.k8s import constants as c
from recapp.k8s import objects as o
from recapp.k8s.backend import PodStatus
from recapp.k8s.kubernetes.errors import PodProblem, as_dict, pod_problem
from recapp.k8s.spec import ClusterSpec, spec_error
from recapp.node import pods as node_pods

Obj = dict[str, Any]

SPEC_CONFIG_MAP_SUFFIX = "-spec"
SPEC_KEY = "spec.json"


@dataclass(frozen=True)
class KindApi:
    """How the official client reaches one kind: `<api>(client).create_<suffix>(…)` and so on."""

    kind: str
    api: str  # class name in kubernetes.client
    suffix: str  # method suffix: create_<suffix>, read_<suffix>, delete_<suffix>, list_<suffix>
    plural: str  # the resource name RBAC speaks of
    namespaced: bool = True


# In creation order. Namespace first, the spec ConfigMap right after it (so a half-made cluster can
# still be found and removed), identity and RBAC before the pods that use them, the node pods before
# the login pod that waits for them.
KINDS: dict[str, KindApi] = {
    k.kind: k
    for k in (
        KindApi("Namespace", "CoreV1Api", "namespace", "namespaces", namespaced=False),
        KindApi("ConfigMap", "CoreV1Api", "namespaced_config_map", "configmaps"),
        KindApi("ServiceAccount", "CoreV1Api", "namespaced_service_account", "serviceaccounts"),
        KindApi("Role", "RbacAuthorizationV1Api", "namespaced_role", "roles"),
        KindApi("RoleBinding", "RbacAuthorizationV1Api", "namespaced_role_binding", "rolebindings"),
        KindApi("NetworkPolicy", "NetworkingV1Api", "namespaced_network_policy", "networkpolicies"),
        KindApi("Secret", "CoreV1Api", "namespaced_secret", "secrets"),
        KindApi("Service", "CoreV1Api", "namespaced_service", "services"),
        KindApi(
            "PersistentVolumeClaim",
            "CoreV1Api",
            "namespaced_persistent_volume_claim",
            "persistentvolumeclaims",
        ),
        KindApi("StatefulSet", "AppsV1Api", "namespaced_stateful_set", "statefulsets"),
        KindApi("Job", "BatchV1Api", "namespaced_job", "jobs"),
    )
}
CREATION_ORDER: tuple[str, ...] = tuple(KINDS)
# Kinds `down` looks for by label when it cannot delete the whole namespace (Namespace excluded).
NAMESPACED_KINDS: tuple[str, ...] = tuple(k for k in CREATION_ORDER if KINDS[k].namespaced)


@dataclass(frozen=True)
class PlannedObject:
    kind: str
    name: str
    namespace: str | None
    body: Obj

    @property
    def api(self) -> KindApi:
        return KINDS[self.kind]


# --- names ----------------------------------------------------------------------------------------


def namespace_for(name: str, hint: str | None = None) -> str:
    """The namespace cluster `name` lives in: the one given, else `recapp-<name>` (the spec default)."""
    return hint or f"{c.NAMESPACE_PREFIX}{name}"


def cluster_selector(name: str) -> str:
    """Label selector of every object and pod of cluster `name`."""
    return f"{c.LABEL_CLUSTER}={name}"


def spec_config_map_name(name: str) -> str:
    return f"{name}{SPEC_CONFIG_MAP_SUFFIX}"


def login_pod_selector(spec: ClusterSpec) -> str:
    return f"{c.LABEL_CLUSTER}={spec.name},{c.LABEL_COMPONENT}={c.COMPONENT_LOGIN}"


# --- the spec, kept in the cluster ----------------------------------------------------------------


def spec_config_map(spec: ClusterSpec) -> Obj:
    """The ConfigMap that keeps the spec a cluster was made from (read back by `spec(name)`)."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": spec_config_map_name(spec.name),
            "namespace": spec.namespace,
            "labels": o.labels(spec, c.COMPONENT_CLUSTER),
        },
        "data": {SPEC_KEY: spec.model_dump_json(indent=2) + "\n"},
    }


def spec_from_config_map(config_map: Mapping[str, Any]) -> ClusterSpec:
    meta = config_map.get("metadata") or {}
    text = (config_map.get("data") or {}).get(SPEC_KEY)
    where = f"ConfigMap {meta.get('namespace', '?')}/{meta.get('name', '?')}"
    if not text:
        raise ClusterError(f"{where} has no {SPEC_KEY}: it was not written by recapp")
    try:
        return ClusterSpec.model_validate_json(text)
    except ValidationError as exc:
        raise ClusterError(f"{where}: {spec_error(exc)}") from exc


def same_spec(stored: ClusterSpec, wanted: ClusterSpec) -> bool:
    return stored.model_dump() == wanted.model_dump()


# --- creation and deletion ------------------------------------------------------------------------


def backend_objects(spec: ClusterSpec, *, agent_secret: str | None = None) -> list[Obj]:
    """The rendered objects plus the spec ConfigMap: everything `up` creates."""
    return [*o.cluster_objects(spec, agent_secret=agent_secret), spec_config_map(spec)]


def creation_plan(objects: Iterable[Mapping[str, Any]]) -> list[PlannedObject]:
    """Objects in creation order (by kind, then name: the same plan whatever order they come in).
    Unknown kinds and duplicates are errors, so an object added to objects.py cannot be skipped silently."""
    planned: list[PlannedObject] = []
    seen: set[tuple[str, str, str | None]] = set()
    for obj in objects:
        kind = str(obj.get("kind"))
        if kind not in KINDS:
            raise ClusterError(f"kubernetes backend: no API for kind {kind!r} (add it to kube_plan.KINDS)")
        meta = obj.get("metadata") or {}
        name = meta.get("name")
        if not name:
            raise ClusterError(f"kubernetes backend: a {kind} without metadata.name")
        namespace = meta.get("namespace") if KINDS[kind].namespaced else None
        if KINDS[kind].namespaced and not namespace:
            raise ClusterError(f"kubernetes backend: {kind} {name} has no metadata.namespace")
        key = (kind, str(name), namespace)
        if key in seen:
            raise ClusterError(f"kubernetes backend: {kind} {name} appears twice")
        seen.add(key)
        planned.append(PlannedObject(kind, str(name), namespace, dict(obj)))
    return sorted(planned, key=lambda p: (CREATION_ORDER.index(p.kind), p.name))


def deletion_plan(found: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """(kind, name) pairs in deletion order: the reverse of creation (pods' owners first, RBAC last)."""
    unique = sorted(set(found), key=lambda kn: (-CREATION_ORDER.index(kn[0]), kn[1]))
    return unique


def is_owned_namespace(namespace: Mapping[str, Any], name: str) -> bool:
    """True if the Namespace object was made by recapp for cluster `name` (so `down` may delete it)."""
    labels = (namespace.get("metadata") or {}).get("labels") or {}
    return (
        labels.get(c.LABEL_CLUSTER) == name
        and labels.get(c.LABEL_MANAGED_BY) == c.MANAGED_BY
        and labels.get(c.LABEL_COMPONENT) == c.COMPONENT_CLUSTER
    )


def belongs_to(obj: Mapping[str, Any], name: str) -> bool:
    return ((obj.get("metadata") or {}).get("labels") or {}).get(c.LABEL_CLUSTER) == name


# --- pods -----------------------------------------------------------------------------------------


def is_terminating(pod: Mapping[str, Any]) -> bool:
    return bool((pod.get("metadata") or {}).get("deletionTimestamp"))


def is_pod_ready(pod: Mapping[str, Any]) -> bool:
    """Condition Ready=True, and not being deleted."""
    return not is_terminating(pod) and node_pods.is_ready(pod)


def component_of(pod: Mapping[str, Any]) -> str:
    return str(((pod.get("metadata") or {}).get("labels") or {}).get(c.LABEL_COMPONENT, "?"))


def is_login_running(pod: Mapping[str, Any]) -> bool:
    """The login pod is Running with its login container started: wait-nodes (init) has finished
    and written the hostfile."""
    if is_terminating(pod) or (pod.get("status") or {}).get("phase") != "Running":
        return False
    for cs in (pod.get("status") or {}).get("containerStatuses") or []:
        if cs.get("name") == c.LOGIN_CONTAINER:
            return bool((cs.get("state") or {}).get("running"))
    return False


def pod_state(pod: Mapping[str, Any]) -> str:
    """A short word for status tables: running, pending (REASON), initializing, succeeded, failed, …"""
    if is_terminating(pod):
        return "terminating"
    status = pod.get("status") or {}
    phase = str(status.get("phase") or "Unknown").lower()
    if phase != "pending":
        return phase
    for key in ("initContainerStatuses", "containerStatuses"):
        for cs in status.get(key) or []:
            reason = ((cs.get("state") or {}).get("waiting") or {}).get("reason")
            if reason and reason not in ("PodInitializing", "ContainerCreating"):
                return f"pending ({reason})"
    if any(((cs.get("state") or {}).get("running")) for cs in status.get("initContainerStatuses") or []):
        return "initializing"
    if node_pods.condition(pod, "PodScheduled") == "False":
        return "pending (Unschedulable)"
    return "pending"


def pod_status_from(pod: Mapping[str, Any] | Any) -> PodStatus:
    """A backend-neutral PodStatus from an API pod (dict or client model)."""
    data = as_dict(pod)
    component = component_of(data)
    ready = is_login_running(data) if component == c.COMPONENT_LOGIN else is_pod_ready(data)
    return PodStatus(
        name=(data.get("metadata") or {}).get("name", "?"),
        component=component,
        state=pod_state(data),
        ready=ready,
        ip=(data.get("status") or {}).get("podIP") or None,
    )


@dataclass(frozen=True)
class Readiness:
    """What the pods of a cluster say about `up`: done when every node pod is Ready and the login pod
    runs; `problems` are what keeps pods from getting there."""

    expected_nodes: tuple[str, ...]
    ready_nodes: tuple[str, ...]
    login_pod: str | None
    login_running: bool
    problems: tuple[PodProblem, ...] = field(default=())

    @property
    def waiting_nodes(self) -> tuple[str, ...]:
        return tuple(n for n in self.expected_nodes if n not in self.ready_nodes)

    @property
    def done(self) -> bool:
        return not self.waiting_nodes and self.login_running

    @property
    def fatal(self) -> PodProblem | None:
        return next((p for p in self.problems if p.fatal), None)

    def summary(self) -> str:
        nodes = f"{len(self.ready_nodes)}/{len(self.expected_nodes)} node pods Ready"
        if self.waiting_nodes:
            nodes += f" (waiting: {', '.join(self.waiting_nodes)})"
        if self.login_running:
            login = "login pod running"
        elif self.login_pod is None:
            login = "no login pod yet"
        else:
            login = f"login pod {self.login_pod} not running yet"
        return f"{nodes}; {login}"


def readiness_from_pods(
    spec: ClusterSpec, pods: Iterable[Mapping[str, Any] | Any], events: Iterable[Mapping[str, Any] | Any] = ()
) -> Readiness:
    """Readiness of cluster `spec` from its pods (and their events, for the problems' messages)."""
    pod_list = [as_dict(p) for p in pods]
    event_list = [as_dict(e) for e in events]
    expected = tuple(o.node_pod_names(spec))
    nodes = {
        p["metadata"]["name"]: p
        for p in pod_list
        if component_of(p) == c.COMPONENT_NODE and p.get("metadata", {}).get("name") in expected
    }
    ready = tuple(n for n in expected if n in nodes and is_pod_ready(nodes[n]))
    logins = sorted(
        (p for p in pod_list if component_of(p) == c.COMPONENT_LOGIN and not is_terminating(p)),
        key=lambda p: str((p.get("metadata") or {}).get("creationTimestamp") or ""),
    )
    login = logins[-1] if logins else None
    problems = tuple(
        problem
        for p in [*(nodes[n] for n in expected if n in nodes), *([login] if login else [])]
        if (problem := pod_problem(p, event_list)) is not None
    )
    return Readiness(
        expected_nodes=expected,
        ready_nodes=ready,
        login_pod=login["metadata"]["name"] if login else None,
        login_running=bool(login and is_login_running(login)),
        problems=problems,
    )


# --- watches --------------------------------------------------------------------------------------


class WatchExpired(Exception):
    """The watch's resourceVersion is too old (HTTP 410 Gone): list again, then watch from there."""


def apply_watch_event(pods: MutableMapping[str, Obj], event: Mapping[str, Any]) -> str | None:
    """Fold one watch event into `pods` (name → pod); return the resourceVersion to resume from."""
    kind = event.get("type")
    obj = event.get("object") or event.get("raw_object") or {}
    if kind == "ERROR":
        if obj.get("code") == 410:
            raise WatchExpired(str(obj.get("message", "resource version too old")))
        raise ClusterError(f"watch pods: {obj.get('reason', 'error')}: {obj.get('message', '')}".rstrip(": "))
    meta = obj.get("metadata") or {}
    version = meta.get("resourceVersion")
    if kind == "BOOKMARK":
        return version
    name = meta.get("name")
    if name:
        if kind == "DELETED":
            pods.pop(name, None)
        elif kind in ("ADDED", "MODIFIED"):
            pods[name] = dict(obj)
    return version


# --- images ---------------------------------------------------------------------------------------


def image_reference_problem(ref: str) -> str | None:
    """Why the nodes' nested podman could not pull `ref` from a registry; None if it can try.

    It must be fully qualified (registry host first): short names depend on each REC's
    registries.conf, `localhost/…` names exist only in one machine's image store, and `localhost:PORT`
    inside a node pod is the pod itself.
    """
    first, sep, _rest = ref.partition("/")
    if first == "localhost":
        return (
            f"APP image {ref!r} exists only in a local image store; node pods pull from a registry: "
            "push it (recapp push) to a registry the nodes can reach and pass that reference"
        )
    if first.startswith("localhost:") or first.startswith("127."):
        return (
            f"APP image {ref!r}: inside a node pod {first} is the pod itself; "
            "use an address of the registry that the node pods can reach"
        )
    if not sep or not ("." in first or ":" in first or _is_ip(first)):
        return (
            f"APP image {ref!r} is not fully qualified: give REGISTRY/PATH:TAG "
            "(e.g. registry.example.org/recapp/app-mpi:trixie)"
        )
    return None


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text.split(":")[0])
    except ValueError:
        return False
    return True
