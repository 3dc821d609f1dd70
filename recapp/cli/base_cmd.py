"""`recapp base SUITE`: a minimal Debian base image from the archive (no registry needed)."""

from __future__ import annotations

from typing import Annotated

import typer

from recapp.builder.base import DEFAULT_MIRROR, base_tag, build_base
from recapp.cli.ui import console, progress


def base(
    suite: Annotated[str, typer.Argument(help="bookworm, trixie or sid")],
    refresh: Annotated[bool, typer.Option("--refresh", help="re-bootstrap even if the image exists")] = False,
    mirror: Annotated[str, typer.Option(help="Debian mirror URL")] = DEFAULT_MIRROR,
) -> None:
    """Bootstrap Debian SUITE with mmdebstrap and import it as localhost/recapp/base:SUITE."""
    with progress(f"base image {suite}") as prog:
        image_id, seconds, built = build_base(suite, refresh=refresh, mirror=mirror, on_line=prog.line)
    state = f"built in {seconds:.0f} s" if built else "exists (use --refresh to re-bootstrap)"
    console.print(f"{base_tag(suite)}: {state} ({image_id[:19]})", markup=False)
