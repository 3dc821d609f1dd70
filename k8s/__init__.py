"""The k8s room: the virtual-cluster spec, its Kubernetes objects (one source of truth), and backends.

- spec.py      ClusterSpec (validated) and load_spec
- objects.py   spec -> list of plain-dict objects; pod templates and names for backends
- constants.py mount paths, port, secret key, volume names, label keys
- render.py    the objects as a kustomize layout (base + overlays per launcher)
- validate.py  OpenAPI schema check and the Pod Security baseline check
"""

from recapp.k8s.objects import (
    cluster_objects,
    login_pod_template,
    node_dns_name,
    node_pod_names,
    node_pod_template,
)
from recapp.k8s.spec import ClusterSpec, load_spec

__all__ = [
    "ClusterSpec",
    "cluster_objects",
    "load_spec",
    "login_pod_template",
    "node_dns_name",
    "node_pod_names",
    "node_pod_template",
]
