"""GROMACS results from `gmx-water`'s output (workloads/gromacs/src/records.yaml).

Rank 0 prints one `GROMACS_RESULT` record after `gmx_mpi mdrun`. Figures:

- `gromacs_ns_per_day` (ns/day): md.log's "Performance:";
- `gromacs_temperature_K` (K): the run's average temperature (`gmx energy`);
- `gromacs_atoms` (count): atoms in the system;
- `gromacs_constraint_warnings` (count): LINCS/SETTLE warnings.

Sanity: the run completed; GROMACS used as many MPI processes as the job started; no constraint
warnings; for recapp's water boxes (thermostat at 300 K) the average temperature is within
REFERENCE_TEMPERATURE_K ± TEMPERATURE_TOLERANCE_K. Pure functions over text.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from recapp.reports.records import Figure, fields, rank_reports

TAG = "GROMACS_RESULT"
KEYS = (
    "system",
    "atoms",
    "mpi_ranks",
    "nsteps",
    "ns_per_day",
    "temperature_k",
    "constraint_warnings",
    "status",
)
# recapp's water systems couple to a v-rescale thermostat at 300 K (workloads/gromacs/src/md.mdp).
REFERENCE_TEMPERATURE_K = 300.0
TEMPERATURE_TOLERANCE_K = 10.0
BUILT_IN_PREFIX = "water-"


class GromacsOutputError(ValueError):
    """The output holds no single, readable GROMACS_RESULT record."""


@dataclass(frozen=True)
class GromacsResult:
    system: str
    atoms: int
    mpi_ranks: int
    nsteps: int
    ns_per_day: float
    temperature_k: float
    constraint_warnings: int
    completed: bool
    dir: str | None


def _number(values: dict[str, str], key: str, kind: type) -> float | int:
    try:
        value = kind(values[key])
    except ValueError:
        raise GromacsOutputError(f"{TAG} {key}={values[key]!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise GromacsOutputError(f"{TAG} {key}={values[key]!r} is not a finite non-negative number")
    return value


def parse(output: str) -> GromacsResult | None:
    """The one GROMACS result in `output`; None when there is none; an error when it is unusable."""
    found = [line.strip() for line in output.splitlines() if line.strip().startswith(TAG + " ")]
    if not found:
        return None
    if len(found) > 1:
        raise GromacsOutputError(f"{len(found)} {TAG} records in one output (expected one run)")
    values = fields(found[0][len(TAG) + 1 :])
    missing = [key for key in KEYS if key not in values]
    if missing:
        raise GromacsOutputError(f"{TAG} record lacks {', '.join(missing)}: {found[0]}")
    if values["status"] not in ("completed", "failed"):
        raise GromacsOutputError(f"{TAG} status={values['status']!r} is neither completed nor failed")
    return GromacsResult(
        system=values["system"],
        atoms=int(_number(values, "atoms", int)),
        mpi_ranks=int(_number(values, "mpi_ranks", int)),
        nsteps=int(_number(values, "nsteps", int)),
        ns_per_day=float(_number(values, "ns_per_day", float)),
        temperature_k=float(_number(values, "temperature_k", float)),
        constraint_warnings=int(_number(values, "constraint_warnings", int)),
        completed=values["status"] == "completed",
        dir=values.get("dir"),
    )


def figures(output: str) -> dict[str, Figure]:
    try:
        r = parse(output)
    except GromacsOutputError:
        return {}
    if r is None or not r.completed:
        return {}
    return {
        "gromacs_ns_per_day": Figure(value=r.ns_per_day, unit="ns/day"),
        "gromacs_temperature_K": Figure(value=r.temperature_k, unit="K"),
        "gromacs_atoms": Figure(value=float(r.atoms), unit="count"),
        "gromacs_constraint_warnings": Figure(value=float(r.constraint_warnings), unit="count"),
    }


def sanity_errors(output: str) -> list[str]:
    """What makes a GROMACS run not count; [] for output that holds no GROMACS_RESULT."""
    try:
        r = parse(output)
    except GromacsOutputError as exc:
        return [f"GROMACS output unusable: {exc}"]
    if r is None:
        return []
    if not r.completed:
        return [f"GROMACS {r.system}: mdrun did not complete (see {r.dir}/mdrun.out on rank 0's node)"]
    errors = []
    sizes = {report.size for report in rank_reports(output)}
    if sizes and sizes != {r.mpi_ranks}:
        errors.append(
            f"GROMACS {r.system}: mdrun used {r.mpi_ranks} MPI process(es), the job started "
            f"{'/'.join(str(s) for s in sorted(sizes))}"
        )
    if r.atoms <= 0 or r.ns_per_day <= 0 or r.nsteps <= 0:
        errors.append(f"GROMACS {r.system}: no atoms, steps or performance in md.log")
    if r.constraint_warnings:
        errors.append(f"GROMACS {r.system}: {r.constraint_warnings} constraint (LINCS/SETTLE) warning(s)")
    if r.system.startswith(BUILT_IN_PREFIX):
        low = REFERENCE_TEMPERATURE_K - TEMPERATURE_TOLERANCE_K
        high = REFERENCE_TEMPERATURE_K + TEMPERATURE_TOLERANCE_K
        if not low <= r.temperature_k <= high:
            errors.append(
                f"GROMACS {r.system}: average temperature {r.temperature_k:.2f} K "
                f"outside {low:.0f}–{high:.0f} K"
            )
    return errors
