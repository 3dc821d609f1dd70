"""Static security facts of an image, read from its mounted root filesystem (nothing in it runs).

- sshd: no `sshd` binary anywhere on the filesystem, no openssh-server package;
- the configured default user is not root;
- setuid/setgid files and files with capabilities (the `security.capability` xattr, read with the
  host's `getcap`): only the allow-listed ones (a REC's newuidmap/newgidmap with file capabilities).

`podman image mount` needs root (or `podman unshare`): recapp's checks run as root on this kind of
host, like the engine itself.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from recapp.conformance.images import facts
from recapp.errors import ConformanceError
from recapp.host import engine, images
from recapp.host.runner import last_line, run

# What may carry privilege in each kind of image: path → the file capability it must have (or None
# for setuid files, never allowed). newuidmap/newgidmap map the nested engine's user namespace.
ALLOWED_PRIVILEGED: dict[str, dict[str, str]] = {
    "rec": {"/usr/bin/newuidmap": "cap_setuid=ep", "/usr/bin/newgidmap": "cap_setgid=ep"},
    "app": {},
}


@dataclass(frozen=True)
class PrivilegedFile:
    path: str  # inside the image, absolute
    setuid: bool
    setgid: bool
    capabilities: str | None  # as getcap prints them, e.g. cap_setuid=ep

    def describe(self) -> str:
        what = [w for w, on in (("setuid", self.setuid), ("setgid", self.setgid)) if on]
        if self.capabilities:
            what.append(self.capabilities)
        return f"{self.path} ({', '.join(what)})"


@dataclass(frozen=True)
class ImageFacts:
    ref: str
    user: str
    sshd_paths: list[str]
    openssh_server_installed: bool
    privileged: list[PrivilegedFile]


@contextlib.contextmanager
def mounted(ref: str) -> Iterator[Path]:
    """The image's root filesystem, mounted read-only on the host for the duration."""
    if images.image_id(ref) is None:
        raise ConformanceError(f"image {ref!r} not found in the local image store")
    if os.geteuid() != 0:
        raise ConformanceError("the security report mounts images and needs root (podman image mount)")
    proc = engine.podman("image", "mount", ref, check=False)
    if proc.returncode != 0:
        raise ConformanceError(f"cannot mount image {ref!r}: {last_line(proc.stderr)}")
    try:
        yield Path(proc.stdout.strip())
    finally:
        engine.podman("image", "unmount", ref, check=False)


def _walk_files(root: Path) -> Iterator[tuple[str, os.stat_result]]:
    """(path inside the image, lstat) of every regular file; symlinks are not followed."""
    for dirpath, dirnames, filenames in os.walk(root):
        for name in filenames:
            full = os.path.join(dirpath, name)
            with contextlib.suppress(OSError):
                st = os.lstat(full)
                if stat.S_ISREG(st.st_mode):
                    yield "/" + os.path.relpath(full, root), st
        dirnames[:] = [d for d in dirnames if not os.path.islink(os.path.join(dirpath, d))]


def parse_getcap(output: str, root: Path) -> dict[str, str]:
    """`getcap -r ROOT` lines (`ROOT/usr/bin/newuidmap cap_setuid=ep`) → image path → capabilities."""
    found: dict[str, str] = {}
    prefix = str(root).rstrip("/")
    for line in output.splitlines():
        path, _, caps = line.strip().rpartition(" ")
        if path.startswith(prefix) and caps:
            found["/" + path[len(prefix) :].lstrip("/")] = caps
    return found


def file_capabilities(root: Path) -> dict[str, str]:
    getcap = shutil.which("getcap") or "/usr/sbin/getcap"
    if not Path(getcap).exists():
        raise ConformanceError("getcap is not installed on this host (apt-get install libcap2-bin)")
    proc = run([getcap, "-r", str(root)], check=False, timeout=300, error=ConformanceError)
    return parse_getcap(proc.stdout, root)


def privileged_files(root: Path) -> list[PrivilegedFile]:
    caps = file_capabilities(root)
    found: dict[str, PrivilegedFile] = {}
    for path, st in _walk_files(root):
        if st.st_mode & (stat.S_ISUID | stat.S_ISGID):
            found[path] = PrivilegedFile(
                path, bool(st.st_mode & stat.S_ISUID), bool(st.st_mode & stat.S_ISGID), caps.get(path)
            )
    for path, cap in caps.items():
        if path not in found:
            found[path] = PrivilegedFile(path, False, False, cap)
    return sorted(found.values(), key=lambda f: f.path)


def sshd_paths(root: Path) -> list[str]:
    return sorted(path for path, _ in _walk_files(root) if os.path.basename(path) == "sshd")


def package_installed(root: Path, package: str) -> bool:
    status = root / "var" / "lib" / "dpkg" / "status"
    if not status.is_file():
        return False
    for block in status.read_text(errors="replace").split("\n\n"):
        lines = block.splitlines()
        if f"Package: {package}" in lines and any(
            ln.startswith("Status:") and ln.endswith(" installed") for ln in lines
        ):
            return True
    return False


def image_facts(ref: str) -> ImageFacts:
    user = str(((images.inspect(ref) or {}).get("Config") or {}).get("User") or "")
    with mounted(ref) as root:
        return ImageFacts(
            ref=ref,
            user=user,
            sshd_paths=sshd_paths(root),
            openssh_server_installed=package_installed(root, "openssh-server"),
            privileged=privileged_files(root),
        )


def not_allowed(found: list[PrivilegedFile], kind: str) -> list[PrivilegedFile]:
    """The privileged files the allow-list of `kind` does not cover (exactly: path and capability)."""
    allowed = ALLOWED_PRIVILEGED[kind]
    return [
        f
        for f in found
        if not (f.path in allowed and not f.setuid and not f.setgid and f.capabilities == allowed[f.path])
    ]


def is_root(user: str) -> bool:
    return facts.is_root_user(user)
