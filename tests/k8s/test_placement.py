"""Placement verification on rank reports (pure)."""

from __future__ import annotations

from recapp.k8s.placement import expected_placement, verify
from recapp.reports.records import RankReport, fields, rank_reports

NODES = ["c-node-0", "c-node-1"]


def reports(*triples: tuple[int, int, str]) -> list[RankReport]:
    return [RankReport(rank=r, size=s, host=h) for r, s, h in triples]


def test_fields_handles_quoted_values():
    assert fields('rank=0 size=4 host=n0 mpi_version="Open MPI v5.0.7, package: x"') == {
        "rank": "0",
        "size": "4",
        "host": "n0",
        "mpi_version": "Open MPI v5.0.7, package: x",
    }


def test_rank_reports_from_mixed_output():
    out = (
        'noise\nHELLO rank=1 size=2 host=c-node-1.c-nodes pid=3 mpi_version="x"\n'
        "RANK rank=0 size=2 host=c-node-0\nINIT_FINALIZE size=2 init_s=0.1\n"
    )
    assert rank_reports(out) == reports((1, 2, "c-node-1"), (0, 2, "c-node-0"))


def test_good_run_passes():
    v = verify(
        reports((0, 4, NODES[0]), (1, 4, NODES[0]), (2, 4, NODES[1]), (3, 4, NODES[1])),
        4,
        NODES,
        2,
        "ppr:2:node",
    )
    assert v.passed and v.reasons == [] and v.expected_hosts == NODES


def test_all_on_one_node_fails():
    v = verify(reports(*[(r, 4, NODES[0]) for r in range(4)]), 4, NODES, 2, None)
    assert not v.passed
    assert any("rank 2 ran on c-node-0, expected c-node-1" in r for r in v.reasons)
    assert any("no rank ran on c-node-1" in r for r in v.reasons)


def test_singletons_fail_even_when_every_rank_reports():
    v = verify(reports((0, 1, NODES[0]), (0, 1, NODES[1])), 2, NODES, 1, None)
    assert not v.passed
    assert any("singletons" in r for r in v.reasons)


def test_missing_and_duplicate_ranks():
    v = verify(reports((0, 3, NODES[0]), (0, 3, NODES[0])), 3, NODES, 2, None)
    assert any("rank(s) 1, 2 never reported" in r for r in v.reasons)
    assert any("more than once" in r for r in v.reasons)


def test_wrong_world_size():
    v = verify(reports((0, 2, NODES[0]), (1, 3, NODES[0])), 2, NODES, 2, None)
    assert any("rank 1 saw world size 3, expected 2" in r for r in v.reasons)


def test_foreign_host():
    v = verify(reports((0, 1, "laptop")), 1, NODES, 2, None)
    assert any("outside the cluster" in r for r in v.reasons)


def test_expected_placement():
    assert expected_placement(4, NODES, 2, "ppr:2:node") == {
        0: NODES[0],
        1: NODES[0],
        2: NODES[1],
        3: NODES[1],
    }
    assert expected_placement(3, NODES, 2, None) == {0: NODES[0], 1: NODES[0], 2: NODES[1]}
    assert expected_placement(4, NODES, 2, "core") is None
    assert expected_placement(8, NODES, 2, None) is None  # oversubscribed: only the host set is checked
