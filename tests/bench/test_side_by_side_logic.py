"""Side-by-side bookkeeping without containers: samples → comparisons, ratios, reference checks."""

from __future__ import annotations

from recapp.bench import cluster, references, side_by_side
from recapp.workloads.catalog import catalog


def _target(name: str, np: int, key: str | None = None) -> side_by_side.Target:
    wl = catalog().workloads[name]
    return side_by_side.Target(
        workload=wl, np=np, key=key or name, models=["nested", "native", "traditional"]
    )


def test_compare_gives_medians_spread_and_both_ratios():
    t = _target("ep.A", 2)
    t.samples = {
        "nested": {"npb_time_s": [10.4, 10.2, 10.3]},
        "native": {"npb_time_s": [10.0, 10.1, 9.9]},
        "traditional": {"npb_time_s": [10.05, 10.1, 10.0]},
    }
    t.units = {"npb_time_s": "s"}
    (comp,) = side_by_side.compare(t)
    assert comp.columns["nested"].median == 10.3 and round(comp.columns["nested"].spread, 6) == 0.2
    assert comp.ratios == {"nested/native": 1.03, "traditional/native": 1.005, "nested/traditional": 1.0249}
    assert comp.better == "lower" and comp.headline


def test_figures_sort_by_message_size_and_missing_models_have_no_ratio():
    t = _target("pingpong-shm", 2)
    t.samples = {"nested": {"pingpong_lat_1024": [2.0], "pingpong_lat_8": [1.0]}}
    t.units = {"pingpong_lat_1024": "us", "pingpong_lat_8": "us"}
    comps = side_by_side.compare(t)
    assert [c.figure for c in comps] == ["pingpong_lat_8", "pingpong_lat_1024"]
    assert all(c.ratios == {} for c in comps)


def test_collect_keeps_only_the_wanted_figures_and_the_wall_time():
    from datetime import UTC, datetime

    from recapp.reports.records import Figure, ImageRef, JobRecord, Verification

    t = _target("init_finalize", 4)
    record = JobRecord(
        id="j", started_at=datetime.now(UTC), cluster="c", backend="local", nodes=["n0"], mode="nested",
        rec=ImageRef(ref="r"), np=4, command=["init_finalize"], launcher_argv=[], exit_status=0, wall_s=2.5,
        figures={"init_finalize_s": Figure(value=0.2, unit="s"), "init_s": Figure(value=0.1, unit="s")},
        verification=Verification(passed=True, expected_np=4),
    )  # fmt: skip
    side_by_side._collect(t, "nested", record)
    assert t.samples["nested"] == {"init_finalize_s": [0.2], "wall_s": [2.5]}
    side_by_side._collect(t, "native", record.model_copy(update={"app": ImageRef(ref="a", id="sha256:1")}))
    assert t.app_ids == {"sha256:1"}  # the ids the samples ran, to notice a rebuild mid-bench


def test_reference_checks_use_the_nested_median_and_the_ratio(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text(
        "system: t\nworkloads:\n  ep.A:\n    npb_time_s: [10, -0.5, 0.5, s]\n"
        "    ratio:npb_time_s: [1.0, null, 0.02, '']\n"
    )
    refs = references.load(str(path))
    t = _target("ep.A", 2)
    t.samples = {"nested": {"npb_time_s": [10.4, 10.3, 10.5]}, "native": {"npb_time_s": [10.0, 10.0, 10.0]}}
    t.units = {"npb_time_s": "s"}
    checks = side_by_side.reference_checks(side_by_side.compare(t), {("ep.A", 2): "ep.A"}, refs)
    assert [(c.figure, c.measured, c.passed) for c in checks] == [
        ("npb_time_s", 10.4, True),
        ("ratio:npb_time_s", 1.04, False),
    ]
    # The whole 95 % interval of the ratio (1.03 … 1.05) is above the bound: a failure beyond the noise.
    assert checks[1].interval == [1.03, 1.05]
    assert checks[1].reason == (
        "ratio:npb_time_s = 1.04 (95 % interval 1.03 … 1.05) is above 1.02 (reference 1, upper bound +2%)"
    )


def test_a_node_that_missed_its_probe_is_waited_for_then_reported(monkeypatch):
    """A readiness probe missed on a busy host is retried; anything else is the run's reason at once."""
    from recapp.errors import JobError
    from recapp.k8s.jobs import JobRequest

    calls: list[int] = []

    def flaky(_backend, _req):
        calls.append(1)
        if len(calls) < 3:
            raise JobError("cluster c: node pod(s) not Ready: c-node-1")
        return "record"

    monkeypatch.setattr(cluster, "run_job", flaky)
    monkeypatch.setattr(cluster, "NOT_READY_WAIT_S", 0.0)
    req = JobRequest(cluster="c", np=2, command=["x"])
    assert cluster.run_job_patiently(None, req) == "record" and len(calls) == 3

    def never(_backend, _req):
        raise JobError("cluster c: node pod(s) not Ready: c-node-1")

    monkeypatch.setattr(cluster, "run_job", never)
    assert cluster.run_job_patiently(None, req) == "cluster c: node pod(s) not Ready: c-node-1"

    def other(_backend, _req):
        calls.append(1)
        raise JobError("a nested job needs an APP image (--app)")

    calls.clear()
    monkeypatch.setattr(cluster, "run_job", other)
    assert cluster.run_job_patiently(None, req) == "a nested job needs an APP image (--app)"
    assert len(calls) == 1


def test_plan_leaves_native_out_where_the_catalog_says_why(monkeypatch):
    """GROMACS lives in the APP's /usr/bin: the native model is skipped with the catalog's reason,
    without running anything, and nested and traditional stay."""
    monkeypatch.setattr(side_by_side.images, "image_id", lambda ref: "0" * 64)
    monkeypatch.setattr(side_by_side, "has_program", lambda image, program: True)
    cat = catalog()
    targets, skipped = side_by_side.plan(
        [cat.workloads["gromacs-ci"], cat.workloads["ep.S"], cat.workloads["hpcc"]],
        rec="rec",
        aio="aio",
        app_for=lambda app: f"localhost/recapp/app-{app}:trixie",
        nodes=2,
    )
    by_key = {t.key: t.models for t in targets}
    assert by_key["gromacs-ci"] == ["nested", "traditional"]
    assert by_key["ep.S"] == ["nested", "native", "traditional"]
    # HPCC's runner, binary and BLAS reach the REC with the APP's /usr/local and lib/deps (issue 18).
    assert by_key["hpcc"] == ["nested", "native", "traditional"]
    assert skipped == {"gromacs-ci/native": cat.workloads["gromacs-ci"].not_native}
    assert "/usr/local" in skipped["gromacs-ci/native"]
