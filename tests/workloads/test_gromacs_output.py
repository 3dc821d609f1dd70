"""gmx-water output → figures and sanity verdicts (workloads/gromacs/gromacs_output.py).

OK is what `mpiexec -np 2 gmx-water ci --nsteps 500` printed in a trixie container with GROMACS
2025.2 (the e2e tests run it nested); the other cases change one value of it.
"""

from __future__ import annotations

import pytest

from recapp.k8s.jobs import workload_figures, workload_sanity_errors
from recapp.workloads.gromacs.gromacs_output import GromacsOutputError, figures, parse, sanity_errors

RESULT = (
    "GROMACS_RESULT system=water-ci atoms=2652 mpi_ranks=2 nsteps=500 ns_per_day=2.289 "
    "temperature_k=298.948 constraint_warnings=0 status=completed "
    "dir=/tmp/recapp-gromacs/prterun-7bc66d1305de-2139_1"
)
OK = f"RANK rank=0 size=2 host=7bc66d1305de\nRANK rank=1 size=2 host=7bc66d1305de\n{RESULT}\n"


def test_completed_run_gives_its_figures():
    found = figures(OK)
    assert {k: (f.value, f.unit) for k, f in found.items()} == {
        "gromacs_ns_per_day": (2.289, "ns/day"),
        "gromacs_temperature_K": (298.948, "K"),
        "gromacs_atoms": (2652.0, "count"),
        "gromacs_constraint_warnings": (0.0, "count"),
    }
    assert sanity_errors(OK) == []
    r = parse(OK)
    assert r is not None and (r.system, r.mpi_ranks, r.nsteps, r.completed) == ("water-ci", 2, 500, True)


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (
            ("temperature_k=298.948", "temperature_k=311.200"),
            "average temperature 311.20 K outside 290–310 K",
        ),
        (
            ("temperature_k=298.948", "temperature_k=289.990"),
            "average temperature 289.99 K outside 290–310 K",
        ),
        (("constraint_warnings=0", "constraint_warnings=3"), "3 constraint (LINCS/SETTLE) warning(s)"),
        (("mpi_ranks=2", "mpi_ranks=1"), "mdrun used 1 MPI process(es), the job started 2"),
        (("ns_per_day=2.289", "ns_per_day=0"), "no atoms, steps or performance"),
        (("status=completed", "status=failed"), "mdrun did not complete"),
    ],
)
def test_each_sanity_check_can_fail(change, error):
    output = OK.replace(*change)
    assert output != OK
    errors = sanity_errors(output)
    assert len(errors) == 1 and error in errors[0], errors


def test_temperature_bounds_are_inclusive():
    assert sanity_errors(OK.replace("temperature_k=298.948", "temperature_k=310.000")) == []
    assert sanity_errors(OK.replace("temperature_k=298.948", "temperature_k=290.000")) == []


def test_failed_run_has_no_figures():
    assert figures(OK.replace("status=completed", "status=failed")) == {}


def test_users_own_system_has_no_temperature_reference():
    custom = OK.replace("system=water-ci", "system=custom-protein").replace("298.948", "310.5")
    assert sanity_errors(custom) == []


@pytest.mark.parametrize(
    ("output", "message"),
    [
        (OK + RESULT + "\n", "2 GROMACS_RESULT records"),
        (OK.replace(" atoms=2652", ""), "lacks atoms"),
        (OK.replace("atoms=2652", "atoms=many"), "atoms='many' is not a number"),
        (OK.replace("ns_per_day=2.289", "ns_per_day=nan"), "not a finite non-negative number"),
        (OK.replace("status=completed", "status=maybe"), "neither completed nor failed"),
    ],
)
def test_unusable_record_is_named(output, message):
    with pytest.raises(GromacsOutputError, match=message):
        parse(output)
    assert figures(output) == {}
    [error] = sanity_errors(output)
    assert error.startswith("GROMACS output unusable:") and message in error


def test_other_output_is_ignored():
    hello = "RANK rank=0 size=1 host=n0\nRING size=1 laps=1 token=0 expected=0 status=OK\n"
    assert parse(hello) is None and figures(hello) == {} and sanity_errors(hello) == []


def test_registered_with_the_job_runner():
    assert workload_figures(OK)["gromacs_atoms"].value == 2652
    assert workload_sanity_errors(OK.replace("constraint_warnings=0", "constraint_warnings=1"))
