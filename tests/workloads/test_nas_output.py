"""NAS kernel output → NasResult (workloads/nas/nas_output.py), on captured real output.

The captures are verbatim stdout+stderr of `mpirun --oversubscribe -np N ./KERNEL.S.x`, built from
workloads/nas/src with Open MPI 5.0.7 in a trixie container. The PERTURBED ones ran with
RECAPP_NPB_PERTURB=1, which changes the kernel's seed on purpose: verification must say
UNSUCCESSFUL, and the parser must report it, not hide it.
"""

from __future__ import annotations

import re

import pytest

from recapp.reports.records import rank_reports
from recapp.workloads.nas import nas_output
from recapp.workloads.nas.nas_output import NasOutputError, parse

# ---- captured output ------------------------------------------------------------------------------

EP_S_4 = """\
RANK rank=1 size=4 host=8ef5e8c71a20
RANK rank=3 size=4 host=8ef5e8c71a20
RANK rank=2 size=4 host=8ef5e8c71a20
RANK rank=0 size=4 host=8ef5e8c71a20


 NAS Parallel Benchmarks (NPB-spec kernel, recapp implementation) - EP Benchmark

 Number of random numbers generated:        33554432  (class S)
 Total number of processes:                        4

EP Benchmark Results:

CPU Time =    0.3594
N = 2^   24
No. Gaussian Pairs =      13176389.
Sums =    -3.247834652034438e+03   -6.958407078382656e+03
Sums of |X|, |Y| =     1.051299420395299e+07    1.051517131857480e+07
Counts:
  0       6140517.
  1       5865300.
  2       1100361.
  3         68546.
  4          1648.
  5            17.
  6             0.
  7             0.
  8             0.
  9             0.

 Verification (relative error <= 1e-08):
  NPB 3.3 signed sums      sx  -3.247834652034740e+03  sy  -6.958407078382297e+03  passed
  NPB 3.4 |X|, |Y|, pairs  sx   1.051299420395306e+07  sy   1.051517131857535e+07  pairs 13176389  passed


 EP Benchmark Completed.
 Class           =                        S
 Size            =                 33554432
 Iterations      =                        0
 Time in seconds =                     0.36
 Total processes =                        4
 Mop/s total     =                    93.36
 Mop/s/process   =                    23.34
 Operation type  = Random numbers generated
 Verification    =               SUCCESSFUL
 Implementation  =    recapp (NPB 3.x spec)

NPB_RESULT kernel=EP class=S np=4 time_s=0.359399 mops=93.36 verification=SUCCESSFUL
"""

EP_S_2_PERTURBED = """\
RANK rank=1 size=2 host=8ef5e8c71a20
RANK rank=0 size=2 host=8ef5e8c71a20


 NAS Parallel Benchmarks (NPB-spec kernel, recapp implementation) - EP Benchmark

 RECAPP_NPB_PERTURB=1: the random seed is changed on purpose; verification must fail.

 Number of random numbers generated:        33554432  (class S)
 Total number of processes:                        2

EP Benchmark Results:

CPU Time =    0.3639
N = 2^   24
No. Gaussian Pairs =      13176343.
Sums =    -4.671997577027529e+03    2.246852426362420e+03
Sums of |X|, |Y| =     1.051390295589232e+07    1.051200478508797e+07
Counts:
  0       6141139.
  1       5862739.
  2       1101222.
  3         69555.
  4          1677.
  5            11.
  6             0.
  7             0.
  8             0.
  9             0.

 Verification (relative error <= 1e-08):
  NPB 3.3 signed sums      sx  -3.247834652034740e+03  sy  -6.958407078382297e+03  FAILED
  NPB 3.4 |X|, |Y|, pairs  sx   1.051299420395306e+07  sy   1.051517131857535e+07  pairs 13176389  FAILED


 EP Benchmark Completed.
 Class           =                        S
 Size            =                 33554432
 Iterations      =                        0
 Time in seconds =                     0.36
 Total processes =                        2
 Mop/s total     =                    92.21
 Mop/s/process   =                    46.10
 Operation type  = Random numbers generated
 Verification    =             UNSUCCESSFUL
 Implementation  =    recapp (NPB 3.x spec)

NPB_RESULT kernel=EP class=S np=2 time_s=0.363900 mops=92.21 verification=UNSUCCESSFUL
"""

IS_S_1 = """\
RANK rank=0 size=1 host=8ef5e8c71a20


 NAS Parallel Benchmarks (NPB-spec kernel, recapp implementation) - IS Benchmark

 Size:  65536  (class S)
 Iterations:   10
 Number of processes:     1

 Verification: 51 of 51 checks passed (5 partial x 10 iterations, full on 1 processes)


 IS Benchmark Completed.
 Class           =                        S
 Size            =                    65536
 Iterations      =                       10
 Time in seconds =                     0.00
 Total processes =                        1
 Mop/s total     =                   355.19
 Mop/s/process   =                   355.19
 Operation type  =              keys ranked
 Verification    =               SUCCESSFUL
 Implementation  =    recapp (NPB 3.x spec)

NPB_RESULT kernel=IS class=S np=1 time_s=0.001845 mops=355.19 verification=SUCCESSFUL
"""

IS_S_2_PERTURBED = """\
RANK rank=1 size=2 host=8ef5e8c71a20
RANK rank=0 size=2 host=8ef5e8c71a20


 NAS Parallel Benchmarks (NPB-spec kernel, recapp implementation) - IS Benchmark

 RECAPP_NPB_PERTURB=1: the random seed is changed on purpose; verification must fail.

 Size:  65536  (class S)
 Iterations:   10
 Number of processes:     2
Failed partial verification: iteration 1, processor 1, test key 1
Failed partial verification: iteration 1, processor 1, test key 4
Failed partial verification: iteration 1, processor 0, test key 0
Failed partial verification: iteration 1, processor 0, test key 2
Failed partial verification: iteration 1, processor 0, test key 3
Failed partial verification: iteration 2, processor 0, test key 0
Failed partial verification: iteration 2, processor 0, test key 2
Failed partial verification: iteration 2, processor 0, test key 3
Failed partial verification: iteration 2, processor 1, test key 1
Failed partial verification: iteration 2, processor 1, test key 4
Failed partial verification: iteration 3, processor 1, test key 1
Failed partial verification: iteration 3, processor 1, test key 4
Failed partial verification: iteration 3, processor 0, test key 0
Failed partial verification: iteration 3, processor 0, test key 2
Failed partial verification: iteration 3, processor 0, test key 3
Failed partial verification: iteration 4, processor 0, test key 0
Failed partial verification: iteration 4, processor 0, test key 2
Failed partial verification: iteration 4, processor 0, test key 3
Failed partial verification: iteration 4, processor 1, test key 1
Failed partial verification: iteration 4, processor 1, test key 4
Failed partial verification: iteration 5, processor 1, test key 1
Failed partial verification: iteration 5, processor 1, test key 4
Failed partial verification: iteration 5, processor 0, test key 0
Failed partial verification: iteration 5, processor 0, test key 2
Failed partial verification: iteration 5, processor 0, test key 3
Failed partial verification: iteration 6, processor 0, test key 0
Failed partial verification: iteration 6, processor 0, test key 2
Failed partial verification: iteration 6, processor 0, test key 3
Failed partial verification: iteration 6, processor 1, test key 1
Failed partial verification: iteration 6, processor 1, test key 4
Failed partial verification: iteration 7, processor 1, test key 1
Failed partial verification: iteration 7, processor 1, test key 4
Failed partial verification: iteration 7, processor 0, test key 0
Failed partial verification: iteration 7, processor 0, test key 2
Failed partial verification: iteration 7, processor 0, test key 3
Failed partial verification: iteration 8, processor 0, test key 0
Failed partial verification: iteration 8, processor 0, test key 2
Failed partial verification: iteration 8, processor 0, test key 3
Failed partial verification: iteration 8, processor 1, test key 1
Failed partial verification: iteration 8, processor 1, test key 4
Failed partial verification: iteration 9, processor 1, test key 1
Failed partial verification: iteration 9, processor 1, test key 4
Failed partial verification: iteration 9, processor 0, test key 0
Failed partial verification: iteration 9, processor 0, test key 2
Failed partial verification: iteration 9, processor 0, test key 3
Failed partial verification: iteration 10, processor 0, test key 0
Failed partial verification: iteration 10, processor 0, test key 2
Failed partial verification: iteration 10, processor 0, test key 3
Failed partial verification: iteration 10, processor 1, test key 1
Failed partial verification: iteration 10, processor 1, test key 4

 Verification: 2 of 52 checks passed (5 partial x 10 iterations, full on 2 processes)


 IS Benchmark Completed.
 Class           =                        S
 Size            =                    65536
 Iterations      =                       10
 Time in seconds =                     0.22
 Total processes =                        2
 Mop/s total     =                     3.03
 Mop/s/process   =                     1.52
 Operation type  =              keys ranked
 Verification    =             UNSUCCESSFUL
 Implementation  =    recapp (NPB 3.x spec)

NPB_RESULT kernel=IS class=S np=2 time_s=0.216084 mops=3.03 verification=UNSUCCESSFUL
"""

CG_S_2 = """\
RANK rank=1 size=2 host=8ef5e8c71a20
RANK rank=0 size=2 host=8ef5e8c71a20


 NAS Parallel Benchmarks (NPB-spec kernel, recapp implementation) - CG Benchmark

 Size:        1400  (class S)
 Iterations:    15
 Number of active processes:     2
 Number of nonzeroes per row:        7
 Eigenvalue shift: 1.000e+01
 Initialization time =           0.342 seconds

   iteration           ||r||                 zeta
        1       1.37404127763019e-13     9.9986441579140
        2       2.07095833842297e-15     8.5733279203222
        3       2.04700104771333e-15     8.5954510374058
        4       1.98066740854986e-15     8.5969972340737
        5       1.93990689729272e-15     8.5971549151767
        6       1.96138638852454e-15     8.5971744311608
        7       1.90677940068608e-15     8.5971770704913
        8       2.00540194793878e-15     8.5971774440630
        9       2.02315730645462e-15     8.5971774983942
       10       1.80772454155663e-15     8.5971775064409
       11       1.86926606078449e-15     8.5971775076486
       12       1.81238144106804e-15     8.5971775078318
       13       1.76495231317031e-15     8.5971775078598
       14       1.84450430162107e-15     8.5971775078641
       15       1.81843735859762e-15     8.5971775078648
 Benchmark completed
 VERIFICATION SUCCESSFUL
 Zeta is     8.5971775078648e+00
 Error is    1.0331046659065e-15


 CG Benchmark Completed.
 Class           =                        S
 Size            =                     1400
 Iterations      =                       15
 Time in seconds =                     0.70
 Total processes =                        2
 Mop/s total     =                    95.14
 Mop/s/process   =                    47.57
 Operation type  =           floating point
 Verification    =               SUCCESSFUL
 Implementation  =    recapp (NPB 3.x spec)

NPB_RESULT kernel=CG class=S np=2 time_s=0.700605 mops=95.14 verification=SUCCESSFUL
"""

CG_S_2_PERTURBED = """\
RANK rank=1 size=2 host=8ef5e8c71a20
RANK rank=0 size=2 host=8ef5e8c71a20


 NAS Parallel Benchmarks (NPB-spec kernel, recapp implementation) - CG Benchmark

 RECAPP_NPB_PERTURB=1: the random seed is changed on purpose; verification must fail.

 Size:        1400  (class S)
 Iterations:    15
 Number of active processes:     2
 Number of nonzeroes per row:        7
 Eigenvalue shift: 1.000e+01
 Initialization time =           0.152 seconds

   iteration           ||r||                 zeta
        1       6.35683882680270e-14     9.9985047692227
        2       1.68104394110302e-15     8.3692993640049
        3       1.66865499805553e-15     8.3946343318325
        4       1.74337883443345e-15     8.3965001682259
        5       1.68007810873635e-15     8.3966877478251
        6       1.74343854943754e-15     8.3967101822620
        7       1.69295516857856e-15     8.3967130915170
        8       1.63111603767747e-15     8.3967134839565
        9       1.70048994424353e-15     8.3967135380794
       10       1.66362682290624e-15     8.3967135456530
       11       1.59272129552270e-15     8.3967135467245
       12       1.62601667884416e-15     8.3967135468775
       13       1.66576667943012e-15     8.3967135468996
       14       1.65098619087802e-15     8.3967135469028
       15       1.57143467342634e-15     8.3967135469033
 Benchmark completed
 VERIFICATION FAILED
 Zeta                 8.3967135469033e+00
 The correct zeta is  8.5971775078648e+00


 CG Benchmark Completed.
 Class           =                        S
 Size            =                     1400
 Iterations      =                       15
 Time in seconds =                     3.46
 Total processes =                        2
 Mop/s total     =                    19.28
 Mop/s/process   =                     9.64
 Operation type  =           floating point
 Verification    =             UNSUCCESSFUL
 Implementation  =    recapp (NPB 3.x spec)

NPB_RESULT kernel=CG class=S np=2 time_s=3.456459 mops=19.28 verification=UNSUCCESSFUL
"""


# ---- what each capture must parse to --------------------------------------------------------------

CAPTURES = {
    "EP_S_4": (EP_S_4, ("EP", "S", 4, 0.359399, 93.36, True)),
    "EP_S_2_PERTURBED": (EP_S_2_PERTURBED, ("EP", "S", 2, 0.3639, 92.21, False)),
    "IS_S_1": (IS_S_1, ("IS", "S", 1, 0.001845, 355.19, True)),
    "IS_S_2_PERTURBED": (IS_S_2_PERTURBED, ("IS", "S", 2, 0.216084, 3.03, False)),
    "CG_S_2": (CG_S_2, ("CG", "S", 2, 0.700605, 95.14, True)),
    "CG_S_2_PERTURBED": (CG_S_2_PERTURBED, ("CG", "S", 2, 3.456459, 19.28, False)),
}
SUCCESSFUL = [name for name, (_, expected) in CAPTURES.items() if expected[-1]]
PERTURBED = [name for name in CAPTURES if name.endswith("_PERTURBED")]
# NPB's size, iterations and operation type of each class S kernel (workloads/nas/src/*.c).
BLOCK = {
    "EP": (33554432, 0, "Random numbers generated"),
    "IS": (65536, 10, "keys ranked"),
    "CG": (1400, 15, "floating point"),
}


@pytest.mark.parametrize("name", CAPTURES)
def test_capture_parses_to_its_record(name: str) -> None:
    text, expected = CAPTURES[name]
    kernel, _, np, time_s, mops, verified = expected
    r = parse(text)
    assert (r.kernel, r.class_, r.np, r.time_s, r.mops, r.verified) == expected
    assert (r.size, r.iterations, r.operation_type) == BLOCK[kernel]
    assert r.total_processes == np
    assert r.block_time_s == round(time_s, 2)
    assert r.mops_total == mops
    assert r.mops_per_process == pytest.approx(mops / np, abs=0.01)
    assert r.verification == ("SUCCESSFUL" if verified else "UNSUCCESSFUL")


@pytest.mark.parametrize("name", CAPTURES)
def test_capture_says_it_is_recapps_implementation_not_npb(name: str) -> None:
    r = parse(CAPTURES[name][0])
    assert r.origin == "NPB-spec kernel, recapp implementation"
    assert r.implementation == "recapp (NPB 3.x spec)"


@pytest.mark.parametrize("name", SUCCESSFUL)
def test_successful_run_has_figures_and_no_sanity_errors(name: str) -> None:
    text, (_, _, _, time_s, mops, _) = CAPTURES[name]
    assert nas_output.sanity_errors(text) == []
    figures = nas_output.figures(text)
    assert (figures["npb_time_s"].value, figures["npb_time_s"].unit) == (time_s, "s")
    assert (figures["npb_mops"].value, figures["npb_mops"].unit) == (mops, "Mop/s")
    assert (figures["npb_verified"].value, figures["npb_verified"].unit) == (1.0, "bool")


@pytest.mark.parametrize("name", PERTURBED)
def test_perturbed_run_is_reported_unsuccessful(name: str) -> None:
    text, (kernel, cls, np, *_) = CAPTURES[name]
    assert "RECAPP_NPB_PERTURB=1" in text
    assert not parse(text).verified
    assert nas_output.figures(text)["npb_verified"].value == 0.0
    assert nas_output.sanity_errors(text) == [
        f"NPB {kernel} class {cls} on {np} processes: verification UNSUCCESSFUL"
    ]


@pytest.mark.parametrize("name", CAPTURES)
def test_every_rank_reports_for_placement_checks(name: str) -> None:
    text, (_, _, np, *_) = CAPTURES[name]
    reports = rank_reports(text)
    assert sorted(r.rank for r in reports) == list(range(np))
    assert {r.size for r in reports} == {np}


def test_other_rank_lines_and_launcher_noise_inside_the_block_are_skipped() -> None:
    noisy = CG_S_2.replace(
        " Time in seconds =",
        "Failed partial verification: iteration 3, processor 1, test key 4\n"
        "[n1:00042] 1 more process has sent help message help-mpi-btl-base.txt\n"
        " Time in seconds =",
    ).replace("\n", "\r\n")
    assert parse(noisy) == parse(CG_S_2)


# ---- output that must not pass for a result ------------------------------------------------------


def test_output_of_other_programs_is_not_a_nas_result() -> None:
    hello = 'HELLO rank=0 size=1 host=n0 pid=7 mpi_version="Open MPI v5.0.7"\n'
    assert not nas_output.looks_like_nas(hello)
    assert nas_output.sanity_errors(hello) == []
    assert nas_output.figures(hello) == {}
    with pytest.raises(NasOutputError, match="no NPB_RESULT record"):
        parse(hello)


def test_truncated_run_is_unusable() -> None:
    truncated = EP_S_4[: EP_S_4.index(" EP Benchmark Completed.")]
    with pytest.raises(NasOutputError, match="no NPB_RESULT record"):
        parse(truncated)
    assert nas_output.figures(truncated) == {}
    [error] = nas_output.sanity_errors(truncated)
    assert error.startswith("NAS kernel output unusable: no NPB_RESULT record")


def test_record_without_its_block_is_refused() -> None:
    record = next(line for line in CG_S_2.splitlines() if line.startswith("NPB_RESULT "))
    with pytest.raises(NasOutputError, match=re.escape("no 'Benchmark Completed.' block")):
        parse(record + "\n")


def test_two_runs_in_one_output_are_refused() -> None:
    with pytest.raises(NasOutputError, match="2 NPB_RESULT records"):
        parse(EP_S_4 + IS_S_1)


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        # A record claiming success under a block that says UNSUCCESSFUL: a spliced log.
        (
            "np=2 time_s=3.456459 mops=19.28 verification=UNSUCCESSFUL",
            "np=2 time_s=3.456459 mops=19.28 verification=SUCCESSFUL",
            "verification SUCCESSFUL vs block UNSUCCESSFUL",
        ),
        ("class=S np=2", "class=W np=2", "class W vs block S"),
        ("class=S np=2", "class=S np=4", "np 4 vs block 2 processes"),
        ("kernel=CG", "kernel=EP", "kernel EP vs block CG"),
        ("time_s=3.456459", "time_s=1.456459", "time_s 1.456459 vs block 3.46"),
        ("mops=19.28", "mops=91.28", "mops 91.28 vs block 19.28"),
    ],
)
def test_record_and_block_must_agree(old: str, new: str, problem: str) -> None:
    assert old in CG_S_2_PERTURBED
    with pytest.raises(NasOutputError, match=re.escape("disagree: " + problem)):
        parse(CG_S_2_PERTURBED.replace(old, new))


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        (" mops=95.14", "", "record lacks mops"),
        ("verification=SUCCESSFUL", "verification=PASSED", "is not a verdict"),
        ("time_s=0.700605", "time_s=nan", "time_s: not a finite non-negative number"),
        ("np=2", "np=two", "np: not an integer"),
        (" Operation type  =           floating point\n", "", "CG result block lacks Operation type"),
        (
            " Class           =                        S\n",
            " Class           =                        S\n" * 2,
            "block line 'Class' printed twice",
        ),
    ],
)
def test_malformed_output_is_refused(old: str, new: str, problem: str) -> None:
    assert old in CG_S_2
    with pytest.raises(NasOutputError, match=re.escape(problem)):
        parse(CG_S_2.replace(old, new))
