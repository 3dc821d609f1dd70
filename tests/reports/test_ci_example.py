"""The example CI workflow runs the commands the docs name and publishes the files render_dir writes."""

from __future__ import annotations

from pathlib import Path

import yaml

from recapp.reports import render

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / "examples" / "ci" / "matrix-workflow.yml"


def steps() -> list[dict]:
    doc = yaml.safe_load(WORKFLOW.read_text())
    job = doc["jobs"]["matrix"]
    assert job["container"]["image"] == "debian:12"
    assert doc["permissions"]["checks"] == "write"
    return job["steps"]


def run_text() -> str:
    return "\n".join(s.get("run", "") for s in steps())


def test_it_sets_up_runs_the_matrix_and_renders_the_report() -> None:
    text = run_text()
    order = [
        text.index(cmd)
        for cmd in ("make setup", "recapp matrix", "recapp report matrix-out --out matrix-report")
    ]
    assert order == sorted(order)
    assert "--levels L1,L2,L3,L4 --out matrix-out" in text


def test_it_uploads_and_publishes_what_render_dir_writes(records_dir: Path, tmp_path: Path) -> None:
    written = {p.name for p in render.render_dir(records_dir, tmp_path / "matrix-report")}
    upload = next(s for s in steps() if s.get("uses", "").startswith("actions/upload-artifact@"))
    uploaded = {Path(p).name for p in upload["with"]["path"].split()}
    assert uploaded == {"junit.xml", "report.html", "records.json"} and uploaded <= written
    assert {Path(p).parent.name for p in upload["with"]["path"].split()} == {"matrix-report"}
    reporter = next(s for s in steps() if s.get("uses", "").startswith("dorny/test-reporter@"))
    assert (reporter["with"]["path"], reporter["with"]["reporter"]) == (
        "matrix-report/junit.xml",
        "java-junit",
    )
