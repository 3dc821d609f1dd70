"""Plots of a side-by-side bench record (matplotlib's Agg canvas, no pyplot, no global state):
ratio bars, latency and bandwidth against message size, figures against the number of ranks.
Each returns PNG bytes without a version stamp, so the same record gives the same bytes."""

from __future__ import annotations

import io

from recapp.reports import side_by_side as sbs
from recapp.reports.records import BenchRecord

COLOURS = {"nested": "#4c78a8", "native": "#59a14f", "traditional": "#e15759"}
RATIO_COLOURS = {"nested/native": "#4c78a8", "traditional/native": "#e15759", "nested/traditional": "#b07aa1"}


def _figure(width: float, height: float):
    # Imported here: matplotlib takes a moment to load and only reports with plots need it.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _png(fig) -> bytes:
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


def ratio_bars(record: BenchRecord) -> bytes | None:
    """The headline figures' nested ÷ native (and traditional ÷ native) ratios, with 1.0 marked."""
    comps = [c for c in record.comparisons if c.headline and c.ratios]
    if not comps:
        return None
    kinds = sbs.ratios_of(record)
    fig = _figure(9, 1.2 + 0.45 * len(comps) * max(1, len(kinds)))
    ax = fig.subplots()
    height = 0.8 / max(1, len(kinds))
    for k, kind in enumerate(kinds):
        ys = [i + k * height for i in range(len(comps))]
        values = [c.ratios.get(kind, 0.0) for c in comps]
        ax.barh(ys, values, height=height, color=RATIO_COLOURS[kind], label=kind.replace("/", " ÷ "))
        for y, v in zip(ys, values, strict=True):
            if v:
                ax.text(v, y, f" {v:.3f}", va="center", fontsize=7)
    ax.axvline(1.0, color="#333333", linewidth=1)
    centre = height * (len(kinds) - 1) / 2
    labels = [f"{c.workload} np={c.np} {c.figure} ({c.better} is better)" for c in comps]
    ax.set_yticks([i + centre for i in range(len(comps))], labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("ratio of medians (1.0 = same as native)", fontsize=8)
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def raw_lines(record: BenchRecord, workload: str, kind: str) -> dict[str, list[tuple[int, float]]]:
    """The ping-pong's raw transports (`raw_tcp_lat_8` …) as (size, median) lines: the physical limit
    drawn under MPI's sweep; the nested model's medians, else the first model measured."""
    lines: dict[str, list[tuple[int, float]]] = {}
    for c in record.comparisons:
        head, _, size = c.figure.rpartition("_")
        transport = head.removeprefix(sbs.RAW_PREFIX).removesuffix(f"_{kind}")
        if c.workload != workload or not size.isdigit() or head != f"{sbs.RAW_PREFIX}{transport}_{kind}":
            continue
        series = c.columns.get("nested") or next(iter(c.columns.values()), None)
        if series is not None:
            lines.setdefault(transport, []).append((int(size), series.median))
    return {t: sorted(points) for t, points in sorted(lines.items())}


def message_size(record: BenchRecord, kind: str, ylabel: str) -> bytes | None:
    """`kind` (lat or bw) against message size, log-log, one panel per workload, one line per model."""
    groups = sbs.sweeps(record, kind)
    if not groups:
        return None
    fig = _figure(5 * len(groups), 3.8)
    axes = fig.subplots(1, len(groups), squeeze=False)[0]
    for ax, (workload, comps) in zip(axes, groups.items(), strict=True):
        sizes = [int(c.figure.rpartition("_")[2]) for c in comps]
        for model in sbs.MODELS:
            points = [(s, c.columns[model]) for s, c in zip(sizes, comps, strict=True) if model in c.columns]
            if not points:
                continue
            xs = [p[0] for p in points]
            ys = [p[1].median for p in points]
            low = [p[1].median - min(p[1].samples) for p in points]
            high = [max(p[1].samples) - p[1].median for p in points]
            ax.errorbar(xs, ys, yerr=[low, high], label=model, color=COLOURS[model], marker="o", ms=3)
        for transport, line in raw_lines(record, workload, kind).items():
            ax.plot(
                *zip(*line, strict=True), color="#777777", linestyle="--", label=f"raw {transport} (limit)"
            )
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_title(workload, fontsize=9)
        ax.set_xlabel("message size (bytes)", fontsize=8)
        ax.set_ylabel(f"{ylabel} ({comps[0].unit})", fontsize=8)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    return _png(fig)


def scaling(record: BenchRecord) -> bytes | None:
    """Figures measured at several rank counts, against np, one line per model."""
    groups = sbs.scaling(record)
    if not groups:
        return None
    fig = _figure(5 * len(groups), 3.6)
    axes = fig.subplots(1, len(groups), squeeze=False)[0]
    for ax, ((workload, figure), comps) in zip(axes, groups.items(), strict=True):
        for model in sbs.MODELS:
            points = [(c.np, c.columns[model]) for c in comps if model in c.columns]
            if points:
                ax.plot(
                    [p[0] for p in points],
                    [p[1].median for p in points],
                    marker="o",
                    label=model,
                    color=COLOURS[model],
                )
        ax.set_xticks(sorted({c.np for c in comps}))
        ax.set_title(f"{workload}: {figure}", fontsize=9)
        ax.set_xlabel("ranks", fontsize=8)
        ax.set_ylabel(comps[0].unit, fontsize=8)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return _png(fig)


def _fit_panel(name: str) -> str:
    """Which panel a fitted family goes to: launch walls together, in-process times together, the
    rest (cluster up → ready) on their own — times of one kind share a scale."""
    for kind in ("in_process", "wall"):
        if name.endswith(f"_{kind}"):
            return kind.replace("_", "-")
    return name


def nodes_scaling(record: BenchRecord) -> bytes | None:
    """Each fitted series (cluster up → ready, launch walls, in-process times) against its x (nodes):
    the medians as points, the least-squares line through them, its slope in the legend."""
    if not record.fits:
        return None
    panels = list(dict.fromkeys(_fit_panel(n) for n in record.fits))
    fig = _figure(5.5 * len(panels), 4.2)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, panel in zip(axes, panels, strict=True):
        xs_all: set[float] = set()
        unit = ""
        for name, fit in record.fits.items():
            if _fit_panel(name) != panel:
                continue
            unit = fit.unit
            xs = [p[0] for p in fit.points]
            xs_all.update(xs)
            dots = ax.plot(xs, [p[1] for p in fit.points], marker="o", linestyle="none")
            ends = [min(xs), max(xs)]
            ax.plot(
                ends,
                [fit.intercept + fit.slope * x for x in ends],
                color=dots[0].get_color(),
                label=f"{name}: {fit.slope:.3g} {unit}/{fit.x.rstrip('s')} (r² {fit.r2:.2f})",
            )
        ax.set_xticks(sorted(xs_all))
        ax.set_title(panel, fontsize=9)
        ax.set_xlabel(next(iter(record.fits.values())).x, fontsize=8)
        ax.set_ylabel(f"median ({unit})", fontsize=8)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6)
    return _png(fig)


# ---------------------------------------------------------------- one job's curves

CURVE_MIN_POINTS = 3  # fewer sizes than this are figures, not a curve


def curves(figures: dict) -> dict[str, list[tuple[int, float, str]]]:
    """Figure families `NAME_<bytes>` with at least CURVE_MIN_POINTS sizes and one unit (a ping-pong's
    latency and bandwidth): family name → [(bytes, value, unit)] by size."""
    families: dict[str, list[tuple[int, float, str]]] = {}
    for key, fig in figures.items():
        head, _, tail = key.rpartition("_")
        if head and tail.isdigit():
            families.setdefault(head, []).append((int(tail), fig.value, fig.unit))
    return {
        name: sorted(points)
        for name, points in sorted(families.items())
        if len(points) >= CURVE_MIN_POINTS and len({p[2] for p in points}) == 1
    }


def job_curves(title: str, families: dict[str, list[tuple[int, float, str]]]) -> bytes | None:
    """One panel per unit (latency, bandwidth) against message size, a line per family (MPI's
    ping-pong beside the raw TCP/shm limits), both axes logarithmic (sizes span 8 B … 4 MiB)."""
    if not families:
        return None
    units = list(dict.fromkeys(points[0][2] for points in families.values()))
    fig = _figure(6 * len(units), 3.8)
    axes = fig.subplots(1, len(units), squeeze=False)[0]
    for ax, unit in zip(axes, units, strict=True):
        for name, points in families.items():
            if points[0][2] == unit:
                ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", ms=3, label=name)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("message size (bytes)", fontsize=8)
        ax.set_ylabel(unit, fontsize=8)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    return _png(fig)
