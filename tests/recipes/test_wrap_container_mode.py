"""wrap-container's default mode comes from the REC (ENV RECAPP_RANK_CONTAINERS, set by a recipe's
`rank_containers: fresh`): with `fresh` every rank is a `podman run --rm`, and no sandbox is made.
A fake podman on PATH records what the script asks of it."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

WRAP = Path(__file__).resolve().parents[2] / "recipes" / "files" / "rec" / "wrap-container"


def _run(tmp_path: Path, env: dict[str, str], *args: str) -> tuple[subprocess.CompletedProcess, list[str]]:
    calls = tmp_path / "calls"
    fake = tmp_path / "bin" / "podman"
    fake.parent.mkdir(exist_ok=True)
    fake.write_text(f'#!/bin/sh\necho "$*" >> {calls}\n')
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    full = {"PATH": f"{fake.parent}:/usr/bin:/bin", "TMPDIR": str(tmp_path), **env}
    proc = subprocess.run(["bash", str(WRAP), *args], env=full, capture_output=True, text=True, timeout=30)
    return proc, calls.read_text().splitlines() if calls.exists() else []


def test_rec_default_fresh_runs_one_container_per_rank(tmp_path: Path) -> None:
    proc, calls = _run(tmp_path, {"RECAPP_RANK_CONTAINERS": "fresh"}, "--image", "app:x", "--", "hello", "-v")
    assert proc.returncode == 0, proc.stderr
    assert len(calls) == 1, calls
    assert calls[0].startswith("--log-level=error run --rm --pull=never --env-host ")
    assert calls[0].endswith(" app:x hello -v")


def test_a_fresh_rank_gets_no_added_capability(tmp_path: Path) -> None:
    # sys_ptrace bought nothing: across the sibling user namespaces of fresh ranks the kernel refuses
    # single copy (CMA) whatever a rank holds in its own (issue 18); the sandbox never added it.
    proc, calls = _run(tmp_path, {}, "--fresh", "--image", "app:x", "--", "pingpong")
    assert proc.returncode == 0, proc.stderr
    assert len(calls) == 1, calls
    words = calls[0].split()
    assert not [w for w in words if w.startswith(("--cap-add", "--privileged"))], calls[0]


def test_without_the_rec_setting_the_sandbox_is_used(tmp_path: Path) -> None:
    # The fake podman starts nothing, so the sandbox cannot come up: the script must have tried.
    proc, calls = _run(tmp_path, {"HOME": str(tmp_path)}, "--image", "app:y", "--", "hello")
    assert any(c.startswith("--log-level=error run -d --pull=never --name recapp-sandbox-") for c in calls), (
        calls
    )
    assert not any(" --rm " in f" {c} " for c in calls), calls
    assert proc.returncode != 0  # no pid from the fake podman: no rank was started
