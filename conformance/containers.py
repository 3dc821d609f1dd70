"""Throwaway containers for the checks, labelled so that a crashed session's leftovers are findable."""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from recapp import LABEL_PREFIX
from recapp.errors import ConformanceError
from recapp.host import engine

OWNER_LABEL = f"{LABEL_PREFIX}.owner=conformance"


def podman(*args: str, check: bool = True, timeout: float = 300) -> str:
    return engine.podman(*args, error=ConformanceError, check=check, timeout=timeout).stdout


@contextmanager
def running(image: str, *, extra: Sequence[str] = (), user: str | None = None) -> Iterator[str]:
    """A detached container of image (idle), removed on exit; yields its name."""
    name = f"recapp-conf-{secrets.token_hex(4)}"
    settings = engine.settings()
    argv = [
        "run",
        "-d",
        "--rm",
        "--name",
        name,
        "--label",
        OWNER_LABEL,
        "--pull=never",
        *settings.ulimit_args,
        *extra,
    ]
    if user:
        argv += ["--user", user]
    argv += ["--entrypoint", "sleep", image, "infinity"]
    podman(*argv)
    try:
        yield name
    finally:
        # -v: an image VOLUME (the REC's inner storage) gets an anonymous volume; `run --rm` only
        # removes it when the container exits by itself, not on `rm -f`.
        podman("rm", "-f", "-v", "-t", "0", name, check=False)


@contextmanager
def volume() -> Iterator[str]:
    name = f"recapp-conf-{secrets.token_hex(4)}"
    podman("volume", "create", "--label", OWNER_LABEL, name)
    try:
        yield name
    finally:
        podman("volume", "rm", "-f", name, check=False)
