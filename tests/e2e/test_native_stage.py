"""A native run's share of the APP, staged from the real default images (k8s/local/native.py): the HPCC
APP's /usr/local whole (runner, binary, shim, version) and the libraries the REC lacks (its BLAS and
what that needs), none of the MPI stack, after which nothing the binary needs is missing in the REC."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from recapp.builder.build import BuildRequest, build_image
from recapp.k8s.local import native

pytestmark = pytest.mark.e2e

REC = "localhost/recapp/rec:trixie"


def test_hpcc_gets_its_blas_from_the_app_and_its_mpi_from_the_rec(engine: Any, tmp_path: Path) -> None:
    app = build_image(BuildRequest("app", "trixie", workload="hpcc")).tag  # cached by recipe hash
    staging = tmp_path / "native"

    libs = native.stage(app, REC, staging)

    assert (staging / "bin" / "hpcc").is_file()
    assert (staging / "lib" / "recapp" / "hpcc" / "hpcc").is_file()
    assert (staging / "share" / "recapp" / "hpcc" / "version").read_text().startswith("1.5")
    assert "libblas.so.3" in libs
    assert not [lib for lib in libs if native.MPI_STACK.match(lib)]
    assert sorted(p.name for p in (staging / "lib" / "deps").iterdir()) == libs
    # In the REC, with lib/deps on the path: every library resolves, libmpi from the REC's own.
    out = engine.podman(
        "run", "--rm", "--pull=never", "--network", "none", "-v", f"{staging}:/n:ro", "--entrypoint", "sh",
        REC, "-c", "LD_LIBRARY_PATH=/n/lib/deps ldd /n/lib/recapp/hpcc/hpcc",
    ).stdout  # fmt: skip
    assert native.not_found(out) == []
    resolved = native.found(out)
    assert resolved["libblas.so.3"] == "/n/lib/deps/libblas.so.3"
    assert resolved["libmpi.so.40"].endswith("/x86_64-linux-gnu/libmpi.so.40")  # the REC's, not /n
