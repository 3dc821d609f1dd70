"""Container-engine settings derived from the host, passed by recapp itself.

recapp never edits /etc: what the host needs (an OCI runtime that works with its cgroup layout,
ulimits the process may actually set) goes into a recapp-owned containers.conf, handed to podman
and buildah through `CONTAINERS_CONF`, and into explicit flags.
"""

from __future__ import annotations

import resource
import shutil
import subprocess
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from recapp.errors import RecappError
from recapp.host.paths import sub
from recapp.host.runner import run

# podman's compiled-in defaults: when the host's hard limits are lower and the process lacks
# CAP_SYS_RESOURCE, every container start fails with "operation not permitted".
PODMAN_DEFAULT_NOFILE = 1048576
PODMAN_DEFAULT_NPROC = 4194304


@dataclass(frozen=True)
class CgroupLayout:
    version: str  # "v2", "v1" or "hybrid"

    @property
    def crun_works(self) -> bool:
        # crun refuses hybrid hosts outright ("cgroups in hybrid mode not supported").
        return self.version != "hybrid"


@dataclass(frozen=True)
class EngineSettings:
    runtime: str
    nofile: int
    nproc: int
    cgroups: CgroupLayout
    conf_path: Path = field(compare=False)

    @property
    def env(self) -> dict[str, str]:
        """Environment for every podman/buildah call recapp makes."""
        return {"CONTAINERS_CONF": str(self.conf_path), "PODMAN_IGNORE_CGROUPSV1_WARNING": "1"}

    @property
    def ulimit_args(self) -> list[str]:
        return [
            "--ulimit",
            f"nofile={self.nofile}:{self.nofile}",
            "--ulimit",
            f"nproc={self.nproc}:{self.nproc}",
        ]


def detect_cgroups(root: Path = Path("/sys/fs/cgroup")) -> CgroupLayout:
    if (root / "cgroup.controllers").exists():
        return CgroupLayout("v2")
    if (root / "unified").is_dir() or _has_unified_mount():
        return CgroupLayout("hybrid")
    return CgroupLayout("v1")


def _has_unified_mount() -> bool:
    try:
        mounts = Path("/proc/self/mounts").read_text()
    except OSError:
        return False
    return any(line.split()[2] == "cgroup2" for line in mounts.splitlines() if len(line.split()) > 2)


def choose_runtime(cgroups: CgroupLayout) -> str:
    """runc where crun cannot run (cgroup v1/hybrid), crun where it can and is installed."""
    if cgroups.version == "v2" and shutil.which("crun"):
        return "crun"
    if shutil.which("runc"):
        return "runc"
    return "crun" if shutil.which("crun") else "runc"


def hard_limit(which: int, engine_default: int) -> int:
    _soft, hard = resource.getrlimit(which)
    if hard == resource.RLIM_INFINITY:
        return engine_default
    return min(hard, engine_default)


def pid_max(path: Path = Path("/proc/sys/kernel/pid_max")) -> int:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return PODMAN_DEFAULT_NPROC


def render_containers_conf(runtime: str, nofile: int, nproc: int) -> str:
    return (
        "# Written by recapp from `recapp doctor`'s findings; recapp never edits /etc.\n"
        "[containers]\n"
        f'default_ulimits = ["nofile={nofile}:{nofile}", "nproc={nproc}:{nproc}"]\n'
        "\n[engine]\n"
        f'runtime = "{runtime}"\n'
    )


@cache
def settings() -> EngineSettings:
    """The settings for this host, with the recapp-owned containers.conf written (idempotent)."""
    cgroups = detect_cgroups()
    runtime = choose_runtime(cgroups)
    nofile = hard_limit(resource.RLIMIT_NOFILE, PODMAN_DEFAULT_NOFILE)
    # Measured here: podman's own process runs with nproc capped at kernel.pid_max, so a container
    # asking for more than that fails even when the hard limit is higher.
    nproc = min(hard_limit(resource.RLIMIT_NPROC, PODMAN_DEFAULT_NPROC), pid_max())
    conf = sub("engine") / "containers.conf"
    text = render_containers_conf(runtime, nofile, nproc)
    if not conf.exists() or conf.read_text() != text:
        conf.write_text(text)
    return EngineSettings(runtime=runtime, nofile=nofile, nproc=nproc, cgroups=cgroups, conf_path=conf)


def podman(
    *args: str,
    error: type[RecappError] = RecappError,
    check: bool = True,
    timeout: float | None = 300,
    what: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """`podman ARGS` with recapp's engine settings, through the one runner; failures raise `error`."""
    return run(
        ["podman", *args],
        error=error,
        env=settings().env,
        check=check,
        timeout=timeout,
        what=what or f"podman {' '.join(args[:2])}",
    )
