"""A job that is still running when a fault hits one of its nodes: 4 ranks of `sleep 600`, 2 per
node, started in a thread; returns once the victim node runs its ranks."""

from __future__ import annotations

import threading
import time

from recapp.k8s.jobs import JobRequest, run_job
from recapp.k8s.local.backend import LocalBackend
from recapp.reports.records import JobRecord


def sleeping_job(
    engine, backend: LocalBackend, cluster: str, app: str, victim: str
) -> tuple[threading.Thread, dict[str, JobRecord]]:
    """Start the job; the dict gets its record under "record" when the thread ends."""
    result: dict[str, JobRecord] = {}

    def job() -> None:
        request = JobRequest(
            cluster=cluster, np=4, command=["sleep", "600"], app=app, map_by="ppr:2:node",
            verify=False, timeout_s=300,
        )  # fmt: skip
        result["record"] = run_job(backend, request)

    thread = threading.Thread(target=job)
    thread.start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if engine.podman("exec", victim, "pgrep", "-f", "sleep 600", check=False).stdout.strip():
            break
        time.sleep(0.5)
    return thread, result
