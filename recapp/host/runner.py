"""One command runner. It never goes through a shell, and raises the caller's own error type."""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from recapp.errors import RecappError
from recapp.host.progress import Step


def run(
    argv: Sequence[str],
    *,
    error: type[RecappError] = RecappError,
    what: str | None = None,
    env: Mapping[str, str] | None = None,
    input: str | bytes | None = None,
    timeout: float | None = None,
    check: bool = True,
    cwd: str | Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run argv and capture its output as text.

    On failure raise `error` with one line: what was being done, the exit status and the last line
    of stderr (the line that usually says why).
    """
    full_env = {**os.environ, **env} if env is not None else None
    try:
        proc = subprocess.run(
            list(argv),
            capture_output=True,
            text=not isinstance(input, bytes),
            env=full_env,
            input=input,
            timeout=timeout,
            cwd=cwd,
        )
    except FileNotFoundError as exc:
        raise error(f"{argv[0]}: command not found (run `make setup` or `recapp doctor`)") from exc
    except subprocess.TimeoutExpired as exc:
        raise error(f"{what or argv[0]}: timed out after {timeout:.0f} s") from exc
    if isinstance(proc.stdout, bytes):  # binary input was given; outputs are bytes too
        proc = subprocess.CompletedProcess(
            proc.args,
            proc.returncode,
            proc.stdout.decode(errors="replace"),
            proc.stderr.decode(errors="replace"),
        )
    if check and proc.returncode != 0:
        raise error(
            f"{what or shlex.join(argv[:3])}: exit {proc.returncode}: {last_line(proc.stderr or proc.stdout)}"
        )
    return proc


def run_logged(
    argv: Sequence[str],
    log_path: Path,
    *,
    error: type[RecappError] = RecappError,
    what: str,
    env: Mapping[str, str] | None = None,
    on_line: Step | None = None,
    cwd: str | Path | None = None,
) -> None:
    """Run argv with stdout+stderr appended to log_path; call on_line for each line (progress).

    On failure raise `error` carrying the last lines and the log's path.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, **env} if env is not None else None
    tail: list[str] = []
    with open(log_path, "a", encoding="utf-8") as log:
        log.write(f"$ {shlex.join(argv)}\n")
        log.flush()
        try:
            proc = subprocess.Popen(
                list(argv),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                env=full_env,
                cwd=cwd,
                errors="replace",
            )
        except FileNotFoundError as exc:
            raise error(f"{argv[0]}: command not found (run `make setup` or `recapp doctor`)") from exc
        assert proc.stdout is not None
        for line in proc.stdout:
            log.write(line)
            tail = [*tail[-11:], line.rstrip("\n")]
            if on_line is not None:
                on_line(line.rstrip("\n"))
        rc = proc.wait()
    if rc != 0:
        raise error(
            f"{what}: exit {rc}: {last_line(chr(10).join(tail))}",
            log_path=str(log_path),
            hint="\n".join(tail[-8:]),
        )


def last_line(text: str | None) -> str:
    """The last non-empty line of text, or a placeholder: the line that usually says why."""
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip()]
    return lines[-1] if lines else "(no output)"
