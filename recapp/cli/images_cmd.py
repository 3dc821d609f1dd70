"""`recapp images`: the REC and APP images recapp built, with versions read from their labels."""

from __future__ import annotations

from typing import Annotated

import typer

from recapp.builder.images import list_images
from recapp.cli.ui import print_json, print_table


def images(
    json_out: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """List recapp's images with the component versions their labels carry."""
    found = list_images()
    if json_out:
        print_json([s.as_dict() for s in found])
        return
    rows = [
        [
            s.tag,
            s.kind,
            s.suite,
            s.workload or "",
            ", ".join(f"{k} {v}" for k, v in sorted(s.versions.items())),
            f"{s.size_bytes / 1e6:.0f} MB",
        ]
        for s in found
    ]
    print_table(["image", "kind", "suite", "workload", "versions", "size"], rows)
