"""`make matrix` covers at least 3 RECs × 5 APPs, one of them of another MPI (issue 19).

Read from the Makefile as text: the explicit --rec/--app images, and the source-flavor pair that
`--source` adds once `make images-source` (a prerequisite) has built it."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

MAKEFILE = Path(__file__).resolve().parents[1] / "Makefile"


def _dry_run(target: str) -> str:
    # -n prints the recipes without running them; VENV points at a stand-in so nothing is set up.
    return subprocess.run(
        ["make", "-n", "-s", "-C", str(MAKEFILE.parent), target, "VENV=/nonexistent"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


@pytest.mark.skipif(shutil.which("make") is None, reason="GNU make is not installed on this machine")
def test_make_matrix_covers_three_recs_and_five_apps_one_of_them_mpich() -> None:
    out = _dry_run("matrix")
    matrix = out[out.index("/recapp matrix ") :].split("\n/nonexistent/bin/recapp report", 1)[0]
    recs = re.findall(r"--rec (\S+)", matrix)
    apps = re.findall(r"--app (\S+)", matrix)
    assert "--source" in matrix
    # The source pair is built by a prerequisite, so --source adds exactly it.
    assert "build rec --flavor source --suite bookworm" in out
    assert "build app --flavor source --suite trixie" in out
    assert "build app --workload mpich --suite trixie" in out
    assert len(recs) + 1 >= 3, recs
    assert len(apps) + 1 >= 5, apps
    assert "localhost/recapp/app-mpich:trixie" in apps
