"""L9 (a PMIx tool reads the running job's process table), L5's two probes in one cell, the cells the
cluster could not run, and the per-level expectations of an MPICH APP and of the sid REC's PMIx."""

from __future__ import annotations

import pytest

from recapp.conformance.matrix import tools
from recapp.conformance.matrix.classify import Verdict
from recapp.conformance.matrix.expectations import level_expected, level_expected_for
from recapp.conformance.matrix.levels import LEVELS
from recapp.conformance.matrix.runner import combine, level_request, summarise_pair
from recapp.reports.records import ImageRef, MatrixCell

# Captured on rec:trixie (PRRTE 3.0.8, pquery 5.0.7) × app-mpi bookworm, `recapp matrix --levels all`:
# the job's output and what pquery printed (stdout, then the table PMIx_Value_string writes on stderr).
NS = "prte-mx3a17f8-login-89@1"
JOB = f"""\
RANK rank=1 size=2 host=mx3a17f8-node-1
TOOL_TARGET rank=1 pid=584 host=mx3a17f8-node-1 nspace={NS}
RANK rank=0 size=2 host=mx3a17f8-node-0
TOOL_TARGET rank=0 pid=630 host=mx3a17f8-node-0 nspace={NS}
"""
NAMESPACES = f"PMIX_QUERY_NAMESPACES: \n    {NS}\n\n"
TABLE = (
    "PMIX_QUERY_PROC_TABLE: \n"
    "\n"
    "   PMIX_VALUE:  Data type: PMIX_DATA_ARRAY\tType: PMIX_PROC_INFO\tSize: 2\n"
    "  Data type: PMIX_PROC_INFO\tValue:\n"
    f" \tPROC: {NS}:0\n"
    " \tHostname: mx3a17f8-node-0\tExecutable: /home/rec/wrap-container\n"
    " \tPid: 630\tExit code: 0\tState: PROC EXECUTING\n"
    "  Data type: PMIX_PROC_INFO\tValue:\n"
    f" \tPROC: {NS}:1\n"
    " \tHostname: mx3a17f8-node-1\tExecutable: /home/rec/wrap-container\n"
    " \tPid: 584\tExit code: 0\tState: PROC EXECUTING\n"
)


def runs(table: str = TABLE, namespaces: str = NAMESPACES, status: int = 0) -> list[tools.ToolRun]:
    argvs = tools.tool_argvs("/tmp/recapp-dvm.uri", NS)
    return [tools.ToolRun(argvs[0], 0, namespaces), tools.ToolRun(argvs[1], status, table)]


def test_l9_is_a_tool_level_on_the_dvm_for_any_app():
    level = LEVELS["L9"]
    assert level.tool and level.dvm and level.requires == () and level.np == 2
    script = level.commands[0][2]
    assert "TOOL_TARGET rank=$PMIX_RANK pid=$$" in script and tools.RELEASE_PREFIX in script
    req = level_request(level, "c", "app", level.commands[0], None)  # type: ignore[arg-type]
    assert req.dvm and not req.spawn and req.command[:2] == ["sh", "-c"]
    assert tools.tool_argvs("/tmp/u", "ns@1")[1] == [
        "pquery", "--uri", "file:/tmp/u", "PMIX_QUERY_PROC_TABLE[PMIX_NSPACE=ns@1]",
    ]  # fmt: skip


def test_l9_passes_when_the_table_matches_every_rank():
    v = tools.verdict(2, JOB, runs())
    assert v.status == "PASS", v.reason
    assert v.observed["nspace"] == NS and v.observed["pids"] == "0:630,1:584"
    # What a debugger would read: PRRTE's app is the nesting wrapper, named against the REC's cwd.
    assert v.observed["executable"] == "/home/rec/wrap-container"
    assert v.observed["states"] == "PROC EXECUTING"


def test_l9_a_pid_that_is_not_the_ranks_own_is_wrong():
    v = tools.verdict(2, JOB, runs(TABLE.replace("Pid: 584", "Pid: 583")))
    assert v.status == "WRONG" and "rank 1: table pid 583, the rank's own pid 584" in (v.reason or "")


def test_l9_a_rank_in_a_container_of_its_own_is_wrong_and_says_why():
    # The source REC starts each rank with `podman run` (RECAPP_RANK_CONTAINERS=fresh): PRRTE's table
    # holds the podman client's pid, the rank runs under conmon (seen in the first full matrix).
    fresh = JOB.replace(f"nspace={NS}", f"nspace={NS} parent=conmon").replace("pid=584", "pid=614")
    v = tools.verdict(2, fresh, runs())
    assert v.status == "WRONG"
    assert (v.reason or "").startswith("rank 1: table pid 584, the rank's own pid 614 — diagnosed: each rank")
    assert "`podman run` client" in (v.reason or "")
    # A mismatch under the sandbox (the rank exec'd by wrap-container: parent is prted) says no such thing.
    sandbox = JOB.replace(f"nspace={NS}", f"nspace={NS} parent=prted").replace("pid=584", "pid=614")
    assert "diagnosed" not in (tools.verdict(2, sandbox, runs()).reason or "")


def test_l9_a_missing_rank_host_or_namespace_is_wrong():
    one = TABLE[: TABLE.rindex("  Data type: PMIX_PROC_INFO")]  # rank 1's entry cut off
    assert tools.verdict(2, JOB, runs(one)).reason == "the table has ranks ['0'], the job ['0', '1']"
    moved = tools.verdict(2, JOB, runs(TABLE.replace("Hostname: mx3a17f8-node-1", "Hostname: elsewhere")))
    assert moved.status == "WRONG" and "rank 1: table host elsewhere" in (moved.reason or "")
    other = tools.verdict(2, JOB, runs(namespaces="PMIX_QUERY_NAMESPACES: \n    prte-x@2\n"))
    assert other.status == "WRONG" and "not among the namespaces" in (other.reason or "")


def test_l9_a_tool_that_fails_is_fail_with_its_line():
    failed = runs("PMIx_Query_info returned: PMIX_ERR_NOT_FOUND\n", status=1)
    v = tools.verdict(2, JOB, failed)
    assert v.status == "FAIL"
    assert v.reason == (
        f"pquery PMIX_QUERY_PROC_TABLE[PMIX_NSPACE={NS}] exited 1: "
        "PMIx_Query_info returned: PMIX_ERR_NOT_FOUND"
    )
    assert (
        tools.verdict(2, JOB.splitlines()[0], runs()).reason
        == "0 of 2 ranks reported their namespace and pid"
    )


def test_l5_runs_pmix_spawn_and_mpi_spawn_and_a_cell_names_each_failure():
    pmix_ok = Verdict("PASS", None, {"spawned": "n0:nested=yes,n1:nested=yes"})
    mpi_bad = Verdict("FAIL", "probe step L5: MPI_Comm_spawn: MPI_ERR_OTHER", {"spawned": ""})
    cell = combine([(["pmix_spawn_probe"], pmix_ok), (["spawn_probe"], mpi_bad)], named=True)
    assert cell.status == "FAIL"
    assert cell.reason == "spawn_probe: probe step L5: MPI_Comm_spawn: MPI_ERR_OTHER"
    assert cell.observed == {
        "pmix_spawn_probe.spawned": "n0:nested=yes,n1:nested=yes",
        "spawn_probe.spawned": "",
    }
    both = combine(
        [(["pmix_spawn_probe"], Verdict("HANG", "timed out")), (["spawn_probe"], mpi_bad)], named=True
    )
    assert both.status == "HANG"
    assert (
        both.reason
        == "pmix_spawn_probe: timed out; spawn_probe: FAIL probe step L5: MPI_Comm_spawn: MPI_ERR_OTHER"
    )
    # One command: its verdict as it is.
    assert combine([(["pmix_probe"], Verdict("WRONG", "x", {"a": "1"}))], named=False) == Verdict(
        "WRONG", "x", {"a": "1"}
    )


def test_an_error_cell_is_its_pairs_first_failure():
    cells = [
        MatrixCell(rec="r", app="a", level="L1", status="PASS"),
        MatrixCell(rec="r", app="a", level="L2", status="ERROR", reason="not run: node pod(s) … not Ready"),
    ]
    pair = summarise_pair(ImageRef(ref="r"), ImageRef(ref="a"), cells)
    assert pair.status == "ERROR" and pair.first_failed_level == "L2"
    assert pair.levels == {"L1": "PASS", "L2": "ERROR"}


MPICH = {"mpich": "4.0.2", "pmix": "5.0.7"}


@pytest.mark.parametrize(
    ("level", "verdict", "cited"),
    [
        ("L5", "incompatible", "mpir_pmi.c"),
        ("L6", "incompatible", "pmi_nameserv.c"),
        ("L7", "compatible", "MPICH CHANGES, 4.0"),
        ("L8", "unknown", "PMIx_Register_event_handler"),
        ("L9", "unknown", "pmix_server_queries.c"),
    ],
)
def test_mpich_4_0_2_level_expectations_are_cited(level, verdict, cited):
    exp = level_expected_for(level, "5.0.7", MPICH)
    assert (exp.verdict, cited in exp.source) == (verdict, True), exp


def test_later_mpich_spawn_and_names_stay_unknown_and_l9_holds_for_any_app():
    assert level_expected_for("L5", "5.0.7", {"mpich": "4.2.3", "pmix": "5.0.7"}).verdict == "unknown"
    assert level_expected_for("L6", "5.0.7", {"mpich": "4.1.2", "pmix": "5.0.7"}).verdict == "unknown"
    assert level_expected("L9", "4.1.4").verdict == "unknown"  # not "below 5.0.0": the REC answers


def test_the_sid_recs_pmix_7_refuses_an_older_clients_group_info_at_l7():
    sid = level_expected_for("L7", "7.0.0~rc1", {"ompi": "5.0.7", "pmix": "5.0.7"})
    assert sid.verdict == "incompatible"
    assert "pmix_server_process_grpinfo" in sid.source and "5bf3193f6" in sid.source
    # The same APP on the trixie REC (PMIx 5.0.7), and a client with the change, are not affected.
    assert level_expected_for("L7", "5.0.7", {"ompi": "5.0.7", "pmix": "5.0.7"}).verdict == "compatible"
    assert level_expected_for("L7", "7.0.0", {"ompi": "5.0.9", "pmix": "6.0.0"}).verdict == "compatible"
    # MPICH makes no PMIx group for a session: its L7 passed on the sid REC (the full matrix).
    assert level_expected_for("L7", "7.0.0~rc1", MPICH).verdict == "compatible"


def test_pairs_carry_the_deeper_levels_expectations_and_disagreements():
    cells = [
        MatrixCell(rec="r", app="a", level="L6", status="PASS"),
        MatrixCell(rec="r", app="a", level="L7", status="FAIL", reason="x"),
    ]
    rec = ImageRef(ref="r", versions={"pmix": "5.0.7"})
    pair = summarise_pair(rec, ImageRef(ref="a", versions=MPICH), cells)
    assert pair.level_expected == {"L6": "incompatible", "L7": "compatible"}
    assert pair.level_disagreements == [
        "L6: documented incompatible, but PASS",
        "L7: documented compatible, but FAIL",
    ]


# rec:trixie (PRRTE 3.0.8) × app-mpi trixie, L5's PMIx_Spawn job in the full matrix: the probe's work
# was done (both children nested, verdicts OK), then prterun lost a daemon and the job never ended.
L5_PMIX_AFTER_THE_WORK = """\
RANK rank=0 size=2 host=mx3a17f8-node-0
SPAWN_CHILD child=0 host=mx3a17f8-node-0 nested=yes root=2097155:2327531 parent_root=2097155:2327531
SPAWN_CHILD child=1 host=mx3a17f8-node-1 nested=yes root=2097163:2375871 parent_root=2097155:2327531
RANK rank=1 size=2 host=mx3a17f8-node-1
LEVEL_PROBE level=L5 status=OK rank=1 detail="rank 0 spawns; this parent only runs"
LEVEL_PROBE level=L5 status=OK rank=0 detail="2 children started with PMIx_Spawn, answered and run nested in the APP"
[mx3a17f8-login:00233] [prterun-mx3a17f8-login-233@0,0] errmgr:dvm: for proc [prterun-mx3a17f8-login-233@0,1] state COMMUNICATION FAILURE
"""  # noqa: E501


def test_a_job_that_hangs_after_every_verdict_was_ok_says_so():
    from datetime import UTC, datetime

    from recapp.conformance.matrix.classify import classify
    from recapp.reports.records import JobRecord, Verification

    record = JobRecord(
        id="x", started_at=datetime.now(UTC), cluster="c", backend="local", nodes=["n0", "n1"],
        mode="nested", rec=ImageRef(ref="r"), np=2, command=["pmix_spawn_probe"], launcher_argv=[],
        exit_status=124, error="job timed out after 120 s and was killed", wall_s=126.4,
        verification=Verification(passed=True, expected_np=2),
    )  # fmt: skip
    v = classify(record, L5_PMIX_AFTER_THE_WORK)
    assert v.status == "HANG"
    # The COMMUNICATION FAILURE lines in that output are the timeout's kill, not a cause (session 8).
    assert v.reason == "job timed out after 120 s and was killed, after every probe verdict (2) was OK"
    assert v.observed["spawned"] == "mx3a17f8-node-0:nested=yes,mx3a17f8-node-1:nested=yes"


def test_a_pmix_6_or_later_client_misreads_a_5_0_server_group_reply_at_l7():
    # rec:trixie (5.0.7) x app-mpi:sid (Open MPI 6.0.0rc2, PMIx 7.0.0rc1): UNPACK_READ_PAST_END at L7.
    converse = level_expected_for("L7", "5.0.7", {"ompi": "6.0.0rc2", "pmix": "7.0.0~rc1"})
    assert converse.verdict == "incompatible"
    assert "2f225b074" in converse.source and "bfrop_base_unpack.c:276" in converse.source
    assert level_expected_for("L7", "6.1.0", {"ompi": "6.0.0", "pmix": "6.1.0"}).verdict == "compatible"
    # A 5.0.10 or 5.0.11 client has neither change (v5.0.10rc1 is a tag on master): refused by 7.0.
    assert (
        level_expected_for("L7", "7.0.0~rc1", {"ompi": "5.0.9", "pmix": "5.0.11"}).verdict == "incompatible"
    )


def test_the_sid_recs_pquery_fails_l9_for_any_app_and_the_5_0_rec_does_not():
    for app in ({"ompi": "5.0.7", "pmix": "5.0.7"}, MPICH, {}):
        sid = level_expected_for("L9", "7.0.0~rc1", app)
        assert sid.verdict == "incompatible" and "a5bf76c97" in sid.source, app
        assert level_expected_for("L9", "5.0.7", app).verdict == "unknown", app
