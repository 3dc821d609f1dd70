"""The virtual cluster's Kubernetes objects, as plain dicts, from pure functions of the spec.

This is the one source of truth: the kustomize renderer writes these objects, the Kubernetes backend
applies them, and the local backend turns the two pod templates into podman containers.

Apply order (`cluster_objects`): Namespace, ServiceAccount, Role, RoleBinding, NetworkPolicy, Secret,
Service, StatefulSet (node pods), Job (login pod).
"""

from __future__ import annotations

import copy
import re
import secrets
from typing import Any

from recapp.errors import ClusterError
from recapp.k8s import constants as c
from recapp.k8s.spec import ClusterSpec

Obj = dict[str, Any]

# ---------------------------------------------------------------------------------------------------
# names and labels


def node_statefulset_name(spec: ClusterSpec) -> str:
    return f"{spec.name}{c.NODE_STATEFULSET_SUFFIX}"


def nodes_service_name(spec: ClusterSpec) -> str:
    return f"{spec.name}{c.NODES_SERVICE_SUFFIX}"


def login_job_name(spec: ClusterSpec) -> str:
    return f"{spec.name}{c.LOGIN_JOB_SUFFIX}"


def agent_secret_name(spec: ClusterSpec) -> str:
    return f"{spec.name}{c.AGENT_SECRET_SUFFIX}"


def service_account_name(spec: ClusterSpec) -> str:
    return spec.name


def role_name(spec: ClusterSpec) -> str:
    return spec.name


def node_pod_names(spec: ClusterSpec) -> list[str]:
    """The StatefulSet's pod names, in ordinal order: `<name>-node-0`, `<name>-node-1`, …"""
    return [f"{node_statefulset_name(spec)}-{i}" for i in range(spec.nodes)]


def node_dns_name(spec: ClusterSpec, index: int) -> str:
    """The name node `index` resolves by inside the namespace: `<name>-node-<i>.<name>-nodes`."""
    if not 0 <= index < spec.nodes:
        raise ClusterError(f"node index {index}: cluster '{spec.name}' has nodes 0..{spec.nodes - 1}")
    return f"{node_statefulset_name(spec)}-{index}.{nodes_service_name(spec)}"


def labels(spec: ClusterSpec, component: str) -> dict[str, str]:
    """The labels every object carries; `component` says which part of the cluster it is."""
    return {
        c.LABEL_NAME: c.APP_NAME,
        c.LABEL_INSTANCE: spec.name,
        c.LABEL_COMPONENT: component,
        c.LABEL_MANAGED_BY: c.MANAGED_BY,
        c.LABEL_CLUSTER: spec.name,
    }


def node_selector(spec: ClusterSpec) -> dict[str, str]:
    """Labels that select exactly this cluster's node pods (StatefulSet selector, Service selector)."""
    return {c.LABEL_CLUSTER: spec.name, c.LABEL_COMPONENT: c.COMPONENT_NODE}


def node_selector_string(spec: ClusterSpec) -> str:
    """`node_selector` as a label-selector string, as `kubectl -l` and the API's labelSelector take it."""
    return ",".join(f"{k}={v}" for k, v in sorted(node_selector(spec).items()))


def _meta(spec: ClusterSpec, name: str, component: str, *, namespaced: bool = True) -> Obj:
    meta: Obj = {"name": name}
    if namespaced:
        meta["namespace"] = spec.namespace
    meta["labels"] = labels(spec, component)
    return meta


# ---------------------------------------------------------------------------------------------------
# namespace, identity, RBAC


def pod_security_labels() -> dict[str, str]:
    """Pod Security admission on the namespace recapp creates: `baseline` enforced, and warned/audited.

    Baseline is the strictest level nested rootless podman fits: `restricted` forbids
    allowPrivilegeEscalation (newuidmap's file capabilities need it) and adding SETUID/SETGID.
    With the label, the API server refuses any pod in the namespace that asks for more (privileged,
    host namespaces, hostPath, Unconfined seccomp), whoever creates it.
    """
    level = c.POD_SECURITY_LEVEL
    return {
        "pod-security.kubernetes.io/enforce": level,
        "pod-security.kubernetes.io/enforce-version": "latest",
        "pod-security.kubernetes.io/warn": level,
        "pod-security.kubernetes.io/audit": level,
    }


def namespace_object(spec: ClusterSpec) -> Obj:
    meta = _meta(spec, spec.namespace, c.COMPONENT_CLUSTER, namespaced=False)
    meta["labels"] = {**meta["labels"], **pod_security_labels()}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta}


def service_account_object(spec: ClusterSpec) -> Obj:
    """The login pod's identity. Node pods do not use it (they get no API token at all)."""
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": _meta(spec, service_account_name(spec), c.COMPONENT_RBAC),
    }


def role_rules(launcher: str) -> list[Obj]:
    """The login pod's permissions, namespaced (a Role, never a ClusterRole).

    - pods get/list/watch: `recapp-wait-nodes` lists the node pods by label and watches them until
      every one is Ready, then reads their IPs for hostfile.ip. Nothing else is readable.
    - kubexec only, pods/exec create+get: `kubectl exec` into a node pod to start a PRRTE daemon.
      `create` is what the API server checks for SPDY exec (and, from 1.35, for WebSocket exec too);
      `get` is what 1.30–1.34 API servers check when kubectl ≥ 1.30 opens exec as a WebSocket (an
      HTTP GET). Without `get` those kubectl versions get a 403 on the upgrade.
    The agent launcher needs no exec: daemons are started by the authenticated agent in each node.
    """
    rules: list[Obj] = [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}]
    if launcher == "kubexec":
        rules.append({"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create", "get"]})
    return rules


def role_object(spec: ClusterSpec) -> Obj:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": _meta(spec, role_name(spec), c.COMPONENT_RBAC),
        "rules": role_rules(spec.launcher),
    }


def role_binding_object(spec: ClusterSpec) -> Obj:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": _meta(spec, role_name(spec), c.COMPONENT_RBAC),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role_name(spec)},
        "subjects": [
            {"kind": "ServiceAccount", "name": service_account_name(spec), "namespace": spec.namespace}
        ],
    }


# ---------------------------------------------------------------------------------------------------
# network isolation


def network_policy_name(spec: ClusterSpec) -> str:
    return spec.name


def cluster_pod_selector(spec: ClusterSpec) -> dict[str, str]:
    """Labels every pod of this cluster carries (node and login pods), and no other cluster's pods."""
    return {c.LABEL_CLUSTER: spec.name}


def network_policy_object(spec: ClusterSpec) -> Obj:
    """Only this cluster's own pods may open connections to its pods.

    Any port among them: PRRTE's daemons and prterun talk over ephemeral ports, and so does MPI's TCP
    transport. Nothing else (another tenant's job, another namespace) reaches the launch agents at
    all, so the agent's secret is the second wall, not the only one. Egress stays open (the login pod
    talks to the API server). The local backend realises this as an isolated podman network.
    """
    same_cluster = {"matchLabels": cluster_pod_selector(spec)}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta(spec, network_policy_name(spec), c.COMPONENT_NETWORK),
        "spec": {
            "podSelector": same_cluster,
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"podSelector": same_cluster}]}],
        },
    }


def isolates_cluster(objects: list[Obj], spec: ClusterSpec) -> bool:
    """True when the objects hold a policy admitting only the cluster's own pods to all of them."""
    wanted = network_policy_object(spec)["spec"]
    return any(obj.get("kind") == "NetworkPolicy" and obj.get("spec") == wanted for obj in objects)


# ---------------------------------------------------------------------------------------------------
# the agent secret

_SECRET_VALUE = re.compile(r"^[A-Za-z0-9._~+/=-]{32,512}$")


def new_agent_secret() -> str:
    """A fresh shared secret for the launch agents (64 hex characters)."""
    return secrets.token_hex(c.AGENT_SECRET_BYTES)


def check_agent_secret(value: str) -> str:
    """Return `value` if it can be an agent secret (32–512 printable characters, no spaces)."""
    if not _SECRET_VALUE.fullmatch(value):
        raise ClusterError("agent secret: must be 32 to 512 characters of [A-Za-z0-9._~+/=-] (no spaces)")
    return value


def agent_secret_object(spec: ClusterSpec, agent_secret: str) -> Obj:
    """The shared secret node agents and the login pod's launcher authenticate with."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": _meta(spec, agent_secret_name(spec), c.COMPONENT_AGENT),
        "type": "Opaque",
        "stringData": {c.AGENT_SECRET_KEY: check_agent_secret(agent_secret)},
    }


# ---------------------------------------------------------------------------------------------------
# the headless service


def nodes_service_object(spec: ClusterSpec) -> Obj:
    """Headless Service giving each node pod the DNS name `<pod>.<name>-nodes`.

    publishNotReadyAddresses: names resolve as soon as a pod has an IP, so a readiness blip during a
    job does not make a node's name vanish under PRRTE; readiness itself is awaited by wait-nodes.
    """
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(spec, nodes_service_name(spec), c.COMPONENT_NETWORK),
        "spec": {
            "clusterIP": "None",
            "publishNotReadyAddresses": True,
            "selector": node_selector(spec),
            "ports": [
                {
                    "name": c.AGENT_PORT_NAME,
                    "port": spec.agent_port,
                    "targetPort": c.AGENT_PORT_NAME,
                    "protocol": "TCP",
                }
            ],
        },
    }


# ---------------------------------------------------------------------------------------------------
# pod pieces shared by node and login pods


def pod_security_context(spec: ClusterSpec) -> Obj:
    """Pod-level: everything runs as the rec user; volumes are group-owned by the rec group.

    seccompProfile is explicit. Nested rootless podman needs unshare/clone with new namespaces
    (CLONE_NEWUSER first), mount, umount2, setns and pivot_root. CRI-O's RuntimeDefault (the
    containers/common profile) allows them; containerd's RuntimeDefault (moby's profile) allows those
    only to holders of CAP_SYS_ADMIN, so on containerd nodes give `seccomp_localhost_profile`: a
    profile in the kubelet's seccomp directory that is RuntimeDefault plus these syscalls. Unconfined
    is never used (it fails the Pod Security baseline).
    """
    seccomp: Obj = {"type": "RuntimeDefault"}
    if spec.seccomp_localhost_profile is not None:
        seccomp = {"type": "Localhost", "localhostProfile": spec.seccomp_localhost_profile}
    return {
        "runAsUser": spec.uid,
        "runAsGroup": spec.gid,
        "runAsNonRoot": True,
        "fsGroup": spec.gid,
        # Only chown a volume when its root does not match already: large storage PVCs stay fast.
        "fsGroupChangePolicy": "OnRootMismatch",
        "seccompProfile": seccomp,
    }


# What nested rootless podman needs in the bounding set; see node_container_security_context.
NODE_CAPABILITIES = ("SETUID", "SETGID", "SYS_CHROOT")


def node_container_security_context() -> Obj:
    """The node container: unprivileged, only what nested rootless podman needs.

    - allowPrivilegeEscalation TRUE: newuidmap/newgidmap get their power from file capabilities
      (cap_setuid+ep / cap_setgid+ep). allowPrivilegeEscalation false sets no_new_privs, and under
      no_new_privs exec ignores file capabilities, so the user namespace could not be mapped.
    - capabilities drop ALL, add SETUID and SETGID: the process itself stays without effective
      capabilities (it is not root), but a file capability can only be gained if it is in the
      bounding set, so these two must stay there for newuidmap/newgidmap.
    - and SYS_CHROOT: inside the user namespace rootless podman creates, the engine is "root" with
      every capability — but only those left in the bounding set survive its execs. Unpacking an
      image layer falls back to a chroot'ed helper, which fails with "operation not permitted"
      without SYS_CHROOT (measured with the local backend: SETUID+SETGID alone cannot `podman load`;
      SETUID+SETGID+SYS_CHROOT loads and runs the APP). All three are in the Pod Security baseline
      allow-list.
    - privileged false, runAsNonRoot true.
    """
    return {
        "privileged": False,
        "allowPrivilegeEscalation": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"], "add": list(NODE_CAPABILITIES)},
    }


def restricted_container_security_context() -> Obj:
    """Login and wait-nodes containers run no nested podman: nothing to escalate to, no capabilities."""
    return {
        "privileged": False,
        "allowPrivilegeEscalation": False,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    }


def _env(pairs: list[tuple[str, str]]) -> list[Obj]:
    return [{"name": k, "value": v} for k, v in pairs]


def _agent_secret_volume(spec: ClusterSpec) -> Obj:
    return {
        "name": c.AGENT_SECRET_VOLUME,
        "secret": {
            "secretName": agent_secret_name(spec),
            "defaultMode": c.AGENT_SECRET_MODE,  # root:<fsGroup> 0440: the rec group reads it, no one else
            "items": [{"key": c.AGENT_SECRET_KEY, "path": c.AGENT_SECRET_KEY}],
        },
    }


def _agent_secret_mount() -> Obj:
    return {"name": c.AGENT_SECRET_VOLUME, "mountPath": c.AGENT_SECRET_DIR, "readOnly": True}


def _resources(spec: ClusterSpec) -> Obj:
    """Node container resources; the fuse device (if asked) is an extended resource in limits."""
    out: Obj = {}
    if spec.resources is not None and spec.resources.requests is not None:
        requests = spec.resources.requests.as_dict()
        if requests:
            out["requests"] = requests
    limits: dict[str, str] = {}
    if spec.resources is not None and spec.resources.limits is not None:
        limits.update(spec.resources.limits.as_dict())
    if spec.fuse_device_resource is not None:
        limits[spec.fuse_device_resource] = "1"
    if limits:
        out["limits"] = limits
    return out


def _pod_spec_options(spec: ClusterSpec, pod_spec: Obj) -> Obj:
    if spec.user_namespace:
        # User-namespaced pod: uid 0..65535 of the pod map to an unprivileged host range. The REC's
        # /etc/subuid and /etc/subgid ranges for rec must then fit inside 0..65535.
        pod_spec["hostUsers"] = False
    return pod_spec


# ---------------------------------------------------------------------------------------------------
# node pods


def agent_command(spec: ClusterSpec) -> list[str]:
    return ["recapp-agent", "serve", "--port", str(spec.agent_port), "--secret-file", c.AGENT_SECRET_FILE]


def agent_ping_command(spec: ClusterSpec) -> list[str]:
    return [
        "recapp-agent", "ping", "--host", "127.0.0.1", "--port", str(spec.agent_port),
        "--secret-file", c.AGENT_SECRET_FILE,
    ]  # fmt: skip


def node_env(spec: ClusterSpec) -> list[Obj]:
    return _env(
        [
            (c.ENV_CLUSTER, spec.name),
            (c.ENV_AGENT_PORT, str(spec.agent_port)),
            (c.ENV_AGENT_SECRET_FILE, c.AGENT_SECRET_FILE),
            (c.ENV_IMAGES_DIR, c.IMAGES_MOUNT),
            # The nested podman warns on every call on cgroup v1 hosts; the warning is not actionable.
            ("PODMAN_IGNORE_CGROUPSV1_WARNING", "1"),
        ]
    )


def _node_volumes(spec: ClusterSpec) -> list[Obj]:
    shm: Obj = {"medium": "Memory"}
    if spec.shm_size is not None:
        shm["sizeLimit"] = spec.shm_size
    volumes: list[Obj] = []
    if spec.storage == "emptyDir":
        volumes.append({"name": c.STORAGE_VOLUME, "emptyDir": {}})
    volumes += [
        {"name": c.IMAGES_VOLUME, "emptyDir": {}},
        _agent_secret_volume(spec),
        # The APP shares the REC's /dev/shm (-v /dev/shm:/dev/shm) for MPI shared-memory transport;
        # the container runtime's default is only 64 MiB.
        {"name": c.SHM_VOLUME, "emptyDir": shm},
    ]
    return volumes


def _storage_claim_template(spec: ClusterSpec) -> Obj:
    claim_spec: Obj = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": spec.storage_size}},
    }
    if spec.storage_class is not None:
        claim_spec["storageClassName"] = spec.storage_class
    return {
        "metadata": {"name": c.STORAGE_VOLUME, "labels": labels(spec, c.COMPONENT_NODE)},
        "spec": claim_spec,
    }


def node_pod_spec(spec: ClusterSpec) -> Obj:
    """The node pod: the REC image running the launch agent, able to run APPs with nested podman.

    The inner podman storage (`storage`, at ~/.local/share/containers) must be a real filesystem,
    not the container's overlay root, so native overlay works without fuse-overlayfs: with
    storage="volume" it is the StatefulSet's volumeClaimTemplate `storage` (so it is absent from
    `volumes` here), with storage="emptyDir" an emptyDir.
    """
    container: Obj = {
        "name": c.NODE_CONTAINER,
        "image": spec.rec_image,
        "imagePullPolicy": spec.image_pull_policy,
        "command": agent_command(spec),
        "ports": [{"name": c.AGENT_PORT_NAME, "containerPort": spec.agent_port, "protocol": "TCP"}],
        "env": node_env(spec),
        "readinessProbe": {
            "exec": {"command": agent_ping_command(spec)},
            "initialDelaySeconds": 1,
            "periodSeconds": 5,
            "timeoutSeconds": 5,
            "failureThreshold": 3,
        },
        "securityContext": node_container_security_context(),
        "volumeMounts": [
            {"name": c.STORAGE_VOLUME, "mountPath": c.STORAGE_MOUNT},
            {"name": c.IMAGES_VOLUME, "mountPath": c.IMAGES_MOUNT},
            _agent_secret_mount(),
            {"name": c.SHM_VOLUME, "mountPath": c.SHM_MOUNT},
        ],
    }
    resources = _resources(spec)
    if resources:
        container["resources"] = resources
    pod_spec: Obj = {
        # Node pods never talk to the API server: no token in them.
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "terminationGracePeriodSeconds": 10,
        "securityContext": pod_security_context(spec),
        "containers": [container],
        "volumes": _node_volumes(spec),
    }
    return _pod_spec_options(spec, pod_spec)


def node_pod_template_for(spec: ClusterSpec) -> Obj:
    metadata: Obj = {"labels": labels(spec, c.COMPONENT_NODE)}
    if spec.apparmor_localhost_profile is not None:
        # The annotation form works on 1.29 too (the appArmorProfile field exists from 1.30). Nodes
        # whose default AppArmor profile denies mount need a profile that allows nested podman's mounts.
        key = f"container.apparmor.security.beta.kubernetes.io/{c.NODE_CONTAINER}"
        metadata["annotations"] = {key: f"localhost/{spec.apparmor_localhost_profile}"}
    return {"metadata": metadata, "spec": node_pod_spec(spec)}


def node_statefulset_object(spec: ClusterSpec) -> Obj:
    sts_spec: Obj = {
        "serviceName": nodes_service_name(spec),
        # All node pods start at once: they are peers, none waits for another.
        "podManagementPolicy": "Parallel",
        "replicas": spec.nodes,
        "selector": {"matchLabels": node_selector(spec)},
        "template": node_pod_template_for(spec),
    }
    if spec.storage == "volume":
        sts_spec["volumeClaimTemplates"] = [_storage_claim_template(spec)]
        # The storage holds only image layers for this cluster: remove it with the cluster.
        sts_spec["persistentVolumeClaimRetentionPolicy"] = {"whenDeleted": "Delete", "whenScaled": "Delete"}
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": _meta(spec, node_statefulset_name(spec), c.COMPONENT_NODE),
        "spec": sts_spec,
    }


# ---------------------------------------------------------------------------------------------------
# login pod


def wait_nodes_command(spec: ClusterSpec) -> list[str]:
    """The login pod's init step: `recapp-wait-nodes` (recapp.node.wait_nodes), shipped in the REC image.

    Its contract:
    - arguments: --namespace NS --selector LABEL_SELECTOR --count N --service SVC --slots S
      --out DIR --timeout SECONDS; a missing or malformed argument is an error (exit 2), never a pass.
    - it authenticates to the Kubernetes API with the pod's ServiceAccount token
      (/var/run/secrets/kubernetes.io/serviceaccount), lists pods in NS matching the selector and
      watches them until exactly N pods exist and every one has condition Ready=True.
    - then it writes, atomically (write a temporary file, rename), in pod-name ordinal order:
      DIR/hostfile and DIR/hostfile.ip in the format recapp.node.pods writes, and exits 0.
    - if the timeout passes first it exits non-zero with one line naming the pods that are not
      Ready (or how many are missing), and writes no hostfile.
    """
    return [
        "recapp-wait-nodes",
        "--namespace", spec.namespace,
        "--selector", node_selector_string(spec),
        "--count", str(spec.nodes),
        "--service", nodes_service_name(spec),
        "--slots", str(spec.slots_per_node),
        "--out", c.HOSTFILE_DIR,
        "--timeout", str(spec.ready_timeout_s),
    ]  # fmt: skip


def plm_agent_for(launcher: str) -> str | None:
    """What PRRTE's plm_ssh_agent is set to in the login pod for a launcher.

    podexec is the local backend's launcher (`podman exec` from the host): no command inside the
    login pod can do that, so the backend that owns podexec sets the variable itself.
    """
    return {"agent": c.AGENT_LAUNCH_COMMAND, "kubexec": c.KUBEXEC_LAUNCH_COMMAND}.get(launcher)


def login_env(spec: ClusterSpec) -> list[Obj]:
    pairs = [
        (c.ENV_CLUSTER, spec.name),
        (c.ENV_NAMESPACE, spec.namespace),
        (c.ENV_AGENT_PORT, str(spec.agent_port)),
        (c.ENV_AGENT_SECRET_FILE, c.AGENT_SECRET_FILE),
        (c.ENV_HOSTFILE, c.HOSTFILE_PATH),
    ]
    plm_agent = plm_agent_for(spec.launcher)
    if plm_agent is not None:
        pairs.append((c.PLM_AGENT_ENV, plm_agent))
    return _env(pairs)


def login_pod_spec(spec: ClusterSpec) -> Obj:
    """The login pod: waits for the nodes (init), then idles as the place jobs are started from."""
    hostfile_mount = {"name": c.HOSTFILE_VOLUME, "mountPath": c.HOSTFILE_DIR}
    wait_nodes: Obj = {
        "name": c.WAIT_NODES_CONTAINER,
        "image": spec.rec_image,
        "imagePullPolicy": spec.image_pull_policy,
        "command": wait_nodes_command(spec),
        "securityContext": restricted_container_security_context(),
        "volumeMounts": [hostfile_mount],
    }
    login: Obj = {
        "name": c.LOGIN_CONTAINER,
        "image": spec.rec_image,
        "imagePullPolicy": spec.image_pull_policy,
        # Not `sleep infinity`: every job's orphans would stay as zombies under a PID 1 that never
        # waits. A reaping init is portable to both backends; shareProcessNamespace would need the
        # pause container of a pod, which the local backend does not have.
        "command": list(c.LOGIN_INIT_COMMAND),
        "env": login_env(spec),
        "securityContext": restricted_container_security_context(),
        "volumeMounts": [{**hostfile_mount, "readOnly": True}, _agent_secret_mount()],
    }
    pod_spec: Obj = {
        "serviceAccountName": service_account_name(spec),
        # wait-nodes (and kubexec) need the ServiceAccount token.
        "automountServiceAccountToken": True,
        "enableServiceLinks": False,
        "restartPolicy": "Never",
        "terminationGracePeriodSeconds": 5,
        "securityContext": pod_security_context(spec),
        "initContainers": [wait_nodes],
        "containers": [login],
        "volumes": [{"name": c.HOSTFILE_VOLUME, "emptyDir": {}}, _agent_secret_volume(spec)],
    }
    return _pod_spec_options(spec, pod_spec)


def login_job_object(spec: ClusterSpec) -> Obj:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": _meta(spec, login_job_name(spec), c.COMPONENT_LOGIN),
        "spec": {
            "parallelism": 1,
            "completions": 1,
            # A failed login pod (e.g. nodes not Ready in time) is a failed cluster, not a retry loop.
            "backoffLimit": 0,
            "template": {
                "metadata": {"labels": labels(spec, c.COMPONENT_LOGIN)},
                "spec": login_pod_spec(spec),
            },
        },
    }


# ---------------------------------------------------------------------------------------------------
# the whole cluster, and accessors for backends


def cluster_objects(spec: ClusterSpec, *, agent_secret: str | None = None) -> list[Obj]:
    """All objects of the cluster, in apply order. A fresh agent secret is made unless one is given."""
    secret = new_agent_secret() if agent_secret is None else agent_secret
    return [
        namespace_object(spec),
        service_account_object(spec),
        role_object(spec),
        role_binding_object(spec),
        network_policy_object(spec),
        agent_secret_object(spec, secret),
        nodes_service_object(spec),
        node_statefulset_object(spec),
        login_job_object(spec),
    ]


def find_object(objects: list[Obj], kind: str, component: str) -> Obj:
    """The one object of `kind` whose component label is `component`."""
    found = [
        o
        for o in objects
        if o.get("kind") == kind
        and o.get("metadata", {}).get("labels", {}).get(c.LABEL_COMPONENT) == component
    ]
    if len(found) != 1:
        raise ClusterError(
            f"cluster objects: expected one {kind} with component '{component}', found {len(found)}"
        )
    return found[0]


def node_pod_template(objects: list[Obj]) -> Obj:
    """A copy of the node pods' template (`metadata` + `spec`) from the StatefulSet."""
    return copy.deepcopy(find_object(objects, "StatefulSet", c.COMPONENT_NODE)["spec"]["template"])


def login_pod_template(objects: list[Obj]) -> Obj:
    """A copy of the login pod's template (`metadata` + `spec`) from the Job."""
    return copy.deepcopy(find_object(objects, "Job", c.COMPONENT_LOGIN)["spec"]["template"])


def agent_secret_value(objects: list[Obj]) -> str:
    """The agent secret carried by the Secret object."""
    secret = find_object(objects, "Secret", c.COMPONENT_AGENT)
    return str(secret["stringData"][c.AGENT_SECRET_KEY])
