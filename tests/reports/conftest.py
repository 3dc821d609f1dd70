"""Records built in code for the report tests: a 2×3 matrix with every status, a bench, two jobs."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from recapp.reports import records
from recapp.reports.records import (
    BenchRecord,
    BenchSeries,
    Comparison,
    Figure,
    ImageRef,
    JobRecord,
    MatrixCell,
    MatrixPair,
    MatrixRecord,
    RankReport,
    ReferenceCheck,
    Verification,
)

REC_T = "localhost/recapp/rec:trixie"
REC_S = "localhost/recapp/rec:sid"
APP_B = "localhost/recapp/app-mpi:bookworm"
APP_T = "localhost/recapp/app-mpi:trixie"
APP_S = "localhost/recapp/app-mpi:sid"
LEVELS = ["L1", "L2", "L3", "L4"]
SOURCE = "OpenPMIx docs/versions.rst, Cross-Version Compatibility"

SINGLETON = "MPI_Init: ranks came up as singletons (size 1)"
TIMEOUT = "job timed out after 60 s\x1b[0m"  # an ANSI escape, as a log line may carry
SCRIPT_REASON = "PMIx_Init: PMIX_ERR_UNREACH <script>alert('x')</script>"
WRONG = "ring: rank 2 received 7 | expected 3"
NOT_ASKED = "L3 needs 2 nodes; this run had 1"
DISAGREE = "documented compatible, but L1 is REFUSED"


def _pair_cells(rec: str, app: str, statuses: list[tuple[str, str | None]]) -> list[MatrixCell]:
    return [
        MatrixCell(
            rec=rec,
            app=app,
            level=level,
            status=status,  # type: ignore[arg-type]
            reason=reason,
            seconds=1.5 + i,
            observed={"client_version": "5.0.7", "server_version": "5.0.7"} if status == "PASS" else {},
            settings=["PMIX_MCA_gds=hash"] if (rec, app, level) == (REC_T, APP_B, "L3") else [],
            log_path=f"/logs/{level}.log",
        )
        for i, (level, (status, reason)) in enumerate(zip(LEVELS, statuses, strict=True))
    ]


def _pair(rec: str, app: str, highest: str | None, status: str, reason: str | None, **kw: str) -> MatrixPair:
    return MatrixPair(
        rec=rec,
        app=app,
        expected=kw.get("expected", "compatible"),  # type: ignore[arg-type]
        expected_source=SOURCE,
        highest_level=highest,
        status=status,  # type: ignore[arg-type]
        reason=reason,
        disagreement=kw.get("disagreement"),
    )


def make_matrix() -> MatrixRecord:
    ok = ("PASS", None)
    skip = ("SKIPPED", "previous level did not pass")
    cells = [
        *_pair_cells(REC_T, APP_B, [ok, ok, ("FAIL", SINGLETON), skip]),
        *_pair_cells(REC_T, APP_T, [ok, ok, ok, ok]),
        *_pair_cells(REC_T, APP_S, [("HANG", TIMEOUT), skip, skip, skip]),
        *_pair_cells(REC_S, APP_B, [("REFUSED", SCRIPT_REASON), skip, skip, skip]),
        *_pair_cells(REC_S, APP_T, [ok, ok, ok, ("WRONG", WRONG)]),
        *_pair_cells(REC_S, APP_S, [ok, ok, ("SKIPPED", NOT_ASKED), ("SKIPPED", NOT_ASKED)]),
    ]
    pairs = [
        _pair(REC_T, APP_B, "L2", "FAIL", SINGLETON),
        _pair(REC_T, APP_T, "L4", "PASS", None),
        _pair(REC_T, APP_S, None, "HANG", TIMEOUT),
        _pair(REC_S, APP_B, None, "REFUSED", SCRIPT_REASON, disagreement=DISAGREE),
        _pair(REC_S, APP_T, "L3", "WRONG", WRONG),
        _pair(REC_S, APP_S, "L2", "SKIPPED", NOT_ASKED),
    ]
    return MatrixRecord(
        started_at=datetime(2026, 11, 28, 13, 0, 0, tzinfo=UTC),
        wall_s=321.0,
        levels=LEVELS,
        recs=[
            ImageRef(
                ref=REC_T, id="sha256:aaa", versions={"pmix": "5.0.7", "prrte": "3.0.8", "podman": "5.4.2"}
            ),
            ImageRef(ref=REC_S, id="sha256:bbb", versions={"pmix": "7.0.0~rc1", "prrte": "5.0.0rc1"}),
        ],
        apps=[
            ImageRef(ref=APP_B, id="sha256:ccc", versions={"pmix": "4.2.2", "ompi": "4.1.4"}),
            ImageRef(ref=APP_T, id="sha256:ddd", versions={"pmix": "5.0.7", "ompi": "5.0.7"}),
            ImageRef(ref=APP_S, id="sha256:eee", versions={"pmix": "7.0.0~rc1", "ompi": "6.0.0~rc2"}),
        ],
        cells=cells,
        pairs=pairs,
    )


def make_bench() -> BenchRecord:
    return BenchRecord(
        started_at=datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC),
        suite="cluster",
        host={"cpu": "Intel(R) Xeon(R) CPU @ 2.20GHz", "cores": "2"},
        images={
            "rec": ImageRef(
                ref=REC_T, id="sha256:aaa", versions={"pmix": "5.0.7", "prrte": "3.0.8", "podman": "5.4.2"}
            ),
            "app": ImageRef(ref=APP_T, id="sha256:ddd", versions={"pmix": "5.0.7", "ompi": "5.0.7"}),
        },
        parameters={"repeats": 3, "nodes": 2, "np": 4},
        series=[
            BenchSeries(
                name="init_finalize_nested_wall", unit="s", samples=[3.1, 3.4, 3.2], median=3.2, spread=0.3
            ),
            BenchSeries(
                name="init_finalize_native_wall", unit="s", samples=[2.0, 2.2, 2.1], median=2.1, spread=0.2
            ),
            BenchSeries(
                name="cluster_up_ready_2_nodes", unit="s", samples=[9.0, 11.0, 10.0], median=10.0, spread=2.0
            ),
        ],
        ratios={"nested/native wall": 1.524},
    )


def make_job(job_id: str, *, failed: bool) -> JobRecord:
    ranks = [RankReport(rank=r, size=4, host=f"demo-node-{r // 2}") for r in range(3 if failed else 4)]
    return JobRecord(
        id=job_id,
        started_at=datetime(2026, 11, 28, 12, 30, 0 if not failed else 30, tzinfo=UTC),
        cluster="demo",
        backend="local",
        nodes=["demo-node-0", "demo-node-1"],
        mode="nested",
        rec=ImageRef(ref=REC_T, id="sha256:aaa", versions={"pmix": "5.0.7", "prrte": "3.0.8"}),
        app=ImageRef(ref=APP_T, id="sha256:ddd", versions={"pmix": "5.0.7", "ompi": "5.0.7"}),
        np=4,
        map_by="ppr:2:node",
        command=["ring"] if failed else ["init_finalize"],
        launcher_argv=["prterun", "-np", "4"],
        exit_status=1 if failed else 0,
        error="rank 3 exited with status 1" if failed else None,
        wall_s=3.25,
        ranks=ranks,
        figures={} if failed else {"init_finalize_s": Figure(value=1.374, unit="s")},
        verification=Verification(
            passed=not failed,
            expected_np=4,
            expected_hosts=["demo-node-0", "demo-node-1"],
            reasons=["rank 3 did not report", "rank 2 saw size 3 <expected 4>"] if failed else [],
        ),
        log_path=f"/logs/{job_id}.log",
    )


@pytest.fixture
def matrix_record() -> MatrixRecord:
    return make_matrix()


@pytest.fixture
def bench_record() -> BenchRecord:
    return make_bench()


@pytest.fixture
def jobs() -> list[JobRecord]:
    return [make_job("job-ok", failed=False), make_job("job-bad", failed=True)]


@pytest.fixture
def records_dir(
    tmp_path: Path, matrix_record: MatrixRecord, bench_record: BenchRecord, jobs: list[JobRecord]
) -> Path:
    """A folder as `recapp matrix`/`bench`/`run` leave it: records written by records.write."""
    src = tmp_path / "results"
    records.write(matrix_record, src / "matrix.json")
    records.write(bench_record, src / "bench" / "bench.json")
    for job in jobs:
        records.write(job, src / "jobs" / f"{job.id}.json")
    return src


def _series(name: str, unit: str, samples: list[float]) -> BenchSeries:
    ordered = sorted(samples)
    return BenchSeries(
        name=name,
        unit=unit,
        samples=samples,
        median=ordered[len(ordered) // 2],
        spread=ordered[-1] - ordered[0],
    )


def _comparison(workload: str, figure: str, unit: str, np: int, values: dict[str, list[float]], **kw):
    columns = {m: _series(f"{workload} {figure} {m}", unit, v) for m, v in values.items()}
    ratios = {
        f"{m}/native": round(columns[m].median / columns["native"].median, 4)
        for m in ("nested", "traditional")
        if m in columns and "native" in columns
    }
    return Comparison(
        workload=workload,
        figure=figure,
        unit=unit,
        better="lower" if unit in ("s", "us") else "higher",
        np=np,
        columns=columns,
        ratios=ratios,
        headline=kw.get("headline", False),
    )


SAMPLE_JOB_ID = "20261128T140000-sbs1-aaaaaa"


def make_side_by_side() -> BenchRecord:
    """Two ping-pong sweeps (8 B … 4 MiB), EP at 1, 2, 4 ranks, init_finalize; one failing reference."""
    comps = [
        _comparison(
            "init_finalize",
            "init_finalize_s",
            "s",
            4,
            {"nested": [0.21, 0.2, 0.22], "native": [0.15, 0.16, 0.15], "traditional": [0.17, 0.18, 0.16]},
            headline=True,
        ),
        _comparison(
            "ep.A",
            "npb_time_s",
            "s",
            2,
            {"nested": [10.1, 10.0, 10.2], "native": [10.0, 9.9, 10.0]},
            headline=True,
        ),
    ]
    for size in (8, 1024, 65536, 4194304):
        for kind, unit, base in (
            ("lat", "us", 1.0 + size / 5000),
            ("bw", "MB/s", size / (1.0 + size / 5000)),
        ):
            comps.append(
                _comparison(
                    "pingpong-shm",
                    f"pingpong_{kind}_{size}",
                    unit,
                    2,
                    {"nested": [base * 1.05] * 3, "native": [base] * 3, "traditional": [base * 1.01] * 3},
                    headline=(kind, size) in (("lat", 8), ("bw", 4194304)),
                )
            )
    for np in (1, 2, 4):
        comps.append(
            _comparison(
                "ep.W",
                "npb_mops",
                "Mop/s",
                np,
                {"nested": [40.0 * min(np, 2)] * 3, "native": [41.0 * min(np, 2)] * 3},
            )
        )
    return BenchRecord(
        started_at=datetime(2026, 11, 28, 14, 0, 0, tzinfo=UTC),
        suite="workloads (default)",
        host={"cpu": "Intel(R) Xeon(R) Processor", "cores": "2"},
        images={
            "rec": ImageRef(ref=REC_T, id="sha256:aaa", versions={"pmix": "5.0.7", "prrte": "3.0.8"}),
            "app-nas": ImageRef(ref="localhost/recapp/app-nas:trixie", id="sha256:fff"),
            "all-in-one": ImageRef(ref="localhost/recapp/aio:trixie", id="sha256:999"),
        },
        parameters={"repeats": 3, "nodes": 2},
        series=[],
        ratios={f"{c.workload} {c.figure} {k}": v for c in comps if c.headline for k, v in c.ratios.items()},
        comparisons=comps,
        references=[
            ReferenceCheck(
                system="local",
                workload="ep.A",
                figure="ratio:npb_time_s",
                measured=1.01,
                unit="",
                reference=1.0,
                upper=0.02,
                passed=True,
            ),
            ReferenceCheck(
                system="local",
                workload="pingpong-shm",
                figure="ratio:pingpong_lat_8",
                measured=1.05,
                unit="",
                reference=1.0,
                upper=0.02,
                passed=False,
                reason="ratio:pingpong_lat_8 = 1.05 is above 1.02 (reference 1, upper bound +2%)",
            ),
        ],
        image_sizes={
            REC_T: 724_000_000,
            "localhost/recapp/app-nas:trixie": 465_000_000,
            "localhost/recapp/aio:trixie": 900_000_000,
        },
        skipped={"gromacs": "APP image localhost/recapp/app-gromacs:trixie is not built"},
        job_ids=[SAMPLE_JOB_ID],
    )


@pytest.fixture
def side_by_side() -> BenchRecord:
    return make_side_by_side()
