"""`make setup` (scripts/setup.sh): the package list per Debian release, what a clean rootfs of each
lacked (`make fresh-check` found them), one line per step, and a one-line error for non-root."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SETUP = ROOT / "scripts" / "setup.sh"


def setup(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SETUP), *args], capture_output=True, text=True, env={**os.environ, **(env or {})}, check=False
    )


def packages(release: str) -> list[str]:
    proc = setup("--list", release)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()


def test_every_release_gets_the_engine_and_python() -> None:
    for release in ("bookworm", "trixie"):
        got = packages(release)
        for pkg in ("podman", "buildah", "runc", "uidmap", "mmdebstrap", "netavark", "aardvark-dns"):
            assert pkg in got, f"{pkg} missing for {release}"
        # a fresh Debian has no python3 at all, and pip needs the CA store for PyPI
        assert {"python3", "python3-venv", "ca-certificates"} <= set(got)


def test_the_firewall_netavark_needs_per_release() -> None:
    # bookworm's netavark 1.4 runs iptables for every container network (issue 17's "No such file")
    assert "iptables" in packages("bookworm")
    assert "nftables" in packages("trixie")


def test_unknown_release_is_a_one_line_error() -> None:
    proc = setup("--list", "jessie")
    assert proc.returncode == 2
    assert proc.stderr.strip() == "error: make setup supports Debian bookworm, trixie and sid, not 'jessie'"


def test_packages_step_is_one_line_and_idempotent_here() -> None:
    if not re.search(r"VERSION_CODENAME=(bookworm|trixie)", Path("/etc/os-release").read_text()):
        pytest.skip("not a Debian 12/13 host")
    proc = setup("packages")
    assert proc.returncode == 0, proc.stderr
    assert re.fullmatch(r"host packages: all \d+ present \(Debian \w+\)\n", proc.stdout), proc.stdout


def test_non_root_with_a_package_missing_gets_one_line(tmp_path: Path) -> None:
    """A dpkg status without iptables (bind-mounted in a private mount namespace), setup run as nobody:
    the real dpkg-query says iptables is missing, and a non-root user cannot install it."""
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("setpriv"):
        pytest.skip("needs root, unshare and setpriv")
    status = Path("/var/lib/dpkg/status").read_text()
    stanzas = [s for s in status.split("\n\n") if not s.startswith("Package: iptables\n")]
    assert len(stanzas) < len(status.split("\n\n")), "iptables is not installed here"
    fake = tmp_path / "status"
    fake.write_text("\n\n".join(stanzas))
    fake.chmod(0o644)
    tmp_path.chmod(0o755)
    drop = "setpriv --reuid=nobody --regid=nogroup --clear-groups"
    script = f'mount --bind "$0" /var/lib/dpkg/status && exec {drop} "$@"'
    argv = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, str(fake), str(SETUP)]
    proc = subprocess.run(
        [*argv, "packages"],
        capture_output=True,
        text=True,
        check=False,
        cwd="/",
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stdout == ""
    assert proc.stderr == (
        "error: make setup needs root to apt-get install: iptables (run it as root, or install them)\n"
    )
