"""JUnit XML: parsed back, counted, and read the way CI systems read it."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from recapp.reports import junit
from recapp.reports.records import BenchRecord, JobRecord, MatrixRecord

from .conftest import APP_B, APP_S, APP_T, REC_S, REC_T, SCRIPT_REASON, SINGLETON, WRONG


def parse(data: bytes) -> ET.Element:
    assert data.startswith(b"<?xml version='1.0' encoding='utf-8'?>\n<testsuites")
    return ET.fromstring(data)


def counts(element: ET.Element) -> tuple[int, int, int, int]:
    return tuple(int(element.get(k, "-1")) for k in ("tests", "failures", "errors", "skipped"))  # type: ignore[return-value]


def case(suite: ET.Element, classname: str, name: str) -> ET.Element:
    found = [c for c in suite.iter("testcase") if c.get("classname") == classname and c.get("name") == name]
    assert len(found) == 1, f"{classname} / {name}: {len(found)} test cases"
    return found[0]


def test_matrix_one_case_per_pair_and_level(matrix_record: MatrixRecord) -> None:
    root = parse(junit.junit_xml(matrices=[matrix_record]))
    (suite,) = root.findall("testsuite")
    assert suite.get("name") == "matrix"
    assert suite.get("timestamp") == "2026-11-28T13:00:00"
    # 6 pairs × 4 levels; FAIL, HANG, REFUSED, WRONG fail; 9 levels skipped
    assert counts(suite) == (24, 4, 0, 9)
    assert counts(root) == (24, 4, 0, 9)
    # the attributes agree with what a CI system counts itself
    cases = suite.findall("testcase")
    assert len(cases) == 24
    assert sum(1 for c in cases if c.find("failure") is not None) == 4
    assert sum(1 for c in cases if c.find("skipped") is not None) == 9


def test_matrix_failures_carry_reason_and_status(matrix_record: MatrixRecord) -> None:
    suite = parse(junit.junit_xml(matrices=[matrix_record])).find("testsuite")
    assert suite is not None
    failure = case(suite, f"{REC_T} x {APP_B}", "L3").find("failure")
    assert failure is not None
    assert (failure.get("message"), failure.get("type")) == (SINGLETON, "FAIL")
    assert "setting applied: PMIX_MCA_gds=hash" in (failure.text or "")
    refused = case(suite, f"{REC_S} x {APP_B}", "L1").find("failure")
    assert refused is not None and (refused.get("message"), refused.get("type")) == (SCRIPT_REASON, "REFUSED")
    wrong = case(suite, f"{REC_S} x {APP_T}", "L4").find("failure")
    assert wrong is not None and wrong.get("message") == WRONG
    hang = case(suite, f"{REC_T} x {APP_S}", "L1").find("failure")
    # the ANSI escape in the reason cannot be carried by XML: shown, not dropped, and still parses
    assert hang is not None and hang.get("message") == "job timed out after 60 s\\x1b[0m"
    assert hang.get("type") == "HANG"
    skipped = case(suite, f"{REC_S} x {APP_S}", "L3").find("skipped")
    assert skipped is not None and skipped.get("message") == "L3 needs 2 nodes; this run had 1"
    passed = case(suite, f"{REC_T} x {APP_T}", "L4")
    assert passed.find("failure") is None and passed.find("skipped") is None
    assert passed.get("time") == "4.500"


def test_a_pair_without_cells_still_counts(matrix_record: MatrixRecord) -> None:
    matrix_record.cells = [c for c in matrix_record.cells if (c.rec, c.app) != (REC_S, APP_B)]
    suite = parse(junit.junit_xml(matrices=[matrix_record])).find("testsuite")
    assert suite is not None
    assert counts(suite) == (21, 4, 0, 6)
    failure = case(suite, f"{REC_S} x {APP_B}", "L1").find("failure")
    assert failure is not None and failure.get("type") == "REFUSED"


def test_jobs_one_case_each_failure_with_error_and_verification(jobs: list[JobRecord]) -> None:
    root = parse(junit.junit_xml(jobs=jobs))
    (suite,) = root.findall("testsuite")
    assert suite.get("name") == "jobs"
    assert counts(suite) == (2, 1, 0, 0)
    ok = case(suite, f"{REC_T} x {APP_T}", "job-ok: init_finalize")
    assert ok.find("failure") is None
    props = {p.get("name"): p.get("value") for p in ok.iter("property")}
    assert props["init_finalize_s"] == "1.374 s"
    assert props["np"] == "4"
    bad = case(suite, f"{REC_T} x {APP_T}", "job-bad: ring")
    failure = bad.find("failure")
    assert failure is not None
    assert failure.get("message") == (
        "rank 3 exited with status 1; rank 3 did not report; rank 2 saw size 3 <expected 4>"
    )
    assert failure.get("type") == "exit 1"
    assert (failure.text or "").endswith("log: /logs/job-bad.log")
    assert bad.get("time") == "3.250"


def test_bench_series_pass_with_figures_as_properties(bench_record: BenchRecord) -> None:
    root = parse(junit.junit_xml(benches=[bench_record]))
    (suite,) = root.findall("testsuite")
    assert suite.get("name") == "bench cluster"
    assert counts(suite) == (3, 0, 0, 0)
    nested = case(suite, "bench cluster", "init_finalize_nested_wall")
    props = {p.get("name"): p.get("value") for p in nested.iter("property")}
    assert props == {"median": "3.2", "spread": "0.3", "unit": "s", "samples": "3.1,3.4,3.2"}
    assert nested.get("time") == "9.700"
    suite_props = {p.get("name"): p.get("value") for p in suite.findall("properties/property")}
    assert suite_props["ratio nested/native wall"] == "1.524"
    assert suite_props["host cores"] == "2"


def test_everything_in_one_document_adds_up(
    matrix_record: MatrixRecord, bench_record: BenchRecord, jobs: list[JobRecord]
) -> None:
    root = parse(junit.junit_xml([matrix_record], [bench_record], jobs))
    assert [s.get("name") for s in root.findall("testsuite")] == ["matrix", "bench cluster", "jobs"]
    assert counts(root) == (24 + 3 + 2, 4 + 1, 0, 9)
    assert len(list(root.iter("testcase"))) == 29
    # <properties> come before the test cases, as the JUnit schema orders them
    for suite in root.findall("testsuite"):
        tags = [child.tag for child in suite]
        assert tags.count("properties") <= 1 and (tags[0] == "properties" or "properties" not in tags)
