"""Validate a user's own APP image (one recapp did not build, so it carries no labels): discover its
MPI (Open MPI, MPICH, or none) and PMIx client versions by inspection, run the static APP checks, and
produce its matrix row against RECs with recapp's probe and MPI checks injected at run time
(bind-mounted, never baked in), built against the MPI the image carries. Every level's job judges
every rank's view of the world (rank, size, host: recapp.k8s.placement.verify)."""

from __future__ import annotations

import dataclasses
import re
import secrets
import time
from datetime import UTC, datetime
from pathlib import Path

from recapp.builder.build import BuildRequest, build_image
from recapp.conformance.matrix import expectations
from recapp.conformance.matrix.levels import LEVELS, Level
from recapp.conformance.matrix.runner import run_pair, summarise_pair
from recapp.conformance.session import run_suite
from recapp.errors import ConformanceError
from recapp.host import engine
from recapp.host.labels import upstream_version
from recapp.host.progress import Step
from recapp.host.runner import run
from recapp.k8s.backend import ClusterBackend
from recapp.k8s.jobs import image_ref
from recapp.k8s.spec import load_spec
from recapp.reports.records import ImageRef, MatrixCell, MatrixRecord

# The injected programs must link the APP's own MPI. Open MPI's: built on the oldest suite (oldest
# glibc), linked to the stable sonames libmpi.so.40 / libpmix.so.2, so the same binaries run in most
# Debian-family APPs. MPICH's: app-mpich, linked to libmpi.so.12, the soname of the MPICH ABI
# (MPICH 3.1 and later, and the MPICH-derived libraries that keep its ABI); trixie is its only suite,
# so an APP with an older glibc cannot run them. An APP without MPI runs only the PMIx levels, whose
# probe links libpmix.so.2 alone.
TOOLS_SUITE = "bookworm"
TOOLS: dict[str, tuple[str, str]] = {"ompi": (TOOLS_SUITE, "mpi"), "mpich": ("trixie", "mpich")}
TOOLS_MOUNT = "/opt/recapp/bin"
# The MPI libraries recapp knows, by the version key it records them under.
MPI_NAMES = {"ompi": "Open MPI", "mpich": "MPICH"}

DISCOVER_SCRIPT = r"""
command -v dpkg-query >/dev/null &&
  dpkg-query -W -f '${Package} ${Version}\n' 'libopenmpi*' 'libmpich*' 'libpmix*' 2>/dev/null
for lib in $(ldconfig -p 2>/dev/null | grep -oE '/[^ ]*/lib(mpi|mpich|pmix)\.so\.[0-9]+$' | sort -u); do
  echo "LIB $lib"
  grep -a -o -m1 -E 'Open MPI v[0-9][0-9A-Za-z.]*' "$lib" | head -1 | sed 's/^/STR /'
  grep -a -o -m1 -E 'OpenPMIx [0-9][0-9A-Za-z.]*' "$lib" | head -1 | sed 's/^/STR /'
  # MPICH keeps its version as a bare string right after its release date (MPII_Version_date,
  # MPII_Version_string); only in a library that formats "MPICH Version:" lines.
  grep -a -q 'MPICH Version:' "$lib" && tr '\0' '\n' < "$lib" |
    grep -a -A1 -m1 -E '^(Mon|Tue|Wed|Thu|Fri|Sat|Sun) [A-Z][a-z]{2} [ 0-9][0-9] [0-9:]{8} [A-Z]+ [0-9]{4}$' |
    tail -1 | grep -E '^[0-9]+\.[0-9]+[0-9A-Za-z.]*$' | sed 's/^/STR MPICH /'
done
true
"""


# dpkg's library packages: Open MPI's libopenmpiN, MPICH's libmpichN (not libmpich-dev), PMIx's libpmixN.
DPKG_LIBRARIES = {
    "ompi": re.compile(r"^libopenmpi\d"),
    "mpich": re.compile(r"^libmpich\d"),
    "pmix": re.compile(r"^libpmix\d"),
}


def _debian_upstream(version: str) -> str:
    """Debian's upstream part; `4.3.0+really4.2.1` (a version taken back) is what it really is, 4.2.1."""
    return upstream_version(version).rsplit("+really", 1)[-1]


def parse_discovery(output: str) -> dict[str, str]:
    """Versions from dpkg (preferred) or from the libraries' own strings. Pure."""
    versions: dict[str, str] = {}
    for line in output.splitlines():
        parts = line.split()
        if len(parts) != 2 or not parts[1]:
            continue
        for key, package in DPKG_LIBRARIES.items():
            if package.match(parts[0]):
                versions.setdefault(key, _debian_upstream(parts[1]))
    for line in output.splitlines():
        if line.startswith("STR Open MPI v"):
            versions.setdefault("ompi", line.split("Open MPI v", 1)[1].strip())
        elif line.startswith("STR OpenPMIx "):
            versions.setdefault("pmix", line.split("OpenPMIx ", 1)[1].strip())
        elif line.startswith("STR MPICH "):
            versions.setdefault("mpich", line.split("MPICH ", 1)[1].strip())
    return versions


def mpi_of(versions: dict[str, str]) -> str | None:
    """The version key of the MPI an image carries (`ompi`, `mpich`), or None for no MPI."""
    found = [key for key in MPI_NAMES if versions.get(key)]
    return found[0] if found else None


def named(versions: dict[str, str]) -> str:
    """What was found, for people: `MPICH 4.0.2, PMIx client 5.0.7`, `no MPI, no PMIx client`."""
    mpi = mpi_of(versions)
    mpi_text = f"{MPI_NAMES[mpi]} {versions[mpi]}" if mpi else "no MPI"
    pmix = versions.get("pmix")
    return f"{mpi_text}, {f'PMIx client {pmix}' if pmix else 'no PMIx client'}"


def unrunnable(versions: dict[str, str], level: str) -> str | None:
    """Why a level cannot run in an image with these libraries, or None when it can."""
    if not versions.get("pmix"):
        return "no PMIx client library in the image: the REC's PMIx server has no client to talk to"
    if mpi_of(versions) is None and level not in expectations.pmix_levels():
        return "no MPI library in the image: an MPI level has nothing to run"
    return None


def discover(image: str) -> dict[str, str]:
    settings = engine.settings()
    proc = run(
        [
            "podman",
            "run",
            "--rm",
            "--pull=never",
            "--network=none",
            "--user",
            "0",
            *settings.ulimit_args,
            "--entrypoint",
            "sh",
            image,
            "-c",
            DISCOVER_SCRIPT,
        ],
        env=settings.env,
        check=False,
        timeout=120,
        error=ConformanceError,
    )
    if proc.returncode == 125:
        raise ConformanceError(f"cannot run image {image!r}: {proc.stderr.strip().splitlines()[-1:]}")
    return parse_discovery(proc.stdout)


def injected_levels(tools_dir: str, names: list[str]) -> list[Level]:
    """The matrix levels with recapp's programs taken from a read-only bind mount."""
    out = []
    for name in names:
        level = LEVELS[name]
        commands = [[f"{TOOLS_MOUNT}/{cmd[0]}", *cmd[1:]] for cmd in level.commands]
        out.append(dataclasses.replace(level, commands=commands, mounts=[f"{tools_dir}:{TOOLS_MOUNT}"]))
    return out


def validate_app(
    backend: ClusterBackend,
    image: str,
    recs: list[str],
    levels: list[str],
    out_dir: Path,
    *,
    step: Step | None = None,
) -> tuple[int, MatrixRecord]:
    """(static checks' pytest status, the matrix rows of image against every REC)."""
    say = step or (lambda _t: None)
    found = image_ref(image)
    if found is None or found.id is None:
        raise ConformanceError(f"APP image {image!r} not found in the local image store")
    say(f"discovering MPI and PMIx in {image}")
    versions = {**discover(image), **found.versions}
    app = ImageRef(ref=image, id=found.id, versions=versions)
    say(f"{image}: {named(versions)}")
    say("static APP checks")
    out_dir.mkdir(parents=True, exist_ok=True)
    static = run_suite("images", rec_image=None, app_image=image, junit=str(out_dir / "static-junit.xml"))
    skipped = {name: why for name in levels if (why := unrunnable(versions, name))}
    runnable = [name for name in levels if name not in skipped]
    suite, workload = TOOLS[mpi_of(versions) or "ompi"]
    tools = build_image(BuildRequest("app", suite, workload=workload)).tag if runnable else None
    started_at = datetime.now(UTC)
    t0 = time.monotonic()
    cells, pairs, rec_refs = [], [], []
    for rec in recs:
        rec_ref = image_ref(rec)
        if rec_ref is None or rec_ref.id is None:
            raise ConformanceError(f"REC image {rec!r} not found in the local image store")
        rec_refs.append(rec_ref)
        pair_cells: list[MatrixCell] = []
        if tools is not None:  # a cluster only when some level can run
            name = f"va{secrets.token_hex(3)}"
            backend.up(
                load_spec(
                    {"name": name, "nodes": 2, "slots_per_node": 2, "rec_image": rec, "ready_timeout_s": 180}
                )
            )
            try:
                tools_dir = backend.deliver_binaries(name, tools, step=say)
                pair_cells = run_pair(
                    backend, name, rec, image, injected_levels(tools_dir, runnable), out_dir, say, versions
                )
            finally:
                backend.down(name)
        pair_cells += [
            MatrixCell(rec=rec, app=image, level=lv, status="SKIPPED", reason=why)
            for lv, why in skipped.items()
        ]
        pair_cells.sort(key=lambda c: levels.index(c.level))
        cells += pair_cells
        pairs.append(summarise_pair(rec_ref, app, pair_cells))
    record = MatrixRecord(
        started_at=started_at,
        wall_s=round(time.monotonic() - t0, 1),
        levels=levels,
        recs=rec_refs,
        apps=[app],
        cells=cells,
        pairs=pairs,
    )
    return static, record
