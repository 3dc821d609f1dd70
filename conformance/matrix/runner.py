"""Run the matrix: one virtual cluster per REC, every APP through the levels in order, each attempt
classified; the result is one MatrixRecord (plus each attempt's job record and log)."""

from __future__ import annotations

import dataclasses
import secrets
import time
from datetime import UTC, datetime
from pathlib import Path

from recapp.conformance.matrix import expectations, workarounds
from recapp.conformance.matrix.classify import Verdict, classify
from recapp.conformance.matrix.levels import LEVELS, Level
from recapp.errors import ConformanceError
from recapp.host.progress import Step
from recapp.k8s import objects as o
from recapp.k8s.backend import ClusterBackend
from recapp.k8s.jobs import JobRequest, image_ref, run_job
from recapp.k8s.spec import load_spec
from recapp.reports.records import ImageRef, MatrixCell, MatrixPair, MatrixRecord

# What a hung job may leave on a node, and how to find it (as the REC user).
# `[p]odman` so that the pattern does not match the shell running it.
STRAY_CHECK = "pgrep -x prted; pgrep -f '[p]odman run'; true"
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


def run_level(
    backend: ClusterBackend, cluster: str, rec: str, app: str, level: Level, out_dir: Path, say: Step
) -> MatrixCell:
    started = time.monotonic()
    verdict = Verdict("PASS")
    log_path = None
    settings = [f"{k}={v}" for k, v in sorted(level.env.items())]
    for i, command in enumerate(level.commands):
        say(f"{short_ref(rec)} × {short_ref(app)}: {level.name} {' '.join(command)}")
        argv = ["env", *settings, *command] if settings else list(command)
        tag = f"{short_ref(rec)}--{short_ref(app)}--{level.name}-{i}".replace(":", "_").replace("/", "_")
        record = run_job(
            backend,
            JobRequest(
                cluster=cluster,
                np=level.np,
                command=argv,
                app=app,
                map_by=level.map_by,
                timeout_s=level.timeout_s,
                mounts=list(level.mounts),
                record_path=out_dir / "jobs" / f"{tag}.json",
            ),
        )
        log_path = record.log_path
        output = Path(record.log_path).read_text(errors="replace") if record.log_path else ""
        verdict = classify(record, output)
        if verdict.status == "HANG":
            left = reap_strays(backend, cluster)
            if left:
                verdict = Verdict(
                    "HANG",
                    f"{verdict.reason}; processes left after cleanup: {'; '.join(left)}",
                    verdict.observed,
                )
        if verdict.status != "PASS":
            break
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
        if cells and cells[-1].status != "PASS":
            reason = f"{cells[-1].level} did not pass"
            cells.append(MatrixCell(rec=rec, app=app, level=level.name, status="SKIPPED", reason=reason))
            continue
        cell = run_level(backend, cluster, rec, app, level, out_dir, say)
        if cell.status != "PASS":
            cell = _try_workarounds(backend, cluster, rec, app, level, cell, out_dir, say, app_versions or {})
        cells.append(cell)
    return cells


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
        retry = run_level(backend, cluster, rec, app, with_fix, out_dir, say)
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
) -> MatrixRecord:
    say = step or (lambda _t: None)
    catalogue = levels or LEVELS
    chosen = [catalogue[name] for name in level_names]
    rec_refs = [_image(r) for r in recs]
    app_refs = [_image(a) for a in apps]
    started_at = datetime.now(UTC)
    t0 = time.monotonic()
    cells: list[MatrixCell] = []
    pairs: list[MatrixPair] = []
    for rec in rec_refs:
        name = f"mx{secrets.token_hex(3)}"
        say(f"cluster for {rec.ref}")
        backend.up(
            load_spec(
                {"name": name, "nodes": 2, "slots_per_node": 2, "rec_image": rec.ref, "ready_timeout_s": 180}
            )
        )
        try:
            for app in app_refs:
                pair_cells = run_pair(backend, name, rec.ref, app.ref, chosen, out_dir, say, app.versions)
                cells += pair_cells
                pairs.append(summarise_pair(rec, app, pair_cells))
        finally:
            backend.down(name)
    return MatrixRecord(
        started_at=started_at,
        wall_s=round(time.monotonic() - t0, 1),
        levels=level_names,
        recs=rec_refs,
        apps=app_refs,
        cells=cells,
        pairs=pairs,
    )


def _image(ref: str) -> ImageRef:
    found = image_ref(ref)
    if found is None or found.id is None:
        raise ConformanceError(f"image {ref!r} not found in the local image store")
    return found


def short_ref(ref: str) -> str:
    """`localhost/recapp/rec:trixie` → `rec:trixie`, for tables and file names."""
    return ref.rsplit("/", 1)[-1]
