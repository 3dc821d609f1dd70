"""What a node pod looks like to the programs that wait for it: readiness and the hostfile format.

The login pod's wait-nodes, the Kubernetes backend and the local podman backend all read these,
so Ready and the hostfile lines are spelt once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

HOSTFILE: Final = "hostfile"  # lines `<pod>.<service> slots=S`
HOSTFILE_IP: Final = "hostfile.ip"  # lines `<pod IP> slots=S`, in the same order


def condition(pod: Mapping[str, Any], kind: str) -> str | None:
    """The status ("True", "False", "Unknown") of the pod's condition `kind`, None if absent."""
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            status = cond.get("status")
            return None if status is None else str(status)
    return None


def owned_by(pod: Mapping[str, Any], kind: str, name: str) -> bool:
    """The pod's controller is the object `kind`/`name` (a label alone can be copied by any pod)."""
    refs = (pod.get("metadata") or {}).get("ownerReferences") or []
    return any(r.get("controller") is True and r.get("kind") == kind and r.get("name") == name for r in refs)


def is_ready(pod: Mapping[str, Any]) -> bool:
    """The pod's Ready condition is True (not merely Running)."""
    return condition(pod, "Ready") == "True"


def host_name(pod: str, service: str) -> str:
    """A node's name in the hostfile: its pod's DNS name under the headless Service."""
    return f"{pod}.{service}"


def hostfile_text(hosts: Iterable[str], slots: int) -> str:
    """One `<host> slots=S` line per host, in the order given."""
    return "".join(f"{host} slots={slots}\n" for host in hosts)


def hostfiles(nodes: Iterable[tuple[str, str]], service: str, slots: int) -> dict[str, str]:
    """{HOSTFILE: text, HOSTFILE_IP: text} for (pod name, pod IP) pairs, in the order given."""
    pairs = list(nodes)
    return {
        HOSTFILE: hostfile_text((host_name(pod, service) for pod, _ in pairs), slots),
        HOSTFILE_IP: hostfile_text((ip for _, ip in pairs), slots),
    }
