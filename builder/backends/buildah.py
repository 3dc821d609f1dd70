"""buildah CLI backend (the default): `buildah bud` through the one command runner."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from recapp.builder.backends.base import BuildBackend, ImageInfo
from recapp.errors import BuildError
from recapp.host import engine, images
from recapp.host.progress import Step
from recapp.host.runner import run, run_logged


def bud_argv(
    context_dir: Path,
    *,
    tag: str | None,
    labels: Mapping[str, str],
    iidfile: Path,
    ulimit_args: Sequence[str],
) -> list[str]:
    """The exact `buildah bud` command for a context (pure, tested)."""
    argv = [
        "buildah",
        "bud",
        # chroot isolation builds on hosts where nested OCI isolation does not (DESIGN.md).
        "--isolation",
        "chroot",
        "--layers",
        "--force-rm",
        "--pull=never",
        "--iidfile",
        str(iidfile),
        *ulimit_args,
        "-f",
        str(context_dir / "Containerfile"),
    ]
    for key in sorted(labels):
        argv += ["--label", f"{key}={labels[key]}"]
    if tag:
        argv += ["--tag", tag]
    argv.append(str(context_dir))
    return argv


class BuildahBackend(BuildBackend):
    name = "buildah"

    def build(
        self,
        context_dir: Path,
        *,
        tag: str | None,
        labels: Mapping[str, str],
        log_path: Path,
        on_line: Step | None = None,
    ) -> str:
        settings = engine.settings()
        iidfile = context_dir.parent / f"{context_dir.name}.iid"
        iidfile.unlink(missing_ok=True)
        argv = bud_argv(
            context_dir, tag=tag, labels=labels, iidfile=iidfile, ulimit_args=settings.ulimit_args
        )
        run_logged(
            argv,
            log_path,
            error=BuildError,
            what=f"buildah bud {tag or context_dir.name}",
            env=settings.env,
            on_line=on_line,
        )
        image_id = iidfile.read_text().strip().removeprefix("sha256:")
        iidfile.unlink(missing_ok=True)
        return image_id

    def inspect(self, ref: str) -> ImageInfo | None:
        data = images.inspect(ref)
        if data is None:
            return None
        return ImageInfo(
            id=data["Id"],
            tags=list(data.get("RepoTags") or []),
            size=int(data.get("Size") or 0),
            labels=dict(data.get("Labels") or {}),
            created=str(data.get("Created", "")),
        )

    def run(self, ref: str, argv: Sequence[str], *, timeout: float = 120) -> tuple[int, str]:
        settings = engine.settings()
        cmd = ["podman", "run", "--rm", "--pull=never", "--network=none", *settings.ulimit_args, ref, *argv]
        proc = run(cmd, check=False, env=settings.env, timeout=timeout, error=BuildError)
        return proc.returncode, proc.stdout + proc.stderr

    def remove(self, ref: str) -> None:
        engine.podman("rmi", ref, check=False)

    def push(self, ref: str, destination: str) -> None:
        run(
            ["podman", "push", ref, destination],
            error=BuildError,
            what=f"push {ref} to {destination}",
            env=engine.settings().env,
            timeout=3600,
        )
