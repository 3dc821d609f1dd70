"""Run a part of the conformance suite as one pytest session, from code (the CLI) or a shell."""

from __future__ import annotations

from pathlib import Path

import pytest

SUITE_DIR = Path(__file__).resolve().parent


def run_suite(part: str, *, rec_image: str | None, app_image: str | None, junit: str | None = None) -> int:
    """pytest's exit status for conformance/<part> against the given images."""
    args = [str(SUITE_DIR / part), "-p", "no:cacheprovider", "-q", "-rs", "--rootdir", str(SUITE_DIR)]
    if rec_image:
        args += ["--rec-image", rec_image]
    else:
        args += ["-m", "not rec"]
    if app_image:
        args += ["--app-image", app_image]
    else:
        args += ["-m", "not app"]
    if junit:
        args += ["--junitxml", junit]
    return int(pytest.main(args))
