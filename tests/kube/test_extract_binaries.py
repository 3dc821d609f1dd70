"""The script `deliver_binaries` runs inside each node pod (nested podman copies the APP's
/usr/local into the node's images volume), run here with the host's podman on the default APP."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from recapp.builder.build import BuildRequest, build_image
from recapp.k8s.kubernetes.backend import EXTRACT_BIN_SCRIPT

pytestmark = pytest.mark.e2e


def extract(engine: Any, target: Path, image: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", "-c", EXTRACT_BIN_SCRIPT, "extract", str(target), image],
        capture_output=True, text=True, env=engine.env, timeout=300, check=False,
    )  # fmt: skip


def test_copies_usr_local_bin_once_and_leaves_no_container(engine: Any, tmp_path: Path) -> None:
    image = build_image(BuildRequest("app", "trixie", workload="mpi")).tag  # cached by recipe hash
    expected = sorted(engine.podman("run", "--rm", image, "ls", "/usr/local/bin").stdout.split())
    containers_before = engine.podman("ps", "-aq").stdout.split()
    target = tmp_path / "native" / "0123456789ab"

    first = extract(engine, target, image)

    assert first.returncode == 0, first.stderr
    assert expected, "the APP image has no programs in /usr/local/bin"
    assert sorted(p.name for p in (target / "bin").iterdir()) == expected
    assert not (tmp_path / "native" / "0123456789ab.tmp").exists()
    assert engine.podman("ps", "-aq").stdout.split() == containers_before

    (target / "bin" / "marker").write_text("kept")
    again = extract(engine, target, image)  # already there: nothing is copied again
    assert again.returncode == 0, again.stderr
    assert (target / "bin" / "marker").read_text() == "kept"


def test_a_missing_image_fails_without_leaving_a_directory(engine: Any, tmp_path: Path) -> None:
    target = tmp_path / "native" / "ffffffffffff"
    proc = extract(engine, target, "localhost/recapp-test/no-such-image:1")
    assert proc.returncode != 0
    assert "no-such-image" in proc.stderr
    assert not target.exists()


def test_the_libraries_missing_here_come_from_the_app_but_never_its_mpi(engine: Any, tmp_path: Path) -> None:
    # Run on this host, the script's "node" is the host: it lacks HPCC's BLAS and Open MPI alike.
    image = build_image(BuildRequest("app", "trixie", workload="hpcc")).tag  # cached by recipe hash
    target = tmp_path / "native" / "0123456789ab"

    proc = extract(engine, target, image)

    assert proc.returncode == 0, proc.stderr
    assert (target / "lib" / "recapp" / "hpcc" / "hpcc").is_file()  # the runner's ../lib/recapp
    deps = sorted(p.name for p in (target / "lib" / "deps").iterdir())
    assert "libblas.so.3" in deps
    assert not [d for d in deps if d.startswith(("libmpi", "libopen-pal", "libpmix", "libhwloc", "libevent"))]
    ldd = subprocess.run(
        ["ldd", str(target / "lib" / "recapp" / "hpcc" / "hpcc")],
        capture_output=True, text=True, env={"LD_LIBRARY_PATH": str(target / "lib" / "deps")}, check=False,
    ).stdout  # fmt: skip
    missing = sorted({line.split()[0] for line in ldd.splitlines() if "=> not found" in line})
    assert all(m.startswith(("libmpi", "libopen-pal", "libpmix", "libhwloc", "libevent")) for m in missing), (
        missing
    )
