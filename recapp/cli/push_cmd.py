"""`recapp push`: put an image into a registry a Kubernetes cluster can pull from."""

from __future__ import annotations

from typing import Annotated

import typer

from recapp.builder.backends import BACKENDS, get_backend
from recapp.cli.ui import console, progress
from recapp.errors import BuildError
from recapp.host.names import check_image_ref


def push(
    image: Annotated[str, typer.Argument(help="local image, e.g. localhost/recapp/rec:trixie")],
    destination: Annotated[
        str, typer.Argument(help="registry reference, e.g. registry.example.org/hpc/rec:trixie")
    ],
    backend: Annotated[str, typer.Option(help=f"engine to push with: {' or '.join(BACKENDS)}")] = "buildah",
) -> None:
    """Push IMAGE to DESTINATION (credentials: `podman login` / the Docker config, as usual)."""
    check_image_ref(image, error=BuildError, what="image")
    check_image_ref(destination, error=BuildError, what="destination")
    impl = get_backend(backend)
    if impl.inspect(image) is None:
        raise BuildError(f"image {image!r} not found in the local image store")
    with progress(f"push {image} → {destination}"):
        impl.push(image, destination)
    console.print(f"pushed {image} to {destination}", markup=False)
