"""recapp.node.protocol on a real socket pair: frames, limits, the request mac and the agent's proof."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
from pathlib import Path

import pytest

from recapp.node import protocol as p


def test_a_frame_crosses_a_socket_whole() -> None:
    left, right = socket.socketpair()
    with left, right:
        p.send_frame(left, p.STDOUT, b"x" * 100_000)
        p.send_frame(left, p.HEARTBEAT)
        assert p.recv_frame(right) == (b"o", b"x" * 100_000)
        assert p.recv_frame(right) == (b"b", b"")
        left.close()
        with pytest.raises(p.ProtocolError, match="connection closed"):
            p.recv_frame(right)


def test_a_frame_over_the_limit_is_refused_before_it_is_read() -> None:
    left, right = socket.socketpair()
    with left, right:
        left.sendall(p.FRAME_HEADER.pack(b"q", 11))
        with pytest.raises(p.ProtocolError, match="frame of 11 bytes is over the 10-byte limit"):
            p.recv_frame(right, max_len=10)


def test_request_body_is_canonical_and_the_mac_covers_nonce_and_body() -> None:
    cnonce = bytes(range(32))
    body = p.request_body("launch", ["prted", "--x"], cnonce, {"PRTE_A": "1"})
    assert body == (
        b'{"argv":["prted","--x"],"cnonce":"' + cnonce.hex().encode() + b'","cwd":null,'
        b'"env":{"PRTE_A":"1"},"kind":"launch","v":1}'
    )
    nonce = b"n" * 32
    signed = p.signed_request(b"secret", nonce, body)
    assert signed == hmac.new(b"secret", nonce + body, hashlib.sha256).digest() + body
    proof = hmac.new(b"secret", b"accept" + nonce + cnonce, hashlib.sha256).digest()
    assert p.accept_proof(b"secret", nonce, cnonce) == proof


@pytest.mark.parametrize(
    ("kind", "hello", "nonce"),
    [
        (b"h", {"agent": "recapp-agent", "proto": 1, "node": "n", "nonce": "ab" * 32}, bytes([0xAB]) * 32),
        (b"h", {"proto": 2, "nonce": "ab" * 32}, None),
        (b"h", {"proto": 1, "nonce": "ab" * 8}, None),
        (b"h", {"proto": 1}, None),
        (b"x", {"proto": 1, "nonce": "ab" * 32}, None),
    ],
)
def test_hello_nonce(kind: bytes, hello: dict[str, object], nonce: bytes | None) -> None:
    assert p.hello_nonce(kind, json.dumps(hello).encode()) == nonce


def test_the_secret_is_read_without_its_newline(tmp_path: Path) -> None:
    (tmp_path / "s").write_text("abc\n")
    (tmp_path / "empty").write_text("\n")
    assert p.read_secret(str(tmp_path / "s")) == b"abc"
    with pytest.raises(ValueError, match="is empty"):
        p.read_secret(str(tmp_path / "empty"))
    assert p.SECRET_DIR + "/secret" == p.SECRET_FILE
