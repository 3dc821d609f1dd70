"""`recapp conformance --backend kubernetes` on a live cluster (issue 13): the image checks on this
machine's store, then the REC as a cluster, a PMIx level and one workload on Kubernetes.

Needs KUBECONFIG and RECAPP_K8S_REC_IMAGE (and RECAPP_K8S_SECCOMP_PROFILE on containerd nodes).
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from tests.conftest import RunRecapp
from tests.kube.live_options import live_rec_and_pod_options

pytestmark = pytest.mark.k8s


APP = os.environ.get("RECAPP_K8S_APP_IMAGE", "localhost/recapp/app-mpi:trixie")


def test_conformance_runs_its_cluster_checks_on_kubernetes(
    live_api: Any, run_recapp: RunRecapp, tmp_path: Path
) -> None:
    rec, options = live_rec_and_pod_options()
    before = {n.metadata.name for n in client.CoreV1Api(live_api).list_namespace().items}
    out = tmp_path / "conformance"
    result = run_recapp(
        *("conformance", "--backend", "kubernetes", "--kubeconfig", os.environ["KUBECONFIG"]),
        *("--rec", rec, "--app", APP, "--levels", "L1,L3", "--workloads", "init_finalize"),
        *("--out", str(out), *options),
        timeout=2400,
    )
    junit = ET.parse(out / "pytest-junit.xml").getroot()
    cases = {f"{c.get('classname')}.{c.get('name')}": c for c in junit.iter("testcase")}
    failed = [n for n, c in cases.items() if c.find("failure") is not None or c.find("error") is not None]
    assert result.returncode == 0 and not failed, (failed, result.stdout[-2000:], result.stderr[-2000:])
    # The cluster checks ran (not skipped) on Kubernetes: every node Ready, prterun reaching each.
    cluster_cases = [c for n, c in cases.items() if "test_cluster" in n]
    assert cluster_cases and all(c.find("skipped") is None for c in cluster_cases), list(cases)
    pmix = [n for n, c in cases.items() if "test_pmix_level" in n and c.find("skipped") is None]
    assert len(pmix) == 2, list(cases)
    after = {n.metadata.name for n in client.CoreV1Api(live_api).list_namespace().items}
    assert {n for n in after - before if n.startswith("recapp-rcf")} == set()  # its cluster is gone
