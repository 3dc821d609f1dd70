"""The one result-record schema (JSON), versioned. Producers write it; reports read only it."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError

from recapp.errors import ReportError

SCHEMA_VERSION = 1


class ImageRef(BaseModel):
    ref: str
    id: str | None = None
    versions: dict[str, str] = Field(default_factory=dict)


class RankReport(BaseModel):
    rank: int
    size: int
    host: str


class Figure(BaseModel):
    """One figure of merit with its unit, e.g. init_s = 0.41 s."""

    value: float
    unit: str


class Verification(BaseModel):
    passed: bool
    expected_np: int
    expected_hosts: list[str] = Field(default_factory=list)
    reasons: list[str] = Field(default_factory=list)
    checked: bool = True  # False when the user asked for no verification


class JobRecord(BaseModel):
    schema_version: int = SCHEMA_VERSION
    kind: Literal["job"] = "job"
    id: str
    started_at: datetime
    cluster: str
    backend: str
    nodes: list[str]
    mode: Literal["nested", "native"]
    dvm: bool = False
    rec: ImageRef
    app: ImageRef | None = None
    np: int
    map_by: str | None = None
    command: list[str]
    launcher_argv: list[str]
    exit_status: int
    error: str | None = None
    wall_s: float
    ranks: list[RankReport] = Field(default_factory=list)
    figures: dict[str, Figure] = Field(default_factory=dict)
    verification: Verification
    log_path: str | None = None
    record_path: str | None = None

    @property
    def passed(self) -> bool:
        return self.exit_status == 0 and self.error is None and self.verification.passed


class BenchSeries(BaseModel):
    """Samples of one benchmark variant, with the median and spread (max - min)."""

    name: str
    unit: str
    samples: list[float]
    median: float
    spread: float


class BenchRecord(BaseModel):
    schema_version: int = SCHEMA_VERSION
    kind: Literal["bench"] = "bench"
    started_at: datetime
    suite: str
    host: dict[str, str]
    images: dict[str, ImageRef]
    parameters: dict[str, object]
    series: list[BenchSeries]
    ratios: dict[str, float]


def write(record: BaseModel, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = record.model_dump(mode="json")
    if isinstance(record, JobRecord):
        data["passed"] = record.passed
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    return path


def read_bench(path: Path) -> BenchRecord:
    try:
        return BenchRecord.model_validate_json(path.read_text())
    except (OSError, ValueError, ValidationError) as exc:
        raise ReportError(f"{path}: not a bench record: {str(exc).splitlines()[0]}") from exc


def read_job(path: Path) -> JobRecord:
    try:
        data = json.loads(path.read_text())
        data.pop("passed", None)
        return JobRecord.model_validate(data)
    except (OSError, ValueError, ValidationError) as exc:
        raise ReportError(f"{path}: not a job record: {str(exc).splitlines()[0]}") from exc
