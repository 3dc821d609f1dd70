"""Image tarballs for places no registry reaches (the inner storage of a REC).

`podman save` once per image id into a cache under the state dir; callers mount or copy the tar.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from recapp.errors import RecappError
from recapp.host import engine
from recapp.host.paths import sub
from recapp.host.runner import last_line


def inspect(ref: str) -> dict | None:
    proc = engine.podman("image", "inspect", ref, check=False)
    if proc.returncode != 0:
        return None
    return json.loads(proc.stdout)[0]


def image_id(ref: str) -> str | None:
    data = inspect(ref)
    return str(data["Id"]) if data else None


def labels(ref: str) -> dict[str, str]:
    data = inspect(ref)
    return dict((data or {}).get("Labels") or {})


def saved_tarball(ref: str, *, error: type[RecappError] = RecappError) -> Path:
    """A `podman save` archive of ref (docker-archive, keeps the tag), cached by image id."""
    iid = image_id(ref)
    if iid is None:
        raise error(f"image {ref!r} not found in the local image store")
    cache = sub("cache", "image-tars")
    path = cache / f"{iid[:24]}.tar"
    if path.is_file():
        return path
    # A name of this save's own: two threads or processes saving one image must not share it.
    tmp = path.with_suffix(f".tmp{os.getpid()}-{secrets.token_hex(4)}")
    try:
        engine.podman(
            "save",
            "--format",
            "docker-archive",
            "-o",
            str(tmp),
            ref,
            error=error,
            what=f"podman save {ref}",
            timeout=1800,
        )
        tmp.rename(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def load_error(output: str) -> str:
    """Why `podman load` refused a docker-archive: it tries every format and lists each one's error,
    the archive's own last; the line that says why is the docker-archive one (a full disk, a cut
    archive), not the last ("dir: …/manifest.json: not a directory" says nothing)."""
    for line in output.splitlines():
        if line.strip().lstrip("* ").startswith("docker-archive:"):
            return line.strip().lstrip("* ")
    return last_line(output)
