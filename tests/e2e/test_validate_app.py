"""`recapp validate-app` on an APP image built with a plain Containerfile, outside recapp."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.e2e


def test_validate_app_on_a_plain_containerfile_image(
    engine, default_images, scratch_images, run_recapp, tmp_path
):
    tag = "localhost/recapp-test/plain-app:trixie"
    scratch_images.append(tag)
    # A user's APP: Debian's Open MPI library and PMIx client, no recapp labels, no recapp programs.
    # Debian's MCA defaults ship with the launcher's package, so the user writes them (the static
    # check `test_distribution_mca_defaults_present` says so when they are missing).
    (tmp_path / "ctx").mkdir()
    (tmp_path / "ctx" / "Containerfile").write_text(
        "FROM localhost/recapp/base:trixie\n"
        "RUN apt-get install -y --no-install-recommends libopenmpi40 libpmix2t64 && apt-get clean\n"
        "RUN mkdir -p /etc/openmpi && printf 'btl = ^uct,openib,ofi\\nmtl = ^ofi\\npml = ^ucx\\n' "
        "> /etc/openmpi/openmpi-mca-params.conf\n"
        "RUN useradd -m -u 1000 user\nUSER 1000\n"
    )
    engine.podman("build", "-q", "-t", tag, str(tmp_path / "ctx"), timeout=600)
    labels = engine.image_labels(tag)
    # Only the base's labels are inherited: no kind=app, no recorded versions to lean on.
    assert labels.get("io.recapp.kind") != "app"
    assert not any(k.startswith("io.recapp.version.") for k in labels), labels
    out = tmp_path / "out"
    result = run_recapp(
        "validate-app",
        tag,
        "--rec",
        "localhost/recapp/rec:trixie",
        "--levels",
        "L1,L2,L3",
        "--out",
        str(out),
        timeout=900,
    )
    record = json.loads((out / "matrix.json").read_text())
    app = record["apps"][0]
    assert app["versions"] == {"ompi": "5.0.7", "pmix": "5.0.7"}, app
    levels = {c["level"]: c["status"] for c in record["cells"]}
    assert levels == {"L1": "PASS", "L2": "PASS", "L3": "PASS"}, record["cells"]
    l2 = next(c for c in record["cells"] if c["level"] == "L2")
    assert l2["observed"]["server_version"].startswith("5.0.7")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "static checks passed" in result.stderr
