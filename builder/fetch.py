"""Source archives for source builds: from a Debian source package, an upstream URL or a local
directory, always checked against the sha256 pinned in recipes/source/components.yaml.

Verified archives are cached under the state dir (`sources/`), so a rebuild downloads nothing.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import urllib.request
from pathlib import Path

from recapp.builder.base import base_tag, build_base
from recapp.builder.source import DebianSource, SourceComponent
from recapp.errors import BuildError
from recapp.host import engine
from recapp.host.images import image_id
from recapp.host.paths import sub
from recapp.host.progress import Step

# Runs in a throwaway container of the source package's suite: deb-src lines mirror the base image's
# deb lines; apt checks the files against the signed Sources index. Arguments, not interpolation.
APT_SOURCE_SCRIPT = (
    'set -e; sed -n "s/^deb /deb-src /p" /etc/apt/sources.list > /etc/apt/sources.list.d/recapp-src.list; '
    "apt-get -qq -o Acquire::Check-Valid-Until=false update; "
    'cd /out && apt-get -qq source --download-only "$1"'
)


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def dsc_sha256(dsc_text: str, file: str) -> str | None:
    """The sha256 a .dsc's Checksums-Sha256 field gives for file, or None."""
    in_field = False
    for line in dsc_text.splitlines():
        if line.startswith("Checksums-Sha256:"):
            in_field = True
            continue
        if in_field:
            if not line.startswith(" "):
                break
            parts = line.split()
            if len(parts) == 3 and parts[2] == file:
                return parts[0]
    return None


def cache_dir() -> Path:
    return sub("sources")


def archives(components: list[SourceComponent], sources: str, say: Step | None = None) -> dict[str, bytes]:
    """Each component's verified archive, file name → bytes. `sources`: debian, upstream or a directory."""
    out: dict[str, bytes] = {}
    for c in components:
        if c.archive not in out:
            out[c.archive] = archive(c, sources, say).read_bytes()
    return out


def archive(c: SourceComponent, sources: str, say: Step | None = None) -> Path:
    say = say or (lambda _text: None)
    cached = cache_dir() / c.archive
    if cached.is_file() and sha256_of(cached) == c.sha256:
        return cached
    if sources not in ("debian", "upstream"):
        local = Path(sources) / c.archive
        if not local.is_file():
            raise BuildError(f"--sources {sources}: {c.archive} ({c.title} {c.version}) is not there")
        _check(local, c, f"--sources {sources}")
        shutil.copyfile(local, cached)
        return cached
    if c.origin == "debian":
        assert c.debian is not None
        say(f"fetching {c.debian.package} {c.debian.version} source package ({c.debian.suite})")
        return _from_debian(c, c.debian, cached)
    say(f"downloading {c.url}")
    return _from_url(c, cached)


def _check(path: Path, c: SourceComponent, where: str) -> None:
    got = sha256_of(path)
    if got != c.sha256:
        raise BuildError(
            f"{where}: {path.name} has sha256 {got[:16]}…, "
            f"{c.title} {c.version} is pinned to {c.sha256[:16]}…"
        )


def download(url: str, part: Path, what: str) -> None:
    """url's bytes into part, a file in a temporary directory of the caller's (the caller checks
    them, then moves the file into place: a failed or refused download leaves nothing)."""
    try:
        with urllib.request.urlopen(url, timeout=60) as resp, open(part, "wb") as f:
            shutil.copyfileobj(resp, f)
    except OSError as exc:
        raise BuildError(f"{what}: download failed: {exc}") from exc


def _from_url(c: SourceComponent, cached: Path) -> Path:
    assert c.url
    with tempfile.TemporaryDirectory(dir=cache_dir()) as tmp:
        part = Path(tmp) / c.archive
        download(c.url, part, f"download {c.url}")
        _check(part, c, c.url)
        part.replace(cached)
    return cached


def _from_debian(c: SourceComponent, deb: DebianSource, cached: Path) -> Path:
    base = base_tag(deb.suite)
    if image_id(base) is None:
        build_base(deb.suite)
    with tempfile.TemporaryDirectory(dir=cache_dir()) as tmp:
        settings = engine.settings()
        proc = engine.podman(
            "run",
            "--rm",
            "--pull=never",
            *settings.ulimit_args,
            "-v",
            f"{tmp}:/out:Z",
            base,
            "sh",
            "-c",
            APT_SOURCE_SCRIPT,
            "sh",
            f"{deb.package}={deb.version}",
            error=BuildError,
            check=False,
            timeout=900,
        )
        part = Path(tmp) / deb.file
        if proc.returncode != 0 or not part.is_file():
            detail = (proc.stdout + proc.stderr).strip().splitlines()[-1:] or ["no output"]
            raise BuildError(f"apt-get source {deb.package}={deb.version} ({deb.suite}): {detail[0]}")
        dsc = next(Path(tmp).glob(f"{deb.package}_*.dsc"), None)
        listed = dsc_sha256(dsc.read_text(errors="replace"), deb.file) if dsc else None
        if listed != c.sha256:
            raise BuildError(
                f"{deb.package} {deb.version}: the .dsc lists {deb.file} with sha256 "
                f"{(listed or 'none')[:16]}…, the pin is {c.sha256[:16]}…"
            )
        _check(part, c, f"apt-get source {deb.package}={deb.version}")
        part.replace(cached)
    return cached
