"""The workload catalog (each workload folder's catalog.yaml, sets.yaml): sets, placement, figure patterns."""

from __future__ import annotations

import pytest

from recapp.errors import ConformanceError
from recapp.workloads import catalog


def test_every_set_names_known_workloads_and_default_covers_the_issue():
    cat = catalog.catalog()
    assert set(cat.sets) >= {"quick", "default", "conformance", "demo"}
    assert {"init_finalize", "ep.A", "pingpong-shm", "pingpong-tcp", "gromacs"} <= set(cat.sets["default"])


def test_select_by_set_and_name_keeps_order_without_duplicates():
    chosen = catalog.select(["quick", "ep.S", "ep.A"])
    assert [w.name for w in chosen] == ["init_finalize", "ep.S", "ep.A"]
    with pytest.raises(ConformanceError, match="workload 'nope': neither a set nor a workload"):
        catalog.select(["nope"])


def test_placement_shared_memory_and_tcp():
    shm = catalog.catalog().workloads["pingpong-shm"]
    tcp = catalog.catalog().workloads["pingpong-tcp"]
    assert (shm.per_node(2, 2), shm.nodes_needed(2, 2)) == (2, 1)  # both ranks on one node
    assert (tcp.per_node(2, 2), tcp.nodes_needed(2, 2)) == (1, 2)  # one rank per node
    ep_w = catalog.catalog().workloads["ep.W"]
    assert ep_w.np == [1, 2, 4]


def test_figure_patterns_headline_and_direction():
    pp = catalog.catalog().workloads["pingpong-shm"]
    assert pp.wanted("pingpong_lat_8") and pp.wanted("pingpong_bw_4194304") and not pp.wanted("wall_s")
    assert pp.is_headline("pingpong_lat_8") and not pp.is_headline("pingpong_lat_1024")
    init = catalog.catalog().workloads["init_finalize"]
    assert init.is_headline("init_finalize_s") and init.wanted(catalog.WALL)
    assert (catalog.better("us"), catalog.better("s"), catalog.better("MB/s"), catalog.better("ns/day")) == (
        "lower",
        "lower",
        "higher",
        "higher",
    )


def test_warmup_defaults_to_the_command():
    cat = catalog.catalog().workloads
    assert cat["init_finalize"].warmup_command() == ["init_finalize"]
    assert cat["ep.A"].warmup_command() == ["ep.S.x"]
    assert cat["gromacs"].warmup_command() == ["gmx-water", "ci"]
    assert cat["gromacs-ci"].warmup_command() == []


def test_hpcc_compares_rates_and_latencies_not_its_inputs_or_checks():
    # HPL's N is an input and its scaled residual a verification value: side by side they were
    # shown as "better: higher" figures.
    hpcc = catalog.catalog().workloads["hpcc"]
    compared = [
        "hpcc_hpl_gflops", "hpcc_stream_triad_gbs", "hpcc_ptrans_gbs", "hpcc_randomaccess_gups",
        "hpcc_fft_gflops", "hpcc_beff_lat_avg_us", "hpcc_beff_bw_avg_gbs", catalog.WALL,
    ]  # fmt: skip
    assert [f for f in compared if not hpcc.wanted(f)] == []
    assert [f for f in ("hpcc_hpl_n", "hpcc_hpl_scaled_residual") if hpcc.wanted(f)] == []
