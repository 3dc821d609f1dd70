"""Matrix records → the REC × APP compatibility matrix (Markdown via tabulate; a view the HTML page reuses).

Rows are RECs (with their PMIx/PRRTE versions), columns are APPs (with their PMIx/Open MPI versions).
A cell reads `L4 PASS` (every level passed), `L2 → L3 FAIL` (L2 was the highest level that passed,
L3 failed) or `L1 REFUSED` (the first level did not pass). The reason is a numbered footnote (pairs
with the same reason share one); `⚠` marks a pair whose result disagrees with what OpenPMIx documents.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from tabulate import tabulate

from recapp.reports.records import ImageRef, JobRecord, MatrixCell, MatrixPair, MatrixRecord

VERSION_NAMES = {"pmix": "PMIx", "prrte": "PRRTE", "ompi": "Open MPI"}
REC_VERSION_KEYS = ("pmix", "prrte")
APP_VERSION_KEYS = ("pmix", "ompi")
FAILING_STATUSES = frozenset({"FAIL", "REFUSED", "HANG", "WRONG", "ERROR"})
DISAGREEMENT_MARK = "⚠"
NOT_RUN = "—"
ATTEMPT_SLACK_S = 1.0  # the matrix's wall time is rounded to 0.1 s
CORNER = "REC ↓ · APP →"
# Control characters (an ANSI escape from a log line, for one) and what XML 1.0 cannot carry.
_UNPRINTABLE = re.compile("[^\t\n\r\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def printable(text: str) -> str:
    """Record text with control characters shown as `\\xNN`, safe for a terminal, XML and HTML."""
    return _UNPRINTABLE.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def versions_text(image: ImageRef, keys: Sequence[str]) -> str:
    """`PMIx 5.0.7, PRRTE 3.0.8` for the keys the image's labels carry, in the order given."""
    return ", ".join(f"{VERSION_NAMES.get(k, k)} {image.versions[k]}" for k in keys if k in image.versions)


def image_label(image: ImageRef, keys: Sequence[str]) -> str:
    versions = versions_text(image, keys)
    return f"{image.ref} ({versions})" if versions else image.ref


def pair_name(rec: str, app: str) -> str:
    return f"{rec} × {app}"


def is_attempt(job: JobRecord, record: MatrixRecord) -> bool:
    """Whether a job record is one of the matrix's own attempts (the runner writes one per level and
    command): same REC × APP pair as one of its pairs, started within the matrix's run."""
    if job.app is None:
        return False
    pairs = {(p.rec, p.app) for p in record.pairs} | {(c.rec, c.app) for c in record.cells}
    end = record.started_at + timedelta(seconds=record.wall_s + ATTEMPT_SLACK_S)
    try:
        within = record.started_at <= job.started_at <= end
    except TypeError:  # one time with a zone, one without: not comparable, so not the same run
        return False
    return within and (job.rec.ref, job.app.ref) in pairs


def level_order(record: MatrixRecord) -> list[str]:
    """The record's levels, then any level a cell names that the record does not list (in order seen)."""
    order = list(record.levels)
    for cell in record.cells:
        if cell.level not in order:
            order.append(cell.level)
    return order


def pair_cells(record: MatrixRecord, rec: str, app: str) -> list[MatrixCell]:
    """The cells of one pair, in level order."""
    order = level_order(record)
    cells = [c for c in record.cells if c.rec == rec and c.app == app]
    return sorted(cells, key=lambda c: order.index(c.level))


def failed_level(pair: MatrixPair, cells: Sequence[MatrixCell], levels: Sequence[str]) -> str | None:
    """The level at which the pair stopped: its first cell that failed (else its first that did not
    pass); without cells, the level after the highest that passed (the first level when none did)."""
    if pair.status == "PASS":
        return None
    stopped = next((c for c in cells if c.status not in ("PASS", "SKIPPED")), None)
    stopped = stopped or next((c for c in cells if c.status != "PASS"), None)
    if stopped is not None:
        return stopped.level
    if pair.highest_level in levels:
        following = levels.index(pair.highest_level) + 1
        return levels[following] if following < len(levels) else None
    return levels[0] if levels and pair.highest_level is None else None


def cell_text(pair: MatrixPair, cells: Sequence[MatrixCell], levels: Sequence[str]) -> str:
    """`L4 PASS`, `L2 → L3 FAIL`, `L1 REFUSED` (no footnote, no flag). The level named first is the
    highest that passed, the one before the status is where the pair stopped."""
    if pair.status == "PASS":
        return f"{pair.highest_level} PASS" if pair.highest_level else "no level passed"
    stopped = failed_level(pair, cells, levels) or "?"
    if pair.highest_level:
        return f"{pair.highest_level} → {stopped} {pair.status}"
    return f"{stopped} {pair.status}"


def pair_reason(pair: MatrixPair, cells: Sequence[MatrixCell]) -> str | None:
    """The pair's reason, or else the reason of the cell where it stopped (the first that failed,
    else the first that did not pass)."""
    if pair.reason:
        return pair.reason
    failed = [c for c in cells if c.status not in ("PASS", "SKIPPED")] or [
        c for c in cells if c.status != "PASS"
    ]
    return next((c.reason for c in failed if c.reason), None)


@dataclass(frozen=True)
class Note:
    """A footnote: one reason and the pairs that stopped for it."""

    number: int
    reason: str
    pairs: tuple[str, ...]


@dataclass(frozen=True)
class CellView:
    rec: str
    app: str
    text: str  # e.g. "L2 → L3 FAIL"
    status: str | None  # None: the pair was not run
    note: int | None = None
    reason: str | None = None
    disagreement: str | None = None
    expected: str | None = None
    expected_source: str | None = None

    @property
    def label(self) -> str:
        """The cell as the Markdown table shows it: text, footnote number, disagreement flag."""
        parts = [self.text]
        if self.note is not None:
            parts.append(f"[{self.note}]")
        if self.disagreement:
            parts.append(DISAGREEMENT_MARK)
        return " ".join(parts)

    @property
    def css(self) -> str:
        return (self.status or "none").lower()


@dataclass(frozen=True)
class DetailRow:
    level: str
    status: str
    seconds: str
    reason: str
    settings: str
    observed: str


@dataclass(frozen=True)
class PairDetail:
    rec: str
    app: str
    cell: CellView
    rows: list[DetailRow]

    @property
    def name(self) -> str:
        return pair_name(self.rec, self.app)


@dataclass(frozen=True)
class LevelRow:
    """One pair with a column per level: each level's status, the first that failed and why."""

    rec: str
    app: str
    statuses: list[str]  # in MatrixView.levels order; NOT_RUN for a level the pair did not reach
    first_failed: str | None
    note: int | None


@dataclass(frozen=True)
class MatrixView:
    row_labels: list[str]
    column_labels: list[str]
    cells: list[list[CellView]]  # [row][column]
    notes: list[Note]
    disagreements: list[CellView]
    details: list[PairDetail]
    levels: list[str]
    level_rows: list[LevelRow]


def _refs(images: Iterable[ImageRef], extra: Iterable[str]) -> list[ImageRef]:
    """The record's images, then refs its pairs or cells name that it does not list."""
    out = list(images)
    known = {i.ref for i in out}
    for ref in extra:
        if ref not in known:
            known.add(ref)
            out.append(ImageRef(ref=ref))
    return out


def view(record: MatrixRecord) -> MatrixView:
    """Everything the Markdown and HTML matrices show, computed once from the record."""
    levels = level_order(record)
    recs = _refs(record.recs, [p.rec for p in record.pairs] + [c.rec for c in record.cells])
    apps = _refs(record.apps, [p.app for p in record.pairs] + [c.app for c in record.cells])
    pairs = {(p.rec, p.app): p for p in record.pairs}
    notes: dict[str, tuple[int, list[str]]] = {}
    grid: list[list[CellView]] = []
    details: list[PairDetail] = []
    for rec in recs:
        row: list[CellView] = []
        for app in apps:
            pair = pairs.get((rec.ref, app.ref))
            cells = pair_cells(record, rec.ref, app.ref)
            if pair is None:
                row.append(CellView(rec=rec.ref, app=app.ref, text=NOT_RUN, status=None))
                continue
            reason = pair_reason(pair, cells) if pair.status != "PASS" else None
            number = None
            if reason:
                number, named = notes.setdefault(reason, (len(notes) + 1, []))
                named.append(pair_name(rec.ref, app.ref))
            cell = CellView(
                rec=rec.ref,
                app=app.ref,
                text=cell_text(pair, cells, levels),
                status=pair.status,
                note=number,
                reason=reason,
                disagreement=pair.disagreement,
                expected=pair.expected,
                expected_source=pair.expected_source,
            )
            row.append(cell)
            details.append(PairDetail(rec=rec.ref, app=app.ref, cell=cell, rows=detail_rows(cells)))
        grid.append(row)
    return MatrixView(
        levels=levels,
        level_rows=[level_row(d, levels) for d in details],
        row_labels=[image_label(r, REC_VERSION_KEYS) for r in recs],
        column_labels=[image_label(a, APP_VERSION_KEYS) for a in apps],
        cells=grid,
        notes=[Note(number=n, reason=reason, pairs=tuple(named)) for reason, (n, named) in notes.items()],
        disagreements=[c for row in grid for c in row if c.disagreement],
        details=details,
    )


def level_row(detail: PairDetail, levels: Sequence[str]) -> LevelRow:
    """A pair's statuses per level (from its cells) and the first level that failed."""
    status = {r.level: r.status for r in detail.rows}
    failed = next((r.level for r in detail.rows if r.status in FAILING_STATUSES), None)
    return LevelRow(
        rec=detail.rec,
        app=detail.app,
        statuses=[status.get(level, NOT_RUN) for level in levels],
        first_failed=failed,
        note=detail.cell.note,
    )


def levels_markdown(mv: MatrixView) -> str:
    """A row per pair, a column per level, then the first level that failed and its footnote."""
    rows = [
        [
            short_ref(r.rec),
            short_ref(r.app),
            *r.statuses,
            r.first_failed or "",
            f"[{r.note}]" if r.note is not None else "",
        ]
        for r in mv.level_rows
    ]
    return _table(rows, ["REC", "APP", *mv.levels, "first failing", "reason"])


def short_ref(ref: str) -> str:
    """`localhost/recapp/rec:trixie` → `rec:trixie`."""
    return ref.rsplit("/", 1)[-1]


def detail_rows(cells: Sequence[MatrixCell]) -> list[DetailRow]:
    return [
        DetailRow(
            level=c.level,
            status=c.status,
            seconds=f"{c.seconds:.2f}",
            reason=c.reason or "",
            settings="; ".join(c.settings),
            observed=", ".join(f"{k}={v}" for k, v in c.observed.items()),
        )
        for c in cells
    ]


def md_escape(text: str) -> str:
    """Record text made safe for a Markdown table cell: no line breaks, `|` and raw HTML escaped."""
    flat = " ".join(printable(text).split())
    return flat.replace("\\", "\\\\").replace("|", "\\|").replace("<", "\\<")


def _table(rows: list[list[str]], headers: list[str]) -> str:
    return tabulate(
        [[md_escape(c) for c in row] for row in rows],
        headers=[md_escape(h) for h in headers],
        tablefmt="github",
        disable_numparse=True,  # versions and seconds stay exactly as written
    )


def overview_markdown(mv: MatrixView) -> str:
    """The matrix table, its footnotes and the disagreements with the documented expectation."""
    table = _table(
        [[label, *(c.label for c in row)] for label, row in zip(mv.row_labels, mv.cells, strict=True)],
        [CORNER, *mv.column_labels],
    )
    parts = [table]
    if mv.notes:
        parts.append(
            "\n".join(f"{n.number}. {md_escape('; '.join(n.pairs))}: {md_escape(n.reason)}" for n in mv.notes)
        )
    if mv.disagreements:
        parts.append(
            f"{DISAGREEMENT_MARK} disagrees with the documented expectation:\n\n"
            + "\n".join(
                f"- {md_escape(pair_name(c.rec, c.app))}: expected {c.expected} "
                f"({md_escape(c.expected_source or '')}), got {c.text}: {md_escape(c.disagreement or '')}"
                for c in mv.disagreements
            )
        )
    return "\n\n".join(parts)


def details_markdown(mv: MatrixView, heading: str = "####") -> str:
    """One table per pair: level × status × seconds × reason × settings applied × observed."""
    parts = []
    for d in mv.details:
        flag = f" {DISAGREEMENT_MARK}" if d.cell.disagreement else ""
        parts.append(
            f"{heading} {md_escape(d.name)}: {d.cell.text}{flag}\n\n"
            f"expected: {d.cell.expected} ({md_escape(d.cell.expected_source or '')})\n\n"
            + (
                _table(
                    [[r.level, r.status, r.seconds, r.reason, r.settings, r.observed] for r in d.rows],
                    ["level", "status", "seconds", "reason", "settings applied", "observed"],
                )
                if d.rows
                else "no level was run"
            )
        )
    return "\n\n".join(parts)


def markdown(record: MatrixRecord, heading: str = "##") -> str:
    """The whole matrix section of a report: overview, footnotes, disagreements, per-pair details."""
    mv = view(record)
    return (
        f"{heading} REC × APP matrix\n\n"
        f"levels: {', '.join(level_order(record))} · started {record.started_at.isoformat()} · "
        f"{record.wall_s:.1f} s\n\n"
        f"{overview_markdown(mv)}\n\n"
        f"{heading}# Levels per pair\n\n"
        f"{levels_markdown(mv)}\n\n"
        f"{heading}# Per-pair details\n\n"
        f"{details_markdown(mv, heading + '##')}\n"
    )
