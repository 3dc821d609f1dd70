"""`recapp build` with a bad request: exit 2 and one `error:` line naming the culprit, before any work.

These run the installed `recapp` in a subprocess (stderr is a pipe, as in CI); none reaches an engine.
"""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.mark.parametrize(
    ("args", "expected"),  # the error line, or its beginning
    [
        (
            ["build", "rec", "--suite", "bookworm"],
            "recipe rec: suite bookworm is not supported: Debian bookworm ships no PRRTE",
        ),
        (
            ["build", "rec", "--suite", "buster"],
            "unknown suite 'buster': choose one of bookworm, trixie, sid",
        ),
        (["build", "vm"], "unknown image kind 'vm': choose rec, app or aio"),
        (
            ["build", "app", "--workload", "nope"],
            "unknown recipe 'app-nope': available recipes are aio, app-",
        ),
        (
            ["build", "rec", "--backend", "kaniko"],
            "unknown backend 'kaniko': choose one of buildah, docker",
        ),
        (["build", "rec", "--workload", "mpi"], "--workload applies to APP images only"),
        (["build", "aio", "--workload", "gromacs"], "--workload applies to APP images only"),
        (
            ["build", "app", "--workload", "gromacs", "--suite", "sid"],
            "recipe app-gromacs: suite sid is not supported: recapp's GROMACS APP is built and tested",
        ),
        (
            ["build", "aio", "--suite", "bookworm"],
            "recipe aio: suite bookworm is not supported: Debian bookworm",
        ),
        # The culprit is shown as given, even when it looks like terminal markup.
        (
            ["build", "rec", "--suite", "[bold]x"],
            "unknown suite '[bold]x': choose one of bookworm, trixie, sid",
        ),
        (
            ["build", "rec", "--suite", "[/x]"],
            "unknown suite '[/x]': choose one of bookworm, trixie, sid",
        ),
    ],
    ids=[
        "bookworm-rec",
        "unknown-suite",
        "unknown-kind",
        "unknown-workload",
        "unknown-backend",
        "rec-workload",
        "aio-workload",
        "gromacs-sid",
        "aio-bookworm",
        "markup-like-name",
        "closing-tag-like-name",
    ],
)
def test_bad_build_request(run_recapp, tmp_path: Path, args: list[str], expected: str) -> None:
    state = tmp_path / "state"
    result = run_recapp(*args, env={"RECAPP_HOME": str(state)})
    assert result.error_line().startswith(expected)
    assert result.stdout == ""
    made = sorted(p.relative_to(state).as_posix() for p in state.rglob("*")) if state.exists() else []
    assert made == [], f"a refused build left state behind: {made}"
