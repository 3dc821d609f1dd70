"""The local backend: the cluster's pods as podman containers on this machine, from the same pod templates.

- backend.py      LocalBackend (up, status, run, down) on podman, one network per cluster
- podman_args.py  a pod template → the `podman run` argv (pure, tested)
"""
