"""The APP's own software for a native run (ranks straight in the REC, no nested container), staged
once per APP image on the host and then copied into every node (local backend).

What is staged is the APP's /usr/local, whole: its programs in bin/ and what they find relative to
themselves (a runner such as HPCC's or GROMACS's starts a binary from ../lib/recapp and reads
../share/recapp). And the shared libraries a program needs that the REC lacks (HPCC's BLAS and its
Fortran runtime), copied out of the APP into lib/deps, which the native job puts on LD_LIBRARY_PATH.
Never the MPI stack (Open MPI, PMIx, PRRTE and what they are built on): a native run is the APP's
program on the *REC's* MPI, which is the point of comparing it with the nested one. A library the REC
must give but lacks stays missing, and the run fails naming it, as it would on such a host.
"""

from __future__ import annotations

import re
from pathlib import Path

from recapp.errors import ClusterError
from recapp.host import engine
from recapp.k8s.backend import MPI_STACK_RE, NATIVE_LIB_DIR

# The MPI stack's libraries, by soname: the REC's own serve a native rank, never the APP's copies.
MPI_STACK = re.compile(MPI_STACK_RE)
# ldd's line for a library the loader cannot find, and for one it can.
NOT_FOUND = re.compile(r"^\s*(\S+) => not found\s*$")
FOUND = re.compile(r"^\s*(\S+) => (/\S+) \(0x[0-9a-f]+\)\s*$")
MAX_ROUNDS = 6  # a library copied in may need others: one round per level of the dependency tree
MOUNT = "/n"  # where a throw-away container sees the staging directory


def stage(image: str, rec: str, staging: Path) -> list[str]:
    """Copy `image`'s /usr/local into `staging` (which must not exist yet) and the libraries its
    ELF files need that `rec` lacks into staging/lib/deps; return those libraries' sonames."""
    ctr = _podman("create", "--pull=never", image, "true").strip()
    try:
        # `podman cp` into a path that does not exist yet creates it with /usr/local's contents.
        _podman("cp", f"{ctr}:/usr/local", str(staging))
    finally:
        _podman("rm", "-f", "-v", ctr, check=False)
    deps = staging / NATIVE_LIB_DIR
    deps.mkdir(parents=True, exist_ok=True)
    copied: list[str] = []
    for _ in range(MAX_ROUNDS):
        files = elf_files(staging)
        if not files:
            return copied
        missing = [lib for lib in not_found(_ldd(rec, staging, files)) if not MPI_STACK.match(lib)]
        missing = [lib for lib in missing if lib not in copied]
        if not missing:
            return sorted(copied)
        where = found(_ldd(image, staging, files))
        paths = [where[lib] for lib in missing if lib in where]
        if not paths:  # missing in the APP too: its programs cannot run anywhere, nothing to copy
            return sorted(copied)
        # cp -L: the file itself under its soname (Debian's alternatives make most of them symlinks).
        copy = 'set -e; d="$0"; for p; do cp -L "$p" "$d/"; done'
        _run_in(image, staging, copy, f"{MOUNT}/{NATIVE_LIB_DIR}", *paths)
        copied += [lib for lib in missing if lib in where]
    raise ClusterError(f"{image}: the libraries its programs need go deeper than {MAX_ROUNDS} levels")


def elf_files(root: Path) -> list[Path]:
    """The regular (not symlinked) ELF files below root."""
    out: list[Path] = []
    for path in sorted(root.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        with path.open("rb") as f:
            if f.read(4) == b"\x7fELF":
                out.append(path)
    return out


def not_found(ldd_output: str) -> list[str]:
    """The sonames ldd could not resolve, once each, in order."""
    names = [m.group(1) for line in ldd_output.splitlines() if (m := NOT_FOUND.match(line))]
    return list(dict.fromkeys(names))


def found(ldd_output: str) -> dict[str, str]:
    """soname → the path the loader resolved it to."""
    return {m.group(1): m.group(2) for line in ldd_output.splitlines() if (m := FOUND.match(line))}


def _ldd(image: str, staging: Path, files: list[Path]) -> str:
    # With lib/deps on the path, as the native job will have it. ldd fails on a static binary or a
    # non-program ELF (it says so); that file just adds nothing.
    script = f'export LD_LIBRARY_PATH={MOUNT}/{NATIVE_LIB_DIR}; for f; do ldd "$f" 2>/dev/null; done; true'
    return _run_in(image, staging, script, "ldd", *[f"{MOUNT}/{f.relative_to(staging)}" for f in files])


def _run_in(image: str, staging: Path, script: str, *args: str) -> str:
    return _podman(
        "run", "--rm", "--pull=never", "--user", "0", "--network", "none", "--entrypoint", "sh",
        "-v", f"{staging}:{MOUNT}", image, "-c", script, *args,
    )  # fmt: skip


def _podman(*args: str, check: bool = True) -> str:
    return engine.podman(*args, error=ClusterError, check=check, timeout=600).stdout
