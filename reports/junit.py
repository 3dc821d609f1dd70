"""Records → JUnit XML (xml.etree), the shape Jenkins, GitLab and the GitHub test-reporter actions read.

- a matrix record → one `<testsuite>`, one `<testcase>` per pair and level (`classname` "REC x APP",
  `name` the level); FAIL, REFUSED, HANG and WRONG → `<failure message=reason type=status>`,
  ERROR (the cell could not be run) → `<error message=reason>`; SKIPPED → `<skipped message=reason>`;
- job records → one `<testsuite>`, one `<testcase>` per job; a failed job → `<failure>` whose message
  is its error and verification reasons;
- a bench record → one `<testsuite>`, one passing `<testcase>` per series, its figures as
  `<properties>` of the test case (median, spread, unit, samples).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import UTC, datetime

from recapp.reports.matrix import FAILING_STATUSES, failed_level, level_order, printable
from recapp.reports.records import BenchRecord, JobRecord, MatrixCell, MatrixRecord


def xml_text(text: str) -> str:
    """XML 1.0 cannot carry control characters at all: they are shown as `\\xNN` instead."""
    return printable(text)


def _timestamp(when: datetime) -> str:
    """JUnit's timestamp: ISO 8601 without a zone, in UTC."""
    if when.tzinfo is not None:
        when = when.astimezone(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S")


def _seconds(value: float) -> str:
    return f"{value:.3f}"


def _suite(name: str, started_at: datetime | None) -> ET.Element:
    suite = ET.Element("testsuite", {"name": xml_text(name)})
    if started_at is not None:
        suite.set("timestamp", _timestamp(started_at))
    return suite


def _case(suite: ET.Element, classname: str, name: str, seconds: float) -> ET.Element:
    return ET.SubElement(
        suite,
        "testcase",
        {"classname": xml_text(classname), "name": xml_text(name), "time": _seconds(seconds)},
    )


def _close(suite: ET.Element) -> ET.Element:
    """Count the suite's cases into its attributes (tests, failures, errors, skipped, time)."""
    cases = suite.findall("testcase")
    suite.set("tests", str(len(cases)))
    suite.set("failures", str(sum(1 for c in cases if c.find("failure") is not None)))
    suite.set("errors", str(sum(1 for c in cases if c.find("error") is not None)))
    suite.set("skipped", str(sum(1 for c in cases if c.find("skipped") is not None)))
    suite.set("time", _seconds(sum(float(c.get("time", "0")) for c in cases)))
    return suite


def _properties(parent: ET.Element, values: Sequence[tuple[str, str]]) -> None:
    if values:
        props = ET.SubElement(parent, "properties")
        for name, value in values:
            ET.SubElement(props, "property", {"name": xml_text(name), "value": xml_text(value)})


def matrix_suite(record: MatrixRecord, name: str = "matrix") -> ET.Element:
    suite = _suite(name, record.started_at)
    _properties(
        suite,
        [("levels", ",".join(record.levels))]
        + [(f"rec {r.ref}", ", ".join(f"{k} {v}" for k, v in r.versions.items())) for r in record.recs]
        + [(f"app {a.ref}", ", ".join(f"{k} {v}" for k, v in a.versions.items())) for a in record.apps],
    )
    order = level_order(record)
    pairs = [(p.rec, p.app) for p in record.pairs]
    pairs += [k for k in dict.fromkeys((c.rec, c.app) for c in record.cells) if k not in pairs]
    for rec, app in pairs:
        cells = sorted(
            (c for c in record.cells if (c.rec, c.app) == (rec, app)), key=lambda c: order.index(c.level)
        )
        if not cells:
            cells = _cells_of_an_unrun_pair(record, rec, app)
        for cell in cells:
            case = _case(suite, f"{rec} x {app}", cell.level, cell.seconds)
            details = [
                f"status: {cell.status}",
                *(f"observed {k}: {v}" for k, v in cell.observed.items()),
                *(f"setting applied: {s}" for s in cell.settings),
                *([f"log: {cell.log_path}"] if cell.log_path else []),
            ]
            if cell.status == "ERROR":
                error = ET.SubElement(
                    case, "error", {"message": xml_text(cell.reason or "not run"), "type": "ERROR"}
                )
                error.text = xml_text("\n".join([cell.reason or "", *details]).strip())
            elif cell.status in FAILING_STATUSES:
                failure = ET.SubElement(
                    case, "failure", {"message": xml_text(cell.reason or cell.status), "type": cell.status}
                )
                failure.text = xml_text("\n".join([cell.reason or "", *details]).strip())
            elif cell.status == "SKIPPED":
                ET.SubElement(case, "skipped", {"message": xml_text(cell.reason or "skipped")})
            elif len(details) > 1:
                ET.SubElement(case, "system-out").text = xml_text("\n".join(details))
    return _close(suite)


def _cells_of_an_unrun_pair(record: MatrixRecord, rec: str, app: str) -> list[MatrixCell]:
    """A pair the record lists without cells still counts: one case at the level where it stopped."""
    pair = next(p for p in record.pairs if (p.rec, p.app) == (rec, app))
    level = failed_level(pair, [], level_order(record)) or pair.highest_level or "all levels"
    return [MatrixCell(rec=rec, app=app, level=level, status=pair.status, reason=pair.reason)]


def job_reasons(job: JobRecord) -> list[str]:
    """Why a job failed: its error, its verification reasons, else its exit status."""
    reasons = [job.error] if job.error else []
    reasons += job.verification.reasons
    if not reasons and job.exit_status != 0:
        reasons.append(f"exit status {job.exit_status}")
    if not reasons and not job.passed:
        reasons.append("verification failed")
    return reasons


def jobs_suite(jobs: Sequence[JobRecord], name: str = "jobs") -> ET.Element:
    suite = _suite(name, min((j.started_at for j in jobs), default=None))
    for job in jobs:
        classname = f"{job.rec.ref} x {job.app.ref}" if job.app else job.rec.ref
        case = _case(suite, classname, f"{job.id}: {' '.join(job.command)}", job.wall_s)
        _properties(
            case,
            [
                ("np", str(job.np)),
                ("mode", job.mode + (" dvm" if job.dvm else "")),
                ("nodes", ",".join(job.nodes)),
                *((f, f"{v.value} {v.unit}") for f, v in job.figures.items()),
            ],
        )
        if not job.passed:
            reasons = job_reasons(job)
            failure = ET.SubElement(
                case, "failure", {"message": xml_text("; ".join(reasons)), "type": f"exit {job.exit_status}"}
            )
            failure.text = xml_text(
                "\n".join([*reasons, *([f"log: {job.log_path}"] if job.log_path else [])])
            )
    return _close(suite)


def bench_suite(record: BenchRecord, name: str | None = None) -> ET.Element:
    suite = _suite(name or f"bench {record.suite}", record.started_at)
    _properties(
        suite,
        [(f"host {k}", v) for k, v in record.host.items()]
        + [(f"ratio {k}", f"{v}") for k, v in record.ratios.items()],
    )
    for check in record.references:
        case = _case(suite, f"references {check.system}", f"{check.workload} {check.figure}", 0.0)
        _properties(
            case,
            [
                ("measured", f"{check.measured}"),
                ("reference", f"{check.reference}"),
                ("lower", "" if check.lower is None else f"{check.lower}"),
                ("upper", "" if check.upper is None else f"{check.upper}"),
                ("unit", check.unit),
            ],
        )
        if not check.passed:
            failure = ET.SubElement(
                case,
                "failure",
                {"message": xml_text(check.reason or "outside its bounds"), "type": "reference"},
            )
            failure.text = xml_text(check.reason or "")
    for comp in record.comparisons:
        case = _case(suite, f"bench {record.suite}", f"{comp.workload} np={comp.np} {comp.figure}", 0.0)
        _properties(
            case,
            [
                *((f"{model} median", f"{s.median} {s.unit}") for model, s in comp.columns.items()),
                *((f"ratio {name}", f"{value}") for name, value in comp.ratios.items()),
            ],
        )
    for what, why in sorted(record.skipped.items()):
        case = _case(suite, f"bench {record.suite}", f"{what} (not measured)", 0.0)
        ET.SubElement(case, "skipped", {"message": xml_text(why)})
    for series in record.series:
        seconds = sum(series.samples) if series.unit == "s" else 0.0
        case = _case(suite, f"bench {record.suite}", series.name, seconds)
        _properties(
            case,
            [
                ("median", f"{series.median}"),
                ("spread", f"{series.spread}"),
                ("unit", series.unit),
                ("samples", ",".join(f"{s}" for s in series.samples)),
            ],
        )
    return _close(suite)


def document(suites: Sequence[ET.Element], name: str = "recapp") -> bytes:
    """`<testsuites>` with the totals of its suites, as UTF-8 bytes with an XML declaration."""
    root = ET.Element("testsuites", {"name": name})
    for key in ("tests", "failures", "errors", "skipped"):
        root.set(key, str(sum(int(s.get(key, "0")) for s in suites)))
    root.set("time", _seconds(sum(float(s.get("time", "0")) for s in suites)))
    root.extend(suites)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def junit_xml(
    matrices: Sequence[MatrixRecord] = (),
    benches: Sequence[BenchRecord] = (),
    jobs: Sequence[JobRecord] = (),
) -> bytes:
    """One JUnit document for a report folder: a suite per matrix and per bench, one for all jobs."""
    suites = [
        matrix_suite(m, "matrix" if len(matrices) == 1 else f"matrix {i}") for i, m in enumerate(matrices, 1)
    ]
    suites += [bench_suite(b) for b in benches]
    if jobs:
        suites.append(jobs_suite(jobs))
    return document(suites)
