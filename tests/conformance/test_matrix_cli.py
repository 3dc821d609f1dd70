"""`recapp matrix` argument handling that needs no engine."""

from __future__ import annotations

from pathlib import Path


def test_matrix_needs_images(run_recapp, tmp_path: Path) -> None:
    """`recapp matrix` without images (and --source finding none of a kind) refuses in one line."""
    result = run_recapp("matrix", "--rec", "localhost/recapp/rec:trixie", env={"RECAPP_HOME": str(tmp_path)})
    assert result.error_line() == "give at least one --rec and one --app"
