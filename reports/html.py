"""Records → one self-contained HTML page (jinja2, autoescaped; plots as PNG data URIs).

Also the views the Markdown report shares with the page: provenance (images and their labelled
versions, hosts, nodes, dates — whatever the records carry), job summaries and bench rows.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import jinja2

from recapp.reports import bench_table, matrix, plots
from recapp.reports import side_by_side as sbs
from recapp.reports.junit import job_reasons
from recapp.reports.records import BenchRecord, BenchSeries, ImageRef, JobRecord, MatrixRecord

TEMPLATES = Path(__file__).parent / "templates"
SUMMARY_NOTE = (
    "A ratio is model ÷ native of the figure's medians, measured side by side: above 1, a time took "
    "longer than natively; for rates (Mop/s, MB/s, ns/day) below 1 is slower."
)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class ImageInfo:
    ref: str
    id: str
    versions: str
    roles: tuple[str, ...]


@dataclass(frozen=True)
class Provenance:
    images: list[ImageInfo]
    facts: list[tuple[str, str]]  # (what, value), e.g. ("host", "cpu: …, cores: 2")


def _versions(image: ImageRef) -> str:
    """Every labelled version: PMIx, PRRTE, Open MPI first, then the others by name."""
    known = [k for k in matrix.VERSION_NAMES if k in image.versions]
    return matrix.versions_text(image, known + sorted(set(image.versions) - set(known)))


def _when(value: datetime) -> str:
    return value.isoformat()


def attempts_note(count: int) -> str:
    return (
        f"{count} job record{'s' if count != 1 else ''} in the folder {'are' if count != 1 else 'is'} "
        "this matrix's own attempts (one per level and command): they are in records.json, "
        "and each cell's log path is in the details."
    )


def provenance(
    matrices: Sequence[MatrixRecord],
    benches: Sequence[BenchRecord],
    jobs: Sequence[JobRecord],
    attempts: Sequence[JobRecord] = (),
    samples: Sequence[JobRecord] = (),
) -> Provenance:
    """What the records say about where and with what they were produced. `attempts` (a matrix's own
    job records) add their clusters and nodes, which the matrix record itself does not carry."""
    seen: dict[tuple[str, str, str], list[str]] = {}

    def add(image: ImageRef | None, role: str) -> None:
        if image is None:
            return
        roles = seen.setdefault((image.ref, image.id or "", _versions(image)), [])
        if role not in roles:
            roles.append(role)

    for m in matrices:
        for r in m.recs:
            add(r, "matrix REC")
        for a in m.apps:
            add(a, "matrix APP")
    for b in benches:
        for role, image in b.images.items():
            add(image, f"bench {role}")
    for j in jobs:
        add(j.rec, "job REC")
        add(j.app, "job APP")
    images = [ImageInfo(ref, id_, versions, tuple(roles)) for (ref, id_, versions), roles in seen.items()]

    facts: list[tuple[str, str]] = []
    counts = [
        (len(matrices), "matrix", "matrices"),
        (len(attempts), "matrix attempt", "matrix attempts"),
        (len(samples), "bench sample job", "bench sample jobs"),
        (len(benches), "bench", "benches"),
        (len(jobs), "job", "jobs"),
    ]
    facts.append(("records", ", ".join(f"{n} {one if n == 1 else many}" for n, one, many in counts if n)))
    dates = sorted(
        [m.started_at for m in matrices] + [b.started_at for b in benches] + [j.started_at for j in jobs]
    )
    dates = dates or sorted(j.started_at for j in [*attempts, *samples])
    if dates:
        span = _when(dates[0]) if dates[0] == dates[-1] else f"{_when(dates[0])} … {_when(dates[-1])}"
        facts.append(("date", span))
    for b in benches:
        facts.append((f"host (bench {b.suite})", ", ".join(f"{k}: {v}" for k, v in b.host.items())))
        facts.append(
            (f"parameters (bench {b.suite})", ", ".join(f"{k}: {v}" for k, v in b.parameters.items()))
        )
    clusters: dict[tuple[str, str], list[str]] = {}
    tagged = [
        *((j, "") for j in jobs),
        *((j, ", matrix") for j in attempts),
        *((j, ", bench") for j in samples),
    ]
    for j, kind in tagged:
        nodes = clusters.setdefault((j.cluster, j.backend + kind), [])
        nodes.extend(n for n in j.nodes if n not in nodes)
    for (cluster, backend), nodes in clusters.items():
        facts.append((f"cluster {cluster} ({backend})", ", ".join(nodes) or "no nodes recorded"))
    for m in matrices:
        facts.append(("matrix levels", ", ".join(matrix.level_order(m))))
    return Provenance(images=images, facts=facts)


@dataclass(frozen=True)
class JobRow:
    id: str
    started_at: str
    command: str
    rec: str
    app: str
    mode: str
    ranks: str  # "4/4": distinct ranks reported / np
    hosts: str
    wall_s: str
    figures: str
    result: str  # PASS, FAIL, PASS (unverified)
    reasons: list[str] = field(default_factory=list)
    log_path: str = ""


def job_rows(jobs: Sequence[JobRecord]) -> list[JobRow]:
    rows = []
    for j in jobs:
        result = "PASS" if j.passed else "FAIL"
        if j.passed and not j.verification.checked:
            result = "PASS (unverified)"
        rows.append(
            JobRow(
                id=j.id,
                started_at=_when(j.started_at),
                command=" ".join(j.command),
                rec=matrix.image_label(j.rec, matrix.REC_VERSION_KEYS),
                app=matrix.image_label(j.app, matrix.APP_VERSION_KEYS) if j.app else "",
                mode=j.mode + (", DVM" if j.dvm else ""),
                ranks=f"{len({r.rank for r in j.ranks})}/{j.np}",
                hosts=", ".join(dict.fromkeys(r.host for r in j.ranks)),
                wall_s=f"{j.wall_s:.2f}",
                figures=figures_text(j),
                result=result,
                reasons=[] if j.passed else job_reasons(j),
                log_path=j.log_path or "",
            )
        )
    return rows


def figures_text(j: JobRecord) -> str:
    """The job's figures; a curve (a family over message sizes) is one short entry, its points are
    in the job's plot."""
    families = plots.curves(j.figures)
    parts = []
    for name, points in families.items():
        (lo, lo_v, unit), (hi, hi_v, _) = points[0], points[-1]
        parts.append(f"{name}: {len(points)} sizes, {lo} B {lo_v:g} … {hi} B {hi_v:g} {unit} (plot)")
    in_family = {f"{name}_{p[0]}" for name, points in families.items() for p in points}
    parts += [
        f"{k} = {v.value:g} {v.unit}"
        for k, v in sorted(j.figures.items(), key=_natural)
        if k not in in_family
    ]
    return ", ".join(parts)


def job_plots(jobs: Sequence[JobRecord]) -> list[tuple[str, str, str]]:
    """(job id, title, PNG data URI) for every job whose figures hold a curve."""
    found = []
    for j in jobs:
        families = plots.curves(j.figures)
        if families:
            hosts = ", ".join(dict.fromkeys(r.host for r in j.ranks))
            title = f"{' '.join(j.command)}, {j.np} ranks on {hosts or 'no host recorded'} ({j.id})"
            png = plots.job_curves(title, families)
            if png:
                found.append((j.id, title, data_uri(png)))
    return found


def _natural(item: tuple[str, object]) -> tuple[str, int]:
    """pingpong_lat_8 before pingpong_lat_1024: a trailing number sorts as a number."""
    head, _, tail = item[0].rpartition("_")
    return (head, int(tail)) if tail.isdigit() else (item[0], -1)


@dataclass(frozen=True)
class SeriesRow:
    name: str
    n: int
    median: str
    interval: str
    spread: str
    min: str
    max: str
    unit: str


def series_rows(record: BenchRecord) -> list[SeriesRow]:
    return [
        SeriesRow(
            name=s.name,
            n=len(s.samples),
            median=f"{s.median:.4f}",
            interval=f"{s.interval[0]:.4f} … {s.interval[1]:.4f}" if s.interval else "",
            spread=f"{s.spread:.4f}",
            min=f"{min(s.samples):.4f}" if s.samples else "",
            max=f"{max(s.samples):.4f}" if s.samples else "",
            unit=s.unit,
        )
        for s in record.series
    ]


def _error_bar(s: BenchSeries) -> tuple[float, float]:
    """Below and above the median: down to the smallest sample and up to the largest (the spread);
    without samples, half the recorded spread each way."""
    if s.samples:
        return max(0.0, s.median - min(s.samples)), max(0.0, max(s.samples) - s.median)
    return s.spread / 2, s.spread / 2


def bench_plot_png(record: BenchRecord) -> bytes:
    """Medians as horizontal bars with the spread (min…max of the samples) as error bars; one panel
    per unit. Rendered by matplotlib's Agg canvas directly (no pyplot, no global state)."""
    # Imported here: matplotlib takes a moment to load and only reports with a bench need it.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    units = list(dict.fromkeys(s.unit for s in record.series))
    counts = [sum(1 for s in record.series if s.unit == u) for u in units]
    fig = Figure(figsize=(8, 1.0 + 0.4 * sum(counts) + 0.6 * len(units)), dpi=100)
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(units), 1, squeeze=False, gridspec_kw={"height_ratios": counts})
    for ax, unit in zip(axes[:, 0], units, strict=True):
        group = [s for s in record.series if s.unit == unit]
        bars = [_error_bar(s) for s in group]
        positions = list(range(len(group)))
        ax.barh(
            positions,
            [s.median for s in group],
            xerr=[[b[0] for b in bars], [b[1] for b in bars]],
            capsize=4,
            color="#4c78a8",
            ecolor="#333333",
        )
        ax.set_yticks(positions, [s.name for s in group], fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel(f"median ({unit}), error bars: min … max of the samples", fontsize=8)
        ax.grid(axis="x", alpha=0.3)
    fig.suptitle(f"bench {record.suite}", fontsize=10)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})  # no version stamp: stable bytes
    return buf.getvalue()


def _uri(png: bytes | None) -> str | None:
    return data_uri(png) if png else None


def bench_view(b: BenchRecord) -> dict[str, object]:
    """What the page shows of one bench record: its series (launch benchmarks) and, for a side-by-side
    record, ratios first, every figure, reference checks, image sizes, what was skipped, and plots."""
    view: dict[str, object] = {
        "record": b,
        "rows": series_rows(b),
        "plot": data_uri(bench_plot_png(b)) if b.series else None,
        "side_by_side": sbs.is_side_by_side(b),
        "interval_text": sbs.INTERVAL_TEXT,
        "ratio_intervals": {k: f"{v[0]:.3f} … {v[1]:.3f}" for k, v in b.ratio_intervals.items()},
        "fits": bench_table.fit_rows(b),
        "fit_headers": bench_table.FIT_HEADERS,
        "scaling_plot": _uri(plots.nodes_scaling(b)),
    }
    if view["side_by_side"]:
        view.update(
            headers=sbs.headers(b),
            models=[sbs.MODEL_TEXT[m] for m in sbs.models_of(b)],
            headline=[sbs.row_cells(r) for r in sbs.rows(b, headline=True)],
            others=[sbs.row_cells(r) for r in sbs.rows(b, headline=False)],
            checks=sbs.check_rows(b),
            limit=[r.cells() for r in sbs.physical_limit(b)],
            limit_headers=sbs.PHYSICAL_LIMIT_HEADERS,
            crosscheck=sbs.latency_crosscheck(b),
            crosscheck_headers=sbs.LATENCY_CHECK_HEADERS,
            sizes=sbs.size_rows(b),
            skipped=sorted(b.skipped.items()),
            plots=[
                (title, uri)
                for title, uri in (
                    (
                        "nested ÷ native and traditional ÷ native (headline figures)",
                        _uri(plots.ratio_bars(b)),
                    ),
                    ("latency against message size", _uri(plots.message_size(b, "lat", "latency"))),
                    ("bandwidth against message size", _uri(plots.message_size(b, "bw", "bandwidth"))),
                    ("scaling with the number of ranks", _uri(plots.scaling(b))),
                )
                if uri
            ],
        )
    return view


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _attempts_text(record: MatrixRecord, attempts: Sequence[JobRecord]) -> str:
    count = sum(1 for j in attempts if matrix.is_attempt(j, record))
    return attempts_note(count) if count else ""


def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,  # everything from records is text, never markup
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        finalize=_printable,
    )


def _printable(value: object) -> object:
    """Every `{{ … }}` passes here before escaping: control characters become visible `\\xNN`."""
    return matrix.printable(value) if isinstance(value, str) else value


def page(
    matrices: Sequence[MatrixRecord] = (),
    benches: Sequence[BenchRecord] = (),
    jobs: Sequence[JobRecord] = (),
    attempts: Sequence[JobRecord] = (),
    title: str = "recapp report",
    samples: Sequence[JobRecord] = (),
) -> str:
    """The report folder as one HTML page that needs no other file. `attempts` are job records a
    matrix ran for its cells: counted under their matrix, not listed as jobs."""
    return (
        environment()
        .get_template("report.html")
        .render(
            title=title,
            provenance=provenance(matrices, benches, jobs, attempts, samples),
            matrices=[
                {
                    "record": m,
                    "view": matrix.view(m),
                    "levels": matrix.level_order(m),
                    "attempts": _attempts_text(m, attempts),
                }
                for m in matrices
            ],
            benches=[bench_view(b) for b in benches],
            summary=[(b.suite, *sbs.summary_table(b)) for b in benches if b.ratios],
            summary_note=SUMMARY_NOTE,
            jobs=job_rows(jobs),
            job_plots=job_plots(jobs),
            mark=matrix.DISAGREEMENT_MARK,
            corner=matrix.CORNER,
        )
    )
