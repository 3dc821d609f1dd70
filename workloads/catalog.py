"""The workload catalog: what each benchmarked workload runs, where, and which figures it compares
(every workload folder's catalog.yaml), and the named sets of entries (sets.yaml: `quick`, `default`, …).

An entry's fields:

    app:            the APP workload whose image runs it (localhost/recapp/app-<app>:SUITE)
    command:        argv, on the APP's PATH (and on the all-in-one image's PATH for `traditional`)
    np:             ranks; a list gives one comparison per rank count (a scaling series)
    ranks_per_node: placement (ppr:K:node); 2 ranks with 2 per node = shared memory, 1 per node = TCP
    figures:        figure names (fnmatch patterns) compared across the models; `wall_s` = the job's
                    wall time from prterun start to exit (the launch time)
    warmup:         an unmeasured run per model before the samples (default: the command itself;
                    [] = none, for long runs)
    headline:       figures shown in the summary ratios (default: the figures named without wildcards)
    timeout_s:      per run
    not_native:     why the `native` model cannot run it
"""

from __future__ import annotations

import fnmatch
import math
from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from recapp.errors import ConformanceError
from recapp.workloads import WORKLOADS_DIR, registry

SETS = WORKLOADS_DIR / "sets.yaml"
WALL = "wall_s"  # the job's wall time, a figure every job has
LOWER_IS_BETTER_UNITS = frozenset({"s", "ms", "us", "µs", "ns"})


class Workload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = ""
    app: str  # APP workload: localhost/recapp/app-<app>:SUITE
    command: list[str] = Field(min_length=1)
    np: list[int]
    ranks_per_node: int | None = None  # default: spread evenly over the cluster's nodes
    figures: list[str] = Field(min_length=1)
    warmup: list[str] | None = None  # None: the command itself; []: no warm-up run
    headline: list[str] | None = None  # figures in the summary ratios (default: figures without wildcards)
    timeout_s: float = 600.0
    # Why the `native` model cannot run this workload (native runs get only the APP's /usr/local/bin).
    not_native: str | None = None

    @field_validator("np", mode="before")
    @classmethod
    def _np_list(cls, v: object) -> object:
        return [v] if isinstance(v, int) else v

    @field_validator("np")
    @classmethod
    def _np_positive(cls, v: list[int]) -> list[int]:
        if not v or any(n < 1 for n in v):
            raise ValueError("np must be at least 1")
        return v

    def per_node(self, np: int, nodes: int) -> int:
        return self.ranks_per_node or max(1, math.ceil(np / nodes))

    def nodes_needed(self, np: int, nodes: int) -> int:
        return math.ceil(np / self.per_node(np, nodes))

    def wanted(self, figure: str) -> bool:
        return any(fnmatch.fnmatchcase(figure, pattern) for pattern in self.figures)

    def is_headline(self, figure: str) -> bool:
        if self.headline is not None:
            return figure in self.headline
        return figure in self.figures

    def warmup_command(self) -> list[str]:
        return self.command if self.warmup is None else self.warmup


class Catalog(BaseModel):
    model_config = ConfigDict(extra="forbid")

    workloads: dict[str, Workload]
    sets: dict[str, list[str]]


def better(unit: str) -> Literal["higher", "lower"]:
    """Times are better lower; rates (Mop/s, MB/s, ns/day) higher."""
    return "lower" if unit in LOWER_IS_BETTER_UNITS else "higher"


def _read(path: Path) -> dict[str, object]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConformanceError(f"{path}: {str(exc).splitlines()[0]}") from exc
    if not isinstance(data, dict):
        raise ConformanceError(f"{path}: expected a mapping of names")
    return data


def entries(path: Path) -> dict[str, Workload]:
    """One workload folder's catalog.yaml, validated."""
    found: dict[str, Workload] = {}
    for name, entry in _read(path).items():
        if not isinstance(entry, dict):
            raise ConformanceError(f"{path}: entry {name!r}: expected a mapping of fields")
        try:
            found[name] = Workload.model_validate({**entry, "name": name})
        except ValidationError as exc:
            raise ConformanceError(f"{path}: entry {name!r}: {str(exc).splitlines()[0]}") from exc
    return found


@cache
def catalog() -> Catalog:
    workloads: dict[str, Workload] = {}
    where: dict[str, Path] = {}
    for unit in registry().values():
        if not unit.catalog_file.is_file():
            continue
        for name, entry in entries(unit.catalog_file).items():
            if name in workloads:
                raise ConformanceError(f"{unit.catalog_file}: entry {name!r} is also in {where[name]}")
            workloads[name], where[name] = entry, unit.catalog_file
    try:
        parsed = Catalog.model_validate({"workloads": workloads, "sets": _read(SETS)})
    except ValidationError as exc:
        raise ConformanceError(f"{SETS}: {str(exc).splitlines()[0]}") from exc
    for set_name, members in parsed.sets.items():
        unknown = [m for m in members if m not in parsed.workloads]
        if unknown:
            raise ConformanceError(f"{SETS}: set {set_name!r} names unknown workload(s) {', '.join(unknown)}")
    return parsed


def select(names: list[str]) -> list[Workload]:
    """Workloads by set name (`default`) or workload name (`ep.A`), in order, each once."""
    cat = catalog()
    chosen: dict[str, Workload] = {}
    for name in names:
        if name in cat.sets:
            for member in cat.sets[name]:
                chosen.setdefault(member, cat.workloads[member])
        elif name in cat.workloads:
            chosen.setdefault(name, cat.workloads[name])
        else:
            known = ", ".join([*cat.sets, *cat.workloads])
            raise ConformanceError(f"workload {name!r}: neither a set nor a workload (known: {known})")
    return list(chosen.values())
