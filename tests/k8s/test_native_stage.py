"""What a native run takes from the APP besides its programs (k8s/local/native.py): the reading of
ldd's output, on programs built here with gcc and read by the host's own ldd, and the MPI stack that
is never copied."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from recapp.k8s.local import native

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc to build the test programs")


def _program_needing_a_library(tmp_path: Path) -> tuple[Path, Path]:
    """prog, linked to libperf6dep.so.1; returns (program, library)."""
    (tmp_path / "dep.c").write_text("int perf6_dep(void) { return 6; }\n")
    (tmp_path / "prog.c").write_text("int perf6_dep(void);\nint main(void) { return perf6_dep() - 6; }\n")
    lib = tmp_path / "lib" / "libperf6dep.so.1"
    lib.parent.mkdir()
    subprocess.run(
        ["gcc", "-shared", "-fPIC", "-Wl,-soname,libperf6dep.so.1", "-o", str(lib), str(tmp_path / "dep.c")],
        check=True,
    )
    prog = tmp_path / "bin" / "prog"
    prog.parent.mkdir()
    subprocess.run(
        ["gcc", "-o", str(prog), str(tmp_path / "prog.c"), str(lib)],
        check=True,
    )
    return prog, lib


def _ldd(path: Path, library_path: str = "") -> str:
    env = {"LD_LIBRARY_PATH": library_path} if library_path else {}
    return subprocess.run(["ldd", str(path)], capture_output=True, text=True, env=env, check=False).stdout


def test_a_library_the_loader_cannot_find_is_named_and_one_it_finds_has_its_path(tmp_path: Path) -> None:
    prog, lib = _program_needing_a_library(tmp_path)

    assert native.not_found(_ldd(prog)) == ["libperf6dep.so.1"]
    resolved = native.found(_ldd(prog, str(lib.parent)))
    assert resolved["libperf6dep.so.1"] == str(lib)
    assert resolved["libc.so.6"].endswith("/libc.so.6")
    assert native.not_found(_ldd(prog, str(lib.parent))) == []


def test_elf_files_are_the_programs_and_libraries_not_scripts_or_links(tmp_path: Path) -> None:
    prog, lib = _program_needing_a_library(tmp_path)
    (tmp_path / "bin" / "runner").write_text("#!/bin/sh\nexec prog\n")
    (tmp_path / "bin" / "alias").symlink_to("prog")
    (tmp_path / "share").mkdir()
    (tmp_path / "share" / "version").write_text("1.5.0\n")

    assert native.elf_files(tmp_path) == [prog, lib]


@pytest.mark.parametrize(
    "soname",
    ["libmpi.so.40", "libopen-pal.so.80", "libpmix.so.2", "libprrte.so.3", "libhwloc.so.15",
     "libevent_core-2.1.so.7", "libucp.so.0", "libfabric.so.1", "libmpi_mpifh.so.40"],
)  # fmt: skip
def test_the_mpi_stack_is_never_taken_from_the_app(soname: str) -> None:
    assert native.MPI_STACK.match(soname)


@pytest.mark.parametrize("soname", ["libblas.so.3", "libgfortran.so.5", "libquadmath.so.0", "libfftw3.so.3"])
def test_other_libraries_are(soname: str) -> None:
    assert not native.MPI_STACK.match(soname)
