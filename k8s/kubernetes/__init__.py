"""The Kubernetes backend: the cluster's objects applied with the official client.

- backend.py      KubernetesBackend (up, status, run, down)
- plan.py         what to apply, in which order, and pod readiness (pure functions)
- errors.py       the one API-error policy: status codes → named errors, retries with backoff
- remote_exec.py  commands in pods over the exec API, as a Popen-like process
"""
