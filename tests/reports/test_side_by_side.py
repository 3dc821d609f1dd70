"""A side-by-side bench record (nested / native / traditional) → Markdown, HTML with plots, JUnit."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from recapp.reports import html, junit, plots, records
from recapp.reports import side_by_side as sbs
from recapp.reports.render import render_dir

from .conftest import SAMPLE_JOB_ID, _comparison, make_job


def test_markdown_puts_headline_ratios_before_every_figure(side_by_side):
    md = sbs.markdown(side_by_side)
    head = md.index("### Ratios (headline figures)")
    rest = md.index("### Every figure")
    assert head < rest
    headline = md[head:rest]
    # init_finalize 0.21 / 0.15 = 1.4; the traditional median 0.17 / 0.15 = 1.133
    assert re.search(r"\| init_finalize +\| 4 +\| init_finalize_s .*\| 1\.400 +\| 1\.133", headline)
    assert "pingpong_lat_8 " in headline and "pingpong_bw_4194304" in headline
    assert "pingpong_lat_1024" not in headline and "pingpong_lat_1024" in md[rest:]
    assert "| nested ÷ native " in md and "| traditional ÷ native " in md


def test_markdown_shows_failed_reference_with_numbers_sizes_and_skips(side_by_side):
    md = sbs.markdown(side_by_side)
    assert "### References (1 passed, 1 failed)" in md
    assert "ratio:pingpong_lat_8 = 1.05 is above 1.02" in md
    assert re.search(r"\| all-in-one +\| localhost/recapp/aio:trixie +\| 900 ", md)
    assert "- gromacs: APP image localhost/recapp/app-gromacs:trixie is not built" in md


def test_cells_are_median_with_half_spread_and_count(side_by_side):
    row = next(r for r in sbs.rows(side_by_side) if r.figure == "npb_time_s")
    assert row.cells[:2] == ("10.1 ±0.1 (n=3)", "10 ±0.05 (n=3)")
    assert row.cells[2] == ""  # ep.A has no traditional column
    assert row.ratios == ("1.010", "")


def test_sweeps_and_scaling_groups(side_by_side):
    lat = sbs.sweeps(side_by_side, "lat")
    assert [c.figure for c in lat["pingpong-shm"]] == [f"pingpong_lat_{n}" for n in (8, 1024, 65536, 4194304)]
    scale = sbs.scaling(side_by_side)
    assert list(scale) == [("ep.W", "npb_mops")]
    assert [c.np for c in scale[("ep.W", "npb_mops")]] == [1, 2, 4]


def test_plots_are_pngs_and_stable(side_by_side):
    for png in (
        plots.ratio_bars(side_by_side),
        plots.message_size(side_by_side, "lat", "latency"),
        plots.message_size(side_by_side, "bw", "bandwidth"),
        plots.scaling(side_by_side),
    ):
        assert png is not None and png.startswith(html.PNG_MAGIC)
    assert plots.ratio_bars(side_by_side) == plots.ratio_bars(side_by_side)


def test_no_plot_without_the_data(bench_record):
    assert plots.ratio_bars(bench_record) is None
    assert plots.message_size(bench_record, "lat", "latency") is None
    assert plots.scaling(bench_record) is None


def test_html_page_has_the_tables_and_four_plots(side_by_side):
    page = html.page(benches=[side_by_side])
    assert page.count('src="data:image/png;base64,') == 4
    assert page.index('id="summary"') < page.index('id="provenance"')
    assert "latency against message size" in page and "scaling with the number of ranks" in page
    assert "ratio:pingpong_lat_8 = 1.05 is above 1.02" in page
    assert 'class="st-fail"' in page


def test_junit_fails_the_reference_and_skips_the_unmeasured(side_by_side):
    root = ET.fromstring(junit.junit_xml(benches=[side_by_side]))
    suite = root.find("testsuite")
    failed = [c for c in suite.findall("testcase") if c.find("failure") is not None]
    assert [c.get("name") for c in failed] == ["pingpong-shm ratio:pingpong_lat_8"]
    assert "above 1.02" in failed[0].find("failure").get("message")
    skipped = [c.get("name") for c in suite.findall("testcase") if c.find("skipped") is not None]
    assert skipped == ["gromacs (not measured)"]
    assert suite.get("failures") == "1"


def test_render_keeps_sample_jobs_out_of_the_jobs_table(tmp_path, side_by_side):
    src = tmp_path / "bench"
    records.write(side_by_side, src / "workloads.json")
    sample = make_job(SAMPLE_JOB_ID, failed=False)
    other = make_job("job-own", failed=False)
    records.write(sample, src / "jobs" / f"{SAMPLE_JOB_ID}.json")
    records.write(other, src / "jobs" / "job-own.json")
    render_dir(src, src)
    md = (src / "report.md").read_text()
    assert "1 bench sample job" in md
    jobs_section = md[md.index("## Jobs") :]
    assert "job-own" in jobs_section and SAMPLE_JOB_ID not in jobs_section
    assert md.index("## Summary: ratios of medians") < md.index("## Provenance")


def _with_raw(record: records.BenchRecord) -> records.BenchRecord:
    """The fixture's pingpong-shm sweep with the program's raw shared-memory figures beside it, at
    half MPI's latency (nested) and the same as MPI (native)."""
    extra = []
    for c in record.comparisons:
        if c.workload == "pingpong-shm":
            kind = "lat" if "_lat_" in c.figure else "bw"
            scale = 0.5 if kind == "lat" else 2.0
            values = {
                "nested": [c.columns["nested"].median * scale] * 3,
                "native": c.columns["native"].samples,
            }
            extra.append(
                _comparison(c.workload, c.figure.replace("pingpong_", "raw_shm_"), c.unit, 2, values)
            )
    return record.model_copy(update={"comparisons": [*record.comparisons, *extra]})


def test_physical_limit_puts_mpi_beside_the_raw_transport_per_model_and_size(side_by_side):
    rows = sbs.physical_limit(_with_raw(side_by_side))
    assert [(r.model, r.bytes) for r in rows] == [
        (m, n) for m in ("nested", "native") for n in (8, 1024, 65536, 4194304)
    ]
    nested_8 = rows[0]
    assert nested_8.transport == "shm" and nested_8.mpi_lat == pytest.approx(1.0016 * 1.05)
    cells = nested_8.cells()
    assert cells[6] == "2.00" and cells[9] == "2.00"  # MPI ÷ raw latency, raw ÷ MPI bandwidth
    assert all(r.cells()[6] == "1.00" for r in rows if r.model == "native")
    # the raw figures are the limit, not another MPI sweep
    swept = [c.figure for c in sbs.sweeps(_with_raw(side_by_side), "lat")["pingpong-shm"]]
    assert swept == [f"pingpong_lat_{n}" for n in (8, 1024, 65536, 4194304)]


def test_markdown_shows_the_physical_limit_only_when_raw_figures_exist(side_by_side):
    assert "Physical limit" not in sbs.markdown(side_by_side)
    md = sbs.markdown(_with_raw(side_by_side))
    section = md[md.index("### Physical limit") :]
    assert "| MPI ÷ raw lat " in section and "| raw via " in section
    assert re.search(r"\| pingpong-shm +\| 2 +\| nested +\| 8 +\| 1\.052 +\| 0\.5258 +\| 2\.00 ", section)


def test_html_page_shows_the_physical_limit_table(side_by_side):
    assert "Physical limit" not in html.page(benches=[side_by_side])
    page = html.page(benches=[_with_raw(side_by_side)])
    section = page[page.index("Physical limit") :]
    assert "<th>MPI ÷ raw lat</th>" in section and "<td>nested</td>" in section


def test_raw_lines_are_drawn_under_the_mpi_sweep(side_by_side):
    record = _with_raw(side_by_side)
    lines = plots.raw_lines(record, "pingpong-shm", "lat")
    assert list(lines) == ["shm"] and [s for s, _ in lines["shm"]] == [8, 1024, 65536, 4194304]
    assert lines["shm"][0][1] == pytest.approx(1.0016 * 1.05 * 0.5)  # the nested model's median
    assert plots.raw_lines(side_by_side, "pingpong-shm", "lat") == {}
    png = plots.message_size(record, "lat", "latency")
    assert png is not None and png != plots.message_size(side_by_side, "lat", "latency")
