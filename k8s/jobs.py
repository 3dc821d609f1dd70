"""Run one job on a virtual cluster: deliver the APP, launch `prterun` from the login pod, watch it,
verify placement, and write the result record."""

from __future__ import annotations

import dataclasses
import os
import re
import secrets
import signal
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, TextIO

from recapp import workloads
from recapp.errors import ClusterError, ClusterUnreachable, JobError
from recapp.host import images
from recapp.host.labels import versions_from_labels
from recapp.host.names import check_cluster_name, check_image_ref
from recapp.host.paths import sub
from recapp.host.progress import Step
from recapp.k8s import constants as c
from recapp.k8s import objects as o
from recapp.k8s.backend import ClusterBackend, native_lib_dir
from recapp.k8s.dvm import DVM_URI, ensure_dvm, restart_error, restarts_after_job
from recapp.k8s.placement import verify
from recapp.reports import records
from recapp.reports.records import Figure, ImageRef, JobRecord, Verification, rank_reports, short_host

# nested: the APP in the REC (wrap-container); native: the APP's binaries run in the REC; traditional:
# the cluster's REC is an all-in-one image (runtime + application) and runs the command as-is, on PATH.
Mode = Literal["nested", "native", "traditional"]
EXEC_AGENT_ENV = "PRTE_MCA_odls_base_exec_agent"

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
CPU_LIST = re.compile(r"\d+(-\d+)?(,\d+(-\d+)?)*")

# Warnings the nested podman prints on cgroup v1 hosts; kept in the log, not shown.
ENGINE_NOISE = re.compile(r'level=warning msg="(cannot toggle freezer|lstat |Using cgroups-v1)')
# PRRTE's report of the first failed process: "Process name: [prterun-…@1,3]" … "Exit code: 7".
FAILED_PROC = re.compile(r"Process name:\s*\[[^,\]]+,(\d+)\].*?Exit code:\s*(-?\d+)", re.DOTALL)
# That report, and its "exited on signal 11" twin, is lost whenever every rank ends at once (PRRTE
# 3.0.8: 4 of 4 `exit 3` jobs of 8 ranks and every instant segfault printed nothing, while a rank that
# failed as the others still ran was always reported). The error manager's own line for the failed
# process is printed every time, at its lowest verbosity (one line per failed rank, none when all pass):
#   "errmgr:dvm: for proc [prterun-…@1,6] state ABORTED BY SIGNAL". Job 0 is the daemons, never a rank.
ERRMGR_VERBOSE = ["--prtemca", "errmgr_base_verbose", "1"]
ERRMGR_FAILED = re.compile(
    r"errmgr:dvm: for proc \[[^,\]]+@[1-9]\d*,(\d+)\] state (EXITED WITH NON-ZERO STATUS|ABORTED BY SIGNAL)"
)
# Lines a `recapp run` keeps in its log but does not show: the error manager's (above), and PRRTE's
# launcher warning that it could not put the launch agent in its own process group. That warning is a
# race with no consequence: the child calls setpgid(0, 0) itself before it execs the agent, and the
# parent's second setpgid(pid, pid) fails with EACCES when the child has already exec'd (POSIX).
LAUNCHER_NOISE = re.compile(r"errmgr:dvm: |Comm failure: |plm:ssh: Warning: setpgid\(")
# PRRTE's "PRTE has lost communication with a remote daemon" block names the node.
LOST_DAEMON = re.compile(
    r"lost communication with a remote daemon.*?Remote daemon:.*?on node (\S+)", re.DOTALL
)
# podman's error when a rank's APP image is not in its node's storage.
MISSING_IMAGE = re.compile(r"Error: .*: image not known")
KILL_GRACE_S = 5.0
# How long the job's clean-up in the login pod is retried while the cluster cannot be reached (a
# kubelet restart took 3 s here; an API server restart 15-40 s): a fault still ends within 60 s.
CLEANUP_RETRY_S = 20.0
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
    # Nested only: the processes the REC's daemons start on their own (MPI_Comm_spawn, PMIx_Spawn)
    # run nested too: PRRTE's exec agent wraps every process of the job and of what it spawns.
    spawn: bool = False
    # Every rank runs under `taskset -c CPUS` (e.g. "1" or "0-1"): the bench's optional pinning. Inside
    # the rank's own container, since a container joins its cpuset cgroup and that resets an affinity
    # inherited from outside.
    taskset: str | None = None


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
    if not req.dvm:  # `prun` cannot set it: the DVM's own error manager reports (its output is gone)
        argv += ERRMGR_VERBOSE
    pin = ["taskset", "-c", req.taskset] if req.taskset is not None else []
    if req.taskset is not None and not CPU_LIST.fullmatch(req.taskset):
        raise JobError(f"taskset CPU list {req.taskset!r}: expected e.g. 1 or 0-1 or 0,2")
    if req.mode == "nested":
        if not app_ref:
            raise JobError("a nested job needs an APP image (--app)")
        binds = [a for m in req.mounts for a in ("--mount", m)]
        fresh = ["--fresh"] if req.fresh_containers else []
        wrap = ["wrap-container", "--image", app_ref, *fresh, *binds, "--"]
        if req.spawn:
            return spawn_argv(argv, wrap, [*pin, *req.command])
        return [*argv, *wrap, *pin, *req.command]
    program = req.command[0]
    if native_dir and "/" not in program:
        program = f"{native_dir}/{program}"
    if native_dir:
        # The APP's libraries the REC lacks (e.g. HPCC's BLAS), never its MPI: see k8s/local/native.py.
        argv += ["-x", f"LD_LIBRARY_PATH={native_lib_dir(native_dir)}"]
    return [*argv, *pin, program, *req.command[1:]]


def spawn_argv(launcher: list[str], wrap: list[str], command: list[str]) -> list[str]:
    """The launcher with `wrap` as PRRTE's exec agent instead of as a prefix of the job's argv.

    A prefix nests only the processes of the job as launched; a process spawned later is started
    by a daemon from the spawner's own argv. The exec agent (odls_base_exec_agent) is applied by
    the daemons to every process they start, and prterun, where it is read, gives it to each job
    it runs, spawned ones included (PRRTE state_base_options: PRTE_JOB_EXEC_AGENT). PRRTE splits
    it at spaces, so no word of it may hold one.
    """
    spaced = [w for w in wrap if not w or any(ch.isspace() for ch in w)]
    if spaced:
        raise JobError(f"cannot use {spaced[0]!r} in PRRTE's exec agent (it is split at spaces)")
    return ["env", f"{EXEC_AGENT_ENV}={' '.join(wrap)}", *launcher, *command]


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


def name_app_programs(backend: ClusterBackend, cluster: str, nodes: list[str], app_ref: str) -> None:
    """Give every program of the APP a name on each node's PATH (`wrap-container --programs`):
    PRRTE's daemons check that a program exists before their exec agent starts it nested."""
    for node in nodes:
        status, out = backend.node_exec(cluster, node, ["wrap-container", "--programs", app_ref], timeout=300)
        if status != 0:
            last = out.strip().splitlines()[-1:] or ["(no output)"]
            raise JobError(f"node pod {node}: cannot name the programs of {app_ref}: {last[0]}")


def check_cluster_usable(backend: ClusterBackend, cluster: str, nodes: list[str]) -> str:
    """Refuse a job, naming the pods at fault, unless every node pod is Ready and the login pod runs;
    return the login pod's name.

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
    logins = [p.name for p in status.pods if p.component == c.COMPONENT_LOGIN]
    if not logins:
        raise JobError(
            f"cluster {cluster}: the login pod is missing (evicted or deleted: it is not replaced);"
            f" recapp cluster down --name {cluster}, then up"
        )
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
    return logins[-1]


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
    login_pod = check_cluster_usable(backend, req.cluster, nodes)
    job_id = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{req.cluster}-{secrets.token_hex(3)}"
    log_path = sub("jobs") / f"{job_id}.log"
    app_ref = native_dir = None
    if req.mode == "nested":
        if not req.app:
            raise JobError("a nested job needs an APP image (--app)")
        app_ref = backend.deliver_image(req.cluster, req.app, step=say)
        if req.spawn:
            say(f"naming the programs of {app_ref} on the nodes (spawned processes)")
            name_app_programs(backend, req.cluster, nodes, app_ref)
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
    # The exec's stream can end without the command's status (the kubelet or the API server
    # restarted, the login pod went away): then prterun may still run, so it is stopped too.
    lost = getattr(proc, "lost", None) if not timed_out else None
    left = _clean_up(backend, req.cluster, pidfile, kill=lost is not None)
    stdout, stderr = "\n".join(out_lines), "\n".join(err_lines)
    exit_status = 124 if timed_out else int(proc.returncode or 0)
    try:
        error = _diagnose(backend, req, nodes, stdout + "\n" + stderr, exit_status, timed_out, login_pod)
    except ClusterError as exc:  # the cluster cannot even be asked: that is the error
        error = f"prterun exited with status {exit_status}; then the cluster could not be read: {exc}"
    if req.dvm and not timed_out:
        # PRRTE's HNP may have ended under this job (k8s/dvm.py): say so, and wait for the keeper's
        # restart so that the next job finds a DVM. Whatever the status: `prun` exited 0 when its DVM
        # was terminated in the middle of a 6-s job.
        restarts = restarts_after_job(backend, req.cluster, started_at.timestamp() - 1, exit_status)
        if restarts:
            error = restart_error(restarts)
            ensure_dvm(backend, req.cluster)
    # A lost stream's status (255, read as "a rank was killed by signal 127") says nothing of the
    # ranks: errors inferred from that status give way; one read from PRRTE's own words stays.
    inferred = error is None or error.startswith("prterun exited") or error.endswith("PRRTE did not name it")
    if lost is not None and inferred:
        error = (
            f"lost the connection to the job in login pod {login_pod} ({lost.removeprefix('exec ')};"
            " did the kubelet or the API server restart?); "
            + (f"the job may still run there: {left}" if left else "the job was stopped")
        )
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
        sink.append(line)  # the launcher's own lines too: _diagnose reads them
        if on_output and not LAUNCHER_NOISE.search(line):
            on_output(line)


def _clean_up(backend: ClusterBackend, cluster: str, pidfile: str, *, kill: bool) -> str | None:
    """Remove the job's pidfile in the login pod (first stopping prterun with `kill`). Retried while
    the cluster cannot be reached (a restarting kubelet or API server); None when done, else why not
    (a login pod that is gone took the pidfile and prterun with it)."""
    deadline = time.monotonic() + CLEANUP_RETRY_S
    while True:
        try:
            if kill:
                _kill_job(backend, cluster, pidfile)
            backend.login_exec(cluster, ["rm", "-f", pidfile]).wait()
            return None
        except ClusterUnreachable as exc:  # anything else (the login pod is gone) will not heal
            if time.monotonic() >= deadline:
                return str(exc)
            time.sleep(PROBE_RETRY_S)
        except ClusterError:
            return None


def _kill_job(backend: ClusterBackend, cluster: str, pidfile: str) -> None:
    """TERM prterun (it tears its daemons and ranks down), then KILL after a grace period."""
    script = (
        'p=$(cat "$0" 2>/dev/null) || exit 0; kill -TERM "$p" 2>/dev/null; '
        'for i in $(seq 1 $1); do kill -0 "$p" 2>/dev/null || exit 0; sleep 1; done; kill -KILL "$p"'
    )
    backend.login_exec(cluster, ["sh", "-c", script, pidfile, str(int(KILL_GRACE_S))]).wait()


def _diagnose(
    backend: ClusterBackend,
    req: JobRequest,
    nodes: list[str],
    output: str,
    exit_status: int,
    timed_out: bool,
    login_pod: str,
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
    if login_pod not in running:
        state = next((p.state for p in status.pods if p.name == login_pod), "gone")
        return (
            f"lost the login pod {login_pod} during the job ({state}: evicted or deleted?); the job"
            f" ended with it, and the cluster has no login pod now (recapp cluster down --name {req.cluster},"
            " then up)"
        )
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
    named = failed_rank(output, exit_status)
    if named:
        return named
    # Through a DVM, `prun` gets no error-manager line and often no report. 255 is no signal (a
    # launcher's own failure, or a lost exec stream): only 129-192 name one.
    if 128 < exit_status <= 128 + 64:
        return f"a rank {_signal_text(exit_status)}; PRRTE did not name it"
    lines = [
        ln
        for ln in output.splitlines()
        if ln.strip() and not (ENGINE_NOISE.search(ln) or LAUNCHER_NOISE.search(ln))
    ]
    return f"prterun exited with status {exit_status}: {lines[-1].strip() if lines else '(no output)'}"


def failed_rank(output: str, exit_status: int) -> str | None:
    """The first failed rank as PRRTE names it, from its report or its error manager's line; its exit
    status is the launcher's (PRRTE returns the first failed rank's, 128 + N for signal N)."""
    report = FAILED_PROC.search(output)
    if report:
        return f"rank {report.group(1)} exited with status {report.group(2)}"
    line = ERRMGR_FAILED.search(output)
    if line is None:
        return None
    if line.group(2) == "ABORTED BY SIGNAL" or exit_status > 128:
        return f"rank {line.group(1)} {_signal_text(exit_status)}"
    return f"rank {line.group(1)} exited with status {exit_status}"


def _signal_text(exit_status: int) -> str:
    if exit_status <= 128:
        return f"was killed by a signal (exit status {exit_status})"
    number = exit_status - 128
    try:
        name = signal.Signals(number).name
    except ValueError:
        return f"was killed by signal {number}"
    return f"was killed by signal {number} ({name})"
