"""The handshake, attacked with raw sockets: no TLS, wrong certificates, wrong secret, tampering,
replay, impostors, NUL bytes, oversized and trickled requests.

The frames are written here from the protocol as recapp-agent's docstring states it (mutual TLS
1.3, then: type byte, 4-byte big-endian length, payload; mac = HMAC-SHA256(secret, nonce ||
canonical request)), not by importing the tools, so these tests also pin the documented protocol.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
import socket
import ssl
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from conftest import Agent

FRAME = struct.Struct("!cI")
NODE_NAME, OTHER_NODE = "node", "node-b"  # the pairs conftest writes (not importable under importlib)
AUTH_FAILED = "authentication failed (wrong secret, or the request was altered or replayed)"


def send_frame(sock: socket.socket, kind: bytes, payload: bytes) -> None:
    sock.sendall(FRAME.pack(kind, len(payload)) + payload)


def recv_all(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        try:
            chunk = sock.recv(size - len(data))
        except (ssl.SSLEOFError, ConnectionResetError):
            chunk = b""
        if not chunk:
            break
        data += chunk
    return data


def recv_frame(sock: socket.socket) -> tuple[bytes, bytes]:
    header = recv_all(sock, FRAME.size)
    assert len(header) == FRAME.size, "connection closed"
    kind, length = FRAME.unpack(header)
    return kind, recv_all(sock, length)


def frames_until_close(sock: socket.socket) -> list[tuple[bytes, bytes]]:
    frames = []
    while True:
        header = recv_all(sock, FRAME.size)
        if len(header) < FRAME.size:
            return frames
        kind, length = FRAME.unpack(header)
        frames.append((kind, recv_all(sock, length)))


def tls_client(agent: Agent, pair: str | None = "launcher", tls_dir: Path | None = None) -> ssl.SSLContext:
    """A client context trusting the test cluster's CA, with `pair` (None: no certificate)."""
    where = tls_dir or agent.tls.dir
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.load_verify_locations(agent.tls.dir / "ca.crt")
    if pair is not None:
        context.load_cert_chain(where / f"{pair}.crt", where / f"{pair}.key")
    return context


def connect(
    agent: Agent, pair: str | None = "launcher", tls_dir: Path | None = None
) -> tuple[socket.socket, bytes]:
    """Open a TLS connection and read the agent's HELLO; returns the socket and its nonce."""
    raw = socket.create_connection(("127.0.0.1", agent.port), timeout=10)
    sock = tls_client(agent, pair, tls_dir).wrap_socket(raw, server_hostname="127.0.0.1")
    kind, payload = recv_frame(sock)
    hello = json.loads(payload)
    assert (kind, hello["agent"], hello["proto"]) == (b"h", "recapp-agent", 1)
    return sock, bytes.fromhex(hello["nonce"])


def request_body(argv: list[str], env: dict[str, str] | None = None) -> bytes:
    request = {
        "v": 1,
        "kind": "launch",
        "argv": argv,
        "env": env or {},
        "cwd": None,
        "cnonce": secrets.token_hex(32),
    }
    return json.dumps(request, sort_keys=True, separators=(",", ":")).encode()


def mac(secret: bytes, nonce: bytes, body: bytes) -> bytes:
    return hmac.new(secret, nonce + body, hashlib.sha256).digest()


@pytest.fixture
def secret(agent: Agent) -> bytes:
    return agent.secret_file.read_bytes().strip()


@pytest.fixture
def sockets() -> Iterator[list[socket.socket]]:
    opened: list[socket.socket] = []
    yield opened
    for sock in opened:
        sock.close()


def test_valid_raw_request_runs_and_reports_exit(
    agent: Agent, secret: bytes, sockets: list[socket.socket]
) -> None:
    sock, nonce = connect(agent)
    sockets.append(sock)
    body = request_body(["PRTE_TEST_CODE=3", "prted", "raw"])
    send_frame(sock, b"q", mac(secret, nonce, body) + body)
    send_frame(sock, b"c", b"")

    frames = frames_until_close(sock)

    kinds = [kind for kind, _ in frames]
    assert kinds[0] == b"a" and kinds[-1] == b"x"
    assert json.loads(frames[-1][1]) == {"code": 3, "signal": None}
    stdout = b"".join(payload for kind, payload in frames if kind == b"o")
    assert json.loads(stdout)["args"] == ["raw"]
    assert len(agent.runs()) == 1


def test_wrong_secret_is_refused(agent: Agent) -> None:
    result = agent.launch("127.0.0.1", "prted", secret_file=agent.other_secret("not the secret"))

    assert result.returncode == 255
    assert result.stderr.decode() == f"recapp-launch: refused by 127.0.0.1: {AUTH_FAILED}\n"
    assert agent.runs() == []
    assert "decision=refused" in agent.log()


@pytest.mark.parametrize("part", ["body", "mac"])
def test_tampered_request_is_refused(
    agent: Agent, secret: bytes, sockets: list[socket.socket], part: str
) -> None:
    sock, nonce = connect(agent)
    sockets.append(sock)
    signed = request_body(["prted"])
    tag = mac(secret, nonce, signed)
    if part == "body":
        sent_body, sent_tag = signed.replace(b'"prted"', b'"prted --evil"'), tag
    else:
        sent_body, sent_tag = signed, bytes([tag[0] ^ 1]) + tag[1:]
    assert (sent_body, sent_tag) != (signed, tag)

    send_frame(sock, b"q", sent_tag + sent_body)

    assert frames_until_close(sock) == [(b"r", AUTH_FAILED.encode())]
    assert agent.runs() == []


def test_replayed_exchange_is_refused(agent: Agent, secret: bytes, sockets: list[socket.socket]) -> None:
    first, nonce = connect(agent)
    sockets.append(first)
    body = request_body(["prted"])
    captured = mac(secret, nonce, body) + body
    send_frame(first, b"q", captured)
    send_frame(first, b"c", b"")
    assert frames_until_close(first)[-1][0] == b"x"
    assert len(agent.runs()) == 1

    replay, replay_nonce = connect(agent)
    sockets.append(replay)
    send_frame(replay, b"q", captured)

    assert replay_nonce != nonce
    assert frames_until_close(replay) == [(b"r", AUTH_FAILED.encode())]
    assert len(agent.runs()) == 1


def test_nonce_is_bound_to_its_connection(agent: Agent, secret: bytes, sockets: list[socket.socket]) -> None:
    sock_a, nonce_a = connect(agent)
    sock_b, _ = connect(agent)
    sockets.extend([sock_a, sock_b])
    body = request_body(["prted"])
    signed_for_a = mac(secret, nonce_a, body) + body

    send_frame(sock_b, b"q", signed_for_a)
    assert frames_until_close(sock_b) == [(b"r", AUTH_FAILED.encode())]

    send_frame(sock_a, b"q", signed_for_a)  # the same bytes are good on the connection they were made for
    send_frame(sock_a, b"c", b"")
    assert frames_until_close(sock_a)[-1][0] == b"x"
    assert len(agent.runs()) == 1


def test_request_environment_obeys_the_same_policy(
    agent: Agent, secret: bytes, sockets: list[socket.socket]
) -> None:
    refused, nonce = connect(agent)
    sockets.append(refused)
    body = request_body(["prted"], env={"LD_PRELOAD": "/tmp/evil.so"})
    send_frame(refused, b"q", mac(secret, nonce, body) + body)
    reason = "environment variable 'LD_PRELOAD' may not be set (allowed: PRTE_*, PMIX_*, OMPI_*)"
    assert frames_until_close(refused) == [(b"r", reason.encode())]

    accepted, nonce = connect(agent)
    sockets.append(accepted)
    body = request_body(["prted"], env={"PRTE_PREFIX": "/opt/prrte"})
    send_frame(accepted, b"q", mac(secret, nonce, body) + body)
    send_frame(accepted, b"c", b"")
    stdout = b"".join(payload for kind, payload in frames_until_close(accepted) if kind == b"o")
    assert json.loads(stdout)["env"]["PRTE_PREFIX"] == "/opt/prrte"


def impostor_context(agent: Agent, pair: str, tls_dir: Path | None = None) -> ssl.SSLContext:
    where = tls_dir or agent.tls.dir
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(where / f"{pair}.crt", where / f"{pair}.key")
    return context


def test_client_does_not_trust_an_impostor_agent(agent: Agent) -> None:
    # Something listening on the port with this node's key (stolen) but not the secret: it cannot
    # produce the ACCEPT proof, so its "output" and "exit status" must not reach PRRTE.
    impostor = socket.create_server(("127.0.0.1", 0))
    port = impostor.getsockname()[1]
    context = impostor_context(agent, NODE_NAME)

    def pretend() -> None:
        raw, _ = impostor.accept()
        with context.wrap_socket(raw, server_side=True) as conn:
            hello = {"agent": "recapp-agent", "proto": 1, "node": "x", "nonce": secrets.token_hex(32)}
            send_frame(conn, b"h", json.dumps(hello).encode())
            recv_frame(conn)
            with contextlib.suppress(OSError):  # the client hangs up once the proof fails
                send_frame(conn, b"a", os.urandom(32))
                send_frame(conn, b"o", b"forged output\n")
                send_frame(conn, b"x", b'{"code":0,"signal":null}')

    thread = threading.Thread(target=pretend, daemon=True)
    thread.start()
    try:
        result = agent.launch("127.0.0.1", "prted", RECAPP_AGENT_PORT=str(port))
    finally:
        thread.join(5)
        impostor.close()

    assert result.returncode == 255
    assert result.stdout == b""
    assert f"127.0.0.1:{port} did not prove the shared secret" in result.stderr.decode()


@pytest.mark.parametrize(
    ("pair", "foreign", "why"),
    [
        (OTHER_NODE, False, "IP address mismatch, certificate is not valid for '127.0.0.1'."),
        (NODE_NAME, True, "unable to get local issuer certificate"),
    ],
)
def test_launcher_refuses_an_agent_that_is_not_the_node_it_dialled(
    agent: Agent, pair: str, foreign: bool, why: str
) -> None:
    # Another node of the cluster answering for this one, or a certificate of another CA: the
    # launcher sends nothing (no request, no DVM key) and says so.
    impostor = socket.create_server(("127.0.0.1", 0))
    port = impostor.getsockname()[1]
    context = impostor_context(agent, pair, agent.tls.foreign if foreign else None)
    got: list[bytes] = []

    def pretend() -> None:
        raw, _ = impostor.accept()
        with contextlib.suppress(ssl.SSLError, OSError), context.wrap_socket(raw, server_side=True) as conn:
            got.append(conn.recv(100))

    thread = threading.Thread(target=pretend, daemon=True)
    thread.start()
    try:
        result = agent.launch("127.0.0.1", "prted", RECAPP_AGENT_PORT=str(port))
    finally:
        thread.join(5)
        impostor.close()
    assert result.returncode == 255
    assert result.stderr.decode() == (
        f"recapp-launch: 127.0.0.1:{port} is not the node it should be: {why}; not trusting it"
        " (certificates name nodes: use the hostfile's names, not hostfile.ip)\n"
    )
    assert got in ([], [b""])


# --- mutual TLS: what a client without the cluster's launcher certificate gets ------------------------


def test_plain_tcp_gets_no_protocol_in_clear_text(agent: Agent) -> None:
    received = b""
    with socket.create_connection(("127.0.0.1", agent.port), timeout=10) as sock:
        sock.sendall(b"\x00" * 64)  # not a TLS ClientHello
        with contextlib.suppress(ConnectionResetError):
            received = sock.recv(4096)
    assert b"recapp-agent" not in received and b"nonce" not in received
    assert wait_for(lambda: 'reason="TLS: ' in agent.log())
    assert agent.runs() == []


@pytest.mark.parametrize("who", ["no certificate", "another cluster's launcher"])
def test_tls_client_without_the_clusters_client_certificate_cannot_complete_a_request(
    agent: Agent, secret: bytes, who: str
) -> None:
    pair, tls_dir = (None, None) if who == "no certificate" else ("launcher", agent.tls.foreign)
    raw = socket.create_connection(("127.0.0.1", agent.port), timeout=10)
    with (
        pytest.raises((ssl.SSLError, ConnectionResetError, AssertionError)),
        tls_client(agent, pair, tls_dir).wrap_socket(raw, server_hostname="127.0.0.1") as sock,
    ):
        recv_frame(sock)  # TLS 1.3: the refusal arrives on the first read
        # Even a HELLO would be a failure; so would any answer to a request.
        body = request_body(["prted"])
        send_frame(sock, b"q", mac(secret, b"\0" * 32, body) + body)
        frames_until_close(sock)
    assert agent.runs() == []
    assert wait_for(lambda: 'reason="TLS: ' in agent.log())


def test_a_node_certificate_may_ping_but_not_launch(agent: Agent, secret: bytes) -> None:
    sock, nonce = connect(agent, pair=NODE_NAME)
    body = request_body(["prted"])
    send_frame(sock, b"q", mac(secret, nonce, body) + body)
    assert frames_until_close(sock) == [(b"r", b"a node certificate may not launch (only the launcher's)")]
    sock.close()
    assert agent.ping().returncode == 0  # the readiness probe uses the node's pair
    assert agent.runs() == []


# --- bad input and login limits --------------------------------------------------------------------------


def test_nul_byte_in_an_env_value_is_refused_with_a_reason(
    agent: Agent, secret: bytes, sockets: list[socket.socket]
) -> None:
    sock, nonce = connect(agent)
    sockets.append(sock)
    body = request_body(["prted"], env={"PRTE_X": "a\u0000b"})
    send_frame(sock, b"q", mac(secret, nonce, body) + body)
    assert frames_until_close(sock) == [(b"r", b"NUL byte in the environment variable 'PRTE_X'")]
    assert agent.runs() == []


def test_a_request_over_256_kib_is_dropped(agent: Agent, sockets: list[socket.socket]) -> None:
    sock, _nonce = connect(agent)
    sockets.append(sock)
    sock.sendall(FRAME.pack(b"q", 256 * 1024 + 1))  # the header alone is enough to be refused
    assert frames_until_close(sock) == []
    assert wait_for(lambda: "over the 262144-byte limit" in agent.log())


def test_a_trickling_client_is_dropped_at_the_login_deadline(agent: Agent) -> None:
    sock, _nonce = connect(agent)
    started = time.monotonic()
    closed_after = None
    with contextlib.suppress(OSError, ssl.SSLError):
        sock.sendall(FRAME.pack(b"q", 1000))  # a request of a fine size, then its body...
        for _ in range(30):  # ...one byte a second: each read alone would be well within a timeout
            sock.sendall(b"q")
            time.sleep(1.0)
            sock.settimeout(0.01)
            with contextlib.suppress(TimeoutError, ssl.SSLWantReadError):
                if sock.recv(1) == b"":
                    closed_after = time.monotonic() - started
                    break
    sock.close()
    assert closed_after is not None and closed_after < 13, closed_after
    assert "login deadline passed" in agent.log()


def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_agent_will_not_start_without_a_usable_secret_or_program(
    run_agent_cli: Callable[..., subprocess.CompletedProcess[bytes]],
    tmp_path: Path,
    write_tls: Callable[[Path], Any],
) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n")
    good = tmp_path / "good"
    good.write_text("s3cret\n")
    serve = ("serve", "--port", "0", "--bind", "127.0.0.1")

    tls_files = write_tls(tmp_path)
    tls = ("--tls-dir", str(tls_files.dir), "--tls-name", NODE_NAME)
    no_secret = run_agent_cli(*serve, "--secret-file", str(empty), *tls)
    no_program = run_agent_cli(*serve, "--secret-file", str(good), *tls, "--allow", "no-such-program-here")
    no_tls = run_agent_cli(*serve, "--secret-file", str(good), "--tls-dir", str(tmp_path / "nothing"))

    assert (no_secret.returncode, no_secret.stderr.decode()) == (
        2,
        f"recapp-agent: secret file {empty} is empty\n",
    )
    assert no_program.returncode == 2
    assert "allowed program 'no-such-program-here' is not an executable" in no_program.stderr.decode()
    assert no_tls.returncode == 2
    assert no_tls.stderr.decode().startswith(f"recapp-agent: TLS files in {tmp_path / 'nothing'} for ")
