"""`recapp bench --scaling` end to end on two sizes: cluster up and the launch variants per size, the
least-squares line per node in the record, the report's table and plot."""

from __future__ import annotations

import json

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_scaling_over_two_sizes_records_slopes_and_renders_them(default_images, run_recapp, tmp_path):
    result = run_recapp(
        "bench", "--scaling", "1,2", "--repeats", "1", "--no-workloads", "--no-launch",
        "--out", str(tmp_path), timeout=1800,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    (folder,) = list(tmp_path.iterdir())
    record = json.loads((folder / "scaling.json").read_text())
    names = {s["name"] for s in record["series"]}
    for variant in ("nested", "nested-tree2", "nested-no-tree", "dvm-nested"):
        for n in (1, 2):
            assert f"init_finalize_{variant}_wall_{n}_nodes" in names
            assert f"init_finalize_{variant}_in_process_{n}_nodes" in names
    assert {"cluster_up_ready_1_nodes", "cluster_up_ready_2_nodes"} <= names
    assert all(
        len(s["samples"]) == 1 and s["interval"] == [s["median"], s["median"]] for s in record["series"]
    )
    fit = record["fits"]["cluster_up_ready"]
    (p1, p2) = fit["points"]
    assert fit["slope"] == pytest.approx(p2[1] - p1[1], abs=1e-5)  # two points: the line through them
    assert record["parameters"]["bootstrap_resamples"] == 10_000
    page = (folder / "report.html").read_text()
    assert "least-squares line of each median against the number of nodes" in page
    assert "scaling of scaling (local, nested) against the number of nodes" in page
