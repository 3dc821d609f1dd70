"""Build backends, registered by name: `buildah` (CLI, the default) and `docker` (Engine API)."""

from __future__ import annotations

from recapp.builder.backends.base import BuildBackend, ImageInfo
from recapp.errors import BuildError

BACKENDS = ("buildah", "docker")


def get_backend(name: str) -> BuildBackend:
    if name == "buildah":
        from recapp.builder.backends.buildah import BuildahBackend

        return BuildahBackend()
    if name == "docker":
        from recapp.builder.backends.docker import DockerBackend

        return DockerBackend()
    raise BuildError(f"unknown backend {name!r}: choose one of {', '.join(BACKENDS)}")


__all__ = ["BACKENDS", "BuildBackend", "ImageInfo", "get_backend"]
