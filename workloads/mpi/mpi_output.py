"""Figures and sanity verdicts from the MPI example programs' output (workloads/mpi/src/records.yaml)."""

from __future__ import annotations

from recapp.reports.records import Figure, fields

INIT_FINALIZE_KEYS = ("init_s", "barrier_s", "finalize_s", "init_finalize_s", "total_s")


def figures(output: str) -> dict[str, Figure]:
    found: dict[str, Figure] = {}
    for line in output.splitlines():
        line = line.strip()
        if line.startswith("INIT_FINALIZE "):
            f = fields(line[len("INIT_FINALIZE ") :])
            for key in INIT_FINALIZE_KEYS:
                if key in f:
                    found[key] = Figure(value=float(f[key]), unit="s")
    return found


def sanity_errors(output: str) -> list[str]:
    """Program-level verdicts: a ring or connectivity test that printed status=FAIL."""
    errors: list[str] = []
    for line in output.splitlines():
        line = line.strip()
        for tag in ("RING", "CONNECTIVITY", "COLLECTIVES"):
            if line.startswith(tag + " "):
                f = fields(line[len(tag) + 1 :])
                if f.get("status") != "OK":
                    errors.append(f"{tag.lower()} check failed: {line}")
    return errors
