"""Build records: one JSON file per image tag, read by later stages instead of the builder's internals."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel

from recapp.host.paths import sub

SCHEMA_VERSION = 1


class BuildRecord(BaseModel):
    schema_version: int = SCHEMA_VERSION
    tag: str
    id: str
    kind: str
    recipe: str
    recipe_hash: str
    suite: str
    workload: str | None = None
    backend: str
    base: str
    size_bytes: int
    versions: dict[str, str]
    packages: dict[str, str]
    seconds: float
    cached: bool = False
    log_path: str | None = None
    context_dir: str | None = None
    # Source builds: component → {version, origin, archive, sha256, configure}; step → seconds
    # (configure/make/install of each component, from the build log; empty when the layers were cached).
    sources: dict[str, dict[str, str]] = {}
    steps: dict[str, float] = {}


def records_dir() -> Path:
    return sub("records", "builds")


def record_path(tag: str) -> Path:
    return records_dir() / (re.sub(r"[^A-Za-z0-9_.-]+", "_", tag).strip("_") + ".json")


def save(record: BuildRecord) -> Path:
    path = record_path(record.tag)
    path.write_text(record.model_dump_json(indent=2) + "\n")
    return path


def load(tag: str) -> BuildRecord | None:
    path = record_path(tag)
    if not path.is_file():
        return None
    try:
        return BuildRecord.model_validate_json(path.read_text())
    except ValueError:
        return None  # an old or broken record is rebuilt, not trusted
