"""Soak: 20 consecutive jobs on one cluster, with and without the persistent DVM. Every job passes and
nothing accumulates: processes, zombies, /tmp entries (PRRTE session directories, sandbox state),
nested containers (at most one APP sandbox per node and image), volumes, host objects, state files.

The footprint is taken after a first warm-up job (which loads the APP and starts each node's
sandbox, and the DVM), then after every job; the last must not exceed the warm-up's on any count.
"""

from __future__ import annotations

import json
import secrets

import pytest

from recapp.host.paths import sub
from recapp.k8s.jobs import JobRequest, run_job, stop_dvm

from .footprint import Footprint, measure

pytestmark = [pytest.mark.e2e, pytest.mark.reliability]

APP = "localhost/recapp/app-mpi:trixie"
JOBS = 20


@pytest.fixture
def soak_app(engine, default_images, scratch_images) -> str:
    """The APP under a tag of this test's own: another session rebuilding the shared tag mid-soak
    would make every node load the new build (that path is checked in test_rebuilt_app_…)."""
    tag = f"localhost/recapp-test/app-soak-{secrets.token_hex(3)}:trixie"
    engine.podman("tag", APP, tag)
    scratch_images.append(tag)
    return tag


@pytest.mark.slow
@pytest.mark.parametrize("dvm", [False, True], ids=["prterun", "dvm"])
def test_twenty_jobs_pass_and_leave_nothing_behind(engine, make_cluster, local_backend, soak_app, dvm: bool):
    spec = make_cluster(nodes=2, slots=2)

    def job() -> bool:
        record = run_job(
            local_backend,
            JobRequest(
                cluster=spec.name, np=4, command=["hello"], app=soak_app, map_by="ppr:2:node", dvm=dvm,
                timeout_s=120,
            ),
        )  # fmt: skip
        return record.passed

    assert job(), "warm-up job failed"
    baseline = measure(engine, spec)
    history: list[Footprint] = [baseline]
    passed = 0
    for _ in range(JOBS):
        passed += job()
        history.append(measure(engine, spec))
    last = history[-1]
    figures = {
        "jobs": JOBS,
        "passed": passed,
        "dvm": dvm,
        "baseline": baseline.as_dict(),
        "last": last.as_dict(),
        "max": {k: max(h.as_dict()[k] for h in history) for k in baseline.as_dict()},
        "new_tmp_paths": last.new_tmp_paths(baseline),
    }
    # Kept for the closing note of the reliability run (`make reliability` prints them).
    out = sub("reliability") / f"soak-{'dvm' if dvm else 'prterun'}-{spec.name}.json"
    out.write_text(json.dumps(figures, indent=2) + "\n")
    if dvm:
        stop_dvm(local_backend, spec.name)
    assert passed == JOBS, f"{passed}/{JOBS} jobs passed"
    assert last.zombies == 0, f"zombies after {JOBS} jobs: {last.zombies}"
    assert last.nested_containers == spec.nodes, f"expected one APP sandbox per node: {last}"
    grown = last.grown(baseline)
    assert grown == {}, (
        f"grew over {JOBS} jobs (before, after): {grown}; new in /tmp: {last.new_tmp_paths(baseline)}"
    )


def test_rebuilt_app_replaces_the_old_build_in_every_node(
    engine, make_cluster, local_backend, soak_app, scratch_images, tmp_path
):
    # A new build under the same tag is loaded into each node; the old build must not stay there.
    spec = make_cluster(nodes=2, slots=2)
    request = JobRequest(cluster=spec.name, np=4, command=["hello"], app=soak_app, map_by="ppr:2:node")
    assert run_job(local_backend, request).passed
    before = measure(engine, spec)
    (tmp_path / "Containerfile").write_text(
        f"FROM {soak_app}\nLABEL io.recapp.test.rebuilt={tmp_path.name}\n"
    )
    engine.podman("build", "-q", "-t", soak_app, str(tmp_path), timeout=300)
    record = run_job(local_backend, request)
    assert record.passed, (record.error, record.verification.reasons)
    for node in (f"{spec.name}-node-0", f"{spec.name}-node-1"):
        node_id = engine.podman("exec", node, "podman", "image", "inspect", "--format", "{{.Id}}", soak_app)
        assert node_id.stdout.strip() == engine.image_id(soak_app)
    after = measure(engine, spec)
    assert after.nested_images == before.nested_images, (before.nested_images, after.nested_images)
    assert after.nested_containers == spec.nodes
