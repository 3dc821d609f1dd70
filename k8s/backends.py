"""The one factory of cluster backends, by name: `local` (podman here) or `kubernetes`.

The implementations are imported on demand: the kubernetes client is slow to import and the local
backend needs none of it.
"""

from __future__ import annotations

from recapp.errors import ClusterError
from recapp.k8s.backend import ClusterBackend

BACKENDS = ("local", "kubernetes")


def cluster_backend(
    name: str, kubeconfig: str | None = None, context: str | None = None, namespace: str | None = None
) -> ClusterBackend:
    if name == "local":
        from recapp.k8s.local.backend import LocalBackend

        return LocalBackend()
    if name == "kubernetes":
        try:
            from recapp.k8s.kubernetes.backend import KubernetesBackend
        except ImportError as exc:
            raise ClusterError(f"kubernetes backend unavailable: {exc}") from exc
        return KubernetesBackend.from_kubeconfig(kubeconfig, context, namespace=namespace)
    raise ClusterError(f"unknown backend {name!r}: choose local or kubernetes")
