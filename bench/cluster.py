"""Benchmarks of the local virtual cluster, measured side by side in one session.

Samples alternate between the variants (never all of one, then all of the other), so a noisy
machine hurts every variant alike, and the report compares medians as ratios.
"""

from __future__ import annotations

import os
import platform
import secrets
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from recapp.bench import stats
from recapp.errors import JobError, RecappError
from recapp.host.progress import Step
from recapp.k8s.backend import ClusterBackend
from recapp.k8s.dvm import stop_dvm
from recapp.k8s.jobs import JobRequest, Mode, image_ref, run_job
from recapp.k8s.spec import load_spec
from recapp.reports.records import BenchRecord, BenchSeries, Fit, ImageRef, JobRecord

# Recorded with every bench: how its intervals were made (recapp.bench.stats).
INTERVAL_PARAMETERS: dict[str, object] = {
    "interval": f"percentile bootstrap {stats.LEVEL:.0%}",
    "bootstrap_resamples": stats.RESAMPLES,
    "bootstrap_seed": stats.SEED,
}

# The variants of the launch benchmark: name → (mode, dvm, fresh containers). `nested` enters the
# node's persistent APP sandbox; `nested-fresh` is the talk's `podman run` per rank.
LAUNCH_VARIANTS: dict[str, tuple[Mode, bool, bool]] = {
    "nested": ("nested", False, False),
    "nested-fresh": ("nested", False, True),
    "native": ("native", False, False),
    "dvm-nested": ("nested", True, False),
}


def series(name: str, unit: str, samples: list[float]) -> BenchSeries:
    low, high = stats.median_interval(samples)
    return BenchSeries(
        name=name,
        unit=unit,
        samples=[round(s, 6) for s in samples],
        median=round(statistics.median(samples), 6),
        spread=round(max(samples) - min(samples), 6),
        interval=[round(low, 6), round(high, 6)],
    )


def ratio(top: list[float], bottom: list[float]) -> tuple[float, list[float] | None]:
    """median(top) ÷ median(bottom) and its bootstrap 95 % interval (stats.ratio_interval)."""
    value = statistics.median(top) / statistics.median(bottom)
    found = stats.ratio_interval(top, bottom)
    return round(value, 4), None if found is None else [round(found[0], 4), round(found[1], 4)]


def cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        text = ""
    for line in text.splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def bench_cluster_up(
    backend: ClusterBackend, rec: str, sizes: list[int], repeats: int, say: Step
) -> list[BenchSeries]:
    samples: dict[int, list[float]] = {n: [] for n in sizes}
    for rep in range(repeats):
        order = sizes if rep % 2 == 0 else list(reversed(sizes))
        for nodes in order:
            spec = load_spec(
                {
                    "name": f"bench{secrets.token_hex(3)}",
                    "nodes": nodes,
                    "slots_per_node": 2,
                    "rec_image": rec,
                    "ready_timeout_s": 300,
                }
            )
            say(f"cluster up {nodes} node(s), repeat {rep + 1}/{repeats}")
            t0 = time.monotonic()
            try:
                backend.up(spec)
                samples[nodes].append(time.monotonic() - t0)
            finally:
                backend.down(spec.name)
    return [series(f"cluster_up_ready_{n}_nodes", "s", samples[n]) for n in sizes]


def bench_launch(
    backend: ClusterBackend, rec: str, app: str, nodes: int, np: int, repeats: int, say: Step
) -> tuple[list[BenchSeries], dict[str, tuple[float, list[float] | None]]]:
    name = f"bench{secrets.token_hex(3)}"
    per_node = max(1, np // nodes)
    spec = load_spec(
        {"name": name, "nodes": nodes, "slots_per_node": per_node, "rec_image": rec, "ready_timeout_s": 300}
    )
    wall: dict[str, list[float]] = {v: [] for v in LAUNCH_VARIANTS}
    in_proc: dict[str, list[float]] = {v: [] for v in LAUNCH_VARIANTS}
    variants = list(LAUNCH_VARIANTS)
    backend.up(spec)
    try:
        # Warm-up: image delivery, native binaries, the DVM; not measured.
        for variant, (mode, dvm, fresh) in LAUNCH_VARIANTS.items():
            say(f"warm-up {variant}")
            _launch(backend, name, app, np, per_node, mode, dvm, fresh)
        for rep in range(repeats):
            order = variants[rep % len(variants) :] + variants[: rep % len(variants)]
            for variant in order:
                mode, dvm, fresh = LAUNCH_VARIANTS[variant]
                say(f"init_finalize {variant}, repeat {rep + 1}/{repeats}")
                record = _launch(backend, name, app, np, per_node, mode, dvm, fresh)
                wall[variant].append(record.wall_s)
                in_proc[variant].append(record.figures["init_finalize_s"].value)
    finally:
        stop_dvm(backend, name)
        backend.down(name)
    out = [series(f"init_finalize_{v}_wall", "s", wall[v]) for v in variants]
    out += [series(f"init_finalize_{v}_in_process", "s", in_proc[v]) for v in variants]
    pairs = {
        "nested/native wall": (wall["nested"], wall["native"]),
        "nested/native in-process": (in_proc["nested"], in_proc["native"]),
        "nested-fresh/native wall": (wall["nested-fresh"], wall["native"]),
        "dvm-nested/native wall": (wall["dvm-nested"], wall["native"]),
        "dvm-nested/nested wall": (wall["dvm-nested"], wall["nested"]),
    }
    return out, {k: ratio(top, bottom) for k, (top, bottom) in pairs.items()}


# A busy 2-core host can miss a readiness probe; a job waits for the node this many times.
NOT_READY_RETRIES = 3
NOT_READY_WAIT_S = 10.0


def run_job_patiently(backend: ClusterBackend, req: JobRequest) -> JobRecord | str:
    """run_job, waiting out a node pod whose readiness probe timed out on a loaded machine; the
    record, or why the job could not start."""
    for attempt in range(NOT_READY_RETRIES + 1):
        try:
            return run_job(backend, req)
        except RecappError as exc:
            if "not Ready" not in str(exc) or attempt == NOT_READY_RETRIES:
                return str(exc)
            time.sleep(NOT_READY_WAIT_S)
    return "unreachable"


def _launch(
    backend: ClusterBackend,
    cluster: str,
    app: str,
    np: int,
    per_node: int,
    mode: Mode,
    dvm: bool,
    fresh: bool = False,
    prrte: list[str] | None = None,
) -> JobRecord:
    record = run_job_patiently(
        backend,
        JobRequest(
            cluster=cluster,
            np=np,
            command=["init_finalize"],
            app=app,
            map_by=f"ppr:{per_node}:node",
            mode=mode,
            dvm=dvm,
            fresh_containers=fresh,
            timeout_s=600,
            extra_prterun_args=[] if dvm else list(prrte or []),
        ),
    )
    if isinstance(record, str):
        raise JobError(f"benchmark job ({mode}{', dvm' if dvm else ''}) could not start: {record}")
    if not record.passed:
        raise JobError(
            f"benchmark job ({mode}{', dvm' if dvm else ''}{', fresh' if fresh else ''}) failed: "
            f"{record.error or '; '.join(record.verification.reasons)}"
        )
    return record


def run_cluster_bench(
    backend: ClusterBackend,
    *,
    rec: str,
    app: str,
    sizes: list[int],
    nodes: int,
    np: int,
    repeats: int,
    step: Step | None = None,
) -> BenchRecord:
    """Cluster up→ready for each size in `sizes` (none: skipped), and the init_finalize launch variants."""
    say = step or (lambda _t: None)
    started = datetime.now(UTC)
    up_series = bench_cluster_up(backend, rec, sizes, repeats, say) if sizes else []
    launch_series, found = bench_launch(backend, rec, app, nodes, np, repeats, say)
    ratios = {k: v for k, (v, _) in found.items()}
    intervals = {k: iv for k, (_, iv) in found.items() if iv is not None}
    return BenchRecord(
        started_at=started,
        suite="cluster",
        host={"cpu": cpu_model(), "cores": str(cores())},
        images={"rec": image_ref(rec) or ImageRef(ref=rec), "app": image_ref(app) or ImageRef(ref=app)},
        parameters={"repeats": repeats, "nodes": nodes, "np": np, "sizes": sizes, **INTERVAL_PARAMETERS},
        series=[*up_series, *launch_series],
        ratios=ratios,
        ratio_intervals=intervals,
    )


# The scaling benchmark's launch variants: name → (dvm, prterun's PRRTE parameters). PRRTE starts its
# daemons over a routing tree (plm_ssh_no_tree_spawn=0 by default) whose fan-out is rml_base_radix
# (synonym routed_radix, default 64, both read from prte_info here): below 65 nodes prterun starts every
# daemon itself, so "tree" is flat unless the radix is lowered; radix 2 makes a real binary tree.
SCALING_VARIANTS: dict[str, tuple[bool, list[str]]] = {
    "nested": (False, []),
    "nested-tree2": (False, ["--prtemca", "rml_base_radix", "2"]),
    "nested-no-tree": (False, ["--prtemca", "plm_ssh_no_tree_spawn", "1"]),
    "dvm-nested": (True, []),
}


def bench_scaling(
    backend: ClusterBackend,
    rec: str,
    app: str,
    sizes: list[int],
    rounds: int,
    say: Step,
    variants: dict[str, tuple[bool, list[str]]] | None = None,
    pod: dict[str, object] | None = None,
    sweeps: int = 1,
    skipped: dict[str, str] | None = None,
    checkpoint: Callable[[list[BenchSeries], dict[str, Fit]], None] | None = None,
    mode: Mode = "nested",
) -> tuple[list[BenchSeries], dict[str, Fit]]:
    """At each size (one rank per node): cluster up → ready, then `rounds` rounds of init_finalize in
    every variant (rotating order), wall and in-process, after one warm-up without and one with the
    DVM (APP image delivery to the new nodes, the DVM's start); and the least-squares line of each
    median against the number of nodes. `sweeps` > 1 brings every size up again, ascending and
    descending in turn, so slow minutes do not all land on one size."""
    chosen = variants if variants is not None else SCALING_VARIANTS
    skipped = skipped if skipped is not None else {}
    up: dict[int, list[float]] = {n: [] for n in sizes}
    wall: dict[tuple[str, int], list[float]] = {(v, n): [] for v in chosen for n in sizes}
    in_proc: dict[tuple[str, int], list[float]] = {(v, n): [] for v in chosen for n in sizes}
    names = list(chosen)
    # One warm-up per launch path: the prterun variants share the delivered image and the nodes.
    warmups = [next(v for v in names if not chosen[v][0]), *[v for v in names if chosen[v][0]][:1]]
    for sweep in range(sweeps):
        order = sizes if sweep % 2 == 0 else list(reversed(sizes))
        for nodes in order:
            name = f"scal{secrets.token_hex(3)}"
            spec = load_spec(
                {
                    "name": name,
                    "nodes": nodes,
                    "slots_per_node": 1,
                    "rec_image": rec,
                    "ready_timeout_s": 900,
                    **(pod or {}),
                }
            )
            say(f"{nodes} node(s), sweep {sweep + 1}/{sweeps}: cluster up")
            t0 = time.monotonic()
            try:
                backend.up(spec)
                up[nodes].append(time.monotonic() - t0)
                for variant in warmups:
                    dvm, prrte = chosen[variant]
                    say(f"{nodes} node(s): warm-up {variant}")
                    _launch(backend, name, app, nodes, 1, mode, dvm, prrte=prrte)
                for rnd in range(rounds):
                    shift = (rnd + sweep) % len(names)
                    for variant in names[shift:] + names[:shift]:
                        dvm, prrte = chosen[variant]
                        say(f"{nodes} node(s), round {rnd + 1}/{rounds}: init_finalize {variant}")
                        try:
                            record = _launch(backend, name, app, nodes, 1, mode, dvm, prrte=prrte)
                        except JobError as exc:  # one failed launch: said, and the rest goes on
                            skipped.setdefault(f"{variant}@{nodes}", str(exc))
                            continue
                        wall[(variant, nodes)].append(record.wall_s)
                        in_proc[(variant, nodes)].append(record.figures["init_finalize_s"].value)
            except RecappError as exc:  # this size could not be brought up or warmed up: said, next size
                skipped.setdefault(f"{nodes} nodes, sweep {sweep + 1}", str(exc))
            finally:
                stop_dvm(backend, name)
                backend.down(name)
            if checkpoint is not None:  # what is measured so far survives an interrupted run
                checkpoint(*_scaling_results(sizes, names, up, wall, in_proc, mode))
    return _scaling_results(sizes, names, up, wall, in_proc, mode)


def _scaling_results(
    sizes: list[int],
    names: list[str],
    up: dict[int, list[float]],
    wall: dict[tuple[str, int], list[float]],
    in_proc: dict[tuple[str, int], list[float]],
    mode: Mode = "nested",
) -> tuple[list[BenchSeries], dict[str, Fit]]:
    """The series of every measured size and variant, and each family's line over its measured sizes;
    the variants named for the mode they ran in (`dvm-native` when the launches were native)."""
    up = dict(up)
    wall = {(v.replace("nested", mode), n): x for (v, n), x in wall.items()}
    in_proc = {(v.replace("nested", mode), n): x for (v, n), x in in_proc.items()}
    names = [v.replace("nested", mode) for v in names]
    out = [series(f"cluster_up_ready_{n}_nodes", "s", up[n]) for n in sizes if up[n]]
    for v in names:
        out += [series(f"init_finalize_{v}_wall_{n}_nodes", "s", wall[(v, n)]) for n in sizes if wall[(v, n)]]
        out += [
            series(f"init_finalize_{v}_in_process_{n}_nodes", "s", in_proc[(v, n)])
            for n in sizes
            if in_proc[(v, n)]
        ]
    families = {"cluster_up_ready": up}
    for v in names:
        families[f"init_finalize_{v}_wall"] = {n: wall[(v, n)] for n in sizes}
        families[f"init_finalize_{v}_in_process"] = {n: in_proc[(v, n)] for n in sizes}
    fits: dict[str, Fit] = {}
    for family, by_size in families.items():
        measured = {n: v for n, v in by_size.items() if v}
        if len(measured) >= 2:  # a line needs two sizes
            fits[family] = per_node_fit(measured)
    return out, fits


def per_node_fit(by_size: dict[int, list[float]]) -> Fit:
    """The least-squares line of the medians against the number of nodes (stats.fit_line)."""
    points = [(float(n), statistics.median(v)) for n, v in sorted(by_size.items())]
    line = stats.fit_line([p[0] for p in points], [p[1] for p in points])
    return Fit(
        x="nodes",
        unit="s",
        points=[(x, round(y, 6)) for x, y in points],
        slope=round(line.slope, 6),
        intercept=round(line.intercept, 6),
        r2=round(line.r2, 4),
    )


def run_scaling_bench(
    backend: ClusterBackend,
    *,
    rec: str,
    app: str,
    sizes: list[int],
    repeats: int,
    step: Step | None = None,
    backend_name: str = "local",
    pod: dict[str, object] | None = None,
    sweeps: int = 1,
    on_record: Callable[[BenchRecord], object] | None = None,
    mode: Mode = "nested",
) -> BenchRecord:
    """cluster up → ready and the init_finalize launch variants at each size, with a line per node;
    `pod`: cluster-spec fields for the node pods (storage, pull policy, seccomp profile)."""
    say = step or (lambda _t: None)
    started = datetime.now(UTC)
    loads = [os.getloadavg()[0]]
    skipped: dict[str, str] = {}

    def record(out: list[BenchSeries], fits: dict[str, Fit]) -> BenchRecord:
        return BenchRecord(
            started_at=started,
            suite=f"scaling ({backend_name}, {mode})",
            host={
                "cpu": cpu_model(),
                "cores": str(cores()),
                "load_1min": f"{loads[0]:.1f} → {os.getloadavg()[0]:.1f}",
            },
            images={"rec": image_ref(rec) or ImageRef(ref=rec), "app": image_ref(app) or ImageRef(ref=app)},
            parameters={
                "repeats": repeats,  # init_finalize rounds per cluster
                "sweeps": sweeps,  # cluster ups per size
                "sizes": sizes,
                "ranks_per_node": 1,
                "mode": mode,
                "backend": backend_name,
                **({"pod": pod} if pod else {}),
                "variants": {v: (["dvm"] if d else []) + p for v, (d, p) in SCALING_VARIANTS.items()},
                **INTERVAL_PARAMETERS,
            },
            series=out,
            ratios={},
            fits=fits,
            skipped=dict(skipped),
        )

    def checkpoint(out: list[BenchSeries], fits: dict[str, Fit]) -> None:
        if on_record is not None:
            on_record(record(out, fits))

    out, fits = bench_scaling(
        backend,
        rec,
        app,
        sizes,
        repeats,
        say,
        pod=pod,
        sweeps=sweeps,
        skipped=skipped,
        checkpoint=checkpoint,
        mode=mode,
    )
    return record(out, fits)


def cores() -> int:
    return os.cpu_count() or 0
