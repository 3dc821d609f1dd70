"""Views of a side-by-side bench record (nested / native / traditional): the rows of its tables,
shared by the Markdown and HTML reports, and the Markdown itself (tabulate)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tabulate import tabulate

from recapp.reports.records import BenchRecord, BenchSeries, Comparison

MODELS = ("nested", "native", "traditional")
# How the intervals are made (recapp.bench.stats; the numbers are in the record's parameters).
INTERVAL_TEXT = "percentile bootstrap, each model's samples resampled on their own, fixed seed"
RATIOS = ("nested/native", "traditional/native", "nested/traditional")
MODEL_TEXT = {
    "nested": "nested: the APP inside the REC",
    "native": "native: the same binary run directly in the REC",
    "traditional": "traditional: one all-in-one image (runtime + application), no nesting",
}


@dataclass(frozen=True)
class Row:
    workload: str
    np: int
    figure: str
    unit: str
    better: str
    cells: tuple[str, ...]  # per model: "median ± spread/2 (n)" or ""
    ratios: tuple[str, ...]  # per ratio: "1.013" or ""


@dataclass(frozen=True)
class CheckRow:
    workload: str
    figure: str
    measured: str
    reference: str
    bounds: str
    result: str  # PASS or FAIL
    reason: str


def _num(value: float) -> str:
    return f"{value:.4g}" if abs(value) < 1e5 else f"{value:.0f}"


def span(interval: Sequence[float] | None) -> str:
    """A 95 % interval as ` [low, high]`, or nothing for a record made before intervals."""
    return f" [{_num(interval[0])}, {_num(interval[1])}]" if interval else ""


def ratio_text(value: float, interval: Sequence[float] | None) -> str:
    return f"{value:.3f}" + (f" [{interval[0]:.3f}, {interval[1]:.3f}]" if interval else "")


def cell(s: BenchSeries | None) -> str:
    if s is None:
        return ""
    if s.interval:
        return f"{_num(s.median)}{span(s.interval)} (n={len(s.samples)})"
    return f"{_num(s.median)} ±{_num(s.spread / 2)} (n={len(s.samples)})"


def models_of(record: BenchRecord) -> list[str]:
    used = {m for c in record.comparisons for m in c.columns}
    return [m for m in MODELS if m in used]


def ratios_of(record: BenchRecord) -> list[str]:
    used = {r for c in record.comparisons for r in c.ratios}
    return [r for r in RATIOS if r in used]


def rows(record: BenchRecord, *, headline: bool | None = None) -> list[Row]:
    models, ratios = models_of(record), ratios_of(record)
    out = []
    for c in record.comparisons:
        if headline is not None and c.headline != headline:
            continue
        out.append(
            Row(
                workload=c.workload,
                np=c.np,
                figure=c.figure,
                unit=c.unit,
                better=c.better,
                cells=tuple(cell(c.columns.get(m)) for m in models),
                ratios=tuple(
                    ratio_text(c.ratios[r], c.intervals.get(r)) if r in c.ratios else "" for r in ratios
                ),
            )
        )
    return out


def headers(record: BenchRecord) -> list[str]:
    return [
        "workload",
        "np",
        "figure",
        "unit",
        "better",
        *models_of(record),
        *(r.replace("/", " ÷ ") for r in ratios_of(record)),
    ]


def row_cells(row: Row) -> list[str]:
    return [row.workload, str(row.np), row.figure, row.unit, row.better, *row.cells, *row.ratios]


def _bound(value: float | None) -> str:
    return "unbounded" if value is None else f"{value:+.0%}"


def check_rows(record: BenchRecord) -> list[CheckRow]:
    return [
        CheckRow(
            workload=c.workload,
            figure=c.figure,
            measured=f"{_num(c.measured)}{span(c.interval)} {c.unit}".strip(),
            reference=f"{_num(c.reference)} {c.unit}".strip(),
            bounds=f"{_bound(c.lower)} … {_bound(c.upper)}",
            result="PASS" if c.passed else "FAIL",
            reason=c.reason or c.note or "",
        )
        for c in record.references
    ]


def size_rows(record: BenchRecord) -> list[tuple[str, str, str]]:
    """(role, image, size in MB) for every image whose size was recorded."""
    roles = {img.ref: role for role, img in record.images.items()}
    return [
        (roles.get(ref, ""), ref, f"{size / 1e6:.0f}") for ref, size in sorted(record.image_sizes.items())
    ]


def is_side_by_side(record: BenchRecord) -> bool:
    # A scaling record may skip sizes too, but it has series: only a side-by-side one skips with none.
    return bool(record.comparisons or (record.skipped and not record.series))


def sweeps(record: BenchRecord, kind: str) -> dict[str, list[Comparison]]:
    """Figures named `<prefix>_<kind>_<bytes>` (e.g. pingpong_lat_8), per workload, by message size;
    the raw transports' figures (`raw_tcp_lat_8`, see physical_limit) are not MPI's and stay out."""
    found: dict[str, list[Comparison]] = {}
    for c in record.comparisons:
        head, _, size = c.figure.rpartition("_")
        if size.isdigit() and head.endswith(f"_{kind}") and not c.figure.startswith(RAW_PREFIX):
            found.setdefault(c.workload, []).append(c)
    return {w: sorted(cs, key=lambda c: int(c.figure.rpartition("_")[2])) for w, cs in found.items()}


RAW_PREFIX = "raw_"
RAW_TRANSPORTS = ("shm", "tcp")  # shm first: on one node MPI moves messages through shared memory
PHYSICAL_LIMIT_HEADERS = [
    "workload",
    "np",
    "model",
    "bytes",
    "MPI lat us",
    "raw lat us",
    "MPI ÷ raw lat",
    "MPI MB/s",
    "raw MB/s",
    "raw ÷ MPI bw",
    "raw via",
]


@dataclass(frozen=True)
class LimitRow:
    """One message size of one model: MPI's median beside the raw transport's, same ranks and run."""

    workload: str
    np: int
    model: str
    bytes: int
    mpi_lat: float
    raw_lat: float
    mpi_bw: float
    raw_bw: float
    transport: str  # the raw transport read against: shm when the ranks shared a node, else tcp

    def cells(self) -> list[str]:
        # Both ratios read "times worse than the limit": latency MPI ÷ raw, bandwidth raw ÷ MPI.
        return [
            self.workload,
            str(self.np),
            self.model,
            str(self.bytes),
            _num(self.mpi_lat),
            _num(self.raw_lat),
            f"{self.mpi_lat / self.raw_lat:.2f}",
            _num(self.mpi_bw),
            _num(self.raw_bw),
            f"{self.raw_bw / self.mpi_bw:.2f}",
            self.transport,
        ]


def physical_limit(record: BenchRecord) -> list[LimitRow]:
    """`pingpong_lat_B`/`pingpong_bw_B` beside the raw transport measured by the same program between
    the same ranks (`raw_shm_…` when present, else `raw_tcp_…`), per model, medians."""
    by_name = {(c.workload, c.np, c.figure): c for c in record.comparisons}
    out = []
    for (workload, np, figure), lat in by_name.items():
        head, _, size = figure.rpartition("_")
        if head != "pingpong_lat" or not size.isdigit():
            continue
        bw = by_name.get((workload, np, f"pingpong_bw_{size}"))
        for transport in RAW_TRANSPORTS:
            raw_lat = by_name.get((workload, np, f"raw_{transport}_lat_{size}"))
            raw_bw = by_name.get((workload, np, f"raw_{transport}_bw_{size}"))
            if raw_lat is None or raw_bw is None or bw is None:
                continue
            for model in MODELS:
                series = [s.columns.get(model) for s in (lat, raw_lat, bw, raw_bw)]
                if all(series):
                    m_lat, r_lat, m_bw, r_bw = (s.median for s in series if s)
                    out.append(LimitRow(workload, np, model, int(size), m_lat, r_lat, m_bw, r_bw, transport))
            break
    return sorted(out, key=lambda r: (r.workload, r.np, MODELS.index(r.model), r.bytes))


# HPCC's b_eff measures ping-pong latency with 8-byte messages between every pair of processes;
# recapp's ping-pong measures 8 bytes between two ranks (same node: shared memory; 1 per node: TCP).
BEFF_LATENCY = ("hpcc_beff_lat_min_us", "hpcc_beff_lat_avg_us", "hpcc_beff_lat_max_us")
PINGPONG_LATENCY = ("pingpong_lat_8", "raw_tcp_lat_8")
LATENCY_CHECK_HEADERS = ["model", "source", "np", "figure", "median us"]


def latency_crosscheck(record: BenchRecord) -> list[list[str]]:
    """HPCC's b_eff ping-pong latency (min/avg/max over its pairs) beside recapp's ping-pong 8-byte
    latency and the raw TCP one, per model, medians; [] unless both workloads ran."""
    beff = [c for c in record.comparisons if c.figure in BEFF_LATENCY]
    ours = [c for c in record.comparisons if c.figure in PINGPONG_LATENCY]
    if not beff or not ours:
        return []
    out = []
    for model in MODELS:
        for c in sorted(beff, key=lambda c: BEFF_LATENCY.index(c.figure)) + sorted(
            ours, key=lambda c: (c.workload, PINGPONG_LATENCY.index(c.figure))
        ):
            series = c.columns.get(model)
            if series:
                out.append([model, c.workload, str(c.np), c.figure, _num(series.median)])
    return out


def scaling(record: BenchRecord) -> dict[tuple[str, str], list[Comparison]]:
    """(workload, figure) measured at more than one rank count, by np."""
    found: dict[tuple[str, str], list[Comparison]] = {}
    for c in record.comparisons:
        found.setdefault((c.workload, c.figure), []).append(c)
    return {k: sorted(v, key=lambda c: c.np) for k, v in found.items() if len({c.np for c in v}) > 1}


def _table(rows_: Sequence[Sequence[str]], heads: Sequence[str]) -> str:
    # Markdown cells: a pipe would end the cell.
    esc = [[str(c).replace("|", "\\|") for c in r] for r in rows_]
    return tabulate(esc, headers=list(heads), tablefmt="github", disable_numparse=True)


def markdown(record: BenchRecord) -> str:
    """Ratios first (the headline figures), then every figure, the reference checks, image sizes and
    what was skipped and why."""
    parts = [f"## Side by side: {record.suite}"]
    parts.append(
        "Each workload ran in every model below in one session, the models alternating within each "
        f"repeat (repeats: {record.parameters.get('repeats', '?')}); cells are the median [its 95 % "
        "interval] with the number of samples; ratios are of the medians, with their 95 % interval "
        f"[{INTERVAL_TEXT}]; a reference check fails only when the whole interval is outside its bounds."
    )
    parts.append("\n".join(f"- {MODEL_TEXT[m]}" for m in models_of(record)))
    heads = headers(record)
    top = rows(record, headline=True)
    if top:
        parts += ["### Ratios (headline figures)", _table([row_cells(r) for r in top], heads)]
    rest = rows(record, headline=False)
    if rest:
        parts += ["### Every figure", _table([row_cells(r) for r in rest], heads)]
    limit = physical_limit(record)
    if limit:
        parts += [
            "### Physical limit: MPI beside the same ping-pong without MPI",
            "The ping-pong program first measures the same sizes between the same two ranks over a plain "
            "TCP socket and, on one node, POSIX shared memory (raw via); the ratios say how many times "
            "MPI is from that limit (latency MPI ÷ raw, bandwidth raw ÷ MPI; medians).",
            _table([r.cells() for r in limit], PHYSICAL_LIMIT_HEADERS),
        ]
    crosscheck = latency_crosscheck(record)
    if crosscheck:
        parts += [
            "### Latency cross-check: HPCC's b_eff beside recapp's ping-pong",
            "b_eff (a third-party benchmark) measures 8-byte ping-pong latency between every pair of "
            "its processes (min, avg, max over the pairs); recapp's ping-pong measures 8 bytes between "
            "two ranks on one node (pingpong-shm) or on two (pingpong-tcp), and over a raw TCP socket.",
            _table(crosscheck, LATENCY_CHECK_HEADERS),
        ]
    checks = check_rows(record)
    if checks:
        failed = sum(1 for c in checks if c.result == "FAIL")
        parts += [
            f"### References ({len(checks) - failed} passed, {failed} failed)",
            _table(
                [
                    [c.workload, c.figure, c.measured, c.reference, c.bounds, c.result, c.reason]
                    for c in checks
                ],
                ["workload", "figure", "measured", "reference", "bounds", "result", "why"],
            ),
        ]
    sizes = size_rows(record)
    if sizes:
        parts += ["### Image sizes", _table([list(r) for r in sizes], ["role", "image", "size MB"])]
    if record.skipped:
        parts += [
            "### Not measured, or not every run",
            "\n".join(f"- {what}: {why}" for what, why in sorted(record.skipped.items())),
        ]
    return "\n\n".join(parts)


def summary_table(record: BenchRecord) -> tuple[list[str], list[list[str]]]:
    """The ratios a reader looks for first, as (headers, rows): for a side-by-side record one row per
    headline figure with a column per ratio; for any other bench its named ratios."""
    if not record.comparisons:
        return ["ratio (medians)", "value [95 % interval]"], [
            [k, ratio_text(v, record.ratio_intervals.get(k))] for k, v in record.ratios.items()
        ]
    ratios = ratios_of(record)
    rows = [
        [
            c.workload,
            str(c.np),
            c.figure,
            *(ratio_text(c.ratios[r], c.intervals.get(r)) if r in c.ratios else "" for r in ratios),
        ]
        for c in record.comparisons
        if c.headline and c.ratios
    ]
    return ["workload", "np", "figure", *(r.replace("/", " ÷ ") for r in ratios)], rows


def summary_markdown(record: BenchRecord) -> str:
    heads, rows = summary_table(record)
    return _table(rows, heads)


def report_order(records: Sequence[BenchRecord]) -> list[BenchRecord]:
    """Side-by-side records first (the workloads), then the others, each group in its given order."""
    return sorted(records, key=lambda b: not is_side_by_side(b))
