"""render_dir: a folder of records → report.md, report.html, junit.xml, records.json."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import pytest

from recapp.errors import ReportError
from recapp.reports import records, render

from .conftest import APP_B, REC_S, REC_T, SINGLETON, make_job

OUTPUTS = ["report.md", "report.html", "junit.xml", "records.json"]


def test_writes_the_four_outputs(records_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    written = render.render_dir(records_dir, out)
    assert written == [out / name for name in OUTPUTS]
    md = (out / "report.md").read_text()
    assert f"1. {REC_T} × {APP_B}: {SINGLETON}" in md
    assert "| L1 REFUSED [3] ⚠ " in md
    assert "| init_finalize_nested_wall " in md  # the bench series table
    assert "| nested/native wall " in md  # and its ratios
    assert (
        "- job-bad: rank 3 exited with status 1; rank 3 did not report; rank 2 saw size 3 \\<expected 4>"
        in md
    )
    root = ET.parse(out / "junit.xml").getroot()
    assert [root.get(k) for k in ("tests", "failures", "errors", "skipped")] == ["29", "5", "0", "9"]
    html = (out / "report.html").read_text()
    assert html.count('<section class="matrix"') == 1 and "data:image/png;base64," in html


def test_records_json_merges_every_record(records_dir: Path, tmp_path: Path) -> None:
    render.render_dir(records_dir, tmp_path / "report")
    merged = json.loads((tmp_path / "report" / "records.json").read_text())
    assert (merged["kind"], merged["schema_version"]) == ("report", 1)
    assert [(r["source"], r["kind"]) for r in merged["records"]] == [
        ("bench/bench.json", "bench"),
        ("jobs/job-bad.json", "job"),
        ("jobs/job-ok.json", "job"),
        ("matrix.json", "matrix"),
    ]
    assert [r.get("passed") for r in merged["records"]] == [None, False, True, None]
    matrix = merged["records"][3]
    assert len(matrix["cells"]) == 24 and matrix["pairs"][3]["rec"] == REC_S


def test_records_json_renders_again_to_the_same_report(records_dir: Path, tmp_path: Path) -> None:
    render.render_dir(records_dir, tmp_path / "first")
    render.render_dir(tmp_path / "first", tmp_path / "second")  # its records.json is the only input
    for name in OUTPUTS:
        assert (tmp_path / "first" / name).read_bytes() == (tmp_path / "second" / name).read_bytes(), name


def test_identical_records_give_identical_bytes(records_dir: Path, tmp_path: Path) -> None:
    render.render_dir(records_dir, tmp_path / "a")
    # a fresh interpreter: no state carried between the renders (fonts, caches, hash seeds)
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from recapp.reports.render import render_dir; render_dir(*sys.argv[1:])",
            str(records_dir),
            str(tmp_path / "b"),
        ],
        check=True,
        env={"PYTHONHASHSEED": "123", "PATH": "/usr/bin:/bin", "HOME": str(Path.home())},
    )
    for name in OUTPUTS:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_rendering_into_the_source_folder_is_stable(records_dir: Path) -> None:
    render.render_dir(records_dir, records_dir)
    first = {n: (records_dir / n).read_bytes() for n in OUTPUTS}
    render.render_dir(records_dir, records_dir)  # the earlier records.json is output, not input
    assert {n: (records_dir / n).read_bytes() for n in OUTPUTS} == first


def test_malformed_json_names_the_file(records_dir: Path, tmp_path: Path) -> None:
    bad = records_dir / "jobs" / "truncated.json"
    bad.write_text('{"kind": "job", "id": ')
    with pytest.raises(ReportError) as info:
        render.render_dir(records_dir, tmp_path / "out")
    message = str(info.value)
    assert message.startswith(f"{bad}: not valid JSON: ")
    assert "\n" not in message
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_json_that_is_not_a_record_names_the_file(records_dir: Path, tmp_path: Path) -> None:
    other = records_dir / "settings.json"
    other.write_text('{"answer": 42}')
    with pytest.raises(ReportError, match=r"settings\.json: not a recapp record \(kind None; expected job"):
        render.render_dir(records_dir, tmp_path / "out")


def test_an_invalid_record_names_the_file_and_field(records_dir: Path, tmp_path: Path) -> None:
    path = records_dir / "jobs" / "job-ok.json"
    data = json.loads(path.read_text())
    data["np"] = "four"
    path.write_text(json.dumps(data))
    with pytest.raises(ReportError) as info:
        render.render_dir(records_dir, tmp_path / "out")
    assert str(info.value).startswith(f"{path}: not a valid job record: np: ")


def test_a_newer_schema_is_refused(records_dir: Path, tmp_path: Path) -> None:
    path = records_dir / "matrix.json"
    data = json.loads(path.read_text())
    data["schema_version"] = 99
    path.write_text(json.dumps(data))
    with pytest.raises(ReportError, match=r"matrix\.json: schema version 99 is newer"):
        render.render_dir(records_dir, tmp_path / "out")


def test_a_folder_without_records(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ReportError, match="no record JSON files found"):
        render.render_dir(tmp_path / "empty", tmp_path / "out")
    with pytest.raises(ReportError, match="no such folder"):
        render.render_dir(tmp_path / "missing", tmp_path / "out")


def test_a_matrix_attempt_is_not_counted_again_as_a_job(records_dir: Path, tmp_path: Path) -> None:
    attempt = make_job("mx-attempt", failed=True)
    attempt.cluster, attempt.nodes = "mx1a2b3c", ["mx1a2b3c-node-0", "mx1a2b3c-node-1"]
    attempt.started_at = datetime(2026, 11, 28, 13, 2, 0, tzinfo=UTC)  # inside the matrix's 321 s
    records.write(attempt, records_dir / "jobs" / "attempt.json")
    late = make_job("after-the-matrix", failed=False)
    late.started_at = datetime(2026, 11, 28, 13, 6, 0, tzinfo=UTC)  # 360 s after its start: a job of its own
    records.write(late, records_dir / "jobs" / "late.json")
    out = tmp_path / "out"
    render.render_dir(records_dir, out)
    root = ET.parse(out / "junit.xml").getroot()
    jobs_suite = next(s for s in root.findall("testsuite") if s.get("name") == "jobs")
    assert [c.get("name") for c in jobs_suite.findall("testcase")] == [
        "job-ok: init_finalize",
        "job-bad: ring",
        "after-the-matrix: init_finalize",
    ]
    md = (out / "report.md").read_text()
    assert "1 job record in the folder is this matrix's own attempts" in md
    assert "- records: 1 matrix, 1 matrix attempt, 1 bench, 3 jobs" in md
    assert "- cluster mx1a2b3c (local, matrix): mx1a2b3c-node-0, mx1a2b3c-node-1" in md
    assert "mx-attempt" not in md.split("## Jobs")[1]
    merged = json.loads((out / "records.json").read_text())
    assert "jobs/attempt.json" in [r["source"] for r in merged["records"]]
