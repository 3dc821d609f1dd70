"""nas_output on the official NPB binaries' output (built by `recapp build app --workload nas
--npb-tarball …`): they print NPB's banner and result block and no NPB_RESULT record.

The text below is written after the official NPB 3.4 result block's layout (print_results: the
banner ` NAS Parallel Benchmarks 3.4 -- EP Benchmark`, ` Label = value` lines, a grid Size for the
3-D benchmarks). It is NOT captured from an official binary: no official NPB tarball is reachable
from this machine, so no official run exists here yet.
"""

from __future__ import annotations

import pytest

from recapp.workloads.nas import nas_output

OFFICIAL_EP = """

 NAS Parallel Benchmarks 3.4 -- EP Benchmark

 Number of random numbers generated:       33554432
 Number of active processes:                      2

EP Benchmark Results:

CPU Time =    0.5210
N = 2^   24
No. Gaussian Pairs =       13176389.
Sums =    -3.247834652034740D+03   -6.958407078382297D+03
Counts:
  0       6140517.
  1       5865300.


 EP Benchmark Completed.
 Class           =                        S
 Size            =                 33554432
 Iterations      =                        0
 Time in seconds =                     0.52
 Total processes =                        2
 Active processes=                        2
 Mop/s total     =                    64.40
 Mop/s/process   =                    32.20
 Operation type  = Random numbers generated
 Verification    =               SUCCESSFUL
 Version         =                    3.4.2
 Compile date    =              03 Dec 2026

 Compile options:
    MPIFC        = mpif90
    FFLAGS       = -O3
"""


def test_an_official_run_is_read_from_its_block_alone() -> None:
    r = nas_output.parse(OFFICIAL_EP)
    assert (r.kernel, r.class_, r.np, r.time_s, r.mops, r.verified) == ("EP", "S", 2, 0.52, 64.40, True)
    assert (r.size, r.iterations, r.origin) == (33554432, 0, "NPB 3.4.2")
    assert {k: f.value for k, f in nas_output.figures(OFFICIAL_EP).items()} == {
        "npb_time_s": 0.52,
        "npb_mops": 64.40,
        "npb_verified": 1.0,
    }
    assert nas_output.sanity_errors(OFFICIAL_EP) == []


def test_an_official_unsuccessful_run_fails() -> None:
    output = OFFICIAL_EP.replace("=               SUCCESSFUL", "=             UNSUCCESSFUL")
    assert nas_output.sanity_errors(output) == ["NPB EP class S on 2 processes: verification UNSUCCESSFUL"]


def test_a_grid_size_is_its_points() -> None:
    output = OFFICIAL_EP.replace("-- EP Benchmark", "-- BT Benchmark").replace(
        " EP Benchmark Completed.", " BT Benchmark Completed."
    )
    output = output.replace("=                 33554432", "=              12x  12x  12")
    assert nas_output.parse(output).size == 1728


@pytest.mark.parametrize(
    ("old", "new", "error"),
    [
        (" Verification    =               SUCCESSFUL\n", "", "EP result block lacks Verification"),
        (
            " EP Benchmark Completed.",
            " CG Benchmark Completed.",
            "CG result block under another benchmark's banner",
        ),
        (
            "=               SUCCESSFUL",
            "=                  MAYBE",
            "block verification 'MAYBE' is not a verdict",
        ),
    ],
)
def test_an_incomplete_or_spliced_official_block_is_unusable(old: str, new: str, error: str) -> None:
    assert nas_output.sanity_errors(OFFICIAL_EP.replace(old, new)) == [f"NAS kernel output unusable: {error}"]
