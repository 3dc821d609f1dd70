"""The k8s room: the virtual cluster, from its spec to the jobs run on it.

- spec.py          ClusterSpec (validated) and load_spec
- objects.py       spec -> list of plain-dict objects; pod templates and names for backends
- constants.py     mount paths, port, secret key, volume names, label keys
- render.py        the objects as a kustomize layout (base + overlays per launcher)
- validate.py      OpenAPI schema check and the Pod Security baseline (capabilities, pod templates: once)
- security_scan.py third-party scanners (kube-score, checkov, …) over the rendered layout
- backend.py       the ClusterBackend interface; backends.py the one factory by name
- local/           the podman backend; kubernetes/ the Kubernetes backend (official client)
- jobs.py          run_job: a job on a cluster → its result record; placement.py the rank placement check
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
