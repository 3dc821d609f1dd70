"""Workloads of the APP, nested in the REC and natively in the REC, side by side: each run must pass
its sanity checks (every rank reported where it should, the program's own verification, e.g. NPB's
"Verification = SUCCESSFUL"), and its figures must be within the system's references."""

from __future__ import annotations

import pytest

from recapp.bench.side_by_side import compare, measure, plan, reference_checks

pytestmark = [pytest.mark.rec, pytest.mark.app]
MODELS = ("nested", "native")


@pytest.fixture(scope="session")
def measured(results):
    return {}  # workload name → its targets, for the reference checks


def test_workload_runs(
    backend, cluster, rec_image, app_image, nodes, results, measured, workload, pytestconfig
):
    targets, skipped = plan(
        [workload], rec=rec_image, aio=None, app_for=lambda _w: app_image, nodes=nodes, models=MODELS
    )
    results.skipped.update(skipped)
    if not targets:
        pytest.skip(skipped.get(workload.name, "not runnable here"))
    failures: dict[str, str] = {}
    measure(
        backend,
        targets,
        {m: cluster for m in MODELS},
        app_for=lambda _w: app_image,
        nodes=nodes,
        repeats=int(pytestconfig.getoption("--repeats")),
        skipped=failures,
        job_ids=results.job_ids,
        records_dir=results.out_dir,
        say=lambda _t: None,
    )
    results.skipped.update(failures)
    measured[workload.name] = targets
    for target in targets:
        results.comparisons.extend(compare(target))
    assert not failures, "; ".join(f"{k}: {v}" for k, v in failures.items())
    for target in targets:
        assert target.samples.get("nested"), f"{target.key}: no figures from the nested runs"


def test_workload_references(results, measured, refs, workload):
    targets = measured.get(workload.name)
    if not targets:
        pytest.skip(f"{workload.name} was not measured")
    keys = {(t.workload.name, t.np): t.key for t in targets}
    comps = [c for c in results.comparisons if c.workload == workload.name]
    checks = reference_checks(comps, keys, refs)
    results.checks.extend(checks)
    if not checks:
        pytest.skip(f"no reference for {workload.name} on system {refs.system} ({refs.source})")
    failed = [c.reason for c in checks if not c.passed]
    assert not failed, "; ".join(r or "" for r in failed)
