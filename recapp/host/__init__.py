"""The host layer: running commands, and the container-engine settings derived from the host.

Both `builder` and `k8s` stand on it; it knows nothing of either.
"""
