"""A command running in a pod through the Kubernetes exec API, shaped like `subprocess.Popen[str]`.

The local backend's `login_exec` returns a real Popen (`podman exec …`); this adapter gives the job
runner the same surface — `stdout`/`stderr` text streams (real pipes, so `for line in proc.stdout`,
`read()` and `select` work), `poll`, `wait`, `communicate`, `terminate`, `kill`, `returncode`,
`args`, `pid` — over the exec websocket.

The exec API has no signals, so the command is started as
    sh -c 'printf "recapp-exec-pid %s\\n" "$$" >&2; exec "$@"' recapp-exec [env K=V …] ARGV…
which reports its PID on stderr (the adapter removes that line) and then *is* ARGV. `terminate()`
and `kill()` send the signal to that PID through a second exec (`kill -s TERM|KILL PID`).
Exit status: the command's; 255 with a `recapp:` line on stderr when the stream was lost or the
command could not be started; -N after `kill()`/`send_signal(N)` when no status came back.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import signal
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, BinaryIO, Protocol

import yaml

from recapp.errors import ClusterError

STDIN_CHANNEL = 0
STDOUT_CHANNEL = 1
STDERR_CHANNEL = 2
ERROR_CHANNEL = 3
LOST_EXIT = 255
PID_MARKER = b"recapp-exec-pid "
FEED_STALL_S = 60.0  # seconds a stdin send may make no progress before the exec is cut
_MARKER_MAX = 64  # the marker line is short; anything longer without a newline is not it
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SCRIPT = 'printf "recapp-exec-pid %s\\n" "$$" >&2; exec "$@"'


class ExecStream(Protocol):
    """The part of kubernetes.stream.ws_client.WSClient (binary mode) the adapter uses."""

    def is_open(self) -> bool: ...
    def update(self, timeout: float = 0) -> None: ...
    def read_channel(self, channel: int, timeout: float = 0) -> Any: ...
    def close(self, **kwargs: Any) -> None: ...
    def write_channel(self, channel: int, data: bytes) -> None: ...
    def close_channel(self, channel: int) -> None: ...


def wrapped_argv(argv: Sequence[str], env: Mapping[str, str] | None = None) -> list[str]:
    """The argv actually sent to the exec API (see the module docstring)."""
    if not argv:
        raise ClusterError("exec: empty command")
    env_words: list[str] = []
    for key, value in (env or {}).items():
        if not _ENV_NAME.fullmatch(key):
            raise ClusterError(f"exec: environment variable name {key!r} is not valid")
        env_words.append(f"{key}={value}")
    prefix = ["env", *env_words] if env_words else []
    return ["sh", "-c", _SCRIPT, "recapp-exec", *prefix, *argv]


def split_pid_marker(head: bytes) -> tuple[int | None, bytes, bool]:
    """(pid, rest, decided) from the first bytes of stderr.

    Not decided while the first line is incomplete and could still be the marker; once decided,
    `rest` is what belongs to the command's stderr (everything, if there was no marker).
    """
    line, newline, rest = head.partition(b"\n")
    if not newline:
        could_be = PID_MARKER.startswith(head[: len(PID_MARKER)]) and len(head) < _MARKER_MAX
        return None, head, not could_be
    if line.startswith(PID_MARKER) and line[len(PID_MARKER) :].strip().isdigit():
        return int(line[len(PID_MARKER) :].strip()), rest, True
    return None, head, True


def exec_status(error_channel: str | bytes | None) -> tuple[int, str | None]:
    """(exit status, message) from the exec API's status channel (a metav1.Status as JSON/YAML).

    Success → 0; NonZeroExitCode → its ExitCode cause; any other failure (or no status at all: the
    stream was cut) → 255 and the reason, for stderr.
    """
    if isinstance(error_channel, bytes):
        error_channel = error_channel.decode("utf-8", "replace")
    if not error_channel or not error_channel.strip():
        return LOST_EXIT, "exec stream closed without an exit status (connection lost?)"
    try:
        status = yaml.safe_load(error_channel)
    except yaml.YAMLError:
        status = None
    if not isinstance(status, dict):
        return LOST_EXIT, f"exec: unreadable status {error_channel.strip()[:200]!r}"
    if status.get("status") == "Success":
        return 0, None
    details = status.get("details") or {}
    if status.get("reason") == "NonZeroExitCode":
        for cause in details.get("causes") or []:
            if cause.get("reason") == "ExitCode" and str(cause.get("message", "")).strip().isdigit():
                return int(cause["message"]), None
    message = " ".join(str(status.get("message") or json.dumps(status)).split())
    return LOST_EXIT, f"exec failed: {message}"


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except BrokenPipeError:
            return  # the reader closed its end: drop the output, as a Popen child would get SIGPIPE
        view = view[written:]


class ExecProcess:
    """A running exec, with Popen's surface (text mode). Thread-safe for one reader per stream."""

    def __init__(
        self,
        stream: ExecStream,
        args: Sequence[str],
        *,
        signal_remote: Callable[[int, int], None] | None = None,
        poll_interval: float = 1.0,
    ) -> None:
        self.args = list(args)
        self.stdin = None
        self.pid: int | None = None  # the command's PID inside the container, once reported
        self.returncode: int | None = None
        # Why the stream ended without the command's status (the API server or the kubelet went
        # away): the command's fate is unknown. None when the status came back or we cut it.
        self.lost: str | None = None
        self._stream = stream
        self._signal_remote = signal_remote
        self._poll_interval = poll_interval
        self._signalled: int | None = None
        self._done = threading.Event()
        self._pid_known = threading.Event()
        out_r, self._out_w = os.pipe()
        err_r, self._err_w = os.pipe()
        self.stdout: io.TextIOWrapper = open(out_r, encoding="utf-8", errors="replace")  # noqa: SIM115
        self.stderr: io.TextIOWrapper = open(err_r, encoding="utf-8", errors="replace")  # noqa: SIM115
        self._err_head = b""
        self._marker_decided = False
        self._thread = threading.Thread(target=self._pump, name="recapp-exec", daemon=True)
        self._thread.start()

    # ---- the pump: websocket frames → pipes --------------------------------------------------
    def _pump(self) -> None:
        message: str | None = None
        try:
            while self._stream.is_open():
                self._stream.update(timeout=self._poll_interval)
                self._drain()
            self._drain()
            code, message = exec_status(self._stream.read_channel(ERROR_CHANNEL))
        except Exception as exc:  # the socket broke mid-stream
            code, message = LOST_EXIT, f"exec stream lost: {' '.join(str(exc).split()) or type(exc).__name__}"
        if self._signalled is not None and message is not None and code == LOST_EXIT:
            code, message = -self._signalled, None  # we cut it ourselves: report it like Popen does
        if code == LOST_EXIT and message is not None:
            self.lost = message
        self._flush_err_head()
        if message:
            _write_all(self._err_w, f"recapp: {message}\n".encode())
        for fd in (self._out_w, self._err_w):
            with contextlib.suppress(OSError):
                os.close(fd)
        self.returncode = code
        self._pid_known.set()
        self._done.set()

    def _drain(self) -> None:
        out = self._stream.read_channel(STDOUT_CHANNEL)
        if out:
            _write_all(self._out_w, _as_bytes(out))
        err = self._stream.read_channel(STDERR_CHANNEL)
        if err:
            self._stderr(_as_bytes(err))

    def _stderr(self, data: bytes) -> None:
        if self._marker_decided:
            _write_all(self._err_w, data)
            return
        self._err_head += data
        pid, rest, decided = split_pid_marker(self._err_head)
        if decided:
            self._marker_decided = True
            self.pid = pid
            self._pid_known.set()
            self._err_head = b""
            if rest:
                _write_all(self._err_w, rest)

    def _flush_err_head(self) -> None:
        if self._err_head:
            _write_all(self._err_w, self._err_head)
            self._err_head = b""

    # ---- Popen's surface ---------------------------------------------------------------------
    def poll(self) -> int | None:
        return self.returncode if self._done.is_set() else None

    def wait(self, timeout: float | None = None) -> int:
        if not self._done.wait(timeout):
            raise subprocess.TimeoutExpired(self.args, timeout or 0)
        self._thread.join()
        assert self.returncode is not None
        return self.returncode

    def communicate(self, input: str | None = None, timeout: float | None = None) -> tuple[str, str]:
        """Read both streams to the end and wait; like Popen.communicate (stdin is not supported)."""
        if input:
            raise ValueError("exec processes take no stdin")
        chunks: dict[str, list[str]] = {"out": [], "err": []}

        def read(stream: io.TextIOWrapper, key: str) -> None:
            with contextlib.suppress(ValueError, OSError):
                chunks[key].append(stream.read())

        readers = [
            threading.Thread(target=read, args=(self.stdout, "out"), daemon=True),
            threading.Thread(target=read, args=(self.stderr, "err"), daemon=True),
        ]
        for reader in readers:
            reader.start()
        self.wait(timeout)
        for reader in readers:
            reader.join(timeout=10)
        return "".join(chunks["out"]), "".join(chunks["err"])

    def feed(self, source: BinaryIO, chunk_size: int = 1 << 20, stall_s: float = FEED_STALL_S) -> int:
        """Send `source` to the command's stdin (the exec was opened with stdin), then close stdin.

        Closing needs the v5 exec protocol (Kubernetes 1.30+); commands that must also work over
        v4 read a known number of bytes (`head -c N`). Returns the bytes sent; stops early if the
        command ended (its status tells why). A command that dies without reading its input does
        not always end the exec (the runtime keeps stdin's copy open), so a send that makes no
        progress for `stall_s` cuts the stream instead of blocking for ever."""
        sock = getattr(self._stream, "sock", None)
        settimeout = getattr(sock, "settimeout", None)
        if settimeout is not None:
            settimeout(stall_s)
        sent = 0
        try:
            while not self._done.is_set():
                data = source.read(chunk_size)
                if not data:
                    break
                self._stream.write_channel(STDIN_CHANNEL, data)
                sent += len(data)
        except Exception as exc:  # a timeout, or the socket broke: the command's status says why
            self._stream.close()
            raise ClusterError(
                f"exec stdin: nothing accepted for {stall_s:.0f} s after {sent} bytes "
                f"(the command stopped reading: {' '.join(str(exc).split()) or type(exc).__name__})"
            ) from exc
        finally:
            if settimeout is not None:
                settimeout(None)
        with contextlib.suppress(Exception):  # already closed, or a v4 stream
            self._stream.close_channel(STDIN_CHANNEL)
        return sent

    def send_signal(self, sig: int) -> None:
        if self._done.is_set():
            return
        self._signalled = sig
        self._pid_known.wait(timeout=5)
        if self.pid is not None and self._signal_remote is not None:
            self._signal_remote(self.pid, sig)
        else:
            self._stream.close()  # no PID to signal: cutting the stream is all that is left

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)
        if not self._done.wait(timeout=10):
            self._stream.close()

    def close(self) -> None:
        for stream in (self.stdout, self.stderr):
            with contextlib.suppress(OSError):
                stream.close()

    def __enter__(self) -> ExecProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.poll() is None:
            self.kill()
        self.wait(timeout=30)
        self.close()


def _as_bytes(data: str | bytes) -> bytes:
    return data.encode("utf-8") if isinstance(data, str) else data


def signal_argv(pid: int, sig: int) -> list[str]:
    """The exec that delivers `sig` to `pid` inside the same container."""
    return [
        "sh",
        "-c",
        'kill -s "$1" "$2"',
        "recapp-kill",
        signal.Signals(sig).name.removeprefix("SIG"),
        str(pid),
    ]
