"""What one conformance session measured, written as result records when the session ends, so
`recapp report` renders it like any other run (matrix.json, workloads.json, jobs/)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from recapp.bench.cluster import cores, cpu_model
from recapp.conformance.matrix.runner import summarise_pair
from recapp.k8s.jobs import image_ref
from recapp.reports import records
from recapp.reports.records import BenchRecord, Comparison, ImageRef, MatrixCell, MatrixRecord, ReferenceCheck


@dataclass
class SessionResults:
    out_dir: Path
    rec: str | None
    app: str | None
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    t0: float = field(default_factory=time.monotonic)
    levels: list[str] = field(default_factory=list)
    cells: list[MatrixCell] = field(default_factory=list)
    comparisons: list[Comparison] = field(default_factory=list)
    checks: list[ReferenceCheck] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    job_ids: list[str] = field(default_factory=list)
    parameters: dict[str, object] = field(default_factory=dict)

    def write(self) -> list[Path]:
        written: list[Path] = []
        rec = image_ref(self.rec) if self.rec else None
        app = image_ref(self.app) if self.app else None
        if self.cells and rec and app:
            matrix = MatrixRecord(
                started_at=self.started_at,
                wall_s=round(time.monotonic() - self.t0, 1),
                levels=self.levels,
                recs=[rec],
                apps=[app],
                cells=self.cells,
                pairs=[summarise_pair(rec, app, self.cells)],
            )
            written.append(records.write(matrix, self.out_dir / "matrix.json"))
        if self.comparisons or self.skipped:
            images: dict[str, ImageRef] = {}
            if rec:
                images["rec"] = rec
            if app:
                images["app"] = app
            bench = BenchRecord(
                started_at=self.started_at,
                suite="conformance workloads",
                host={"cpu": cpu_model(), "cores": str(cores())},
                images=images,
                parameters=self.parameters,
                series=[],
                ratios={
                    f"{c.workload} {c.figure} {name}": value
                    for c in self.comparisons
                    if c.headline
                    for name, value in c.ratios.items()
                },
                comparisons=self.comparisons,
                references=self.checks,
                skipped=self.skipped,
                job_ids=self.job_ids,
            )
            written.append(records.write(bench, self.out_dir / "workloads.json"))
        return written
