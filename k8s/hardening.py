"""Checks `cluster up` makes of the cluster it deploys into, as pure functions the backends call.

- NetworkPolicy enforcement: a NetworkPolicy is only data; a cluster whose network plugin does not
  enforce it (flannel alone, kindnet before 0.24, ...) admits every pod to the agents. `up` starts a
  probe pod *without* the cluster's labels in its namespace and lets it try to open the node agent's
  port. It must fail. What happens when it does not is the spec's `network_policy_probe`:
  `refuse` (the default: the cluster is removed and `up` fails), `warn`, or `skip` (no probe).
- user namespaces (`hostUsers: false`): decided here when the spec leaves `user_namespace` unset.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from recapp.errors import ClusterError
from recapp.k8s import constants as c
from recapp.k8s import objects as o
from recapp.k8s.spec import ClusterSpec

Obj = dict[str, Any]

PROBE_SUFFIX = "-netpol-probe"
PROBE_CONNECT_TIMEOUT_S = 5
# Exit codes of the probe's one-liner: reached the agent, could not (refused, dropped, timed out),
# could not even resolve the name (DNS down: no verdict on the policy).
PROBE_REACHED, PROBE_BLOCKED, PROBE_NO_DNS = 0, 1, 3
# The node's name may resolve late: right after an API server restart CoreDNS re-lists, and a
# negative answer is cached up to 30 s (the Corefile's `cache 30`; seen in issue 16's fault tests).
# A name that is not there *yet* is no verdict on the policy: look it up again for this long.
PROBE_DNS_WAIT_S = 40
_PROBE_SCRIPT = (
    "import socket,sys,time\n"
    f"end=time.monotonic()+{PROBE_DNS_WAIT_S}\n"
    "while True:\n"
    " try:\n"
    "  a=socket.getaddrinfo(sys.argv[1],int(sys.argv[2]),type=socket.SOCK_STREAM)[0][4]\n"
    "  break\n"
    " except OSError:\n"
    f"  if time.monotonic()>end: sys.exit({PROBE_NO_DNS})\n"
    "  time.sleep(2)\n"
    "try:\n"
    f" socket.create_connection(a[:2],timeout={PROBE_CONNECT_TIMEOUT_S}).close()\n"
    "except OSError:\n"
    f" sys.exit({PROBE_BLOCKED})\n"
    f"sys.exit({PROBE_REACHED})\n"
)


def probe_pod_name(spec: ClusterSpec) -> str:
    return f"{spec.name}{PROBE_SUFFIX}"


def probe_target(spec: ClusterSpec) -> str:
    """Node 0's agent by its fully qualified service name (the probe pod resolves it like any pod)."""
    return f"{o.node_dns_name(spec, 0)}.{spec.namespace}.svc"


def probe_pod_object(spec: ClusterSpec) -> Obj:
    """A pod in the cluster's namespace that carries none of the cluster's pod labels.

    It runs the REC image (already pulled on the nodes, and it has python3) as the rec user with
    nothing added, so it passes the namespace's Pod Security level, and it mounts no token.
    """
    labels = {c.LABEL_MANAGED_BY: c.MANAGED_BY, "recapp.io/probe-of": spec.name}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": probe_pod_name(spec), "namespace": spec.namespace, "labels": labels},
        "spec": {
            "restartPolicy": "Never",
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "terminationGracePeriodSeconds": 0,
            "activeDeadlineSeconds": 60,
            "securityContext": o.pod_security_context(spec),
            "containers": [
                {
                    "name": "probe",
                    "image": spec.rec_image,
                    "imagePullPolicy": spec.image_pull_policy,
                    "command": ["python3", "-c", _PROBE_SCRIPT, probe_target(spec), str(spec.agent_port)],
                    "securityContext": o.restricted_container_security_context(),
                    "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"memory": "64Mi"}},
                }
            ],
        },
    }


@dataclass(frozen=True)
class ProbeVerdict:
    enforced: bool | None  # None: the probe could not tell
    message: str


def judge_probe(spec: ClusterSpec, exit_code: int | None) -> ProbeVerdict:
    """What the probe pod's exit code says about NetworkPolicy enforcement."""
    target = f"{probe_target(spec)}:{spec.agent_port}"
    if exit_code == PROBE_BLOCKED:
        return ProbeVerdict(True, f"NetworkPolicy enforced: a pod outside the cluster cannot reach {target}")
    if exit_code == PROBE_REACHED:
        return ProbeVerdict(
            False,
            f"NetworkPolicy NOT enforced: a pod without the cluster's labels reached {target}"
            " (the network plugin ignores NetworkPolicy, or another policy in the namespace lets pods in;"
            " only the agents' mutual TLS keeps other pods out)",
        )
    why = "could not resolve the node's name" if exit_code == PROBE_NO_DNS else f"exit status {exit_code}"
    return ProbeVerdict(None, f"NetworkPolicy probe inconclusive: {why}")


def act_on_verdict(spec: ClusterSpec, verdict: ProbeVerdict) -> str | None:
    """Raise for `refuse` when enforcement is not shown; else the line to tell the user (or None)."""
    if verdict.enforced:
        return verdict.message
    if spec.network_policy_probe == "refuse":
        raise ClusterError(
            f"{verdict.message}; refusing the cluster (network_policy_probe: warn to accept it)"
        )
    return f"warning: {verdict.message}"


# --- user namespaces ------------------------------------------------------------------------------

_VERSION = re.compile(r"^v?(\d+)\.(\d+)")
# hostUsers: false is honoured from 1.30 (feature gate UserNamespacesSupport, beta) and on by default
# from 1.33.
USERNS_GATE_MINOR = 30
USERNS_DEFAULT_MINOR = 33


def server_minor(git_version: str) -> int | None:
    """The minor version of a `v1.33.2`-style server version (1.x only), or None if unreadable."""
    match = _VERSION.match(git_version.strip())
    if match is None or match.group(1) != "1":
        return None
    return int(match.group(2))


# What newuidmap/newgidmap say when the REC's /etc/subuid range lies outside the pod's own ids.
SUBID_MAP_FAILED = re.compile(r"new[ug]idmap[^\n]*: write to [ug]id_map failed: Operation not permitted")
_SUBID_ARGS = re.compile(r"new[ug]idmap \d+ 0 (\d+) 1 1 (\d+) (\d+)")
POD_USERNS_IDS = 65536  # a hostUsers: false pod maps ids 0..65535 and no more


def userns_subids_cause(stderr: str) -> str:
    """One line: why nested podman cannot start in a user-namespaced pod, from newuidmap's stderr
    (`running /usr/bin/newuidmap PID 0 998 1 1 100000 65536: ... write to uid_map failed`)."""
    found = _SUBID_ARGS.search(stderr)
    ids = ""
    if found:
        start, count = int(found.group(2)), int(found.group(3))
        ids = f" ({start}-{start + count - 1})"
    return (
        f"the REC's subordinate ids{ids} lie outside the {POD_USERNS_IDS} ids of a hostUsers: false pod"
        f" (0-{POD_USERNS_IDS - 1}), so newuidmap's write to uid_map is refused; use a REC whose /etc/subuid"
        " and /etc/subgid fit inside (e.g. rec:1000:64536), or --no-user-namespace"
    )


def decide_user_namespace(
    asked: bool | None, git_version: str, rec_subids_fit: bool | None
) -> tuple[bool, str]:
    """(hostUsers false?, why) for a Kubernetes server version and what is known of the REC.

    A user-namespaced pod has uids 0..65535 only, so the REC's /etc/subuid range for rec must fit
    in it (`rec_subids_fit`; None: not known). Asked explicitly: honoured, or refused on a server
    too old to know the field (it would be dropped silently). Unset: used where the server enables
    it by default and the REC is known to fit; otherwise not, and the reason says what to change.
    """
    minor = server_minor(git_version)
    if asked is True:
        if minor is not None and minor < USERNS_GATE_MINOR:
            raise ClusterError(
                f"user_namespace: true needs Kubernetes 1.{USERNS_GATE_MINOR}+ (the server is {git_version});"
                " an older API server drops hostUsers silently"
            )
        return True, "hostUsers: false (asked for)"
    if asked is False:
        return False, "hostUsers: true (user_namespace: false)"
    if minor is None or minor < USERNS_DEFAULT_MINOR:
        return False, (
            f"hostUsers: true: Kubernetes {git_version or '(unknown)'} does not enable user namespaces"
            f" by default (1.{USERNS_DEFAULT_MINOR}+); set user_namespace: true if its feature gate is on"
        )
    if not rec_subids_fit:
        return False, (
            "hostUsers: true: the REC's subordinate id range for nested podman is not known to fit a"
            " user-namespaced pod's 65536 ids; set user_namespace: true with a REC whose /etc/subuid fits"
        )
    return True, f"hostUsers: false (Kubernetes {git_version} supports it)"
