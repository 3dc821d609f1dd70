"""Can the REC's unprivileged user run a container nested, with *default* outer settings?

The outer container gets no --privileged, no added capabilities, no /dev/fuse: only a volume for
the inner image storage (a real filesystem, so native overlay works) and an image tarball to load.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from recapp.conformance.containers import podman, running, volume
from recapp.errors import ConformanceError
from recapp.host import engine, images
from recapp.host.runner import last_line, run

MARKER = "recapp-nested-ok"
TAR_IN_REC = "/var/tmp/recapp-nest-image.tar"


@dataclass(frozen=True)
class NestReport:
    ok: bool
    message: str
    output: str = ""


def choose_nest_image(rec_image: str, rec_labels: dict[str, str], requested: str | None) -> str:
    if requested:
        return requested
    suite = rec_labels.get("io.recapp.suite")
    if suite and images.image_id(f"localhost/recapp/base:{suite}"):
        return f"localhost/recapp/base:{suite}"
    return rec_image


def nested_run_report(rec_image: str, rec_labels: dict[str, str], requested: str | None = None) -> NestReport:
    nest_image = choose_nest_image(rec_image, rec_labels, requested)
    tarball = images.saved_tarball(nest_image, error=ConformanceError)
    home = podman("run", "--rm", "--pull=never", "--entrypoint", "sh", rec_image, "-c", "echo $HOME").strip()
    store = f"{home}/.local/share/containers"
    with (
        volume() as vol,
        running(rec_image, extra=["-v", f"{vol}:{store}", "-v", f"{tarball}:{TAR_IN_REC}:ro"]) as c,
    ):
        # stdout+stderr: when user namespaces fail, the reason is on stderr (e.g. newuidmap refused).
        load = _exec(c, ["podman", "load", "-i", TAR_IN_REC], timeout=600)
        if "Loaded image" not in load:
            return NestReport(
                False,
                "REC user cannot run a nested container: `podman load` into its inner storage failed: "
                f"{last_line(load)}",
                load,
            )
        inner_ref = nest_image  # a docker-archive keeps its tag
        script = f"echo {MARKER} uid=$(id -u)"
        has_wrap = podman("exec", c, "sh", "-c", "command -v wrap-container || true").strip()
        if has_wrap:
            argv = ["wrap-container", "--image", inner_ref, "--", "sh", "-c", script]
        else:
            argv = [
                "podman",
                "run",
                "--rm",
                "--network",
                "host",
                "--uts",
                "host",
                "--ipc",
                "host",
                "--pid",
                "host",
                "--cgroups=enabled",
                inner_ref,
                "sh",
                "-c",
                script,
            ]
        out = _exec(c, argv)
    if MARKER not in out:
        return NestReport(
            False, f"REC user cannot run a nested container ({shlex.join(argv[:2])}): {last_line(out)}", out
        )
    return NestReport(True, "nested container ran", out)


def _exec(container: str, argv: list[str], timeout: float = 300) -> str:
    proc = run(["podman", "exec", container, *argv], check=False, env=engine.settings().env, timeout=timeout)
    return proc.stdout + proc.stderr
