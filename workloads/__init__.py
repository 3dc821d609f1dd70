"""Workloads: one folder per workload, holding everything of it; this module finds them.

A folder `workloads/<name>/` with a `workload.yaml` is a workload. Beside that card it holds:

    src/               C sources + Makefile (+ records.yaml, the contract of what the programs print);
                       the builder copies it into an image's build context as `src/<name>`
    <parser>.py        output parsers named in the card: `figures(output)` and `sanity_errors(output)`
    catalog.yaml       its benchmark/conformance entries (workloads/catalog.py reads them)
    references.yaml    its performance references, per system (bench's references read them)
    app-<name>*.yaml   its APP recipes (the builder's recipe loader finds them here)

This module reads folders and YAML only (no parser is imported until asked for), so the builder can
use it to find sources and recipes without pulling in the cluster or the report rooms.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from recapp.errors import WorkloadError

WORKLOADS_DIR = Path(__file__).resolve().parent
CARD = "workload.yaml"
# A folder name is a Python package name and a source name in recipes (`sources: [mpi]`).
NAME = re.compile(r"^[a-z][a-z0-9_]{0,30}$")
# The functions every parser module offers; the job runner calls them on every job's output.
PARSER_FUNCTIONS = ("figures", "sanity_errors")


class Card(BaseModel):
    """workload.yaml: what the workload is and which of its modules read its output."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    summary: str = Field(min_length=1)
    # Modules of this folder that read job output; each reads only its own records.
    parsers: list[str] = []
    # A workload whose output no job parser reads says who reads it instead.
    output_read_by: str | None = None

    @model_validator(mode="after")
    def _someone_reads_the_output(self) -> Card:
        if not self.parsers and not (self.output_read_by or "").strip():
            raise ValueError("give 'parsers' or say in 'output_read_by' what reads the output")
        return self


@dataclass(frozen=True)
class Workload:
    name: str
    folder: Path
    card: Card

    @property
    def src(self) -> Path:
        return self.folder / "src"

    @property
    def records(self) -> Path:
        return self.src / "records.yaml"

    @property
    def catalog_file(self) -> Path:
        return self.folder / "catalog.yaml"

    @property
    def references_file(self) -> Path:
        return self.folder / "references.yaml"

    def recipe_files(self) -> list[Path]:
        return sorted(self.folder.glob("app-*.yaml"))

    def parser_modules(self) -> list[ModuleType]:
        modules = []
        for name in self.card.parsers:
            if not (self.folder / f"{name}.py").is_file():
                raise WorkloadError(f"workload {self.name}: parser {name!r}: no {name}.py in {self.folder}")
            module = importlib.import_module(f"{__name__}.{self.name}.{name}")
            missing = [f for f in PARSER_FUNCTIONS if not callable(getattr(module, f, None))]
            if missing:
                raise WorkloadError(f"workload {self.name}: parser {name}.py lacks {', '.join(missing)}")
            modules.append(module)
        return modules


def _load(folder: Path) -> Workload:
    path = folder / CARD
    if not NAME.fullmatch(folder.name):
        raise WorkloadError(f"workload folder {folder.name!r}: lowercase letters, digits and '_' only")
    try:
        card = Card.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError) as exc:
        raise WorkloadError(f"{path}: {str(exc).splitlines()[0]}") from exc
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        raise WorkloadError(f"{path}: field '{where}': {err['msg'].removeprefix('Value error, ')}") from exc
    return Workload(name=folder.name, folder=folder, card=card)


@cache
def registry() -> dict[str, Workload]:
    """Every workload folder, by name (sorted)."""
    return {p.parent.name: _load(p.parent) for p in sorted(WORKLOADS_DIR.glob(f"*/{CARD}"))}


def get(name: str) -> Workload:
    found = registry().get(name)
    if found is None:
        raise WorkloadError(f"unknown workload {name[:40]!r} (known: {', '.join(registry())})")
    return found


def source_dir(name: str) -> Path:
    """The sources the builder copies into a build context as `src/<name>`."""
    src = get(name).src
    if not src.is_dir():
        raise WorkloadError(f"workload {name}: no src/ folder in {src.parent}")
    return src


def with_sources() -> list[str]:
    return [w.name for w in registry().values() if w.src.is_dir()]


def recipe_files() -> dict[str, Path]:
    """APP recipe name → file, from every workload folder."""
    found: dict[str, Path] = {}
    for workload in registry().values():
        for path in workload.recipe_files():
            if path.stem in found:
                raise WorkloadError(
                    f"recipe {path.stem} is in two workload folders: {found[path.stem]}, {path}"
                )
            found[path.stem] = path
    return found


def parsers() -> list[ModuleType]:
    """Every workload's output parsers, in workload order."""
    return [module for workload in registry().values() for module in workload.parser_modules()]
