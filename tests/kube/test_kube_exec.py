"""Exec through the Kubernetes exec websocket, shaped like Popen.

The pure parts (argv wrapping, PID marker, exit statuses) are checked directly; the wrapper script
runs under the real `sh`. The whole path — KubernetesBackend.pod_exec → the official client's
`stream()` → websocket-client → ExecProcess — runs against `ExecEndpoint`, a local server that
speaks the API server's exec protocol (HTTP upgrade, `v4.channel.k8s.io` frames, a metav1.Status on
channel 3) and runs each command as a local process. It is not Kubernetes: it checks our side of the
protocol, not the kubelet's.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import socket
import socketserver
import struct
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from kubernetes import client

from recapp.errors import ClusterError
from recapp.k8s.kubernetes import remote_exec as kx
from recapp.k8s.kubernetes.backend import KubernetesBackend
from recapp.k8s.spec import load_spec

# --- the wrapper, the marker, the statuses --------------------------------------------------------


def test_wrapped_argv_reports_its_pid_then_becomes_the_command() -> None:
    argv = kx.wrapped_argv(["sh", "-c", 'echo "$GREETING $$"'], {"GREETING": "hello world"})
    assert argv[:4] == ["sh", "-c", kx._SCRIPT, "recapp-exec"]
    proc = subprocess.run(argv, capture_output=True, check=True)
    pid, rest, decided = kx.split_pid_marker(proc.stderr)
    assert decided and rest == b""
    assert proc.stdout.decode() == f"hello world {pid}\n"  # exec kept the PID: a signal reaches the command


def test_wrapped_argv_refuses_bad_env_names_and_empty_commands() -> None:
    with pytest.raises(ClusterError, match=r"environment variable name 'A-B' is not valid"):
        kx.wrapped_argv(["true"], {"A-B": "x"})
    with pytest.raises(ClusterError, match=r"^exec: empty command$"):
        kx.wrapped_argv([])


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"recapp-exec-pid 4242\nwarning: x\n", (4242, b"warning: x\n", True)),
        (b"recapp-exec-pid 42", (None, b"recapp-exec-pid 42", False)),  # the line is not complete yet
        (b"recap", (None, b"recap", False)),
        (b"sh: 1: printf: not found\n", (None, b"sh: 1: printf: not found\n", True)),
        (b"no newline but clearly not the marker", (None, b"no newline but clearly not the marker", True)),
    ],
)
def test_split_pid_marker(head: bytes, expected: tuple[int | None, bytes, bool]) -> None:
    assert kx.split_pid_marker(head) == expected


def test_exec_status_success_and_exit_codes() -> None:
    assert kx.exec_status('{"metadata":{},"status":"Success"}') == (0, None)
    failure = {
        "status": "Failure",
        "message": "command terminated with non-zero exit code: exit status 3",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": "3"}]},
    }
    assert kx.exec_status(json.dumps(failure).encode()) == (3, None)


def test_exec_status_failures_to_start_and_lost_streams() -> None:
    internal = {
        "status": "Failure",
        "reason": "InternalError",
        "message": 'OCI runtime exec failed: "sh": not found',
    }
    assert kx.exec_status(json.dumps(internal)) == (
        255,
        'exec failed: OCI runtime exec failed: "sh": not found',
    )
    assert kx.exec_status("") == (255, "exec stream closed without an exit status (connection lost?)")
    assert kx.exec_status(b"[1, 2]")[0] == 255


def test_signal_argv() -> None:
    assert kx.signal_argv(77, signal.SIGTERM) == [
        "sh",
        "-c",
        'kill -s "$1" "$2"',
        "recapp-kill",
        "TERM",
        "77",
    ]


# --- a local exec endpoint ------------------------------------------------------------------------

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


@dataclass
class ExecEndpoint:
    """Requests seen, for assertions; commands run as local processes."""

    port: int = 0
    requests: list[dict[str, Any]] = field(default_factory=list)

    @property
    def host(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _frame(payload: bytes, opcode: int = 0x2) -> bytes:
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x80 | opcode, size)
    elif size < 1 << 16:
        header = struct.pack("!BBH", 0x80 | opcode, 126, size)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 127, size)
    return header + payload


def _status(code: int) -> bytes:
    if code == 0:
        return json.dumps({"metadata": {}, "status": "Success"}).encode()
    return json.dumps(
        {
            "metadata": {},
            "status": "Failure",
            "message": f"command terminated with non-zero exit code: exit status {code}",
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
        }
    ).encode()


class _Handler(socketserver.BaseRequestHandler):
    endpoint: ExecEndpoint

    def handle(self) -> None:
        sock: socket.socket = self.request
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                return
            data += chunk
        head = data.split(b"\r\n\r\n", 1)[0].decode()
        request_line, *header_lines = head.split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, v in (ln.split(":", 1) for ln in header_lines)}
        url = urlsplit(request_line.split(" ")[1])
        query = parse_qs(url.query)
        parts = url.path.strip("/").split("/")  # api v1 namespaces NS pods POD exec
        namespace, pod = parts[3], parts[5]
        self.endpoint.requests.append({"path": url.path, "query": query, "namespace": namespace, "pod": pod})
        if pod == "missing":
            body = json.dumps({"kind": "Status", "message": f'pods "{pod}" not found', "code": 404}).encode()
            sock.sendall(
                b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            return
        accept = base64.b64encode(hashlib.sha1((headers["sec-websocket-key"] + WS_GUID).encode()).digest())
        sock.sendall(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept + b"\r\nSec-WebSocket-Protocol: v4.channel.k8s.io\r\n\r\n"
        )
        proc = subprocess.Popen(query["command"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        lock = threading.Lock()

        def pump(stream: Any, channel: int) -> None:
            for chunk in iter(lambda: os.read(stream.fileno(), 65536), b""):
                with lock:
                    sock.sendall(_frame(bytes([channel]) + chunk))

        pumps = [
            threading.Thread(target=pump, args=(proc.stdout, 1)),
            threading.Thread(target=pump, args=(proc.stderr, 2)),
        ]
        try:
            for t in pumps:
                t.start()
            if pod == "drop":  # the connection dies mid-command: no status, no close frame
                time.sleep(0.3)
                proc.kill()
                sock.shutdown(socket.SHUT_RDWR)
                return
            code = proc.wait()
            for t in pumps:
                t.join()
            code = (
                128 - code if code < 0 else code
            )  # a signal shows as 128+N, as container runtimes report it
            with lock:
                sock.sendall(_frame(bytes([3]) + _status(code)))
                sock.sendall(_frame(struct.pack("!H", 1000), opcode=0x8))
        except OSError:
            proc.kill()  # the client went away
        finally:
            proc.wait()


@pytest.fixture
def endpoint() -> Iterator[ExecEndpoint]:
    ep = ExecEndpoint()
    handler = type("Handler", (_Handler,), {"endpoint": ep})
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    ep.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield ep
    server.shutdown()
    server.server_close()


@pytest.fixture
def backend(endpoint: ExecEndpoint) -> KubernetesBackend:
    return KubernetesBackend(client.ApiClient(client.Configuration(host=endpoint.host)))


# --- exec through the real client -----------------------------------------------------------------


def test_stdout_stderr_exit_status_and_pid(backend: KubernetesBackend, endpoint: ExecEndpoint) -> None:
    proc = backend.pod_exec(
        "recapp-demo", "demo-login-x", "login", ["sh", "-c", "echo out; echo err >&2; exit 3"]
    )
    out, err = proc.communicate(timeout=20)
    assert (out, err, proc.returncode) == ("out\n", "err\n", 3)
    assert isinstance(proc.pid, int) and proc.pid > 0
    request = endpoint.requests[0]
    assert request["path"] == "/api/v1/namespaces/recapp-demo/pods/demo-login-x/exec"
    assert request["query"]["container"] == ["login"]
    assert request["query"]["command"] == kx.wrapped_argv(["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert (request["query"]["stdin"], request["query"]["tty"]) == (["false"], ["false"])


def test_env_and_line_by_line_reading(backend: KubernetesBackend) -> None:
    proc = backend.pod_exec(
        "ns", "pod", "login", ["sh", "-c", 'for i in 1 2 3; do echo "$WORD $i"; done'], env={"WORD": "line"}
    )
    lines = [line.rstrip("\n") for line in proc.stdout]
    assert lines == ["line 1", "line 2", "line 3"]
    assert proc.wait(timeout=20) == 0
    assert proc.stderr.read() == ""


def test_large_output_arrives_whole(backend: KubernetesBackend) -> None:
    proc = backend.pod_exec("ns", "pod", "node", ["sh", "-c", "head -c 3000000 /dev/zero | tr '\\0' x; echo"])
    out, _err = proc.communicate(timeout=60)
    assert out == "x" * 3_000_000 + "\n"
    assert proc.returncode == 0


def test_terminate_signals_the_remote_command(backend: KubernetesBackend, endpoint: ExecEndpoint) -> None:
    proc = backend.pod_exec("ns", "pod", "login", ["sleep", "30"])
    start = time.monotonic()
    assert proc.poll() is None
    proc.terminate()
    assert proc.wait(timeout=20) == 128 + signal.SIGTERM
    assert time.monotonic() - start < 10
    kill_request = endpoint.requests[1]
    assert kill_request["query"]["command"][:5] == ["sh", "-c", 'kill -s "$1" "$2"', "recapp-kill", "TERM"]
    assert kill_request["query"]["command"][5] == str(proc.pid)


def test_wait_times_out_like_popen(backend: KubernetesBackend) -> None:
    proc = backend.pod_exec("ns", "pod", "login", ["sleep", "30"])
    with pytest.raises(subprocess.TimeoutExpired):
        proc.wait(timeout=0.5)
    proc.kill()
    assert proc.wait(timeout=20) == 128 + signal.SIGKILL


def test_a_lost_stream_is_255_with_a_reason(backend: KubernetesBackend) -> None:
    proc = backend.pod_exec("ns", "drop", "login", ["sleep", "30"])
    _out, err = proc.communicate(timeout=20)
    assert proc.returncode == 255
    assert err.splitlines()[-1].startswith("recapp: exec stream")
    # The job runner reads this to tell "the connection went" from "the command exited 255".
    assert proc.lost is not None and proc.lost.startswith("exec stream"), proc.lost


def test_a_status_that_came_back_is_not_a_lost_stream(backend: KubernetesBackend) -> None:
    proc = backend.pod_exec("ns", "pod", "login", ["sh", "-c", "exit 255"])
    proc.communicate(timeout=20)
    assert (proc.returncode, proc.lost) == (255, None)


def test_a_missing_pod_is_named(backend: KubernetesBackend) -> None:
    with pytest.raises(ClusterError) as info:
        backend.pod_exec("recapp-demo", "missing", "node", ["true"])
    assert str(info.value) == 'exec pods/exec missing in recapp-demo: not found (pods "missing" not found)'


def test_node_commands_are_killed_at_their_timeout(
    backend: KubernetesBackend, endpoint: ExecEndpoint
) -> None:
    spec = load_spec({"name": "demo", "nodes": 2, "rec_image": "registry.example.org/recapp/rec:trixie"})
    status, out, err = backend._run_in_node(spec, "demo-node-1", ["sh", "-c", "echo hi; echo warn >&2"], 20)
    assert (status, out, err) == (0, "hi\n", "warn\n")
    assert endpoint.requests[-1]["path"] == "/api/v1/namespaces/recapp-demo/pods/demo-node-1/exec"
    assert endpoint.requests[-1]["query"]["container"] == ["node"]
    start = time.monotonic()
    with pytest.raises(ClusterError, match=r"^node pod demo-node-0: sleep timed out after 1 s$"):
        backend._run_in_node(spec, "demo-node-0", ["sleep", "30"], 1)
    assert time.monotonic() - start < 15
    assert (
        endpoint.requests[-1]["query"]["command"][4] == "KILL"
    )  # the remote sleep was killed, not abandoned
    with pytest.raises(
        ClusterError, match=r"^cluster demo has no node pod 'demo-node-2' \(nodes: demo-node-0"
    ):
        backend._run_in_node(spec, "demo-node-2", ["true"], 5)
