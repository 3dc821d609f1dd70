"""Host checks behind `recapp doctor`: what this machine has, and whether recapp can work on it.

Each check is two halves: a `gather_*` function that reads the host (files, limits, short
commands) into a small facts record, and a `judge_*` function that turns those facts into one
`Finding`. The judges are pure, so tests feed them fake hosts; `run_checks` joins the halves.
Nothing here changes the host: fixes are printed, never applied.
"""

from __future__ import annotations

import os
import platform
import pwd
import re
import resource
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from recapp.errors import HostError, RecappError
from recapp.host import engine, network
from recapp.host.findings import Finding, Status
from recapp.host.findings import host_ok as host_ok  # callers take the verdict helpers from here
from recapp.host.paths import state_dir
from recapp.host.runner import last_line, run

GIB = 1024**3
DISK_WARN_BYTES = 20 * GIB
DISK_FAIL_BYTES = 5 * GIB
# Native overlay inside a user namespace: mounts allowed since 5.11; podman trusts it from 5.13.
OVERLAY_USERNS_KERNEL = (5, 13)
SUBID_COUNT = 65536  # enough for images whose files use ids up to 65535
SUBID_FIRST = 100000  # where useradd starts allocating
SMOKE_IMAGES = ("localhost/recapp/base:trixie", "localhost/recapp/base:bookworm", "localhost/recapp/base:sid")
# Runtimes live in sbin, which a non-root user's PATH often lacks; podman looks there anyway.
SBIN_DIRS = ("/usr/local/sbin", "/usr/sbin", "/sbin")


# ---------------------------------------------------------------- small pure helpers


def parse_version(text: str) -> str | None:
    """The first dotted version on the first line of a `--version` output ("podman version 4.3.1")."""
    first = text.strip().splitlines()[0] if text.strip() else ""
    match = re.search(r"\d+(?:\.\d+)+[^\s,()]*", first)
    return match.group(0) if match else None


def kernel_version(release: str) -> tuple[int, int] | None:
    """(major, minor) of a kernel release string such as "6.18.44-fc-v657"."""
    match = re.match(r"(\d+)\.(\d+)", release)
    return (int(match.group(1)), int(match.group(2))) if match else None


def gib(n_bytes: int) -> str:
    return f"{n_bytes / GIB:.1f} GiB"


def which(name: str) -> str | None:
    """Like shutil.which, but also looking in the sbin directories."""
    path = os.pathsep.join([os.environ.get("PATH", ""), *SBIN_DIRS])
    return shutil.which(name, path=path)


def tool_version(name: str) -> str | None:
    """The tool's version, "" when it is installed but prints none, None when it is absent."""
    exe = which(name)
    if exe is None:
        return None
    try:
        proc = run([exe, "--version"], error=HostError, check=False, timeout=10)
    except HostError:
        return ""
    return parse_version(proc.stdout or proc.stderr) or ""


def _with_version(name: str, version: str | None) -> str:
    return f"{name} {version}" if version else name


# ---------------------------------------------------------------- 1. engine tools

# Debian package that provides each tool. podman is required; buildah is the default build
# backend (the docker backend builds through podman's API instead); mmdebstrap makes base images
# from Debian's archive; newuidmap/newgidmap map ids for rootless podman.
PACKAGE_OF = {
    "podman": "podman",
    "buildah": "buildah",
    "mmdebstrap": "mmdebstrap",
    "newuidmap": "uidmap",
    "newgidmap": "uidmap",
}
REQUIRED_TOOLS = ("podman",)


def gather_tools() -> dict[str, str | None]:
    tools: dict[str, str | None] = {name: tool_version(name) for name in ("podman", "buildah", "mmdebstrap")}
    for name in ("newuidmap", "newgidmap"):  # they print no version
        tools[name] = "" if which(name) else None
    return tools


def judge_engine(tools: Mapping[str, str | None]) -> Finding:
    present = [_with_version(n, v) for n, v in tools.items() if v is not None]
    missing = [n for n, v in tools.items() if v is None]
    detail = "found: " + (", ".join(present) or "nothing")
    if missing:
        detail += "; missing: " + ", ".join(missing)
    packages = dict.fromkeys(PACKAGE_OF.get(n, n) for n in missing)
    fix = f"apt-get install {' '.join(packages)}" if packages else ""
    if any(tools.get(n) is None for n in REQUIRED_TOOLS):
        return Finding("engine", Status.FAIL, f"{detail} (recapp runs every container through podman)", fix)
    if missing:
        return Finding("engine", Status.WARN, detail, fix)
    return Finding("engine", Status.OK, detail)


# ---------------------------------------------------------------- 2. OCI runtime

CRUN_HYBRID = 'crun refuses cgroup v1 hybrid hosts ("cgroups in hybrid mode not supported")'


@dataclass(frozen=True)
class RuntimeFacts:
    cgroups: engine.CgroupLayout
    installed: dict[str, str]  # runtime name -> version ("" if unknown), installed ones only
    chosen: str


def gather_runtime(settings: engine.EngineSettings) -> RuntimeFacts:
    installed = {}
    for name in ("runc", "crun"):
        version = tool_version(name)
        if version is not None:
            installed[name] = version
    return RuntimeFacts(cgroups=settings.cgroups, installed=installed, chosen=settings.runtime)


def judge_runtime(facts: RuntimeFacts) -> Finding:
    layout = facts.cgroups.version
    usable = [r for r in facts.installed if r == "runc" or facts.cgroups.crun_works]
    have = ", ".join(_with_version(n, v) for n, v in facts.installed.items()) or "none"
    detail = f"cgroups {layout}; installed: {have}"
    if facts.chosen not in usable:
        why = f"; {CRUN_HYBRID}" if "crun" in facts.installed and not facts.cgroups.crun_works else ""
        return Finding(
            "oci-runtime",
            Status.FAIL,
            f"{detail}; no usable OCI runtime{why}",
            "apt-get install runc",
        )
    detail += f"; recapp uses {facts.chosen}"
    if not facts.cgroups.crun_works:
        detail += f" ({CRUN_HYBRID}, so recapp picks runc)"
    return Finding("oci-runtime", Status.OK, detail)


# ---------------------------------------------------------------- 3. ulimits

# An MPI rank opens sockets and shared-memory segments to each peer; a tiny limit breaks jobs.
NOFILE_LOW = 4096
PROC_LIMIT_NAMES = {"Max open files": "nofile", "Max processes": "nproc"}


@dataclass(frozen=True)
class UlimitFacts:
    hard_nofile: int | None  # this process's hard limits; None: unlimited
    hard_nproc: int | None
    nofile: int  # what recapp passes to containers
    nproc: int
    conf_path: Path
    # The hard limits podman itself runs with ("nofile"/"nproc" -> value, None: unlimited);
    # None when they could not be measured. podman may lower its own limits as it starts.
    podman_hard: Mapping[str, int | None] | None = None
    podman_error: str = ""


def _hard(which_limit: int) -> int | None:
    _soft, hard = resource.getrlimit(which_limit)
    return None if hard == resource.RLIM_INFINITY else hard


def parse_proc_limits(text: str) -> dict[str, int | None]:
    """Hard nofile/nproc from a /proc/PID/limits table ("unlimited" -> None)."""
    limits: dict[str, int | None] = {}
    for line in text.splitlines():
        cols = re.split(r"\s{2,}", line.strip())
        if len(cols) >= 3 and cols[0] in PROC_LIMIT_NAMES:
            limits[PROC_LIMIT_NAMES[cols[0]]] = None if cols[2] == "unlimited" else int(cols[2])
    return limits


def podman_own_limits(settings: engine.EngineSettings, timeout: float = 5.0) -> dict[str, int | None]:
    """The hard limits a running podman process has: the ceiling for every container it starts.

    podman 4.3 (and buildah) lower their own RLIMIT_NPROC hard limit as they start (measured
    here: to 32768, this host's kernel.pid_max), so the caller's limits are not the whole story.
    `podman system service` is read once its socket exists, i.e. after start-up; `--time` makes
    it exit on its own should recapp die first.
    """
    with tempfile.TemporaryDirectory(prefix="recapp-doctor-") as tmp:
        sock = Path(tmp) / "probe.sock"
        argv = ["podman", "system", "service", f"--time={int(timeout)}", f"unix://{sock}"]
        proc = subprocess.Popen(
            argv, env={**os.environ, **settings.env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            deadline = time.monotonic() + timeout
            while not sock.exists():
                if proc.poll() is not None:
                    raise HostError(f"podman system service: exit {proc.returncode} before listening")
                if time.monotonic() > deadline:
                    raise HostError(f"podman system service: no socket after {timeout:.0f} s")
                time.sleep(0.02)
            text = Path(f"/proc/{proc.pid}/limits").read_text()
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return parse_proc_limits(text)


def gather_ulimits(settings: engine.EngineSettings) -> UlimitFacts:
    podman_hard: dict[str, int | None] | None = None
    error = ""
    if which("podman") is None:
        error = "podman not found"
    else:
        try:
            podman_hard = podman_own_limits(settings)
        except (HostError, OSError) as exc:
            error = str(exc)
    return UlimitFacts(
        hard_nofile=_hard(resource.RLIMIT_NOFILE),
        hard_nproc=_hard(resource.RLIMIT_NPROC),
        nofile=settings.nofile,
        nproc=settings.nproc,
        conf_path=settings.conf_path,
        podman_hard=podman_hard,
        podman_error=error,
    )


def _lowest(*limits: int | None) -> int | None:
    """The tightest of several hard limits (None: unlimited)."""
    finite = [n for n in limits if n is not None]
    return min(finite) if finite else None


def judge_ulimits(facts: UlimitFacts) -> Finding:
    rows = (
        ("nofile", facts.hard_nofile, engine.PODMAN_DEFAULT_NOFILE, facts.nofile),
        ("nproc", facts.hard_nproc, engine.PODMAN_DEFAULT_NPROC, facts.nproc),
    )
    parts, lowered, too_high = [], [], []
    for name, hard, default, passed in rows:
        own = facts.podman_hard.get(name) if facts.podman_hard is not None else None
        ceiling = _lowest(hard, own)
        text = f"{name} hard {'unlimited' if hard is None else hard}"
        if own is not None and (hard is None or own < hard):
            text += f", podman lowers its own to {own}"
        parts.append(f"{text} (podman default {default})")
        if ceiling is not None and passed > ceiling:
            too_high.append(f"{name}={passed} > {ceiling}")
        elif ceiling is not None and ceiling < default:
            lowered.append(f"{name}={passed}:{passed}")
    detail = "; ".join(parts)
    if facts.podman_hard is None:
        detail += f"; podman's own limits not measured ({facts.podman_error})"
    if too_high:
        return Finding(
            "ulimits",
            Status.FAIL,
            f"{detail}; recapp's default_ulimits exceed what podman may set ({', '.join(too_high)}): "
            "containers cannot start",
            "cap the limits recapp.host.engine.settings() passes at podman's own hard limits "
            f"(then delete {facts.conf_path} so it is rewritten)",
        )
    if lowered:
        detail += (
            f"; podman's defaults exceed these limits, so recapp passes default_ulimits "
            f"{' '.join(lowered)} in its own {facts.conf_path} (CONTAINERS_CONF); /etc is left alone"
        )
        fix = (
            f"nothing for recapp; for plain podman outside recapp: export CONTAINERS_CONF={facts.conf_path} "
            f"or pass --ulimit {' --ulimit '.join(lowered)}"
        )
    else:
        detail += "; podman's defaults fit"
        fix = ""
    if facts.hard_nofile is not None and facts.hard_nofile < NOFILE_LOW:
        return Finding(
            "ulimits",
            Status.WARN,
            f"{detail}; nofile below {NOFILE_LOW} limits MPI jobs with many ranks",
            "raise the hard nofile limit (limits.conf or the service's LimitNOFILE=)",
        )
    return Finding("ulimits", Status.OK, detail, fix)


# ---------------------------------------------------------------- 4. user namespaces


@dataclass(frozen=True)
class UsernsFacts:
    max_user_namespaces: int | None  # None: the file is absent (kernel without user namespaces)
    unprivileged_userns_clone: int | None  # None: the Debian/Ubuntu knob is absent (allowed)
    apparmor_restrict: int | None  # Ubuntu's kernel.apparmor_restrict_unprivileged_userns


def read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def gather_userns(proc_sys: Path = Path("/proc/sys")) -> UsernsFacts:
    return UsernsFacts(
        max_user_namespaces=read_int(proc_sys / "user/max_user_namespaces"),
        unprivileged_userns_clone=read_int(proc_sys / "kernel/unprivileged_userns_clone"),
        apparmor_restrict=read_int(proc_sys / "kernel/apparmor_restrict_unprivileged_userns"),
    )


def judge_userns(facts: UsernsFacts) -> Finding:
    # The REC's unprivileged user creates user namespaces for the nested APP container.
    if facts.max_user_namespaces is None:
        return Finding(
            "user-namespaces",
            Status.FAIL,
            "/proc/sys/user/max_user_namespaces is missing: the kernel has no user namespaces",
            "use a kernel built with CONFIG_USER_NS=y",
        )
    detail = f"user.max_user_namespaces={facts.max_user_namespaces}"
    if facts.unprivileged_userns_clone is not None:
        detail += f", kernel.unprivileged_userns_clone={facts.unprivileged_userns_clone}"
    if facts.max_user_namespaces == 0:
        return Finding(
            "user-namespaces",
            Status.FAIL,
            f"{detail}: user namespaces are disabled",
            "sysctl -w user.max_user_namespaces=15000 (persist it in /etc/sysctl.d/)",
        )
    if facts.unprivileged_userns_clone == 0:
        return Finding(
            "user-namespaces",
            Status.FAIL,
            f"{detail}: unprivileged users cannot create user namespaces (nested rootless podman needs them)",
            "sysctl -w kernel.unprivileged_userns_clone=1 (persist it in /etc/sysctl.d/)",
        )
    if facts.apparmor_restrict == 1:
        return Finding(
            "user-namespaces",
            Status.WARN,
            f"{detail}, kernel.apparmor_restrict_unprivileged_userns=1: AppArmor may deny nested podman",
            "sysctl -w kernel.apparmor_restrict_unprivileged_userns=0, or an AppArmor profile for podman",
        )
    return Finding("user-namespaces", Status.OK, f"{detail}: enabled")


# ---------------------------------------------------------------- 5. subordinate ids


@dataclass(frozen=True)
class SubidFacts:
    users: list[tuple[str, int | None]]  # (name, uid) of the users that run podman
    subuid: str  # contents of /etc/subuid ("" if absent)
    subgid: str


def parse_subids(text: str) -> list[tuple[str, int, int]]:
    """(owner, first, count) per valid line of /etc/subuid or /etc/subgid; owner is a name or uid."""
    entries = []
    for line in text.splitlines():
        fields = line.strip().split(":")
        if len(fields) == 3 and fields[1].isdigit() and fields[2].isdigit():
            entries.append((fields[0], int(fields[1]), int(fields[2])))
    return entries


def ids_for(entries: Sequence[tuple[str, int, int]], name: str, uid: int | None) -> int:
    """How many subordinate ids the user owns (entries may name the user or its uid)."""
    owners = {name} | ({str(uid)} if uid is not None else set())
    return sum(count for owner, _first, count in entries if owner in owners)


def next_free_range(entries: Sequence[tuple[str, int, int]], count: int = SUBID_COUNT) -> tuple[int, int]:
    """A first-last range after every range in use, for `usermod --add-subuids`."""
    first = max([SUBID_FIRST, *(start + n for _owner, start, n in entries)])
    return first, first + count - 1


def gather_subids(etc: Path = Path("/etc")) -> SubidFacts:
    names = ["root", pwd.getpwuid(os.getuid()).pw_name]
    if os.environ.get("SUDO_USER"):
        names.append(os.environ["SUDO_USER"])
    users: list[tuple[str, int | None]] = []
    for name in dict.fromkeys(names):  # de-duplicated, in order
        try:
            users.append((name, pwd.getpwnam(name).pw_uid))
        except KeyError:
            users.append((name, None))

    def read(path: Path) -> str:
        try:
            return path.read_text()
        except OSError:
            return ""

    return SubidFacts(users=users, subuid=read(etc / "subuid"), subgid=read(etc / "subgid"))


def judge_subids(facts: SubidFacts) -> Finding:
    uids, gids = parse_subids(facts.subuid), parse_subids(facts.subgid)
    have, short, fixes = [], [], []
    for name, uid in facts.users:
        n_uids, n_gids = ids_for(uids, name, uid), ids_for(gids, name, uid)
        have.append(f"{name} {n_uids} uids/{n_gids} gids")
        if n_uids >= SUBID_COUNT and n_gids >= SUBID_COUNT:
            continue
        short.append(name)
        flags = []
        for flag, count, entries in (("--add-subuids", n_uids, uids), ("--add-subgids", n_gids, gids)):
            if count < SUBID_COUNT:
                first, last = next_free_range(entries)
                flags.append(f"{flag} {first}-{last}")
                entries.append((name, first, SUBID_COUNT))  # the next user's range comes after this one
        fixes.append(f"usermod {' '.join(flags)} {name}")
    detail = "subordinate ids in /etc/subuid, /etc/subgid: " + ", ".join(have)
    if short:
        return Finding(
            "subids",
            Status.WARN,
            f"{detail}; fewer than {SUBID_COUNT} for {', '.join(short)}: rootless podman and "
            "--userns=auto cannot map a whole image for them (rootful runs are unaffected)",
            "; ".join(fixes),
        )
    return Finding("subids", Status.OK, detail)


# ---------------------------------------------------------------- 6. native overlay in a user namespace


@dataclass(frozen=True)
class OverlayFacts:
    kernel: str  # uname release
    probe_ok: bool | None  # None: the live probe could not run
    probe_detail: str = ""  # why it failed or could not run


def overlay_probe_argv(unshare: str, root: Path) -> list[str]:
    """`mount` run as root of a new user namespace: the kernel treats it as an unprivileged mount."""
    opts = f"lowerdir={root}/lower,upperdir={root}/upper,workdir={root}/work"
    return [unshare, "--user", "--map-root-user", "--mount",
            "mount", "-t", "overlay", "overlay", "-o", opts, str(root / "merged")]  # fmt: skip


def probe_overlay_in_userns(workdir: Path) -> tuple[bool | None, str]:
    """Mount an overlay inside a fresh user+mount namespace (the namespace dies with `mount`)."""
    unshare = which("unshare")
    if unshare is None:
        return None, "unshare not found (util-linux)"
    if any(c in str(workdir) for c in ",:"):
        return None, f"{workdir}: path unusable in overlay mount options"
    with tempfile.TemporaryDirectory(prefix="doctor-overlay-", dir=workdir) as tmp:
        root = Path(tmp)
        for d in ("lower", "upper", "work", "merged"):
            (root / d).mkdir()
        try:
            proc = run(
                overlay_probe_argv(unshare, root),
                error=HostError,
                check=False,
                timeout=10,
            )
        finally:
            # overlay leaves work/work with mode 000, which would stop the clean-up
            inner = root / "work" / "work"
            if inner.exists():
                inner.chmod(0o700)
    if proc.returncode == 0:
        return True, ""
    return False, last_line(proc.stderr or proc.stdout)


def gather_overlay(workdir: Path) -> OverlayFacts:
    ok, why = probe_overlay_in_userns(workdir)
    return OverlayFacts(kernel=platform.release(), probe_ok=ok, probe_detail=why)


def judge_overlay(facts: OverlayFacts) -> Finding:
    needed = "nested rootless podman in the REC stores images with it (no fuse-overlayfs)"
    if facts.probe_ok:
        return Finding(
            "overlay-userns",
            Status.OK,
            f"kernel {facts.kernel}: overlay mounts inside a user namespace (live probe)",
        )
    if facts.probe_ok is False:
        return Finding(
            "overlay-userns",
            Status.FAIL,
            f"kernel {facts.kernel}: overlay mount inside a user namespace failed "
            f"({facts.probe_detail}); {needed}",
            "use a kernel >= {}.{} with overlay enabled (modprobe overlay)".format(*OVERLAY_USERNS_KERNEL),
        )
    version = kernel_version(facts.kernel)
    base = f"kernel {facts.kernel}; live probe unavailable ({facts.probe_detail})"
    if version is not None and version >= OVERLAY_USERNS_KERNEL:
        return Finding("overlay-userns", Status.OK, f"{base}; kernel >= 5.13 supports it")
    return Finding(
        "overlay-userns",
        Status.WARN,
        f"{base}; kernels before 5.13 may lack it; {needed}",
        "install util-linux (unshare) so the live probe can run, or use a kernel >= 5.13",
    )


# ---------------------------------------------------------------- 7. disk space


@dataclass(frozen=True)
class DiskPlace:
    label: str  # what is kept there ("images", "state")
    path: str
    free: int | None  # bytes; None when it could not be measured
    error: str = ""


def free_bytes(path: Path) -> int:
    """Free bytes on the filesystem that holds path (or would, once created)."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return shutil.disk_usage(path).free


def measure(label: str, path: str) -> DiskPlace:
    try:
        return DiskPlace(label, path, free_bytes(Path(path)))
    except OSError as exc:
        return DiskPlace(label, path, None, exc.strerror or str(exc))


def podman_graphroot(settings: engine.EngineSettings) -> str:
    proc = run(
        ["podman", "info", "--format", "{{.Store.GraphRoot}}"],
        error=HostError,
        what="podman info",
        env=settings.env,
        timeout=30,
    )
    return proc.stdout.strip()


def gather_disk(settings: engine.EngineSettings) -> list[DiskPlace]:
    places = []
    try:
        places.append(measure("images", podman_graphroot(settings)))
    except HostError as exc:
        places.append(DiskPlace("images", "(podman storage)", None, str(exc)))
    places.append(measure("state", str(state_dir())))
    return places


def judge_disk(places: Sequence[DiskPlace]) -> Finding:
    parts, status, low = [], Status.OK, []
    for p in places:
        if p.free is None:
            parts.append(f"{p.label} {p.path}: not measured ({p.error})")
            status = Status.FAIL if status is Status.FAIL else Status.WARN
            continue
        parts.append(f"{p.label} {p.path}: {gib(p.free)} free")
        if p.free < DISK_FAIL_BYTES:
            status = Status.FAIL
            low.append(p.path)
        elif p.free < DISK_WARN_BYTES:
            status = Status.FAIL if status is Status.FAIL else Status.WARN
            low.append(p.path)
    detail = "; ".join(parts)
    if status is Status.OK:
        return Finding("disk", Status.OK, detail)
    fix = (
        f"free space on {', '.join(low)} (`podman image prune`, `podman system prune`): "
        f"keep at least {gib(DISK_WARN_BYTES)} free"
        if low
        else "check that podman runs (`podman info`) and the state dir is readable"
    )
    return Finding(
        "disk",
        status,
        f"{detail} (warn below {gib(DISK_WARN_BYTES)}, fail below {gib(DISK_FAIL_BYTES)})",
        fix,
    )


# ---------------------------------------------------------------- 8. smoke run


@dataclass(frozen=True)
class SmokeFacts:
    image: str | None  # None: no local image to run
    returncode: int | None = None
    message: str = ""  # last stderr line on failure, or why the run was skipped
    seconds: float = 0.0
    runtime: str = ""


def pick_smoke_image(local: Sequence[str]) -> str | None:
    """A recapp base image if there is one (trixie first), else any tagged local image."""
    for name in SMOKE_IMAGES:
        if name in local:
            return name
    tagged = [n for n in local if "<none>" not in n]
    return tagged[0] if tagged else None


def smoke_argv(image: str, name: str, settings: engine.EngineSettings) -> list[str]:
    # --pull=never: no registry is assumed; --network=none: the check is about starting at all.
    return [
        "podman", "run", "--rm", "--pull=never", "--network=none", "--name", name,
        *settings.ulimit_args, image, "true",
    ]  # fmt: skip


def local_images(settings: engine.EngineSettings) -> list[str]:
    listed = run(
        ["podman", "images", "--format", "{{.Repository}}:{{.Tag}}"],
        error=HostError,
        what="podman images",
        env=settings.env,
        timeout=30,
    )
    return listed.stdout.split()


def gather_smoke(settings: engine.EngineSettings, name: str) -> SmokeFacts:
    if which("podman") is None:
        return SmokeFacts(image=None, message="podman not found")
    image = pick_smoke_image(local_images(settings))
    if image is None:
        return SmokeFacts(image=None, message="no local image")
    start = time.monotonic()
    try:
        proc = run(
            smoke_argv(image, name, settings), error=HostError, env=settings.env, check=False, timeout=60
        )
    except HostError:
        # timed out: --rm never ran, so remove the container here
        run(["podman", "rm", "--force", "--ignore", name], error=HostError, env=settings.env, check=False)
        raise
    return SmokeFacts(
        image=image,
        returncode=proc.returncode,
        message="" if proc.returncode == 0 else last_line(proc.stderr or proc.stdout),
        seconds=time.monotonic() - start,
        runtime=settings.runtime,
    )


# Known failure lines -> what to do.
SMOKE_HINTS = (
    ("rlimit", "the ulimits recapp passes exceed what podman may set: see the ulimits check"),
    ("hybrid mode not supported", "crun cannot run here: apt-get install runc (recapp then selects it)"),
    ("newuidmap", "apt-get install uidmap and check the subids check"),
    ("no space left", "free disk space: see the disk check"),
)


def judge_smoke(facts: SmokeFacts) -> Finding:
    if facts.image is None:
        return Finding(
            "smoke-run",
            Status.SKIP,
            f"skipped: {facts.message}",
            "run `recapp base` to create localhost/recapp/base:trixie, then `recapp doctor` again",
        )
    if facts.returncode == 0:
        return Finding(
            "smoke-run",
            Status.OK,
            f"podman run {facts.image} true: started and exited 0 in {facts.seconds:.1f} s "
            f"(runtime {facts.runtime})",
        )
    lowered = facts.message.lower()
    fix = next(
        (hint for key, hint in SMOKE_HINTS if key in lowered),
        "run the command by hand with --log-level=debug",
    )
    return Finding(
        "smoke-run",
        Status.FAIL,
        f"podman run {facts.image} true: exit {facts.returncode}: {facts.message}",
        fix,
    )


# ---------------------------------------------------------------- all together


def default_smoke_name() -> str:
    return f"recapp-doctor-{os.getpid()}"


def guarded(name: str, check: Callable[[], Finding]) -> Finding:
    """The check's finding; a failure to even look becomes a FAIL naming the cause."""
    try:
        return check()
    except (OSError, RecappError) as exc:
        return Finding(
            name,
            Status.FAIL,
            f"could not check: {exc}",
            "fix what the detail names, then run `recapp doctor` again",
        )


def probe_image(settings: engine.EngineSettings) -> str | None:
    """A recapp base image to probe with (it has `sleep` and `getent`), trixie first; None if none."""
    if which("podman") is None:
        return None
    local = local_images(settings)
    return next((name for name in SMOKE_IMAGES if name in local), None)


def run_checks(
    *, smoke_name: str | None = None, image: str | None = None, why_no_image: str = ""
) -> list[Finding]:
    """Every host check, in order. smoke_name names the throw-away smoke-run container; image is the
    one the network probe runs (the CLI builds a base image when there is none; None: look for one)."""
    try:
        settings = engine.settings()
    except OSError as exc:
        raise HostError(f"recapp state dir: cannot write engine settings: {exc}") from exc
    container = smoke_name or default_smoke_name()
    if image is None and not why_no_image:
        try:
            image = probe_image(settings)
        except HostError as exc:
            why_no_image = str(exc)
        why_no_image = why_no_image or f"none of {', '.join(SMOKE_IMAGES)} exists"
    checks: list[tuple[str, Callable[[], Finding]]] = [
        ("engine", lambda: judge_engine(gather_tools())),
        ("oci-runtime", lambda: judge_runtime(gather_runtime(settings))),
        ("ulimits", lambda: judge_ulimits(gather_ulimits(settings))),
        ("user-namespaces", lambda: judge_userns(gather_userns())),
        ("subids", lambda: judge_subids(gather_subids())),
        ("overlay-userns", lambda: judge_overlay(gather_overlay(state_dir()))),
        ("disk", lambda: judge_disk(gather_disk(settings))),
        ("smoke-run", lambda: judge_smoke(gather_smoke(settings, container))),
        (
            "network",
            lambda: network.judge_network(
                network.gather_network(settings, image, why_no_image, which, network.ProbeNames.for_pid())
            ),
        ),
    ]
    # The checks mostly wait on short commands; running them side by side keeps doctor fast.
    with ThreadPoolExecutor(max_workers=len(checks)) as pool:
        futures = [pool.submit(guarded, name, check) for name, check in checks]
        return [future.result() for future in futures]
