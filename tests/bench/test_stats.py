"""The bench's statistics on data whose answer is known: bootstrap intervals, the least-squares line,
reference checks decided on an interval, and how the reports show them."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from recapp.bench import cluster, references, stats
from recapp.reports import bench_table
from recapp.reports import side_by_side as sbs
from recapp.reports.records import BenchRecord


def test_identical_samples_give_a_point_interval():
    assert stats.median_interval([5.0, 5.0, 5.0]) == (5.0, 5.0)
    assert stats.ratio_interval([2.0, 2.0, 2.0], [1.0, 1.0, 1.0]) == (2.0, 2.0)


def test_a_median_interval_lies_within_the_samples_and_holds_the_median():
    low, high = stats.median_interval([1.0, 2.0, 3.0, 4.0, 5.0])
    assert 1.0 <= low <= 3.0 <= high <= 5.0
    assert low < high


def test_the_seed_makes_the_interval_repeatable_and_another_seed_may_differ():
    data = [3.1, 2.7, 9.4, 3.3, 2.9, 3.0, 4.8]
    assert stats.median_interval(data) == stats.median_interval(list(data))
    assert stats.ratio_interval(data, data[::-1]) == stats.ratio_interval(data, data[::-1])


def test_the_ratio_interval_resamples_each_side_on_its_own():
    # Numerator medians can be 10 or 11 and denominator ones 5 only: the ratio spans 2.0 … 2.2.
    low, high = stats.ratio_interval([10.0, 11.0, 10.0, 11.0, 10.5], [5.0, 5.0, 5.0])
    assert low == pytest.approx(2.0) and high == pytest.approx(2.2)


def test_a_zero_denominator_median_gives_no_interval():
    assert stats.ratio_interval([1.0, 2.0], [0.0, 0.0, 0.0]) is None


def test_no_samples_is_an_error():
    with pytest.raises(ValueError):
        stats.median_interval([])


def test_the_95_percent_interval_covers_the_true_median_about_95_percent_of_the_time():
    # Skewed (lognormal) samples like a loaded machine's timings; the true median is e^0 = 1.
    rng = np.random.default_rng(7)
    trials = 300
    covered = 0
    for _ in range(trials):
        data = rng.lognormal(0.0, 0.5, size=40).tolist()
        low, high = stats.median_interval(data, resamples=2000)
        covered += low <= 1.0 <= high
    assert 0.90 <= covered / trials <= 0.99


def test_fit_line_recovers_a_known_line():
    line = stats.fit_line([1, 2, 4, 8, 16], [2.5 + 0.5 * x for x in (1, 2, 4, 8, 16)])
    assert line.slope == pytest.approx(0.5) and line.intercept == pytest.approx(2.5)
    assert line.r2 == pytest.approx(1.0)


def test_fit_line_of_noisy_points_has_r2_below_one():
    line = stats.fit_line([1, 2, 3, 4], [1.0, 3.0, 2.0, 4.0])
    assert line.slope == pytest.approx(0.8) and line.intercept == pytest.approx(0.5)
    assert line.r2 == pytest.approx(0.64)


def test_fit_line_needs_two_distinct_x():
    with pytest.raises(ValueError):
        stats.fit_line([4, 4], [1.0, 2.0])


def test_per_node_fit_is_drawn_through_the_medians():
    fit = cluster.per_node_fit({1: [3.0, 9.0, 3.5], 2: [4.0, 4.0, 4.2], 4: [6.0, 6.1, 5.9]})
    assert fit.points == [(1.0, 3.5), (2.0, 4.0), (4.0, 6.0)]
    assert fit.slope == pytest.approx(6 / 7, abs=1e-6)  # Sxy 4 ÷ Sxx 14/3
    assert fit.x == "nodes" and fit.unit == "s"


def test_series_and_ratio_carry_their_intervals():
    s = cluster.series("x", "s", [1.0, 1.0, 1.0, 1.0])
    assert s.median == 1.0 and s.interval == [1.0, 1.0]
    value, interval = cluster.ratio([2.0, 2.2, 2.1], [1.0, 1.0, 1.0])
    assert value == 2.1 and interval == [2.0, 2.2]


def _refs(tmp_path, upper: float) -> references.References:
    path = tmp_path / "r.yaml"
    path.write_text(f"system: t\nworkloads:\n  w:\n    ratio:t_s: [1.0, null, {upper}, '']\n")
    return references.load(str(path))


def test_a_check_fails_only_when_the_whole_interval_is_out_of_bounds(tmp_path):
    refs = _refs(tmp_path, 0.1)  # at most 1.1
    # The median 1.15 is above the bound but the interval reaches 1.05: not shown to be out.
    straddle = references.check(refs, "w", "ratio:t_s", 1.15, "", interval=[1.05, 1.25])
    assert straddle is not None and straddle.passed and straddle.reason is None
    assert straddle.note == (
        "inconclusive: ratio:t_s = 1.15 (95 % interval 1.05 … 1.25) reaches above the upper bound 1.1"
    )
    out = references.check(refs, "w", "ratio:t_s", 1.3, "", interval=[1.2, 1.4])
    assert out is not None and not out.passed and out.interval == [1.2, 1.4]
    inside = references.check(refs, "w", "ratio:t_s", 1.0, "", interval=[0.97, 1.04])
    assert inside is not None and inside.passed and inside.note is None
    # Without an interval (an older record), the median decides, as before.
    alone = references.check(refs, "w", "ratio:t_s", 1.15, "")
    assert alone is not None and not alone.passed


def test_reports_show_intervals_and_slopes():
    s = cluster.series("cluster_up_ready_1_nodes", "s", [2.0, 2.0, 2.0])
    record = BenchRecord(
        started_at=datetime(2026, 12, 3, tzinfo=UTC),
        suite="scaling",
        host={},
        images={},
        parameters={},
        series=[s],
        ratios={"dvm-nested/nested wall": 0.5},
        ratio_intervals={"dvm-nested/nested wall": [0.4, 0.61]},
        fits={"cluster_up_ready": cluster.per_node_fit({1: [2.0], 2: [3.0], 4: [5.0]})},
    )
    assert "| dvm-nested/nested wall | 0.500   | 0.400 … 0.610   |" in bench_table.ratio_table(record)
    assert "| cluster_up_ready_1_nodes | 3   | 2.0000   | 2.0000 … 2.0000 |" in bench_table.series_table(
        record
    )
    assert bench_table.fit_rows(record) == [
        ["cluster_up_ready", "1 s/node", "1 s", "1.000", "1: 2, 2: 3, 4: 5"]
    ]
    assert sbs.ratio_text(1.0312, [0.99, 1.08]) == "1.031 [0.990, 1.080]"
    assert sbs.cell(s) == "2 [2, 2] (n=3)"


def test_the_scaling_plot_has_a_panel_per_kind_and_is_absent_without_fits():
    from recapp.reports import plots

    fits = {
        "cluster_up_ready": cluster.per_node_fit({1: [2.0], 2: [3.0]}),
        "init_finalize_nested_wall": cluster.per_node_fit({1: [1.0], 2: [1.2]}),
        "init_finalize_dvm-nested_wall": cluster.per_node_fit({1: [0.5], 2: [0.6]}),
    }
    assert [plots._fit_panel(n) for n in fits] == ["cluster_up_ready", "wall", "wall"]
    record = BenchRecord(
        started_at=datetime(2026, 12, 3, tzinfo=UTC), suite="s", host={}, images={}, parameters={},
        series=[], ratios={}, fits=fits,
    )  # fmt: skip
    png = plots.nodes_scaling(record)
    assert png is not None and png.startswith(b"\x89PNG")
    assert plots.nodes_scaling(record.model_copy(update={"fits": {}})) is None
