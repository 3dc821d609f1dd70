"""The one result-record schema (JSON), versioned. Producers write it; reports read only it."""

from __future__ import annotations

import json
import re
import shlex
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


# The rank line is a RankReport's wire form: every MPI program of the workloads prints one per rank,
# and both the job runner (placement) and the workloads' parsers read it.
# Lines like `HELLO rank=0 size=4 host=n0 …`, `RANK rank=1 size=4 host=n1`, `PMIX_PROBE_SUMMARY rank=…`.
RANK_LINE = re.compile(r"^(?:HELLO|RANK|PMIX_PROBE_SUMMARY)\s+(.*)$")


def fields(text: str) -> dict[str, str]:
    """`a=1 b="x y"` → {'a': '1', 'b': 'x y'}; tokens without '=' are ignored."""
    try:
        tokens = shlex.split(text)
    except ValueError:
        tokens = text.split()
    return dict(tok.split("=", 1) for tok in tokens if "=" in tok)


def rank_reports(output: str) -> list[RankReport]:
    reports: list[RankReport] = []
    for line in output.splitlines():
        match = RANK_LINE.match(line.strip())
        if not match:
            continue
        f = fields(match.group(1))
        try:
            reports.append(RankReport(rank=int(f["rank"]), size=int(f["size"]), host=short_host(f["host"])))
        except (KeyError, ValueError):
            continue
    return reports


def short_host(host: str) -> str:
    """`n0.svc.ns.svc.cluster.local` → `n0`: PRRTE and the pods agree on the short name."""
    return host.split(".", 1)[0]


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
    # nested: the APP inside the REC; native: the APP's binaries run in the REC; traditional: an
    # all-in-one image (runtime + application) is the cluster's REC and runs the command as-is.
    mode: Literal["nested", "native", "traditional"]
    dvm: bool = False
    fresh_containers: bool = False  # nested: a `podman run` per rank instead of the node's APP sandbox
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
    # The median's 95 % bootstrap interval [low, high] (recapp.bench.stats; None in older records).
    interval: list[float] | None = None


Better = Literal["higher", "lower"]


class Comparison(BaseModel):
    """One figure of one workload, measured side by side in each launch model (alternating)."""

    workload: str
    figure: str
    unit: str
    better: Better  # which way is good for this figure (time: lower; Mop/s, MB/s: higher)
    np: int
    columns: dict[str, BenchSeries]  # model (nested, native, traditional) → its samples
    # nested ÷ native and traditional ÷ native of the medians, when both were measured
    ratios: dict[str, float] = Field(default_factory=dict)
    # ratio → its 95 % bootstrap interval [low, high] (recapp.bench.stats)
    intervals: dict[str, list[float]] = Field(default_factory=dict)
    headline: bool = False  # one of the figures the summary shows first


class ReferenceCheck(BaseModel):
    """A measured figure against its reference, ReFrame-style: value with relative lower/upper
    bounds (e.g. -0.1 = 10 % below) in one unit; outside the bounds fails the check."""

    system: str
    workload: str
    figure: str  # a figure name, or `ratio:<figure>` for the nested ÷ native ratio
    measured: float
    unit: str
    reference: float
    lower: float | None = None
    upper: float | None = None
    passed: bool
    reason: str | None = None  # why it failed, with the numbers
    # The measured figure's 95 % interval: the check fails only when all of it is outside the bounds.
    interval: list[float] | None = None
    note: str | None = None  # e.g. an interval that straddles a bound: passed, but not shown to be within


class Fit(BaseModel):
    """A least-squares line of a figure's medians against x (e.g. cluster up → ready against nodes)."""

    x: str  # what x counts, e.g. "nodes"
    unit: str  # the figure's unit; the slope is in unit per x
    points: list[tuple[float, float]]  # (x, median)
    slope: float
    intercept: float
    r2: float


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
    ratio_intervals: dict[str, list[float]] = Field(default_factory=dict)  # ratio → 95 % [low, high]
    fits: dict[str, Fit] = Field(default_factory=dict)  # series family → its line against x
    comparisons: list[Comparison] = Field(default_factory=list)
    references: list[ReferenceCheck] = Field(default_factory=list)
    image_sizes: dict[str, int] = Field(default_factory=dict)  # image ref → bytes (podman's Size)
    skipped: dict[str, str] = Field(default_factory=dict)  # workload or model → why it was not measured
    job_ids: list[str] = Field(default_factory=list)  # the job records behind the samples


# ERROR: the cell could not be run (its cluster failed: a node pod not Ready, a REC cluster that did
# not come up), so it says nothing of the pair; the matrix records it and goes on.
Status = Literal["PASS", "FAIL", "REFUSED", "HANG", "WRONG", "SKIPPED", "ERROR"]
Expectation = Literal["compatible", "incompatible", "unknown"]


class MatrixCell(BaseModel):
    """One REC × APP pair at one level (L1 probe on one node, L2 probe across nodes, L3 MPI
    init_finalize across nodes with placement verified, L4 MPI collectives + ring with checked results)."""

    rec: str
    app: str
    level: str
    status: Status
    reason: str | None = None  # first meaningful error line, or why WRONG/SKIPPED
    seconds: float = 0.0
    observed: dict[str, str] = Field(default_factory=dict)  # e.g. client_version, server_version
    settings: list[str] = Field(default_factory=list)  # documented settings applied to make the cell work
    log_path: str | None = None


class MatrixPair(BaseModel):
    """What OpenPMIx documents for a pair, and whether the observation disagrees with it."""

    rec: str
    app: str
    expected: Expectation
    expected_source: str
    highest_level: str | None = None  # highest level that passed, in order
    status: Status  # status at the first level that did not pass (PASS when every level passed)
    reason: str | None = None
    disagreement: str | None = None
    # The first level that failed (not PASS, not SKIPPED) and every level's status, in level order:
    # the matrix's columns per level (its cells hold the details of each).
    first_failed_level: str | None = None
    levels: dict[str, Status] = Field(default_factory=dict)
    # What the sources say of each deeper level (L5+) for this pair, and where it disagrees with what
    # ran (expectations.yaml: level_expectations, mpich_level_expectations, pmix_level_breakages).
    level_expected: dict[str, Expectation] = Field(default_factory=dict)
    level_disagreements: list[str] = Field(default_factory=list)


class MatrixRecord(BaseModel):
    schema_version: int = SCHEMA_VERSION
    kind: Literal["matrix"] = "matrix"
    started_at: datetime
    wall_s: float
    levels: list[str]
    recs: list[ImageRef]
    apps: list[ImageRef]
    cells: list[MatrixCell]
    pairs: list[MatrixPair]
    # What went wrong outside any cell (a cluster that could not be removed): said, not hidden.
    errors: list[str] = Field(default_factory=list)


def read_matrix(path: Path) -> MatrixRecord:
    try:
        return MatrixRecord.model_validate_json(path.read_text())
    except (OSError, ValueError, ValidationError) as exc:
        raise ReportError(f"{path}: not a matrix record: {str(exc).splitlines()[0]}") from exc


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
