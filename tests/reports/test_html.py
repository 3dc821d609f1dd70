"""The HTML page: self-contained, everything from records escaped, the plot embedded as a PNG."""

from __future__ import annotations

import base64
import re
from html.parser import HTMLParser

from recapp.reports import html
from recapp.reports.records import BenchRecord, JobRecord, MatrixRecord

from .conftest import APP_B, REC_S, make_job


class Collector(HTMLParser):
    """Tags, attributes and text as a browser's parser sees them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parsed(page: str) -> Collector:
    collector = Collector()
    collector.feed(page)
    return collector


def test_a_script_in_a_reason_is_escaped(matrix_record: MatrixRecord) -> None:
    page = html.page(matrices=[matrix_record])
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
    seen = parsed(page)
    assert "script" not in [tag for tag, _ in seen.tags]
    # the browser shows the reason as text, in the footnote
    assert any("PMIx_Init: PMIX_ERR_UNREACH <script>alert('x')</script>" in t for t in seen.text)


def test_the_plot_is_an_embedded_png(bench_record: BenchRecord) -> None:
    page = html.page(benches=[bench_record])
    images = [attrs for tag, attrs in parsed(page).tags if tag == "img"]
    assert len(images) == 1
    src = images[0]["src"] or ""
    assert src.startswith("data:image/png;base64,")
    png = base64.b64decode(src.removeprefix("data:image/png;base64,"), validate=True)
    assert png[:8] == html.PNG_MAGIC
    # no other file is referenced: no external src or href
    for _tag, attrs in parsed(page).tags:
        for key in ("src", "href"):
            value = attrs.get(key)
            assert value is None or value.startswith(("data:", "#")), value


def test_plot_error_bars_span_the_samples(bench_record: BenchRecord) -> None:
    nested = bench_record.series[0]
    low, high = html._error_bar(nested)
    assert (round(low, 6), round(high, 6)) == (0.1, 0.2)  # median 3.2, samples 3.1 … 3.4
    nested.samples = []
    assert html._error_bar(nested) == (0.15, 0.15)


def test_plot_is_byte_stable(bench_record: BenchRecord) -> None:
    assert html.bench_plot_png(bench_record) == html.bench_plot_png(bench_record)


def test_matrix_cells_and_notes_are_on_the_page(matrix_record: MatrixRecord) -> None:
    page = html.page(matrices=[matrix_record])
    cells = re.findall(r'<td class="st-(\w+)">(.*?)</td>', page)
    assert (
        "refused",
        'L1 REFUSED<sup><a href="#m1-note-3">3</a></sup> <span class="flag" '
        'title="documented compatible, but L1 is REFUSED">⚠</span>',
    ) in cells
    assert ("fail", 'L2 → L3 FAIL<sup><a href="#m1-note-1">1</a></sup>') in cells
    assert ("pass", "L4 PASS") in cells
    assert "\x1b" not in page and "job timed out after 60 s\\x1b[0m" in page
    assert f'<li id="m1-note-3" value="3"><span class="mono">{REC_S} × {APP_B}</span>' in page


def test_provenance_lists_images_versions_host_nodes_dates(
    matrix_record: MatrixRecord, bench_record: BenchRecord, jobs: list[JobRecord]
) -> None:
    prov = html.provenance([matrix_record], [bench_record], jobs)
    facts = dict(prov.facts)
    assert facts["records"] == "1 matrix, 1 bench, 2 jobs"
    assert facts["date"] == "2026-11-28T12:00:00+00:00 … 2026-11-28T13:00:00+00:00"
    assert facts["host (bench cluster)"] == "cpu: Intel(R) Xeon(R) CPU @ 2.20GHz, cores: 2"
    assert facts["cluster demo (local)"] == "demo-node-0, demo-node-1"
    rec = next(i for i in prov.images if i.id == "sha256:aaa" and "podman" in i.versions)
    assert rec.versions == "PMIx 5.0.7, PRRTE 3.0.8, podman 5.4.2"
    assert rec.roles == ("matrix REC", "bench rec")
    page = html.page([matrix_record], [bench_record], jobs)
    assert "Intel(R) Xeon(R) CPU @ 2.20GHz" in page
    assert "sha256:eee" in page


def test_job_summaries(jobs: list[JobRecord]) -> None:
    ok, bad = html.job_rows(jobs)
    assert (ok.result, ok.ranks, ok.hosts, ok.figures) == (
        "PASS",
        "4/4",
        "demo-node-0, demo-node-1",
        "init_finalize_s = 1.374 s",
    )
    assert (bad.result, bad.ranks) == ("FAIL", "3/4")
    assert bad.reasons == [
        "rank 3 exited with status 1",
        "rank 3 did not report",
        "rank 2 saw size 3 <expected 4>",
    ]
    page = html.page(jobs=jobs)
    assert "<li>rank 2 saw size 3 &lt;expected 4&gt;</li>" in page
    jobs[0].verification.checked = False
    assert html.job_rows(jobs)[0].result == "PASS (unverified)"


def _pingpong_job() -> JobRecord:
    from recapp.reports.records import Figure

    job = make_job("job-pp", failed=False)
    sizes = [8, 64, 512, 4096, 32768, 262144, 1048576, 4194304]
    figures = {f"pingpong_lat_{s}": Figure(value=4000.0 + s / 200, unit="us") for s in sizes}
    figures |= {f"pingpong_bw_{s}": Figure(value=s / (4000.0 + s / 200), unit="MB/s") for s in sizes}
    figures["pingpong_validated"] = Figure(value=1.0, unit="bool")
    return job.model_copy(update={"command": ["pingpong"], "np": 2, "figures": figures})


def test_pingpong_curves_are_a_plot_not_twenty_numbers_in_a_cell() -> None:
    job = _pingpong_job()
    (row,) = html.job_rows([job])
    assert row.figures == (
        "pingpong_bw: 8 sizes, 8 B 0.00199998 … 4194304 B 167.964 MB/s (plot), "
        "pingpong_lat: 8 sizes, 8 B 4000.04 … 4194304 B 24971.5 us (plot), "
        "pingpong_validated = 1 bool"
    )
    ((job_id, title, uri),) = html.job_plots([job])
    assert job_id == "job-pp"
    assert title == "pingpong, 2 ranks on demo-node-0, demo-node-1 (job-pp)"
    png = base64.b64decode(uri.removeprefix("data:image/png;base64,"))
    assert png.startswith(html.PNG_MAGIC) and len(png) > 10_000
    page = html.page(jobs=[job])
    assert f'<h3 id="plot-job-pp">{title}</h3>' in page
    assert page.count('<img class="plot"') == 1


def test_a_job_without_curves_gets_no_plot(jobs: list[JobRecord]) -> None:
    assert html.job_plots(jobs) == []
    assert '<img class="plot"' not in html.page(jobs=jobs)


def test_raw_limits_share_the_pingpong_plot() -> None:
    from recapp.reports import plots
    from recapp.reports.records import Figure

    job = _pingpong_job()
    raw = {f"raw_tcp_lat_{s}": Figure(value=20.0 + s / 500, unit="us") for s in (8, 64, 512, 4096)}
    job = job.model_copy(update={"figures": {**job.figures, **raw}})
    families = plots.curves(job.figures)
    assert list(families) == ["pingpong_bw", "pingpong_lat", "raw_tcp_lat"]
    assert families["raw_tcp_lat"][0] == (8, 20.016, "us")
    assert len(html.job_plots([job])) == 1  # one figure: a latency and a bandwidth panel
