"""Diagnosed-cause settings the matrix tries after a failure (workarounds.yaml)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from recapp.conformance.images.facts import numeric_core

DATA = Path(__file__).with_name("workarounds.yaml")


@dataclass(frozen=True)
class Workaround:
    id: str
    env: dict[str, str]
    documented: bool
    cause: str
    levels: tuple[str, ...]
    app_ompi_major: int | None


@cache
def all_workarounds() -> tuple[Workaround, ...]:
    items = yaml.safe_load(DATA.read_text()) or []
    return tuple(
        Workaround(
            id=i["id"],
            env={k: str(v) for k, v in i["env"].items()},
            documented=bool(i["documented"]),
            cause=" ".join(i["cause"].split()),
            levels=tuple(i.get("levels", [])),
            app_ompi_major=i.get("app_ompi_major"),
        )
        for i in items
    )


def for_cell(level: str, app_versions: dict[str, str]) -> list[Workaround]:
    ompi = numeric_core(app_versions.get("ompi", ""))
    major = int(ompi.split(".")[0]) if ompi else None
    return [w for w in all_workarounds() if level in w.levels and (w.app_ompi_major in (None, major))]
