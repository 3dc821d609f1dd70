"""The deeper matrix levels (issue 19): their data, the skip rule, and the verdicts read from the
probes' output as captured on rec:trixie × app-mpi:trixie (PRRTE 3.0.8, Open MPI 5.0.7)."""

from __future__ import annotations

from datetime import UTC, datetime

from recapp.conformance.matrix.classify import classify, spawn_children
from recapp.conformance.matrix.expectations import level_expected
from recapp.conformance.matrix.levels import DEFAULT, LEVELS, parse_levels
from recapp.conformance.matrix.runner import blocking_cell
from recapp.reports.records import ImageRef, JobRecord, MatrixCell, Verification


def job(exit_status: int = 0) -> JobRecord:
    return JobRecord(
        id="x",
        started_at=datetime.now(UTC),
        cluster="c",
        backend="local",
        nodes=["mx-node-0", "mx-node-1"],
        mode="nested",
        rec=ImageRef(ref="r"),
        np=2,
        command=["spawn_probe"],
        launcher_argv=[],
        exit_status=exit_status,
        wall_s=1.0,
        verification=Verification(passed=True, expected_np=2),
    )


# L5, captured (cluster names shortened): the children were looked for in the REC.
L5_NOT_NESTED = """\
--------------------------------------------------------------------------
prterun was unable to find the specified executable file, and therefore did
not launch the job.  This error was first reported for process rank
1; it may have occurred for other processes as well.

   Node:       mx-node-1
   Executable: spawn_probe
--------------------------------------------------------------------------
RANK rank=1 size=2 host=mx-node-1
RANK rank=0 size=2 host=mx-node-0
"""
L5_NOT_NESTED += "".join(
    f'LEVEL_PROBE level=L5 status=FAIL rank={r} detail="MPI_Comm_spawn of 2 x spawn_probe: '
    'MPI_ERR_UNKNOWN: unknown error"\n'
    for r in (0, 1)
)
# L5 as the probe prints it when the children run nested (the format of spawn_probe.c).
L5_NESTED = """\
RANK rank=0 size=2 host=mx-node-0
RANK rank=1 size=2 host=mx-node-1
SPAWN_CHILD child=0 host=mx-node-0 nested=yes root=46:1234 parent_root=46:1234
SPAWN_CHILD child=1 host=mx-node-1 nested=yes root=47:99 parent_root=46:1234
LEVEL_PROBE level=L5 status=OK rank=0 detail="2 children spawned, answered and run nested in the APP"
LEVEL_PROBE level=L5 status=OK rank=1 detail="spawn returned on this parent"
"""
# L7, captured.
L7_PASS = "".join(
    f"RANK rank={r} size=4 host=mx-node-{r // 2}\n"
    f'LEVEL_PROBE level=L7 status=OK rank={r} detail="psets mpi://WORLD,mpi://SELF,mpix://SHARED; '
    'allreduce on mpi://WORLD communicator gave 10, expected 10"\n'
    for r in range(4)
)
# L7 on an MPI-3.1 library without sessions (Open MPI 4.1), as session_probe.c prints it.
L7_NO_SESSIONS = (
    'LEVEL_PROBE level=L7 status=FAIL rank=-1 detail="not supported: the MPI library implements MPI-3.1, '
    'sessions are MPI-4"\n'
)


def test_default_levels_stay_l1_to_l4_and_new_ones_are_asked_for():
    assert parse_levels(None) == DEFAULT == ["L1", "L2", "L3", "L4"]
    assert parse_levels("L7,l5,L1") == ["L1", "L5", "L7"]
    assert (
        LEVELS["L5"].commands == [["pmix_spawn_probe"], ["spawn_probe"]]
        and LEVELS["L5"].map_by == "ppr:1:node"
    )
    assert LEVELS["L5"].each_command  # PMIx_Spawn failing must not hide MPI_Comm_spawn, nor the reverse
    assert LEVELS["L7"].commands == [["session_probe"]] and LEVELS["L7"].np == 4


def test_deeper_levels_are_skipped_only_by_what_they_require():
    failed_l4 = [
        MatrixCell(rec="r", app="a", level="L3", status="PASS"),
        MatrixCell(rec="r", app="a", level="L4", status="FAIL", reason="x"),
    ]
    assert blocking_cell(LEVELS["L5"], failed_l4) is None  # L5 needs L3, not L4
    l5_failed = [*failed_l4[:1], MatrixCell(rec="r", app="a", level="L5", status="FAIL")]
    assert blocking_cell(LEVELS["L7"], l5_failed) is None  # one deep level does not hide another
    failed_l3 = [MatrixCell(rec="r", app="a", level="L3", status="HANG")]
    assert blocking_cell(LEVELS["L7"], failed_l3).level == "L3"
    # L1-L4 keep the chain: the previous level blocks.
    assert blocking_cell(LEVELS["L4"], failed_l4).level == "L4"
    assert blocking_cell(LEVELS["L5"], []) is None


def test_l5_children_outside_the_app_fail_with_the_reason_named():
    verdict = classify(job(exit_status=1), L5_NOT_NESTED)
    assert verdict.status == "FAIL"
    assert verdict.reason.startswith("probe step L5: MPI_Comm_spawn of 2 x spawn_probe: MPI_ERR_UNKNOWN")
    assert "PRRTE looked for 'spawn_probe' on mx-node-1 in the REC" in verdict.reason
    assert "spawned" not in verdict.observed


def test_l5_nested_children_pass_and_are_recorded():
    verdict = classify(job(), L5_NESTED)
    assert verdict.status == "PASS" and verdict.reason is None
    assert verdict.observed["spawned"] == "mx-node-0:nested=yes,mx-node-1:nested=yes"
    assert [c["root"] for c in spawn_children(L5_NESTED)] == ["46:1234", "47:99"]


def test_l5_child_in_the_wrong_root_is_a_failure_even_if_it_answered():
    out = L5_NESTED.replace("nested=yes root=47:99", "nested=no root=47:99").replace(
        'status=OK rank=0 detail="2 children spawned, answered and run nested in the APP"',
        'status=FAIL rank=0 detail="2 children answered, but not every child runs in the APP"',
    )
    verdict = classify(job(exit_status=1), out)
    assert verdict.status == "FAIL"
    assert verdict.reason == "probe step L5: 2 children answered, but not every child runs in the APP"
    assert verdict.observed["spawned"] == "mx-node-0:nested=yes,mx-node-1:nested=no"


def test_l7_verdicts():
    assert classify(job(), L7_PASS).status == "PASS"
    verdict = classify(job(exit_status=1), L7_NO_SESSIONS)
    assert verdict.status == "FAIL"
    assert (
        verdict.reason
        == "probe step L7: not supported: the MPI library implements MPI-3.1, sessions are MPI-4"
    )
    # A probe that says FAIL but exits 0 is WRONG, as for the PMIx probe.
    assert classify(job(), L7_NO_SESSIONS).status == "WRONG"


def test_level_expectations_are_cited_and_unknown_stays_unknown():
    l7 = level_expected("L7", "5.0.7")
    assert l7.verdict == "compatible" and "release-notes/mpi.html" in l7.source
    old = level_expected("L7", "4.1.4")
    assert old.verdict == "incompatible" and old.source.startswith("Open MPI 4.1.4 is below 5.0.0")
    assert level_expected("L5", "5.0.7").verdict == "unknown"
    assert level_expected("L7", None).verdict == "unknown"
    assert level_expected("L9", "5.0.7").verdict == "unknown"


# L7 on rec:sid (PRRTE 5.0.0rc1, PMIx 7.0.0rc1 server) × app-mpi:trixie (PMIx 5.0.7 client), captured.
L7_SID_GROUP = """\
[mx-login:00032] plm:ssh: Warning: setpgid(48,48) failed in parent with errno=Permission denied(13)
[mx-login:00032] PMIX ERROR: PMIX_ERR_BAD_PARAM in file ../../../src/server/pmix_server_group.c at line 474
--------------------------------------------------------------------------
Sorry!  You were supposed to get help about:
    mpi_errors_are_fatal unknown handle
--------------------------------------------------------------------------
prterun has exited due to process rank 0 with PID 396 on node mx-node-0 calling
"abort". This may have caused other processes in the application to be
"""


def test_a_pmix_error_report_is_the_reason_not_the_launchers_setpgid_warning():
    verdict = classify(job(exit_status=14), L7_SID_GROUP)
    assert verdict.status == "FAIL"
    assert verdict.reason == (
        "exit 14: PMIX ERROR: PMIX_ERR_BAD_PARAM in file ../../../src/server/pmix_server_group.c at line 474"
    )
