"""A folder of result records → report.md, report.html, junit.xml and records.json.

`render_dir` is the one entry point (`recapp report DIR --out OUT` calls it). It reads every `*.json`
below the folder (job records `kind: job`, bench `kind: bench`, matrix `kind: matrix`, and a merged
`records.json` of an earlier report, `kind: report`); any other JSON file is an error naming it.
The output depends on the records only: the same records give the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from tabulate import tabulate

from recapp.errors import ReportError
from recapp.reports import bench_table, html, junit, matrix
from recapp.reports import side_by_side as sbs
from recapp.reports.records import SCHEMA_VERSION, BenchRecord, JobRecord, MatrixRecord

REPORT_KIND = "report"
MODELS: dict[str, type[BaseModel]] = {"job": JobRecord, "bench": BenchRecord, "matrix": MatrixRecord}
# Keys a stored record may carry beyond the schema: `passed` (job records), `source` (records.json).
DERIVED_KEYS = ("passed", "source")


@dataclass
class Records:
    """The records of one report folder, each with the file it came from (relative to the folder)."""

    matrices: list[MatrixRecord] = field(default_factory=list)
    benches: list[BenchRecord] = field(default_factory=list)
    jobs: list[JobRecord] = field(default_factory=list)  # jobs of their own
    attempts: list[JobRecord] = field(default_factory=list)  # jobs a matrix ran for its cells
    samples: list[JobRecord] = field(default_factory=list)  # jobs a side-by-side bench ran for its samples
    sources: list[tuple[str, BaseModel]] = field(default_factory=list)

    def add(self, source: str, record: BaseModel) -> None:
        self.sources.append((source, record))
        if isinstance(record, MatrixRecord):
            self.matrices.append(record)
        elif isinstance(record, BenchRecord):
            self.benches.append(record)
        elif isinstance(record, JobRecord):
            self.jobs.append(record)


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(part) for part in err["loc"])
    return f"{where}: {err['msg']}" if where else err["msg"]


def parse_record(data: Any, where: str) -> BaseModel:
    """One record from its JSON data; `where` names the file (and entry) in the error."""
    kind = data.get("kind") if isinstance(data, dict) else None
    if kind not in MODELS:
        raise ReportError(f"{where}: not a recapp record (kind {kind!r}; expected job, bench or matrix)")
    version = data.get("schema_version", SCHEMA_VERSION)
    if isinstance(version, int) and version > SCHEMA_VERSION:
        raise ReportError(f"{where}: schema version {version} is newer than this recapp's ({SCHEMA_VERSION})")
    clean = {k: v for k, v in data.items() if k not in DERIVED_KEYS}
    try:
        return MODELS[kind].model_validate(clean)
    except ValidationError as exc:
        raise ReportError(f"{where}: not a valid {kind} record: {_first_error(exc)}") from exc


def load_dir(src: Path, skip: Path | None = None) -> Records:
    """Every record JSON below `src` in path order (job records by start time), except the file `skip`
    (the records.json this render is about to replace, when the report goes inside its sources)."""
    if not src.is_dir():
        raise ReportError(f"{src}: no such folder of records")
    found = Records()
    for path in sorted(src.rglob("*.json"), key=lambda p: p.relative_to(src).as_posix()):
        if skip is not None and path.resolve() == skip.resolve():
            continue
        rel = path.relative_to(src).as_posix()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise ReportError(f"{path}: not valid JSON: {str(exc).splitlines()[0]}") from exc
        if isinstance(data, dict) and data.get("kind") == REPORT_KIND:
            entries = data.get("records")
            if not isinstance(entries, list):
                raise ReportError(f"{path}: a merged report without a list of records")
            for i, entry in enumerate(entries):
                source = entry.get("source", f"{rel}#{i}") if isinstance(entry, dict) else f"{rel}#{i}"
                found.add(str(source), parse_record(entry, f"{path} (record {i})"))
        else:
            found.add(rel, parse_record(data, str(path)))
    if not found.sources:
        raise ReportError(f"{src}: no record JSON files found")
    found.jobs.sort(key=lambda j: (j.started_at, j.id))
    found.benches = sbs.report_order(found.benches)
    # A matrix's attempts are its cells' evidence: kept in records.json, not counted again as jobs.
    # A side-by-side bench's samples: the bench record names them and summarises them.
    sampled = {i for b in found.benches for i in b.job_ids}
    found.samples = [j for j in found.jobs if j.id in sampled]
    found.jobs = [j for j in found.jobs if j.id not in sampled]
    attempt = [any(matrix.is_attempt(j, m) for m in found.matrices) for j in found.jobs]
    found.attempts = [j for j, a in zip(found.jobs, attempt, strict=True) if a]
    found.jobs = [j for j, a in zip(found.jobs, attempt, strict=True) if not a]
    return found


def merged_json(records: Records) -> str:
    """All records in one JSON document (`kind: report`), each with the file it came from."""
    entries = []
    for source, record in records.sources:
        data = record.model_dump(mode="json")
        if isinstance(record, JobRecord):
            data["passed"] = record.passed
        entries.append({"source": source, **data})
    return (
        json.dumps(
            {"kind": REPORT_KIND, "schema_version": SCHEMA_VERSION, "records": entries},
            indent=2,
            sort_keys=True,
        )
        + "\n"
    )


def _md_table(rows: Sequence[Sequence[str]], headers: Sequence[str]) -> str:
    return tabulate(
        [[matrix.md_escape(c) for c in row] for row in rows],
        headers=[matrix.md_escape(h) for h in headers],
        tablefmt="github",
        disable_numparse=True,
    )


def markdown(records: Records, title: str = "recapp report") -> str:
    prov = html.provenance(records.matrices, records.benches, records.jobs, records.attempts, records.samples)
    parts = [f"# {title}"]
    summary = [b for b in records.benches if b.ratios]
    if summary:
        parts += ["## Summary: ratios of medians", html.SUMMARY_NOTE]
        parts += [f"{matrix.md_escape(b.suite)}:\n\n{sbs.summary_markdown(b)}" for b in summary]
    parts.append("## Provenance")
    parts.append(
        "\n".join(f"- {matrix.md_escape(what)}: {matrix.md_escape(value)}" for what, value in prov.facts)
    )
    if prov.images:
        parts.append(
            _md_table(
                [[i.ref, i.id, i.versions, ", ".join(i.roles)] for i in prov.images],
                ["image", "id", "versions (from labels)", "used as"],
            )
        )
    for m in records.matrices:
        parts.append(matrix.markdown(m).rstrip("\n"))
        attempts = sum(1 for j in records.attempts if matrix.is_attempt(j, m))
        if attempts:
            parts.append(html.attempts_note(attempts))
    for b in records.benches:
        if sbs.is_side_by_side(b):
            parts.append(sbs.markdown(b))
            continue
        parts += [
            f"## Benchmarks: {matrix.md_escape(b.suite)}",
            f"started {b.started_at.isoformat()} · the plot of medians with their spread is in report.html",
            bench_table.series_table(b),
        ]
        if b.ratios:
            parts.append(bench_table.ratio_table(b))
        if b.fits:
            parts += [
                "Scaling: least-squares line of each median against the number of nodes "
                "(plot in report.html)",
                bench_table.fit_table(b),
            ]
        if b.skipped:
            parts.append("Not measured: " + "; ".join(f"{k}: {v}" for k, v in sorted(b.skipped.items())))
    if records.jobs:
        rows = html.job_rows(records.jobs)
        parts += [
            "## Jobs",
            _md_table(
                [
                    [r.id, r.command, r.rec, r.app, r.mode, r.ranks, r.hosts, r.wall_s, r.figures, r.result]
                    for r in rows
                ],
                ["job", "command", "REC", "APP", "mode", "ranks", "hosts", "wall s", "figures", "result"],
            ),
        ]
        failed = [r for r in rows if r.reasons]
        if failed:
            parts.append(
                "\n".join(
                    f"- {matrix.md_escape(r.id)}: {matrix.md_escape('; '.join(r.reasons))}" for r in failed
                )
            )
    return "\n\n".join(parts) + "\n"


def render_dir(src_dir: Path | str, out_dir: Path | str) -> list[Path]:
    """Render every record below `src_dir` into `out_dir`; returns the written paths
    (report.md, report.html, junit.xml, records.json). Raises ReportError naming a bad file."""
    src, out = Path(src_dir), Path(out_dir)
    records = load_dir(src, skip=out / "records.json")
    outputs = {
        "report.md": markdown(records).encode("utf-8"),
        "report.html": html.page(
            records.matrices, records.benches, records.jobs, records.attempts, samples=records.samples
        ).encode("utf-8"),
        "junit.xml": junit.junit_xml(records.matrices, records.benches, records.jobs),
        "records.json": merged_json(records).encode("utf-8"),
    }
    try:
        out.mkdir(parents=True, exist_ok=True)
        written = []
        for name, data in outputs.items():
            (out / name).write_bytes(data)
            written.append(out / name)
    except OSError as exc:
        raise ReportError(f"{out}: cannot write the report: {exc.strerror or exc}") from exc
    return written
