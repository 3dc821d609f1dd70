"""The Debian suites recapp builds on."""

from __future__ import annotations

from recapp.errors import RecipeError

SUITES: tuple[str, ...] = ("bookworm", "trixie", "sid")


def check_suite(suite: str) -> str:
    if suite not in SUITES:
        raise RecipeError(f"unknown suite {suite!r}: choose one of {', '.join(SUITES)}")
    return suite
