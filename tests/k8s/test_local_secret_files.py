"""The local backend's Secret volumes on the host: each pod its own side, no host user but root in reach.

The rec group's id (995) may be a host group with members of its own; the files are group-readable
for the pod's sake, so the directory above them must keep every host user but root out."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from recapp.k8s import objects as o
from recapp.k8s.local.backend import LocalBackend
from recapp.k8s.spec import load_spec

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="writes root-owned files, as `cluster up` does")


def test_each_pod_gets_its_own_side_under_a_root_only_parent(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("RECAPP_HOME", str(tmp_path))
    spec = load_spec({"name": "lsec", "nodes": 2, "rec_image": "localhost/recapp/rec:trixie"})
    files = o.agent_secret_files(o.cluster_objects(spec))
    backend = LocalBackend()
    node = backend._write_secret(spec, "lsec-node-1", files)
    login = backend._write_secret(spec, "lsec-login", files)

    assert sorted(p.name for p in node.iterdir()) == [
        "ca.crt",
        "lsec-node-1.crt",
        "lsec-node-1.key",
        "secret",
    ]
    assert sorted(p.name for p in login.iterdir()) == ["ca.crt", "launcher.crt", "launcher.key", "secret"]
    parent = node.parent
    assert (stat.S_IMODE(parent.stat().st_mode), parent.stat().st_uid) == (0o700, 0)
    for pod_dir in (node, login):
        assert (stat.S_IMODE(pod_dir.stat().st_mode), pod_dir.stat().st_gid) == (0o750, spec.gid)
        for path in pod_dir.iterdir():
            st = path.stat()
            assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o440, 0, spec.gid), path
    assert (node / "secret").read_text() == files["secret"]
