"""The REC as a virtual cluster: every node pod Ready, the hostfile names them all, and PRRTE starts
a process on each of them (natively in the REC: this needs no APP)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from recapp.k8s import constants as c
from recapp.k8s import objects as o
from recapp.k8s.jobs import JobRequest, run_job

pytestmark = pytest.mark.rec
HOSTNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]*")


def test_every_node_ready(backend, cluster, nodes):
    status = backend.status(cluster)
    node_pods = [p for p in status.pods if p.component == c.COMPONENT_NODE]
    assert len(node_pods) == nodes, f"{len(node_pods)} node pod(s), expected {nodes}"
    not_ready = [p.name for p in node_pods if not p.ready]
    assert not not_ready, f"node pod(s) not Ready: {', '.join(not_ready)}"


def test_hostfile_names_every_node(backend, cluster):
    spec = backend.spec(cluster)
    proc = backend.login_exec(cluster, ["cat", c.HOSTFILE_PATH])
    text = proc.stdout.read() if proc.stdout else ""
    assert proc.wait() == 0, f"cannot read {c.HOSTFILE_PATH} in the login pod"
    hosts = [line.split()[0].split(".")[0] for line in text.splitlines() if line.strip()]
    assert hosts == o.node_pod_names(spec), f"hostfile lists {hosts}"
    assert all(f"slots={spec.slots_per_node}" in line for line in text.splitlines() if line.strip())


def test_prterun_reaches_every_node(backend, cluster, nodes):
    spec = backend.spec(cluster)
    record = run_job(
        backend,
        JobRequest(
            cluster=cluster, np=nodes, command=["hostname"], map_by="ppr:1:node", mode="native", verify=False
        ),
    )
    assert record.exit_status == 0 and record.error is None, record.error or f"exit {record.exit_status}"
    output = Path(record.log_path).read_text() if record.log_path else ""
    # The log also holds the launcher's warnings; a host name is a line that is one DNS name.
    names = [line.strip() for line in output.splitlines() if HOSTNAME.fullmatch(line.strip())]
    seen = sorted({name.split(".")[0] for name in names})
    assert seen == sorted(o.node_pod_names(spec)), f"processes ran on {seen}"
