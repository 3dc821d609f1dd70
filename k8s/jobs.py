"""Run one job on a virtual cluster: deliver the APP, launch `prterun` from the login pod, watch it,
verify placement, and write the result record."""

from __future__ import annotations

import dataclasses
import os
import re
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, TextIO

from recapp import workloads
from recapp.errors import JobError
from recapp.host import images
from recapp.host.labels import versions_from_labels
from recapp.host.names import check_cluster_name, check_image_ref
from recapp.host.paths import sub
from recapp.host.progress import Step
from recapp.k8s import constants as c
from recapp.k8s import objects as o
from recapp.k8s.backend import ClusterBackend
from recapp.k8s.placement import verify
from recapp.reports import records
from recapp.reports.records import Figure, ImageRef, JobRecord, Verification, rank_reports, short_host

# nested: the APP in the REC (wrap-container); native: the APP's binaries run in the REC; traditional:
# the cluster's REC is an all-in-one image (runtime + application) and runs the command as-is, on PATH.
Mode = Literal["nested", "native", "traditional"]
DVM_URI = "/tmp/recapp-dvm.uri"

# PRRTE binds each rank to a core of its node, counting from core 0 on every node. A local cluster's
# node pods share this host's cores, so rank 0 of node-0 and rank 0 of node-1 were both bound to core 0
# (--report-bindings; Cpus_allowed_list 0 in both): two ranks polling on one core hand it over only at
# the scheduler's tick (4 ms at 250 Hz), the ~4.1 ms 8-byte latency between node pods measured on a
# quiet machine. Locally the kernel places the ranks (--bind-to none).
LOCAL_BINDING = "none"
# Open MPI busy-polls while a rank waits. With no core to spare per rank (and for the daemons and the
# network stack) a polling rank keeps its core until the tick takes it away; yielding when idle gives it
# back. Here (2 cores, load ~24, runs interleaved, median of 6) 8-byte TCP latency between node pods:
# bound + polling 23 ms, unbound + polling 6.4 ms, unbound + yielding 3.0 ms; at load ~40 (median of 8)
# unbound + polling 0.99 ms, unbound + yielding 0.12 ms; a raw TCP socket between the same ranks
# ~0.02 ms. With a core per rank polling is faster, so it stays the default there.
YIELD_WHEN_IDLE = "mpi_yield_when_idle"
MCA_NAME = re.compile(r"^[a-z][a-z0-9_]*$")

# Warnings the nested podman prints on cgroup v1 hosts; kept in the log, not shown.
ENGINE_NOISE = re.compile(r'level=warning msg="(cannot toggle freezer|lstat |Using cgroups-v1)')
# PRRTE's report of the first failed process: "Process name: [prterun-…@1,3]" … "Exit code: 7".
FAILED_PROC = re.compile(r"Process name:\s*\[[^,\]]+,(\d+)\].*?Exit code:\s*(-?\d+)", re.DOTALL)
# PRRTE's "PRTE has lost communication with a remote daemon" block names the node.
LOST_DAEMON = re.compile(
    r"lost communication with a remote daemon.*?Remote daemon:.*?on node (\S+)", re.DOTALL
)
# podman's error when a rank's APP image is not in its node's storage.
MISSING_IMAGE = re.compile(r"Error: .*: image not known")
KILL_GRACE_S = 5.0
PROBE_FAILURE_THRESHOLD = 3  # the node template's readinessProbe.failureThreshold
PROBE_RETRY_S = 2.0


@dataclass
class JobRequest:
    cluster: str
    np: int
    command: list[str]
    app: str | None = None
    map_by: str | None = None
    mode: Mode = "nested"
    timeout_s: float = 300.0
    verify: bool = True
    dvm: bool = False  # run through a persistent PRRTE DVM (`prte` once, `prun` per job)
    record_path: Path | None = None
    extra_prterun_args: list[str] = field(default_factory=list)
    mounts: list[str] = field(default_factory=list)  # SRC:DST read-only binds into the nested APP
    # Nested only: one `podman run` per rank (the talk's way) instead of the per-node APP sandbox.
    fresh_containers: bool = False
    mca: dict[str, str] = field(default_factory=dict)  # Open MPI parameters for the ranks (name → value)
    bind_to: str | None = None  # PRRTE's --bind-to (core, none, …); None: the backend's default


def prterun_argv(req: JobRequest, app_ref: str | None, native_dir: str | None = None) -> list[str]:
    """The launcher command: `prterun --hostfile …` or, with a DVM, `prun --dvm-uri …`."""
    if req.dvm:
        argv = ["prun", "--dvm-uri", f"file:{DVM_URI}", "-np", str(req.np)]
    else:
        argv = ["prterun", "--hostfile", c.HOSTFILE_PATH, "-np", str(req.np)]
    if req.map_by:
        argv += ["--map-by", req.map_by]
    if req.bind_to:
        argv += ["--bind-to", req.bind_to]
    # As OMPI_MCA_* in the ranks' environment: prterun's own `--mca` does not reach the ranks' Open MPI
    # here (PRRTE 3 keeps it; `--mca btl self` across two nodes still ran over TCP).
    argv += [a for name, value in req.mca.items() for a in ("-x", f"OMPI_MCA_{name}={value}")]
    argv += req.extra_prterun_args
    if req.mode == "nested":
        if not app_ref:
            raise JobError("a nested job needs an APP image (--app)")
        binds = [a for m in req.mounts for a in ("--mount", m)]
        fresh = ["--fresh"] if req.fresh_containers else []
        return [*argv, "wrap-container", "--image", app_ref, *fresh, *binds, "--", *req.command]
    program = req.command[0]
    if native_dir and "/" not in program:
        program = f"{native_dir}/{program}"
    return [*argv, program, *req.command[1:]]


def mca_params(req: JobRequest, backend_name: str, cores: int | None = None) -> dict[str, str]:
    """The Open MPI parameters the ranks get: the request's, plus yield-when-idle on a local cluster
    whose ranks are at least as many as this host's cores (unless the request sets it either way)."""
    for name in req.mca:
        if not MCA_NAME.fullmatch(name):
            raise JobError(f"Open MPI parameter name {name!r}: expected lowercase letters, digits and '_'")
    params = dict(req.mca)
    shared = cores if cores is not None else len(os.sched_getaffinity(0))
    if backend_name == "local" and req.np >= shared:
        params.setdefault(YIELD_WHEN_IDLE, "1")
    return params


def with_backend_defaults(req: JobRequest, backend_name: str, cores: int | None = None) -> JobRequest:
    """The request as launched: its Open MPI parameters (mca_params) and, on a local cluster, no
    per-node core binding unless it asks for one."""
    bind_to = req.bind_to or (LOCAL_BINDING if backend_name == "local" else None)
    return dataclasses.replace(req, mca=mca_params(req, backend_name, cores), bind_to=bind_to)


def ensure_dvm(backend: ClusterBackend, cluster: str, *, timeout_s: float = 60) -> None:
    """Start the cluster's persistent DVM from the login pod unless it is already up."""
    alive = backend.login_exec(cluster, ["sh", "-c", f"test -s {DVM_URI} && pgrep -x prte >/dev/null"])
    if alive.wait() == 0:
        return
    start = backend.login_exec(
        cluster, ["prte", "--hostfile", c.HOSTFILE_PATH, "--report-uri", DVM_URI, "--daemonize"]
    )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if backend.login_exec(cluster, ["test", "-s", DVM_URI]).wait() == 0:
            start.wait(timeout=timeout_s)
            return
        if start.poll() not in (None, 0):
            err = start.stderr.read() if start.stderr else ""
            raise JobError(f"cluster {cluster}: the PRRTE DVM did not start: {err.strip()[-200:]}")
        time.sleep(0.3)
    raise JobError(f"cluster {cluster}: the PRRTE DVM did not report its URI within {timeout_s:.0f} s")


def stop_dvm(backend: ClusterBackend, cluster: str) -> None:
    backend.login_exec(
        cluster, ["sh", "-c", f"test -s {DVM_URI} && pterm --dvm-uri file:{DVM_URI}; rm -f {DVM_URI}"]
    ).wait()


def check_cluster_usable(backend: ClusterBackend, cluster: str, nodes: list[str]) -> None:
    """Refuse a job, naming the pods at fault, unless every node pod is Ready and the login pod runs.

    Pods that exist but stopped (a host reboot, the engine's containers stopped, a killed launch
    agent: it is the node pod's PID 1) are told apart from pods that run but fail their probe.
    """
    status = backend.status(cluster)
    by_name = {p.name: p for p in status.pods}
    pods = [*nodes, *(p.name for p in status.pods if p.component == c.COMPONENT_LOGIN)]
    stopped = [
        f"{name} ({by_name[name].state if name in by_name else 'missing'})"
        for name in pods
        if name not in by_name or by_name[name].state != "running"
    ]
    if stopped:
        raise JobError(
            f"cluster {cluster}: pod(s) not running: {', '.join(stopped)}; the cluster cannot recover"
            f" by itself (recapp cluster down --name {cluster}, then up)"
        )
    if not any(p.component == c.COMPONENT_LOGIN for p in status.pods):
        raise JobError(f"cluster {cluster}: the login pod is missing")
    not_ready = [name for name in nodes if not by_name[name].ready]
    # As the kubelet counts (the probe's failureThreshold): one missed probe on a busy host is not
    # yet a node that is down.
    for _ in range(PROBE_FAILURE_THRESHOLD - 1):
        if not not_ready:
            break
        time.sleep(PROBE_RETRY_S)
        again = {p.name: p for p in backend.status(cluster).pods}
        not_ready = [name for name in not_ready if not (name in again and again[name].ready)]
    if not_ready:
        raise JobError(
            f"cluster {cluster}: node pod(s) running but not Ready (launch agent not answering):"
            f" {', '.join(not_ready)}"
        )


def image_ref(ref: str | None) -> ImageRef | None:
    if ref is None:
        return None
    data = images.inspect(ref) or {}
    return ImageRef(ref=ref, id=data.get("Id"), versions=versions_from_labels(dict(data.get("Labels") or {})))


def run_job(
    backend: ClusterBackend, req: JobRequest, *, step: Step | None = None, on_output: Step | None = None
) -> JobRecord:
    say = step or (lambda _t: None)
    if req.np < 1:
        raise JobError(f"--np must be at least 1, got {req.np}")
    if not req.command:
        raise JobError("no command to run (give it after --)")
    check_cluster_name(req.cluster, error=JobError)
    req = with_backend_defaults(req, backend.name)
    if req.app is not None:
        check_image_ref(req.app, error=JobError, what="APP image")
    spec = backend.spec(req.cluster)
    nodes = o.node_pod_names(spec)
    check_cluster_usable(backend, req.cluster, nodes)
    job_id = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{req.cluster}-{secrets.token_hex(3)}"
    log_path = sub("jobs") / f"{job_id}.log"
    app_ref = native_dir = None
    if req.mode == "nested":
        if not req.app:
            raise JobError("a nested job needs an APP image (--app)")
        app_ref = backend.deliver_image(req.cluster, req.app, step=say)
    elif req.mode == "native" and req.app:
        native_dir = backend.deliver_binaries(req.cluster, req.app, step=say)
    if req.dvm:
        say("starting the persistent PRRTE DVM")
        ensure_dvm(backend, req.cluster)
    argv = prterun_argv(req, app_ref, native_dir)
    pidfile = f"/tmp/recapp-job-{job_id}.pid"
    wrapped = ["sh", "-c", 'echo $$ > "$0"; exec "$@"', pidfile, *argv]
    say(f"running {' '.join(argv[:6])} … on {len(nodes)} node(s)")
    started_at = datetime.now(UTC)
    t0 = time.monotonic()
    proc = backend.login_exec(req.cluster, wrapped)
    out_lines: list[str] = []
    err_lines: list[str] = []
    with open(log_path, "w", encoding="utf-8") as log:
        lock = threading.Lock()
        readers = [
            threading.Thread(target=_pump, args=(proc.stdout, out_lines, log, lock, on_output), daemon=True),
            threading.Thread(target=_pump, args=(proc.stderr, err_lines, log, lock, on_output), daemon=True),
        ]
        for t in readers:
            t.start()
        timed_out = False
        try:
            proc.wait(timeout=req.timeout_s)
        except Exception:  # subprocess.TimeoutExpired, or the kubernetes adapter's own
            timed_out = True
            _kill_job(backend, req.cluster, pidfile)
            try:
                proc.wait(timeout=KILL_GRACE_S * 3)
            except Exception:
                proc.kill()
                proc.wait()
        for t in readers:
            t.join(timeout=10)
    wall = time.monotonic() - t0
    backend.login_exec(req.cluster, ["rm", "-f", pidfile]).wait()
    stdout, stderr = "\n".join(out_lines), "\n".join(err_lines)
    exit_status = 124 if timed_out else int(proc.returncode or 0)
    error = _diagnose(backend, req, nodes, stdout + "\n" + stderr, exit_status, timed_out)
    reports = rank_reports(stdout)
    if req.verify:
        verification = verify(reports, req.np, nodes, spec.slots_per_node, req.map_by)
        for problem in workload_sanity_errors(stdout):
            verification.reasons.append(problem)
            verification.passed = False
    else:
        verification = Verification(passed=True, expected_np=req.np, checked=False)
    record = JobRecord(
        id=job_id,
        started_at=started_at,
        cluster=req.cluster,
        backend=backend.name,
        nodes=nodes,
        mode=req.mode,
        dvm=req.dvm,
        fresh_containers=req.fresh_containers,
        rec=image_ref(spec.rec_image) or ImageRef(ref=spec.rec_image),
        app=image_ref(req.app),
        np=req.np,
        map_by=req.map_by,
        command=list(req.command),
        launcher_argv=argv,
        exit_status=exit_status,
        error=error,
        wall_s=round(wall, 4),
        ranks=sorted(reports, key=lambda r: r.rank),
        figures=workload_figures(stdout),
        verification=verification,
        log_path=str(log_path),
    )
    path = req.record_path or (sub("records", "jobs") / f"{job_id}.json")
    record.record_path = str(path)
    records.write(record, path)
    return record


# Each workload's parser reads only its own lines, so every one of them (every workload folder's,
# recapp.workloads) looks at every job's output.
def workload_figures(output: str) -> dict[str, Figure]:
    found: dict[str, Figure] = {}
    for parser in workloads.parsers():
        found.update(parser.figures(output))
    return found


def workload_sanity_errors(output: str) -> list[str]:
    return [problem for parser in workloads.parsers() for problem in parser.sanity_errors(output)]


def _pump(
    stream: Iterable[str], sink: list[str], log: TextIO, lock: threading.Lock, on_output: Step | None
) -> None:
    for line in stream:
        line = line.rstrip("\n")
        with lock:
            log.write(line + "\n")
            log.flush()
        if ENGINE_NOISE.search(line):
            continue
        sink.append(line)
        if on_output:
            on_output(line)


def _kill_job(backend: ClusterBackend, cluster: str, pidfile: str) -> None:
    """TERM prterun (it tears its daemons and ranks down), then KILL after a grace period."""
    script = (
        'p=$(cat "$0" 2>/dev/null) || exit 0; kill -TERM "$p" 2>/dev/null; '
        'for i in $(seq 1 $1); do kill -0 "$p" 2>/dev/null || exit 0; sleep 1; done; kill -KILL "$p"'
    )
    backend.login_exec(cluster, ["sh", "-c", script, pidfile, str(int(KILL_GRACE_S))]).wait()


def _diagnose(
    backend: ClusterBackend, req: JobRequest, nodes: list[str], output: str, exit_status: int, timed_out: bool
) -> str | None:
    # PRRTE 3 tears a job down when it loses a daemon but may still exit 0: never trust the status alone.
    lost_daemon = LOST_DAEMON.search(output)
    if exit_status == 0 and not timed_out and not lost_daemon:
        return None
    status = backend.status(req.cluster)
    running = {p.name for p in status.pods if p.state == "running"}
    lost = [n for n in nodes if n not in running]
    if lost:
        return f"lost node(s) during the job: {', '.join(lost)} (not running any more)"
    if lost_daemon:
        return f"lost node {short_host(lost_daemon.group(1))} during the job (PRRTE lost its daemon there)"
    if timed_out:
        return f"job timed out after {req.timeout_s:.0f} s and was killed"
    if req.mode == "nested" and req.app and MISSING_IMAGE.search(output):
        lacking = [
            n for n in nodes if backend.node_exec(req.cluster, n, ["podman", "image", "exists", req.app])[0]
        ]
        if lacking:
            return f"APP image {req.app} is missing on node pod(s) {', '.join(lacking)}"
    match = FAILED_PROC.search(output)
    if match:
        return f"rank {match.group(1)} exited with status {match.group(2)}"
    lines = [ln for ln in output.splitlines() if ln.strip() and not ENGINE_NOISE.search(ln)]
    return f"prterun exited with status {exit_status}: {lines[-1].strip() if lines else '(no output)'}"
