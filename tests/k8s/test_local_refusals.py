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


# Shaped like podman's refusal (every format's error, one per line; the dir line is the one seen in
# the demo); the docker-archive line's cause here is written for the test, not captured.
PODMAN_LOAD_REFUSED = """\
Error: payload does not match any of the supported image formats:
 * oci: open /var/lib/recapp/images/3850ebbf.tar/index.json: not a directory
 * oci-archive: creating oci reference: loading index: open /var/tmp/oci/index.json: no such file or directory
 * docker-archive: writing blob: storing blob to file "/var/tmp/x": write /var/tmp/x: no space left on device
 * dir: open /var/lib/recapp/images/3850ebbf.tar/manifest.json: not a directory
"""


def test_a_refused_load_is_named_by_the_archive_formats_own_error() -> None:
    from recapp.host.images import load_error

    assert load_error(PODMAN_LOAD_REFUSED) == (
        "docker-archive: writing blob: storing blob to file"
        ' "/var/tmp/x": write /var/tmp/x: no space left on device'
    )
    assert load_error("Error: something else\n") == "Error: something else"
