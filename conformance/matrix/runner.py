"""Run the matrix: one virtual cluster per REC, every APP through the levels in order, each attempt
classified; the result is one MatrixRecord (plus each attempt's job record and log)."""

from __future__ import annotations

import dataclasses
import secrets
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from recapp.conformance.matrix import expectations, tools, workarounds
from recapp.conformance.matrix.classify import Verdict, classify
from recapp.conformance.matrix.levels import LEVELS, Level
from recapp.errors import ConformanceError, RecappError
from recapp.host.progress import Step
from recapp.k8s import objects as o
from recapp.k8s.backend import ClusterBackend
from recapp.k8s.dvm import DVM_URI, ensure_dvm, stop_dvm
from recapp.k8s.jobs import JobRequest, image_ref, run_job
from recapp.k8s.spec import load_spec
from recapp.reports import records
from recapp.reports.records import ImageRef, JobRecord, MatrixCell, MatrixPair, MatrixRecord

# What a hung job may leave on a node, and how to find it (as the REC user).
# `[p]odman` so that the pattern does not match the shell running it.
STRAY_CHECK = "pgrep -x prted; pgrep -f '[p]odman run'; true"
# The record so far, rewritten after every pair (the final one is the CLI's matrix.json).
PARTIAL = "matrix.partial.json"
STRAY_KILL = "pkill -KILL -x prted; podman ps -q | xargs -r podman rm -f -t 0 >/dev/null 2>&1; true"


def reap_strays(backend: ClusterBackend, cluster: str) -> list[str]:
    """Kill what a hung job left on the nodes; return what was still there afterwards (goal: nothing)."""
    spec = backend.spec(cluster)
    left: list[str] = []
    for node in o.node_pod_names(spec):
        backend.node_exec(cluster, node, ["sh", "-c", STRAY_KILL], timeout=60)
        pids: list[str] = []
        for _attempt in range(10):  # killed processes take a moment to be reaped
            _status, out = backend.node_exec(cluster, node, ["sh", "-c", STRAY_CHECK], timeout=60)
            pids = [p for p in out.split() if p.isdigit()]
            if not pids:
                break
            time.sleep(0.5)
        if pids:
            left.append(f"{node}: pids {', '.join(pids)}")
    return left


def level_request(level: Level, cluster: str, app: str, command: list[str], record_path: Path) -> JobRequest:
    """The job one command of a level runs (pure)."""
    settings = [f"{k}={v}" for k, v in sorted(level.env.items())]
    return JobRequest(
        cluster=cluster,
        np=level.np,
        command=["env", *settings, *command] if settings else list(command),
        app=app,
        map_by=level.map_by,
        timeout_s=level.timeout_s,
        mounts=list(level.mounts),
        record_path=record_path,
        dvm=level.dvm,
        spawn=level.spawn,
        extra_prterun_args=list(level.launcher_args),
    )


def run_level(
    backend: ClusterBackend, cluster: str, rec: str, app: str, level: Level, out_dir: Path, say: Step
) -> MatrixCell:
    started = time.monotonic()
    verdict = Verdict("PASS")
    log_path = None
    settings = [f"{k}={v}" for k, v in sorted(level.env.items())]

    def request(i: int, command: list[str]) -> JobRequest:
        tag = f"{short_ref(rec)}--{short_ref(app)}--{level.name}-{i}".replace(":", "_").replace("/", "_")
        return level_request(level, cluster, app, command, out_dir / "jobs" / f"{tag}.json")

    tool_verdict: Verdict | None = None
    if level.tool:
        say(f"{short_ref(rec)} × {short_ref(app)}: {level.name} a PMIx tool queries the running job")
        record, tool_verdict = _run_with_tool(
            backend, cluster, app, level, request(0, level.commands[0]), say
        )
        results: list[JobRecord] | None = [record]
    elif level.concurrent:
        together = " & ".join(" ".join(c) for c in level.commands)
        say(f"{short_ref(rec)} × {short_ref(app)}: {level.name} {together}")
        requests = [request(i, c) for i, c in enumerate(level.commands)]
        results = _run_together(backend, cluster, app, level, requests)
    else:
        results = None
    judged: list[tuple[list[str], Verdict]] = []
    for i, command in enumerate(level.commands):
        if results is None:
            say(f"{short_ref(rec)} × {short_ref(app)}: {level.name} {' '.join(command)}")
            record = run_job(backend, request(i, command))
        else:
            record = results[i]
        # The cell's log: its first failing command's, else its last command's.
        if all(v.status == "PASS" for _c, v in judged):
            log_path = record.log_path
        output = Path(record.log_path).read_text(errors="replace") if record.log_path else ""
        verdict = classify(record, output, level.expect_exit)
        if tool_verdict is not None and verdict.status == "PASS":
            seen = {**verdict.observed, **tool_verdict.observed}
            verdict = Verdict(tool_verdict.status, tool_verdict.reason, seen)
        if verdict.status == "HANG":
            left = reap_strays(backend, cluster)
            if left:
                verdict = Verdict(
                    "HANG",
                    f"{verdict.reason}; processes left after cleanup: {'; '.join(left)}",
                    verdict.observed,
                )
        judged.append((command, verdict))
        if verdict.status != "PASS" and not level.each_command:
            break
    verdict = combine(judged, named=level.each_command or level.concurrent)
    return MatrixCell(
        rec=rec,
        app=app,
        level=level.name,
        status=verdict.status,  # type: ignore[arg-type]
        reason=verdict.reason,
        seconds=round(time.monotonic() - started, 2),
        observed=verdict.observed,
        settings=settings,
        log_path=log_path,
    )


def combine(judged: list[tuple[list[str], Verdict]], *, named: bool) -> Verdict:
    """One cell from its commands' verdicts (pure): PASS when all passed, else the first failure's
    status, its reason naming the command (`named`, for a level of several commands) followed by any
    other failing command's. Each command's observations are kept, under its program's name when the
    level has several (`named`); otherwise those of the last command judged."""
    failed = [(c, v) for c, v in judged if v.status != "PASS"]
    several = len(judged) > 1
    observed: dict[str, str] = dict(judged[-1][1].observed) if judged and not (named and several) else {}
    if named and several:
        for command, v in judged:
            observed.update({f"{command[0]}.{k}": val for k, val in v.observed.items()})
    if not failed:
        return Verdict("PASS", None, observed)
    reasons = [
        f"{' '.join(c)}: {v.status} {v.reason}" if i else f"{' '.join(c)}: {v.reason}"
        for i, (c, v) in enumerate(failed)
    ]
    return Verdict(
        failed[0][1].status, "; ".join(reasons) if named and several else failed[0][1].reason, observed
    )


def run_cell(
    backend: ClusterBackend, cluster: str, rec: str, app: str, level: Level, out_dir: Path, say: Step
) -> MatrixCell:
    """run_level, with a failure of the cluster itself (a node pod not Ready, an image that cannot be
    delivered, a DVM that did not start) recorded as this cell's ERROR instead of ending the matrix:
    one busy node must not cost the other cells their results."""
    started = time.monotonic()
    try:
        return run_level(backend, cluster, rec, app, level, out_dir, say)
    except RecappError as exc:
        say(f"{short_ref(rec)} × {short_ref(app)}: {level.name} not run: {exc}")
        return MatrixCell(
            rec=rec,
            app=app,
            level=level.name,
            status="ERROR",
            reason=f"not run: {exc}",
            seconds=round(time.monotonic() - started, 2),
        )


def _run_together(
    backend: ClusterBackend, cluster: str, app: str, level: Level, requests: list[JobRequest]
) -> list[JobRecord]:
    """Run the level's jobs at the same time; the APP and the DVM are made ready first, once (two
    jobs delivering or starting them at once would race)."""
    backend.deliver_image(cluster, app)
    if level.dvm:
        ensure_dvm(backend, cluster)
    results: list[JobRecord | BaseException | None] = [None] * len(requests)

    def one(i: int) -> None:
        try:
            results[i] = run_job(backend, requests[i])
        except BaseException as exc:  # re-raised below, in the caller's thread
            results[i] = exc

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(len(requests))]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        if level.dvm:
            # The cluster is left as the level found it: the next levels launch with prterun.
            stop_dvm(backend, cluster)
    done: list[JobRecord] = []
    for r in results:
        if isinstance(r, BaseException):
            raise r
        assert r is not None
        done.append(r)
    return done


def _run_with_tool(
    backend: ClusterBackend, cluster: str, app: str, level: Level, req: JobRequest, say: Step
) -> tuple[JobRecord, Verdict]:
    """Run the level's job on the DVM; once every rank has said who it is, run the tool's queries in
    the login pod, then release the ranks. Returns the job's record and the tool's verdict."""
    backend.deliver_image(cluster, app)
    ensure_dvm(backend, cluster)
    lines: list[str] = []
    everyone = threading.Event()
    outcome: list[JobRecord | BaseException] = []

    def heard(line: str) -> None:
        lines.append(line)
        if len(tools.targets("\n".join(lines))) >= level.np:
            everyone.set()

    def job() -> None:
        try:
            outcome.append(run_job(backend, req, on_output=heard))
        except BaseException as exc:  # re-raised below, in the caller's thread
            outcome.append(exc)
        finally:
            everyone.set()

    runs: list[tools.ToolRun] = []
    nspaces: set[str] = set()
    thread = threading.Thread(target=job, daemon=True)
    try:
        thread.start()
        everyone.wait(timeout=level.timeout_s / 2)
        nspaces = {t["nspace"] for t in tools.targets("\n".join(lines)) if t.get("nspace")}
        if len(nspaces) == 1 and thread.is_alive():
            nspace = next(iter(nspaces))
            for argv in tools.tool_argvs(DVM_URI, nspace):
                say(f"tool: {' '.join(argv)}")
                runs.append(_tool_run(backend, cluster, argv, timeout_s=level.timeout_s / 4))
    finally:
        # Release the ranks (a file in the /tmp the APP shares with its node); a node that cannot be
        # reached leaves its rank to end at the script's own limit or the job's timeout.
        released = [tools.release_path(n) for n in nspaces]
        _on_nodes(backend, cluster, ["touch"], released)
        thread.join(timeout=req.timeout_s + 60)
        _on_nodes(backend, cluster, ["rm", "-f"], released)
        stop_dvm(backend, cluster)
    if not outcome:
        raise ConformanceError(f"cluster {cluster}: the {level.name} job did not end")
    if isinstance(outcome[0], BaseException):
        raise outcome[0]
    record = outcome[0]
    output = Path(record.log_path).read_text(errors="replace") if record.log_path else "\n".join(lines)
    if req.record_path is not None:  # what the tool printed, beside the job's record
        text = "".join(f"$ {' '.join(r.argv)}\n(exit {r.status})\n{r.output}\n" for r in runs)
        req.record_path.with_suffix(".tool.log").write_text(text)
    if not runs:
        return record, Verdict("FAIL", "the ranks did not all report their namespace and pid: no tool ran")
    return record, tools.verdict(level.np, output, runs)


def _on_nodes(backend: ClusterBackend, cluster: str, command: list[str], paths: list[str]) -> None:
    """`command PATHS…` on every node pod, as far as each can be reached (a clean-up that must go on)."""
    if not paths:
        return
    for node in o.node_pod_names(backend.spec(cluster)):
        try:
            backend.node_exec(cluster, node, [*command, *paths], timeout=60)
        except RecappError:
            continue


def _tool_run(backend: ClusterBackend, cluster: str, argv: list[str], *, timeout_s: float) -> tools.ToolRun:
    """One tool command in the login pod, its stdout and stderr together (pquery prints a table's
    values on stderr). A tool that does not answer in time is killed and counts as status 124."""
    proc = backend.login_exec(cluster, argv)
    chunks: dict[str, str] = {}

    def read(name: str, stream: Any) -> None:
        chunks[name] = stream.read() if stream is not None else ""

    readers = [
        threading.Thread(target=read, args=("out", proc.stdout), daemon=True),
        threading.Thread(target=read, args=("err", proc.stderr), daemon=True),
    ]
    for t in readers:
        t.start()
    try:
        status = proc.wait(timeout=timeout_s)
    except Exception:  # subprocess.TimeoutExpired, or the kubernetes adapter's own
        proc.kill()
        proc.wait()
        status = 124
    for t in readers:
        t.join(timeout=10)
    return tools.ToolRun(
        argv=argv, status=status, output=chunks.get("out", "") + "\n" + chunks.get("err", "")
    )


def run_pair(
    backend: ClusterBackend,
    cluster: str,
    rec: str,
    app: str,
    levels: list[Level],
    out_dir: Path,
    say: Step,
    app_versions: dict[str, str] | None = None,
) -> list[MatrixCell]:
    cells: list[MatrixCell] = []
    for level in levels:
        blocker = blocking_cell(level, cells)
        if blocker is not None:
            reason = f"{blocker.level} did not pass"
            cells.append(MatrixCell(rec=rec, app=app, level=level.name, status="SKIPPED", reason=reason))
            continue
        cell = run_cell(backend, cluster, rec, app, level, out_dir, say)
        if cell.status not in ("PASS", "ERROR"):
            cell = _try_workarounds(backend, cluster, rec, app, level, cell, out_dir, say, app_versions or {})
        cells.append(cell)
    return cells


def blocking_cell(level: Level, cells: list[MatrixCell]) -> MatrixCell | None:
    """The earlier cell that stops `level` from running: the previous one unless the level names
    what it requires (a required level not in this run does not block it)."""
    if level.requires is None:
        return cells[-1] if cells and cells[-1].status != "PASS" else None
    return next((c for c in cells if c.level in level.requires and c.status != "PASS"), None)


def _try_workarounds(
    backend: ClusterBackend,
    cluster: str,
    rec: str,
    app: str,
    level: Level,
    cell: MatrixCell,
    out_dir: Path,
    say: Step,
    app_versions: dict[str, str],
) -> MatrixCell:
    """A documented setting replaces the cell; an undocumented one only explains it."""
    for fix in workarounds.for_cell(level.name, app_versions):
        env = {**level.env, **fix.env}
        with_fix = dataclasses.replace(level, env=env)
        retry = run_cell(backend, cluster, rec, app, with_fix, out_dir, say)
        if fix.documented and retry.status == "PASS":
            return retry
        outcome = "passes" if retry.status == "PASS" else f"is still {retry.status}"
        reason = (
            f"{cell.reason} — diagnosed: {fix.cause} With the undocumented setting "
            f"{', '.join(retry.settings)} this level {outcome}."
        )
        return cell.model_copy(update={"reason": reason, "settings": [f"tried: {x}" for x in retry.settings]})
    return cell


def summarise_pair(rec: ImageRef, app: ImageRef, cells: list[MatrixCell]) -> MatrixPair:
    exp = expectations.expected(rec.versions.get("pmix"), app.versions.get("pmix"))
    deep = {
        c.level: expectations.level_expected_for(c.level, rec.versions.get("pmix"), app.versions).verdict
        for c in cells
        if c.level not in expectations.pmix_levels() and c.level not in ("L3", "L4")
    }
    passed = [c for c in cells if c.status == "PASS"]
    first_bad = next((c for c in cells if c.status not in ("PASS", "SKIPPED")), None)
    pmix_cells = [c for c in cells if c.level in expectations.pmix_levels() and c.status != "SKIPPED"]
    disagreement = None
    if exp.verdict == "compatible" and any(c.status != "PASS" for c in pmix_cells):
        bad = next(c for c in pmix_cells if c.status != "PASS")
        disagreement = f"documented compatible, but {bad.level} is {bad.status}"
    elif exp.verdict == "incompatible" and pmix_cells and all(c.status == "PASS" for c in pmix_cells):
        disagreement = "documented incompatible, but the PMIx levels passed"
    return MatrixPair(
        rec=rec.ref,
        app=app.ref,
        expected=exp.verdict,  # type: ignore[arg-type]
        expected_source=exp.source,
        highest_level=passed[-1].level if passed else None,
        status=first_bad.status if first_bad else "PASS",
        reason=first_bad.reason if first_bad else None,
        disagreement=disagreement,
        first_failed_level=first_bad.level if first_bad else None,
        levels={c.level: c.status for c in cells},
        level_expected=deep,  # type: ignore[arg-type]
        level_disagreements=[
            f"{c.level}: documented {deep[c.level]}, but {c.status}"
            for c in cells
            if c.level in deep
            and (
                (deep[c.level] == "compatible" and c.status in ("FAIL", "REFUSED", "HANG", "WRONG"))
                or (deep[c.level] == "incompatible" and c.status == "PASS")
            )
        ],
    )


def run_matrix(
    backend: ClusterBackend,
    recs: list[str],
    apps: list[str],
    level_names: list[str],
    out_dir: Path,
    *,
    step: Step | None = None,
    levels: dict[str, Level] | None = None,
    cluster_settings: dict[str, Any] | None = None,
) -> MatrixRecord:
    """`cluster_settings`: spec fields for each REC's cluster on top of the matrix's own (the node
    pods' storage, pull policy, seccomp profile, namespace on a Kubernetes backend)."""
    say = step or (lambda _t: None)
    catalogue = levels or LEVELS
    chosen = [catalogue[name] for name in level_names]
    rec_refs = [_image(r) for r in recs]
    app_refs = [_image(a) for a in apps]
    started_at = datetime.now(UTC)
    t0 = time.monotonic()
    cells: list[MatrixCell] = []
    pairs: list[MatrixPair] = []
    errors: list[str] = []

    def record() -> MatrixRecord:
        return MatrixRecord(
            started_at=started_at,
            wall_s=round(time.monotonic() - t0, 1),
            levels=level_names,
            recs=rec_refs,
            apps=app_refs,
            cells=list(cells),
            pairs=list(pairs),
            errors=list(errors),
        )

    for rec in rec_refs:
        name = f"mx{secrets.token_hex(3)}"
        say(f"cluster {name} for {rec.ref}")
        own = {"name": name, "nodes": 2, "slots_per_node": 2, "rec_image": rec.ref, "ready_timeout_s": 180}
        try:
            try:
                backend.up(load_spec({**(cluster_settings or {}), **own}))
                cluster_error = None
            except RecappError as exc:  # this REC's cells say why; the other RECs still run
                cluster_error = f"not run: the cluster for {short_ref(rec.ref)} did not come up: {exc}"
            for app in app_refs:
                if cluster_error is None:
                    pair_cells = run_pair(backend, name, rec.ref, app.ref, chosen, out_dir, say, app.versions)
                else:
                    pair_cells = [
                        MatrixCell(
                            rec=rec.ref, app=app.ref, level=lv.name, status="ERROR", reason=cluster_error
                        )
                        for lv in chosen
                    ]
                cells.extend(pair_cells)
                pairs.append(summarise_pair(rec, app, pair_cells))
                # What ran so far survives whatever stops the run later (a killed session, the host).
                records.write(record(), out_dir / PARTIAL)
        finally:
            try:
                backend.down(name)
            except RecappError as exc:
                errors.append(f"cluster {name} ({short_ref(rec.ref)}) was not removed: {exc}")
    return record()


def _image(ref: str) -> ImageRef:
    found = image_ref(ref)
    if found is None or found.id is None:
        raise ConformanceError(f"image {ref!r} not found in the local image store")
    return found


def short_ref(ref: str) -> str:
    """`localhost/recapp/rec:trixie` → `rec:trixie`, for tables and file names."""
    return ref.rsplit("/", 1)[-1]
