"""The local backend refuses what it cannot realise before it creates anything."""

from __future__ import annotations

import pytest

from recapp.errors import ClusterError
from recapp.k8s.local.backend import LocalBackend
from recapp.k8s.spec import load_spec


@pytest.mark.parametrize("launcher", ["podexec", "kubexec"])
def test_non_agent_launchers_are_refused_locally(launcher):
    spec = load_spec(
        {"name": "lx", "nodes": 1, "rec_image": "localhost/recapp/rec:trixie", "launcher": launcher}
    )
    with pytest.raises(ClusterError, match=f"launcher '{launcher}' is not available on the local backend"):
        LocalBackend().up(spec)
