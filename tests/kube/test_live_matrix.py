"""One matrix cell on a live cluster (issue 13's Done-when): `recapp matrix --backend kubernetes`,
the REC from RECAPP_K8S_REC_IMAGE (loaded into the nodes) × the trixie APP (streamed from this
machine's store), levels L1-L4, each level's verdict checked.

Needs KUBECONFIG and RECAPP_K8S_REC_IMAGE (and RECAPP_K8S_SECCOMP_PROFILE on containerd nodes), as
test_live_jobs.py.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from tests.conftest import RunRecapp
from tests.kube.live_options import live_rec_and_pod_options

pytestmark = pytest.mark.k8s


APP = os.environ.get("RECAPP_K8S_APP_IMAGE", "localhost/recapp/app-mpi:trixie")


def test_one_matrix_cell_runs_on_kubernetes(live_api: Any, run_recapp: RunRecapp, tmp_path: Path) -> None:
    rec, options = live_rec_and_pod_options()
    before = {n.metadata.name for n in client.CoreV1Api(live_api).list_namespace().items}
    out = tmp_path / "matrix"
    result = run_recapp(
        *("matrix", "--backend", "kubernetes", "--kubeconfig", os.environ["KUBECONFIG"]),
        *("--rec", rec, "--app", APP, "--levels", "L1,L2,L3,L4", "--out", str(out), *options),
        timeout=1800,
    )
    assert result.returncode == 0, result.stderr
    record = json.loads((out / "matrix.json").read_text())
    verdicts = {cell["level"]: cell["status"] for cell in record["cells"]}
    assert verdicts == {"L1": "PASS", "L2": "PASS", "L3": "PASS", "L4": "PASS"}, record["cells"]
    (pair,) = record["pairs"]
    assert (pair["rec"], pair["app"], pair["status"], pair["highest_level"]) == (rec, APP, "PASS", "L4")
    assert pair["disagreement"] is None
    # L3 (placement verified) put its 4 ranks on both node pods of the matrix's own cluster.
    (l3_job,) = (out / "jobs").glob("*--L3-0.json")
    hosts = [r["host"] for r in json.loads(l3_job.read_text())["ranks"]]
    assert len(hosts) == 4 and len(set(hosts)) == 2, hosts
    # ... and that cluster is gone.
    after = {n.metadata.name for n in client.CoreV1Api(live_api).list_namespace().items}
    assert {n for n in after - before if n.startswith("recapp-mx")} == set()
