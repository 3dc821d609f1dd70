"""Levels L6 (two jobs of one DVM) and L8 (events), their launch data, and the matrix's columns per
level: verdicts read from output captured on rec:levels-trixie × app-mpi:levels-trixie (PRRTE 3.0.8,
PMIx 5.0.7, Open MPI 5.0.7), cluster names shortened."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from recapp.conformance.matrix.classify import classify, level_verdicts, victims
from recapp.conformance.matrix.expectations import level_expected
from recapp.conformance.matrix.levels import LEVELS, parse_levels
from recapp.conformance.matrix.runner import level_request, summarise_pair
from recapp.reports import matrix as mx
from recapp.reports.records import ImageRef, JobRecord, MatrixCell, MatrixRecord, Verification


def job(exit_status: int = 0, np: int = 4) -> JobRecord:
    return JobRecord(
        id="x",
        started_at=datetime.now(UTC),
        cluster="c",
        backend="local",
        nodes=["mx-node-0", "mx-node-1"],
        mode="nested",
        rec=ImageRef(ref="r"),
        np=np,
        command=["event_probe"],
        launcher_argv=[],
        exit_status=exit_status,
        wall_s=1.0,
        verification=Verification(passed=True, expected_np=np),
    )


L6_CLIENT = """\
RANK rank=0 size=2 host=mx-node-0
RANK rank=1 size=2 host=mx-node-1
LEVEL_PROBE level=L6 status=OK rank=1 detail="client: looked up org.recapp.L6, connected to a job of 2 rank(s); allreduce over 4 ranks gave 10, expected 10"
LEVEL_PROBE level=L6 status=OK rank=0 detail="client: looked up org.recapp.L6 (after retries), connected to a job of 2 rank(s); allreduce over 4 ranks gave 10, expected 10"
"""  # noqa: E501
# L8 with --runtime-options recoverable,notifyerrors (the level's launch): every survivor is told.
L8_TOLD = """\
RANK rank=2 size=4 host=mx-node-1
RANK rank=1 size=4 host=mx-node-0
RANK rank=3 size=4 host=mx-node-1
RANK rank=0 size=4 host=mx-node-0
EVENT_VICTIM rank=3 exit=7
LEVEL_PROBE level=L8 status=OK rank=1 detail="told that rank 3 ended (PMIX_ERR_EXIT_NONZERO_TERM); expected rank 3"
LEVEL_PROBE level=L8 status=OK rank=0 detail="told that rank 3 ended (PMIX_ERR_EXIT_NONZERO_TERM); expected rank 3"
LEVEL_PROBE level=L8 status=OK rank=2 detail="told that rank 3 ended (PMIX_ERR_EXIT_NONZERO_TERM); expected rank 3"
"""  # noqa: E501
# L8 launched without those options: PRRTE tears the job down and tells no one.
L8_TORN_DOWN = """\
RANK rank=0 size=4 host=mx-node-0
RANK rank=1 size=4 host=mx-node-0
RANK rank=3 size=4 host=mx-node-1
RANK rank=2 size=4 host=mx-node-1
EVENT_VICTIM rank=3 exit=7
--------------------------------------------------------------------------
prterun detected that one or more processes exited with non-zero status,
thus causing the job to be terminated. The first process to do so was:

   Process name: [prterun-mx-login-75@1,3]
   Exit code:    7
--------------------------------------------------------------------------
"""


def test_l6_and_l8_are_launched_as_their_data_says():
    assert parse_levels("L8,L6,L5") == ["L5", "L6", "L8"]
    l6 = LEVELS["L6"]
    assert (
        l6.concurrent and l6.dvm and l6.commands == [["pubsub_probe", "server"], ["pubsub_probe", "client"]]
    )
    req = level_request(l6, "c", "app", l6.commands[1], Path("/tmp/r.json"))
    assert req.dvm and req.command == ["pubsub_probe", "client"] and not req.spawn
    l8 = level_request(LEVELS["L8"], "c", "app", ["event_probe"], Path("/tmp/r.json"))
    assert l8.extra_prterun_args == ["--runtime-options", "recoverable,notifyerrors"] and l8.np == 4
    assert level_request(LEVELS["L5"], "c", "app", ["spawn_probe"], Path("/tmp/r.json")).spawn


def test_l6_client_verdict_passes():
    assert classify(job(np=2), L6_CLIENT).status == "PASS"
    assert [v["rank"] for v in level_verdicts(L6_CLIENT)] == ["1", "0"]


def test_l8_passes_when_every_survivor_is_told_and_the_job_ends_with_the_victims_status():
    verdict = classify(job(exit_status=7), L8_TOLD, expect_exit=7)
    assert verdict.status == "PASS" and verdict.reason is None
    assert verdict.observed["failed_rank"] == "3" and verdict.observed["told"] == "3/3"
    assert victims(L8_TOLD) == ["3"]


def test_l8_fails_naming_what_was_missing_when_nobody_was_told():
    verdict = classify(job(exit_status=7), L8_TORN_DOWN, expect_exit=7)
    assert verdict.status == "FAIL"
    assert verdict.reason.startswith("0 of 3 surviving ranks were told rank 3 ended; job ended with status 7")
    assert verdict.observed["told"] == "0/3"


def test_l8_survivor_whose_verdict_never_arrived_is_named_apart_from_one_not_told():
    lost = L8_TOLD.replace(
        'LEVEL_PROBE level=L8 status=OK rank=0 detail="told that rank 3 ended (PMIX_ERR_EXIT_NONZERO_TERM); '
        'expected rank 3"\n',
        "",
    )
    verdict = classify(job(exit_status=7), lost, expect_exit=7)
    assert verdict.status == "FAIL" and verdict.observed["told"] == "2/3"
    assert verdict.reason.startswith(
        "2 of 3 surviving ranks were told rank 3 ended; rank(s) 0 started (RANK) but printed no verdict"
    )
    # Torn down before any survivor reported: prterun's own lines say why, not this clause.
    assert "printed no verdict" not in classify(job(exit_status=7), L8_TORN_DOWN, expect_exit=7).reason


def test_l8_survivor_told_the_wrong_rank_fails_and_a_wrong_exit_is_wrong():
    wrong = L8_TOLD.replace('rank=2 detail="told that rank 3', 'rank=2 detail="told that rank 1').replace(
        "status=OK rank=2", "status=FAIL rank=2"
    )
    assert classify(job(exit_status=7), wrong, expect_exit=7).status == "FAIL"
    assert classify(job(exit_status=0), L8_TOLD, expect_exit=7).status == "WRONG"
    # Without the plan, the same job is an ordinary failure.
    assert classify(job(exit_status=7), L8_TOLD).status == "FAIL"


def test_deep_level_expectations_stay_unknown_with_a_source():
    for level in ("L6", "L8"):
        exp = level_expected(level, "5.0.7")
        assert exp.verdict == "unknown" and exp.source
    assert "errmgr_dvm.c" in level_expected("L8", "5.0.7").source


def _record() -> MatrixRecord:
    rec, app = ImageRef(ref="localhost/recapp/rec:t"), ImageRef(ref="localhost/recapp/app-mpi:t")
    statuses = {"L1": "PASS", "L3": "PASS", "L5": "FAIL", "L6": "PASS", "L8": "HANG"}
    cells = [
        MatrixCell(
            rec=rec.ref, app=app.ref, level=lvl, status=st, reason=None if st == "PASS" else f"{lvl} x"
        )
        for lvl, st in statuses.items()
    ]
    pair = summarise_pair(rec, app, cells)
    return MatrixRecord(
        started_at=datetime.now(UTC),
        wall_s=1.0,
        levels=list(statuses),
        recs=[rec],
        apps=[app],
        cells=cells,
        pairs=[pair],
    )


def test_pairs_carry_every_levels_status_and_the_first_that_failed():
    pair = _record().pairs[0]
    assert pair.levels == {"L1": "PASS", "L3": "PASS", "L5": "FAIL", "L6": "PASS", "L8": "HANG"}
    assert pair.first_failed_level == "L5" and pair.reason == "L5 x"


def test_report_shows_a_column_per_level_with_the_first_failing_and_its_note():
    record = _record()
    mv = mx.view(record)
    row = mv.level_rows[0]
    assert mv.levels == ["L1", "L3", "L5", "L6", "L8"]
    assert row.statuses == ["PASS", "PASS", "FAIL", "PASS", "HANG"] and row.first_failed == "L5"
    text = mx.markdown(record)
    assert "| REC   | APP       | L1   | L3   | L5   | L6   | L8   | first failing   | reason   |" in text
    assert "| rec:t | app-mpi:t | PASS | PASS | FAIL | PASS | HANG | L5              | [1]      |" in text
    assert "1. localhost/recapp/rec:t × localhost/recapp/app-mpi:t: L5 x" in text
