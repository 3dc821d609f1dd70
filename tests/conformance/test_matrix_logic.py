"""Matrix classification, documented expectations and level parsing (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from recapp.conformance.matrix.classify import classify, first_error_line, probe_observations
from recapp.conformance.matrix.expectations import expected
from recapp.conformance.matrix.levels import parse_levels
from recapp.conformance.matrix.runner import summarise_pair
from recapp.errors import ConformanceError
from recapp.reports.records import ImageRef, JobRecord, MatrixCell, Verification

PROBE_OK = (
    'PMIX_PROBE step=init status=OK rank=0 detail="PMIx_Init: PMIX_SUCCESS"\n'
    'PMIX_PROBE_SUMMARY rank=0 size=2 nspace=n@1 host=a local_peers="0,1" '
    'client_version="OpenPMIx 5.0.7a1 (PMIx Standard: 5.1)" server_version="5.0.7a1" peer_value="rank-1@a" '
    "status=OK\n"
)


def job(
    exit_status: int = 0, error: str | None = None, passed: bool = True, reasons: list[str] | None = None
):
    return JobRecord(
        id="x",
        started_at=datetime.now(UTC),
        cluster="c",
        backend="local",
        nodes=["a", "b"],
        mode="nested",
        rec=ImageRef(ref="r"),
        np=2,
        command=["pmix_probe"],
        launcher_argv=[],
        exit_status=exit_status,
        error=error,
        wall_s=1.0,
        verification=Verification(passed=passed, expected_np=2, reasons=reasons or []),
    )


def test_pass_and_observed_versions():
    verdict = classify(job(), PROBE_OK)
    assert verdict.status == "PASS"
    assert verdict.observed["server_version"] == "5.0.7a1"
    assert verdict.observed["client_version"].startswith("OpenPMIx 5.0.7a1")


def test_refused_at_init():
    out = 'PMIX_PROBE step=init status=FAIL rank=-1 detail="PMIx_Init: PMIX_ERR_UNREACH"\n'
    verdict = classify(job(exit_status=1, error="rank 0 exited with status 1"), out)
    assert verdict.status == "REFUSED"
    assert verdict.reason == "PMIx_Init: PMIX_ERR_UNREACH"


def test_fail_names_the_first_meaningful_line():
    out = (
        "----------\nSorry!  You were supposed to get help about:\n"
        "pmix_probe: error while loading shared libraries: libpmix.so.2: cannot open shared object file\n"
    )
    verdict = classify(job(exit_status=127, error="rank 0 exited with status 127"), out)
    assert verdict.status == "FAIL"
    assert "libpmix.so.2" in (verdict.reason or "")
    assert verdict.reason.startswith("rank 0 exited with status 127")


def test_hang():
    verdict = classify(job(exit_status=124, error="job timed out after 20 s and was killed"), "")
    assert verdict.status == "HANG"


def test_wrong_when_verification_fails_or_a_probe_step_is_wrong():
    assert (
        classify(job(passed=False, reasons=["all 2 process(es) came up as singletons"]), "").status == "WRONG"
    )
    out = PROBE_OK + 'PMIX_PROBE step=get status=FAIL rank=0 detail="peer=1 value=x expected=y"\n'
    verdict = classify(job(), out)
    assert verdict.status == "WRONG" and "step get" in (verdict.reason or "")


def test_first_error_line_skips_noise():
    text = 'time="x" level=warning msg="cannot toggle freezer"\n-----\nreal problem: failed to connect\n'
    assert first_error_line(text) == "real problem: failed to connect"
    assert probe_observations("nothing") == {}


@pytest.mark.parametrize(
    ("server", "client", "verdict"),
    [
        ("5.0.7", "4.2.2", "compatible"),
        ("7.0.0~rc1", "5.0.7", "compatible"),
        ("5.0.7", "2.0.3", "incompatible"),
        ("3.1.6", "5.0.7", "incompatible"),
        ("5.0.0", "5.0.1", "incompatible"),
        (None, "5.0.7", "unknown"),
    ],
)
def test_documented_expectation(server, client, verdict):
    assert expected(server, client).verdict == verdict


def test_pair_summary_flags_disagreement():
    rec, app = ImageRef(ref="r", versions={"pmix": "5.0.7"}), ImageRef(ref="a", versions={"pmix": "4.2.2"})
    cells = [
        MatrixCell(rec="r", app="a", level="L1", status="PASS"),
        MatrixCell(rec="r", app="a", level="L2", status="FAIL", reason="boom"),
        MatrixCell(rec="r", app="a", level="L3", status="SKIPPED"),
    ]
    pair = summarise_pair(rec, app, cells)
    assert pair.highest_level == "L1" and pair.status == "FAIL" and pair.reason == "boom"
    assert pair.expected == "compatible"
    assert pair.disagreement == "documented compatible, but L2 is FAIL"


def test_parse_levels():
    assert parse_levels(None) == ["L1", "L2", "L3", "L4"]
    assert parse_levels("l3, L1") == ["L1", "L3"]
    with pytest.raises(ConformanceError, match="unknown level"):
        parse_levels("L10")


def test_prrte_3_and_4_carry_the_lost_rank_hang_and_the_self_signal_and_5_does_not() -> None:
    from recapp.conformance.matrix.expectations import prrte_known_issues

    for version in ("3.0.8", "3.0.14", "4.1.0"):
        hang, self_signal, dvm_exit, *rest = prrte_known_issues(version)
        # The recoverable job's early end: fixed in 4.1.0 (0ae1627454), still in the last 3.0.x; the
        # connect's write past its info array: gone in 4.0.0 (bc3c11e76a).
        assert [i.id for i in rest] == (
            []
            if version == "4.1.0"
            else ["prte-ends-a-recoverable-job-one-proc-early", "prted-connect-writes-past-its-info-array"]
        )
        assert hang.id == "prted-loses-short-lived-rank"
        assert hang.env == {"PRTE_MCA_odls_base_max_threads": "0"}
        assert "8a730aa" in hang.fixed_in
        assert self_signal.id == "prted-signals-itself-through-an-unexeced-rank"
        assert self_signal.env == {}
        assert "2c82be0" in self_signal.fixed_in and "e201bbb" in self_signal.fixed_in
        assert dvm_exit.id == "prte-dvm-exits-on-a-late-launch-report" and dvm_exit.below is None
        assert "k8s/dvm.py" in dvm_exit.workaround
    # Debian's sid PRRTE has the upstream fixes of the first two; no release has one for the DVM's exit.
    assert [i.id for i in prrte_known_issues("5.0.0rc1")] == ["prte-dvm-exits-on-a-late-launch-report"]
    assert prrte_known_issues(None) == []
    assert prrte_known_issues("unknown") == []


def test_the_recs_carry_the_workaround_of_their_prrte_known_issues() -> None:
    # The data and the recipes must not drift apart: each setting is in the REC that needs it.
    from recapp.builder.recipe import load
    from recapp.conformance.matrix.expectations import prrte_known_issues

    hang, self_signal, *_ = prrte_known_issues("3.0.8")
    wanted = {k.removeprefix("PRTE_MCA_"): v for k, v in hang.env.items()}
    assert load("rec").suite_entry("trixie").prrte_mca == wanted
    assert load("rec-source").suite_entry("trixie").prrte_mca == wanted
    # The other two's workarounds are files every REC recipe builds into the library the agent preloads
    # (tests/recipes/test_killguard.py and test_infopad.py run them).
    assert "recipes/files/rec/killguard.c" in self_signal.workaround
    connect = prrte_known_issues("3.0.8")[-1]
    assert connect.id == "prted-connect-writes-past-its-info-array"
    assert "recipes/files/rec/infopad.c" in connect.workaround and connect.below == "4.0.0"
    for recipe in ("rec", "rec-source", "aio"):
        assert {"rec/killguard.c", "rec/infopad.c"} <= set(load(recipe).files)


def test_every_app_make_matrix_runs_carries_the_level_probes() -> None:
    # The source APP once lacked them: every L5-L8 job of it ended 127 ("executable file not found").
    from recapp.builder.recipe import load
    from recapp.conformance.matrix.levels import LEVELS

    programs = {c[0] for lvl in LEVELS.values() for c in lvl.commands}
    probes = {"spawn_probe", "pmix_spawn_probe", "pubsub_probe", "session_probe", "event_probe"}
    assert probes <= programs
    for name in ("app-mpi", "app-mpi-source", "app-mpich"):
        recipe = load(name)
        assert "mpi_levels" in recipe.sources, name
        # pmix_spawn_probe is built with the others (mpi_levels' Makefile), L5 runs it first.
        assert probes - {"pmix_spawn_probe"} <= set(recipe.expect.executables), name
