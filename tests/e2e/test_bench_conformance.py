"""`recapp bench` and `recapp conformance` end to end, on small sets (CI-sized): the records, the
rendered report and the JUnit they leave, with values checked (ranks, verification, ratios present)."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pytest

from recapp.builder.build import BuildRequest, build_image

pytestmark = pytest.mark.e2e

REC = "localhost/recapp/rec:trixie"
APP = "localhost/recapp/app-mpi:trixie"


@pytest.fixture(scope="module")
def nas_image(engine) -> str:
    return build_image(BuildRequest("app", "trixie", workload="nas")).tag


def test_bench_one_workload_side_by_side(default_images, run_recapp, tmp_path):
    result = run_recapp(
        "bench", "--workload", "init_finalize", "--repeats", "3", "--no-launch", "--out", str(tmp_path),
        timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    # Ratios first: the summary table is the first thing printed after the title.
    first_table = result.stdout.split("\n\n")[1]
    assert "| nested ÷ native " in first_table.splitlines()[0]
    assert re.search(r"^\| init_finalize +\| 4 +\| init_finalize_s +\| \d+\.\d{3} ", first_table, re.M)
    (folder,) = list(tmp_path.iterdir())
    record = json.loads((folder / "workloads.json").read_text())
    (comp,) = [c for c in record["comparisons"] if c["figure"] == "init_finalize_s"]
    assert set(comp["columns"]) >= {"nested", "native"}
    assert all(len(s["samples"]) == 3 for s in comp["columns"].values())
    assert comp["ratios"]["nested/native"] == pytest.approx(
        comp["columns"]["nested"]["median"] / comp["columns"]["native"]["median"], rel=1e-3
    )
    # Each sample's job record is in the folder, verified: 4 ranks on both nodes.
    jobs = [json.loads(p.read_text()) for p in (folder / "jobs").glob("*.json")]
    models = set(comp["columns"])  # traditional too when the all-in-one image is built here
    assert len(jobs) == len(record["job_ids"]) == 3 * len(models)
    assert all(
        j["passed"] and len(j["ranks"]) == 4 and len({r["host"] for r in j["ranks"]}) == 2 for j in jobs
    )
    assert {j["mode"] for j in jobs} == models
    if "traditional" in models:
        assert {j["rec"]["ref"] for j in jobs if j["mode"] == "traditional"} == {
            "localhost/recapp/aio:trixie"
        }
        assert "traditional/native" in comp["ratios"]
    else:
        assert "all-in-one" in record["skipped"]["init_finalize/traditional"]
    page = (folder / "report.html").read_text()
    assert page.count("data:image/png;base64,") >= 1  # the ratio bars
    assert "report.html" in result.stderr


def test_conformance_rec_and_app_small_set(default_images, nas_image, run_recapp, tmp_path):
    out = tmp_path / "conf"
    result = run_recapp(
        "conformance", "--rec", REC, "--app", nas_image, "--workloads", "ep.S", "--levels", "L1,L3",
        "--out", str(out), timeout=1500,
    )  # fmt: skip
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    suite = ET.parse(out / "pytest-junit.xml").getroot().find("testsuite")
    names = [c.get("name") for c in suite.findall("testcase")]
    assert "test_every_node_ready" in names and "test_prterun_reaches_every_node" in names
    assert "test_pmix_level[L1]" in names and "test_pmix_level[L3]" in names
    assert "test_workload_runs[ep.S]" in names and "test_workload_references[ep.S]" in names
    assert suite.get("failures") == "0" and suite.get("errors") == "0"
    matrix = json.loads((out / "matrix.json").read_text())
    assert [(c["level"], c["status"]) for c in matrix["cells"]] == [("L1", "PASS"), ("L3", "PASS")]
    workloads = json.loads((out / "workloads.json").read_text())
    figures = {c["figure"] for c in workloads["comparisons"]}
    assert {"npb_time_s", "npb_mops"} <= figures
    checks = {c["figure"]: c for c in workloads["references"]}
    assert checks["npb_mops"]["passed"] and checks["npb_mops"]["measured"] > 0
    assert (out / "report.html").is_file() and (out / "junit.xml").is_file()


def test_conformance_app_only_skips_what_needs_a_rec(default_images, run_recapp, tmp_path):
    out = tmp_path / "app-only"
    result = run_recapp(
        "conformance", "--app", APP, "--workloads", "init_finalize", "--out", str(out), timeout=900
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    suite = ET.parse(out / "pytest-junit.xml").getroot().find("testsuite")
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    skipped = {n: c.find("skipped").get("message") for n, c in cases.items() if c.find("skipped") is not None}
    assert "no --rec-image given" in skipped["test_every_node_ready"]
    assert "no --rec-image given" in skipped["test_pmix_level[L1]"]
    ran = [n for n in cases if n not in skipped]
    assert ran and all(n.startswith("test_") for n in ran)  # the APP's image checks ran
    assert int(suite.get("failures")) == 0
