"""The handshake, attacked with raw sockets: wrong secret, tampering, replay, impostors.

The frames are written here from the protocol as recapp-agent's docstring states it (type byte,
4-byte big-endian length, payload; mac = HMAC-SHA256(secret, nonce || canonical request)),
not by importing the tools, so these tests also pin the documented wire format.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
import socket
import struct
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import Agent

FRAME = struct.Struct("!cI")
AUTH_FAILED = "authentication failed (wrong secret, or the request was altered or replayed)"


def send_frame(sock: socket.socket, kind: bytes, payload: bytes) -> None:
    sock.sendall(FRAME.pack(kind, len(payload)) + payload)


def recv_frame(sock: socket.socket) -> tuple[bytes, bytes]:
    header = sock.recv(FRAME.size, socket.MSG_WAITALL)
    assert len(header) == FRAME.size, "connection closed"
    kind, length = FRAME.unpack(header)
    payload = sock.recv(length, socket.MSG_WAITALL) if length else b""
    return kind, payload


def frames_until_close(sock: socket.socket) -> list[tuple[bytes, bytes]]:
    frames = []
    while True:
        header = sock.recv(FRAME.size, socket.MSG_WAITALL)
        if len(header) < FRAME.size:
            return frames
        kind, length = FRAME.unpack(header)
        frames.append((kind, sock.recv(length, socket.MSG_WAITALL) if length else b""))


def connect(agent: Agent) -> tuple[socket.socket, bytes]:
    """Open a connection and read the agent's HELLO; returns the socket and its nonce."""
    sock = socket.create_connection(("127.0.0.1", agent.port), timeout=10)
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


def test_client_does_not_trust_an_impostor_agent(agent: Agent) -> None:
    # Something listening on the port that does not hold the secret: it cannot produce the
    # ACCEPT proof, so its "output" and "exit status" must not reach PRRTE.
    impostor = socket.create_server(("127.0.0.1", 0))
    port = impostor.getsockname()[1]

    def pretend() -> None:
        conn, _ = impostor.accept()
        with conn:
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


def test_agent_will_not_start_without_a_usable_secret_or_program(
    run_agent_cli: Callable[..., subprocess.CompletedProcess[bytes]], tmp_path: Path
) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n")
    good = tmp_path / "good"
    good.write_text("s3cret\n")
    serve = ("serve", "--port", "0", "--bind", "127.0.0.1")

    no_secret = run_agent_cli(*serve, "--secret-file", str(empty))
    no_program = run_agent_cli(*serve, "--secret-file", str(good), "--allow", "no-such-program-here")

    assert (no_secret.returncode, no_secret.stderr.decode()) == (
        2,
        f"recapp-agent: secret file {empty} is empty\n",
    )
    assert no_program.returncode == 2
    assert "allowed program 'no-such-program-here' is not an executable" in no_program.stderr.decode()
