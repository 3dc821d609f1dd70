"""Base images from Debian's archive, without a registry: mmdebstrap → `podman import`.

The apt lists are kept in the base image on purpose: a base image is a snapshot of the archive,
so package versions resolved against it are exact and repeatable until the base is rebuilt.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from recapp import LABEL_PREFIX
from recapp.builder.suites import check_suite
from recapp.errors import BuildError
from recapp.host import engine
from recapp.host.images import image_id
from recapp.host.paths import sub
from recapp.host.progress import Step
from recapp.host.runner import last_line

DEFAULT_MIRROR = "http://deb.debian.org/debian"


def base_tag(suite: str) -> str:
    return f"localhost/recapp/base:{suite}"


def mmdebstrap_argv(suite: str, mirror: str = DEFAULT_MIRROR) -> list[str]:
    """The mmdebstrap command that writes a minbase rootfs tarball of `suite` to stdout."""
    return [
        "mmdebstrap",
        "--variant=minbase",
        "--mode=root",
        "--format=tar",
        # sid's Release file is often expired on mirrors; the archive's signature still is checked.
        '--aptopt=Acquire::Check-Valid-Until "false"',
        "--skip=cleanup/apt/lists",
        "--include=ca-certificates",
        suite,
        "-",
        mirror,
    ]


def import_argv(suite: str, tag: str) -> list[str]:
    labels = {
        f"{LABEL_PREFIX}.kind": "base",
        f"{LABEL_PREFIX}.suite": suite,
        f"{LABEL_PREFIX}.created-by": "recapp base",
    }
    argv = ["podman", "import"]
    for key, value in labels.items():
        argv += ["--change", f"LABEL {key}={value}"]
    argv += ["--change", 'CMD ["/bin/bash"]', "--change", "ENV LANG=C.UTF-8", "-", tag]
    return argv


def build_base(
    suite: str,
    *,
    refresh: bool = False,
    mirror: str = DEFAULT_MIRROR,
    on_line: Step | None = None,
) -> tuple[str, float, bool]:
    """Make `localhost/recapp/base:SUITE`. Returns (image id, seconds, built?)."""
    check_suite(suite)
    tag = base_tag(suite)
    existing = image_id(tag)
    if existing and not refresh:
        return existing, 0.0, False
    log_path = sub("logs") / f"base-{suite}.log"
    env = engine.settings().env
    started = time.monotonic()
    with open(log_path, "w", encoding="utf-8") as log:
        try:
            strap = subprocess.Popen(mmdebstrap_argv(suite, mirror), stdout=subprocess.PIPE, stderr=log)
        except FileNotFoundError as exc:
            raise BuildError("mmdebstrap: command not found (run `make setup`)") from exc
        imp = subprocess.run(
            import_argv(suite, tag),
            stdin=strap.stdout,
            capture_output=True,
            text=True,
            env={**os.environ, **env},
        )
        assert strap.stdout is not None
        strap.stdout.close()
        strap_rc = strap.wait()
        log.write(imp.stderr)
    if strap_rc != 0 or imp.returncode != 0:
        if imp.returncode == 0:  # imported a truncated tarball: do not leave the tag behind
            engine.podman("rmi", "-f", tag, check=False)
        detail = last_line(Path(log_path).read_text())
        raise BuildError(f"base image {tag}: mmdebstrap {suite} failed: {detail}", log_path=str(log_path))
    new_id = imp.stdout.strip().splitlines()[-1]
    if existing and existing != new_id:
        engine.podman("rmi", existing, check=False)  # untagged old snapshot; in use → kept
    if on_line:
        on_line(f"imported {tag}")
    return new_id, time.monotonic() - started, True
