"""Workloads side by side: each one nested (APP in the REC), native (the APP's binaries run in the REC)
and traditional (one all-in-one image as the cluster's REC, no nesting), in one session.

The models alternate within every repeat, starting with a different one each time, so a noisy
machine hurts them alike; the record keeps every sample, the medians, the spread and the
nested ÷ native (and traditional ÷ native) ratios, and checks the figures against the system's
references. A model that cannot run a workload (no image, the program missing from it, a failed
warm-up) is skipped *with its reason*, and the others still run.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from recapp.bench import references as refs_mod
from recapp.bench.cluster import INTERVAL_PARAMETERS, cores, cpu_model, ratio, run_job_patiently, series
from recapp.errors import RecappError
from recapp.host import engine, images
from recapp.host.progress import Step
from recapp.k8s.backend import ClusterBackend
from recapp.k8s.jobs import JobRequest, image_ref
from recapp.k8s.spec import load_spec
from recapp.reports.records import BenchRecord, Comparison, ImageRef, JobRecord, ReferenceCheck
from recapp.workloads.catalog import WALL, Workload, better

MODELS = ("nested", "native", "traditional")


@dataclass
class Target:
    """One workload at one rank count, with the models that can run it."""

    workload: Workload
    np: int
    key: str  # name in references and ratios: the workload, `name@np` for a scaling series
    models: list[str]
    samples: dict[str, dict[str, list[float]]] = field(default_factory=dict)  # model → figure → values
    units: dict[str, str] = field(default_factory=dict)
    app_ids: set[str] = field(default_factory=set)  # the APP image ids the nested/native samples ran


def has_program(image: str, program: str) -> bool:
    """Whether `program` is on the image's PATH (a throw-away container, as the image's own user)."""
    proc = engine.podman(
        "run", "--rm", "--pull=never", "--entrypoint", "sh", image, "-c", 'command -v "$0"', program,
        check=False, timeout=120,
    )  # fmt: skip
    return proc.returncode == 0


def plan(
    workloads: list[Workload],
    *,
    rec: str,
    aio: str | None,
    app_for: Callable[[str], str],
    nodes: int,
    models: tuple[str, ...] = MODELS,
) -> tuple[list[Target], dict[str, str]]:
    """The targets to measure and, for what is left out, why (`workload` or `workload/model` → reason)."""
    skipped: dict[str, str] = {}
    targets: list[Target] = []
    present: dict[tuple[str, str], bool] = {}

    def on_path(image: str, program: str) -> bool:
        if (image, program) not in present:
            present[(image, program)] = has_program(image, program)
        return present[(image, program)]

    for wl in workloads:
        app = app_for(wl.app)
        program = wl.command[0]
        usable: list[str] = []
        for model in models:
            where = f"{wl.name}/{model}"
            if model == "traditional":
                if not aio:
                    skipped[where] = "no all-in-one image given"
                elif images.image_id(aio) is None:
                    skipped[where] = f"all-in-one image {aio} is not built"
                elif not on_path(aio, program):
                    skipped[where] = f"{program} is not in the all-in-one image {aio}"
                else:
                    usable.append(model)
            elif model == "native" and wl.not_native:
                skipped[where] = wl.not_native
            elif images.image_id(app) is None:
                skipped[where] = f"APP image {app} is not built"
            elif not on_path(app, program):
                skipped[where] = f"{program} is not in {app}"
            else:
                usable.append(model)
        if not usable:
            skipped[wl.name] = "; ".join(skipped.pop(f"{wl.name}/{m}") for m in models)
            continue
        too_big = [n for n in wl.np if wl.nodes_needed(n, nodes) > nodes]
        if too_big:
            skipped[wl.name] = f"np {too_big} needs more than the cluster's {nodes} nodes"
            continue
        for n in wl.np:
            key = wl.name if len(wl.np) == 1 else f"{wl.name}@{n}"
            targets.append(Target(workload=wl, np=n, key=key, models=list(usable)))
    return targets, skipped


@contextmanager
def _cluster(backend: ClusterBackend, rec: str, nodes: int, slots: int, prefix: str) -> Iterator[str]:
    name = f"{prefix}{secrets.token_hex(3)}"
    spec = load_spec(
        {"name": name, "nodes": nodes, "slots_per_node": slots, "rec_image": rec, "ready_timeout_s": 300}
    )
    try:
        backend.up(spec)
        yield name
    finally:
        backend.down(name)


def _run(
    backend: ClusterBackend,
    cluster: str,
    model: str,
    target: Target,
    command: list[str],
    app: str,
    nodes: int,
    records_dir: Path | None,
    taskset: str | None = None,
) -> JobRecord | str:
    """The job's record, or why it could not be started (then the bench goes on without it)."""
    wl = target.workload
    req = JobRequest(
        cluster=cluster,
        np=target.np,
        command=command,
        app=None if model == "traditional" else app,
        map_by=f"ppr:{wl.per_node(target.np, nodes)}:node",
        mode=model,  # type: ignore[arg-type]
        timeout_s=wl.timeout_s,
        taskset=taskset,
    )
    record = run_job_patiently(backend, req)
    if isinstance(record, str):
        return record
    if records_dir is not None and record.record_path:
        # The evidence beside the summary: each sample's job record goes into the report folder.
        dest = records_dir / "jobs" / f"{record.id}.json"
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(Path(record.record_path).read_text())
    return record


def _why(record: JobRecord | str) -> str:
    if isinstance(record, str):
        return record
    return record.error or "; ".join(record.verification.reasons) or f"exit status {record.exit_status}"


def _collect(target: Target, model: str, record: JobRecord) -> None:
    if record.app is not None and record.app.id:
        target.app_ids.add(record.app.id)
    found = target.samples.setdefault(model, {})
    figures = {name: (f.value, f.unit) for name, f in record.figures.items()}
    figures[WALL] = (record.wall_s, "s")
    for name, (value, unit) in figures.items():
        if target.workload.wanted(name):
            found.setdefault(name, []).append(value)
            target.units[name] = unit


def measure(
    backend: ClusterBackend,
    targets: list[Target],
    clusters: dict[str, str],
    *,
    app_for: Callable[[str], str],
    nodes: int,
    repeats: int,
    skipped: dict[str, str],
    job_ids: list[str],
    records_dir: Path | None,
    say: Step,
    taskset: str | None = None,
) -> None:
    """Warm up each model once, then `repeats` rounds with the models in rotating order."""
    for target in targets:
        wl = target.workload
        app = app_for(wl.app)
        if wl.warmup_command():
            for model in list(target.models):
                say(f"{target.key}: warm-up {model} ({' '.join(wl.warmup_command())})")
                record = _run(
                    backend, clusters[model], model, target, wl.warmup_command(), app, nodes, None, taskset
                )
                if isinstance(record, str) or not record.passed:
                    skipped[f"{target.key}/{model}"] = f"warm-up failed: {_why(record)}"
                    target.models.remove(model)
        for rep in range(repeats):
            shift = rep % max(1, len(target.models))
            for model in target.models[shift:] + target.models[:shift]:
                say(f"{target.key}: {model}, repeat {rep + 1}/{repeats}")
                record = _run(
                    backend, clusters[model], model, target, wl.command, app, nodes, records_dir, taskset
                )
                if isinstance(record, str):
                    skipped.setdefault(f"{target.key}/{model}", f"a run could not start: {record}")
                    continue
                job_ids.append(record.id)
                if record.passed:
                    _collect(target, model, record)
                else:
                    skipped.setdefault(f"{target.key}/{model}", f"a run failed: {_why(record)}")


def compare(target: Target) -> list[Comparison]:
    out: list[Comparison] = []
    names = sorted({f for per_model in target.samples.values() for f in per_model}, key=_figure_order)
    for figure in names:
        columns = {
            model: series(f"{target.key} {figure} {model}", target.units[figure], values[figure])
            for model, values in target.samples.items()
            if values.get(figure)
        }
        ratios: dict[str, float] = {}
        intervals: dict[str, list[float]] = {}
        # nested ÷ traditional too: where the REC cannot run the APP's binaries natively (GROMACS
        # needs libraries only the APP has), the all-in-one image runs the same packaged binaries.
        for model, base in (("nested", "native"), ("traditional", "native"), ("nested", "traditional")):
            if model in columns and base in columns and columns[base].median:
                name = f"{model}/{base}"
                ratios[name], found = ratio(columns[model].samples, columns[base].samples)
                if found is not None:
                    intervals[name] = found
        out.append(
            Comparison(
                workload=target.workload.name,
                figure=figure,
                unit=target.units[figure],
                better=better(target.units[figure]),
                np=target.np,
                columns={m: columns[m] for m in MODELS if m in columns},
                ratios=ratios,
                intervals=intervals,
                headline=target.workload.is_headline(figure),
            )
        )
    return out


def _figure_order(name: str) -> tuple[str, int, str]:
    """pingpong_lat_8 before pingpong_lat_1024: the trailing number sorts as a number."""
    head, _, tail = name.rpartition("_")
    return (head, int(tail), "") if tail.isdigit() else (name, 0, "")


def reference_checks(
    comparisons: list[Comparison], keys: dict[tuple[str, int], str], refs: refs_mod.References
) -> list[ReferenceCheck]:
    checks: list[ReferenceCheck] = []
    for comp in comparisons:
        key = keys[(comp.workload, comp.np)]
        nested = comp.columns.get("nested")
        if nested is not None:
            found = refs_mod.check(refs, key, comp.figure, nested.median, comp.unit, interval=nested.interval)
            if found:
                checks.append(found)
        value = comp.ratios.get("nested/native")
        if value is not None:
            found = refs_mod.check(
                refs,
                key,
                refs_mod.RATIO_PREFIX + comp.figure,
                value,
                "",
                interval=comp.intervals.get("nested/native"),
            )
            if found:
                checks.append(found)
    return checks


def image_size(ref: str) -> int | None:
    data = images.inspect(ref) or {}
    size = data.get("Size")
    return int(size) if isinstance(size, int | float) else None


def run_side_by_side(
    backend: ClusterBackend,
    workloads: list[Workload],
    *,
    rec: str,
    aio: str | None,
    app_for: Callable[[str], str],
    nodes: int = 2,
    repeats: int = 3,
    references: refs_mod.References | None = None,
    models: tuple[str, ...] = MODELS,
    records_dir: Path | None = None,
    suite: str = "workloads",
    step: Step | None = None,
    taskset: str | None = None,
) -> BenchRecord:
    say = step or (lambda _t: None)
    started = datetime.now(UTC)
    say("checking which images hold which programs")
    targets, skipped = plan(workloads, rec=rec, aio=aio, app_for=app_for, nodes=nodes, models=models)
    job_ids: list[str] = []
    used = sorted({m for t in targets for m in t.models}, key=MODELS.index)
    slots = max((t.workload.per_node(t.np, nodes) for t in targets), default=1)
    with ExitStack() as stack:
        clusters: dict[str, str] = {}
        if {"nested", "native"} & set(used):
            say(f"cluster up: {nodes} nodes of {rec}")
            name = stack.enter_context(_cluster(backend, rec, nodes, slots, "sbs"))
            clusters.update(nested=name, native=name)
        if "traditional" in used and aio:
            say(f"cluster up: {nodes} nodes of the all-in-one {aio}")
            try:
                clusters["traditional"] = stack.enter_context(_cluster(backend, aio, nodes, slots, "sbt"))
            except RecappError as exc:
                for t in targets:
                    if "traditional" in t.models:
                        t.models.remove("traditional")
                        skipped[f"{t.key}/traditional"] = f"the all-in-one cluster did not start: {exc}"
        measure(
            backend,
            [t for t in targets if t.models],
            clusters,
            app_for=app_for,
            nodes=nodes,
            repeats=repeats,
            skipped=skipped,
            job_ids=job_ids,
            records_dir=records_dir,
            say=say,
            taskset=taskset,
        )
    for t in targets:
        if len(t.app_ids) > 1:
            # The image store is shared: someone rebuilt the APP's tag during the bench.
            ids = ", ".join(sorted(i[:12] for i in t.app_ids))
            skipped[f"{t.key}/image"] = f"the APP image changed during the bench ({ids}): samples mix builds"
    comparisons = [c for t in targets for c in compare(t)]
    keys = {(t.workload.name, t.np): t.key for t in targets}
    checks = reference_checks(comparisons, keys, references) if references else []
    headline = {
        f"{keys[(c.workload, c.np)]} {c.figure} {name}": value
        for c in comparisons
        if c.headline
        for name, value in c.ratios.items()
    }
    image_refs = {"rec": rec, **({"all-in-one": aio} if aio and images.image_id(aio) else {})}
    image_refs.update({f"app-{w}": app_for(w) for w in sorted({t.workload.app for t in targets})})
    sizes = {ref: s for ref in image_refs.values() if (s := image_size(ref)) is not None}
    return BenchRecord(
        started_at=started,
        suite=suite,
        host={"cpu": cpu_model(), "cores": str(cores())},
        images={role: image_ref(ref) or ImageRef(ref=ref) for role, ref in image_refs.items()},
        parameters={
            "repeats": repeats,
            "nodes": nodes,
            "models": list(models),
            "workloads": [w.name for w in workloads],
            **({"references": references.source} if references else {}),
            **({"taskset": taskset} if taskset else {}),
            **INTERVAL_PARAMETERS,
        },
        series=[],
        ratios=headline,
        comparisons=comparisons,
        references=checks,
        image_sizes=sizes,
        skipped=skipped,
        job_ids=job_ids,
    )
