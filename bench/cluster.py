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
from datetime import UTC, datetime
from pathlib import Path

from recapp.errors import JobError
from recapp.host.progress import Step
from recapp.k8s.backend import ClusterBackend
from recapp.k8s.jobs import JobRequest, Mode, image_ref, run_job, stop_dvm
from recapp.k8s.spec import load_spec
from recapp.reports.records import BenchRecord, BenchSeries, ImageRef, JobRecord

# The variants of the launch benchmark: name → (mode, dvm, fresh containers). `nested` enters the
# node's persistent APP sandbox; `nested-fresh` is the talk's `podman run` per rank.
LAUNCH_VARIANTS: dict[str, tuple[Mode, bool, bool]] = {
    "nested": ("nested", False, False),
    "nested-fresh": ("nested", False, True),
    "native": ("native", False, False),
    "dvm-nested": ("nested", True, False),
}


def series(name: str, unit: str, samples: list[float]) -> BenchSeries:
    return BenchSeries(
        name=name,
        unit=unit,
        samples=[round(s, 6) for s in samples],
        median=round(statistics.median(samples), 6),
        spread=round(max(samples) - min(samples), 6),
    )


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
) -> tuple[list[BenchSeries], dict[str, float]]:
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
    ratios = {
        "nested/native wall": statistics.median(wall["nested"]) / statistics.median(wall["native"]),
        "nested/native in-process": statistics.median(in_proc["nested"])
        / statistics.median(in_proc["native"]),
        "nested-fresh/native wall": statistics.median(wall["nested-fresh"])
        / statistics.median(wall["native"]),
        "dvm-nested/native wall": statistics.median(wall["dvm-nested"]) / statistics.median(wall["native"]),
        "dvm-nested/nested wall": statistics.median(wall["dvm-nested"]) / statistics.median(wall["nested"]),
    }
    return out, {k: round(v, 3) for k, v in ratios.items()}


def _launch(
    backend: ClusterBackend,
    cluster: str,
    app: str,
    np: int,
    per_node: int,
    mode: Mode,
    dvm: bool,
    fresh: bool = False,
) -> JobRecord:
    record = run_job(
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
            timeout_s=300,
        ),
    )
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
    launch_series, ratios = bench_launch(backend, rec, app, nodes, np, repeats, say)
    return BenchRecord(
        started_at=started,
        suite="cluster",
        host={"cpu": cpu_model(), "cores": str(cores())},
        images={"rec": image_ref(rec) or ImageRef(ref=rec), "app": image_ref(app) or ImageRef(ref=app)},
        parameters={"repeats": repeats, "nodes": nodes, "np": np, "sizes": sizes},
        series=[*up_series, *launch_series],
        ratios=ratios,
    )


def cores() -> int:
    return os.cpu_count() or 0
