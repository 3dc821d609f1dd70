"""Validate a user's own APP image (one recapp did not build, so it carries no labels): discover its
MPI and PMIx versions by inspection, run the static APP checks, and produce its matrix row against
RECs with recapp's probe and MPI checks injected at run time (bind-mounted, never baked in)."""

from __future__ import annotations

import dataclasses
import re
import secrets
import time
from datetime import UTC, datetime
from pathlib import Path

from recapp.builder.build import BuildRequest, build_image
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
from recapp.reports.records import ImageRef, MatrixRecord

# Built on the oldest suite (oldest glibc), linked to the stable sonames libmpi.so.40 / libpmix.so.2,
# so the same binaries run in most Debian-family APPs.
TOOLS_SUITE = "bookworm"
TOOLS_MOUNT = "/opt/recapp/bin"

DISCOVER_SCRIPT = r"""
command -v dpkg-query >/dev/null &&
  dpkg-query -W -f '${Package} ${Version}\n' 'libopenmpi*' 'libpmix*' 2>/dev/null
for lib in $(ldconfig -p 2>/dev/null | grep -oE '/[^ ]*/lib(mpi|pmix)\.so\.[0-9]+$' | sort -u); do
  echo "LIB $lib"
  grep -a -o -m1 -E 'Open MPI v[0-9][0-9A-Za-z.]*' "$lib" | head -1 | sed 's/^/STR /'
  grep -a -o -m1 -E 'OpenPMIx [0-9][0-9A-Za-z.]*' "$lib" | head -1 | sed 's/^/STR /'
done
true
"""


def parse_discovery(output: str) -> dict[str, str]:
    """Versions from dpkg (preferred) or from the libraries' own strings. Pure."""
    versions: dict[str, str] = {}
    for line in output.splitlines():
        parts = line.split()
        if len(parts) == 2 and re.match(r"^libopenmpi\d", parts[0]) and parts[1]:
            versions.setdefault("ompi", upstream_version(parts[1]))
        elif len(parts) == 2 and re.match(r"^libpmix\d", parts[0]) and parts[1]:
            versions.setdefault("pmix", upstream_version(parts[1]))
    for line in output.splitlines():
        if line.startswith("STR Open MPI v"):
            versions.setdefault("ompi", line.split("Open MPI v", 1)[1].strip())
        elif line.startswith("STR OpenPMIx "):
            versions.setdefault("pmix", line.split("OpenPMIx ", 1)[1].strip())
    return versions


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
    say("static APP checks")
    out_dir.mkdir(parents=True, exist_ok=True)
    static = run_suite("images", rec_image=None, app_image=image, junit=str(out_dir / "static-junit.xml"))
    tools = build_image(BuildRequest("app", TOOLS_SUITE, workload="mpi")).tag
    started_at = datetime.now(UTC)
    t0 = time.monotonic()
    cells, pairs, rec_refs = [], [], []
    for rec in recs:
        rec_ref = image_ref(rec)
        if rec_ref is None or rec_ref.id is None:
            raise ConformanceError(f"REC image {rec!r} not found in the local image store")
        rec_refs.append(rec_ref)
        name = f"va{secrets.token_hex(3)}"
        backend.up(
            load_spec(
                {"name": name, "nodes": 2, "slots_per_node": 2, "rec_image": rec, "ready_timeout_s": 180}
            )
        )
        try:
            tools_dir = backend.deliver_binaries(name, tools, step=say)
            pair_cells = run_pair(
                backend, name, rec, image, injected_levels(tools_dir, levels), out_dir, say, versions
            )
        finally:
            backend.down(name)
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
