"""The bench report's latency cross-check: HPCC's b_eff ping-pong latency beside recapp's ping-pong."""

from __future__ import annotations

from recapp.reports import html
from recapp.reports import side_by_side as sbs

from .conftest import _comparison


def _with_hpcc(record):
    """The fixture (pingpong-shm sweep, nested and native) with an hpcc entry's b_eff latencies."""
    beff = [
        _comparison(
            "hpcc", f"hpcc_beff_lat_{stat}_us", "us", 4, {"nested": [v, v, v], "traditional": [v / 2] * 3}
        )
        for stat, v in (("min", 5.0), ("avg", 23.5), ("max", 35.0))
    ]
    return record.model_copy(update={"comparisons": [*record.comparisons, *beff]})


def test_beff_latency_sits_beside_the_pingpong_8_byte_latency_per_model(side_by_side):
    rows = sbs.latency_crosscheck(_with_hpcc(side_by_side))
    nested = [r for r in rows if r[0] == "nested"]
    assert nested == [
        ["nested", "hpcc", "4", "hpcc_beff_lat_min_us", "5"],
        ["nested", "hpcc", "4", "hpcc_beff_lat_avg_us", "23.5"],
        ["nested", "hpcc", "4", "hpcc_beff_lat_max_us", "35"],
        ["nested", "pingpong-shm", "2", "pingpong_lat_8", "1.052"],
    ]
    traditional = [(r[3], r[4]) for r in rows if r[0] == "traditional"]
    assert traditional == [
        ("hpcc_beff_lat_min_us", "2.5"),
        ("hpcc_beff_lat_avg_us", "11.75"),
        ("hpcc_beff_lat_max_us", "17.5"),
        ("pingpong_lat_8", "1.012"),
    ]
    assert [r[1:4] for r in rows if r[0] == "native"] == [["pingpong-shm", "2", "pingpong_lat_8"]]


def test_the_cross_check_shows_only_when_both_ran(side_by_side):
    assert sbs.latency_crosscheck(side_by_side) == []
    assert "Latency cross-check" not in sbs.markdown(side_by_side)
    md = sbs.markdown(_with_hpcc(side_by_side))
    section = md[md.index("### Latency cross-check") :]
    assert "| nested      | hpcc         | 4    | hpcc_beff_lat_avg_us | 23.5        |" in section
    page = html.page(benches=[_with_hpcc(side_by_side)])
    assert "Latency cross-check" in page and "<td>hpcc_beff_lat_avg_us</td>" in page
    assert "Latency cross-check" not in html.page(benches=[side_by_side])
