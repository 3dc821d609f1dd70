"""Docker Engine API backend, through the `docker` SDK.

It talks to whatever `DOCKER_HOST` names: a Docker daemon, or podman's Docker-compatible service
(`podman system service unix:///run/podman/podman.sock`).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import docker
import docker.errors

from recapp.builder.backends.base import BuildBackend, ImageInfo
from recapp.errors import BuildError
from recapp.host.progress import Step

DEFAULT_HOST = "unix:///var/run/docker.sock"


def engine_url() -> str:
    return os.environ.get("DOCKER_HOST") or DEFAULT_HOST


class DockerBackend(BuildBackend):
    name = "docker"

    @cached_property
    def client(self) -> docker.DockerClient:
        url = engine_url()
        try:
            client = docker.DockerClient(base_url=url, timeout=600)
            client.ping()
        except Exception as exc:  # the SDK raises several unrelated types for "nobody there"
            raise BuildError(
                f"docker backend: no engine reachable at {url} (set DOCKER_HOST): {type(exc).__name__}"
            ) from exc
        return client

    def build(
        self,
        context_dir: Path,
        *,
        tag: str | None,
        labels: Mapping[str, str],
        log_path: Path,
        on_line: Step | None = None,
    ) -> str:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        image_id: str | None = None
        tail: list[str] = []
        with open(log_path, "a", encoding="utf-8") as log:
            log.write(f"# docker build {context_dir} (tag={tag}) via {engine_url()}\n")
            try:
                stream = self.client.api.build(
                    path=str(context_dir),
                    dockerfile="Containerfile",
                    tag=tag,
                    labels=dict(labels),
                    rm=True,
                    forcerm=True,  # no build containers left behind, even on failure
                    pull=False,
                    decode=True,
                )
                for chunk in stream:
                    image_id = _handle_chunk(chunk, log, tail, on_line) or image_id
            except docker.errors.APIError as exc:
                raise BuildError(
                    f"docker build {tag or context_dir.name}: {exc.explanation or exc}",
                    log_path=str(log_path),
                ) from exc
        if image_id is None:
            raise BuildError(
                f"docker build {tag or context_dir.name}: the engine reported no image id",
                log_path=str(log_path),
                hint="\n".join(tail[-8:]),
            )
        return image_id.removeprefix("sha256:")

    def inspect(self, ref: str) -> ImageInfo | None:
        try:
            image = self.client.images.get(ref)
        except docker.errors.ImageNotFound:
            return None
        except docker.errors.APIError as exc:
            if exc.status_code == 404:
                return None
            raise BuildError(f"docker backend: inspect {ref}: {exc.explanation or exc}") from exc
        attrs: dict[str, Any] = image.attrs
        return ImageInfo(
            id=str(attrs["Id"]).removeprefix("sha256:"),
            tags=list(image.tags),
            size=int(attrs.get("Size") or 0),
            labels=dict((attrs.get("Config") or {}).get("Labels") or {}),
            created=str(attrs.get("Created", "")),
        )

    def run(self, ref: str, argv: Sequence[str], *, timeout: float = 120) -> tuple[int, str]:
        container = self.client.containers.create(ref, command=list(argv), network_mode="none")
        try:
            container.start()
            result = container.wait(timeout=timeout)
            output = container.logs(stdout=True, stderr=True).decode(errors="replace")
            return int(result.get("StatusCode", 1)), output
        finally:
            # v=True: an image VOLUME (the REC's inner storage) would otherwise leave an anonymous volume.
            container.remove(v=True, force=True)

    def remove(self, ref: str) -> None:
        # In use or already gone: leaving it is the safe choice.
        with contextlib.suppress(docker.errors.APIError):
            self.client.images.remove(ref)

    def push(self, ref: str, destination: str) -> None:
        repo, _, tag = destination.rpartition(":")
        if not repo or "/" in tag:
            repo, tag = destination, "latest"
        self.client.images.get(ref).tag(repo, tag)
        for line in self.client.images.push(repo, tag=tag, stream=True, decode=True):
            if "error" in line:
                raise BuildError(f"push {destination}: {line['error']}")


def _handle_chunk(chunk: dict[str, Any], log: Any, tail: list[str], on_line: Step | None) -> str | None:
    if "error" in chunk:
        detail = str(chunk.get("error", "")).strip()
        log.write(detail + "\n")
        raise BuildError(
            f"docker build: {detail.splitlines()[-1] if detail else 'failed'}",
            log_path=log.name,
            hint="\n".join(tail[-8:]),
        )
    text = chunk.get("stream") or chunk.get("status") or ""
    if text:
        log.write(text if text.endswith("\n") else text + "\n")
        for line in text.splitlines():
            if line.strip():
                tail.append(line)
                del tail[:-12]
                if on_line:
                    on_line(line)
    aux = chunk.get("aux")
    if isinstance(aux, dict) and "ID" in aux:
        return str(aux["ID"])
    if text.startswith("Successfully built "):
        return text.split()[-1]
    if not text and chunk and "aux" not in chunk:
        log.write(json.dumps(chunk) + "\n")
    return None
