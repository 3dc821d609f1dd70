"""The launch agent's wire protocol: the one place its port, secret path, framing and proofs are written.

Version 1, TCP, one request per connection. Every message is a frame: 1 type byte, 4-byte
big-endian payload length, payload.

1. server -> HELLO   'h'  JSON {"agent": "recapp-agent", "proto": 1, "node": hostname,
                               "nonce": 64 hex digits}; a fresh random nonce per connection.
2. client -> REQUEST 'q'  mac (32 raw bytes) || body, where body is the canonical JSON
                          (sorted keys, no spaces, ASCII) of
                          {"v": 1, "kind": "launch"|"ping", "argv": [str...], "env": {str: str},
                           "cwd": str|null, "cnonce": 64 hex digits}
                          and mac = HMAC-SHA256(secret, nonce || body).
   The secret never crosses the wire. The server compares the mac in constant time over the
   exact bytes received. A nonce is bound to its connection and used once: the connection
   carries one request, so a captured request replayed on any other connection fails, and an
   altered body or mac fails. Then the request is checked against the allow-list (agent/plan.py).
3. server -> REFUSE  'r'  UTF-8 reason, then the connection closes (client prints it, exits 255), or
   server -> ACCEPT  'a'  HMAC-SHA256(secret, "accept" || nonce || cnonce): the agent proves it
                          holds the secret too, so a client never takes output or an exit
                          status from an impostor.
4. streaming, until the command exits:
   server -> 'o' stdout bytes, 'e' stderr bytes, 'b' heartbeat (empty) every --heartbeat s
   client -> 'i' stdin bytes, 'c' stdin closed, 'b' heartbeat every 3 s
   Either side treats --lost-after (15) s without any frame as a lost peer: the client exits 255
   naming the host; the agent kills the command's whole process group (SIGTERM, SIGKILL 3 s
   later). A closed connection counts the same.
5. server -> EXIT    'x'  JSON {"code": 0..255, "signal": int|null}; code is 128+N for a command
                          killed by signal N, as a shell reports it. Then the connection closes.

The stream after ACCEPT is not encrypted or authenticated per frame: keep the agent's port on the
virtual cluster's pod network (NetworkPolicy), as the secret only guards who may launch.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import socket
import struct
from typing import Any, Final

PROTOCOL_VERSION: Final = 1
AGENT_PORT: Final = 7450
SECRET_FILE: Final = "/etc/recapp/agent/secret"
SECRET_DIR: Final = SECRET_FILE.rpartition("/")[0]
AGENT_NAME: Final = "recapp-agent"  # the HELLO's "agent" field

# Frame types (one byte each); see the module docstring.
HELLO, REQUEST, REFUSE, ACCEPT = b"h", b"q", b"r", b"a"
STDOUT, STDERR, STDIN, STDIN_CLOSED, HEARTBEAT, EXIT = b"o", b"e", b"i", b"c", b"b", b"x"

FRAME_HEADER: Final = struct.Struct("!cI")
MAC_LEN: Final = 32
NONCE_LEN: Final = 32
MAX_REQUEST_BYTES: Final = 4 * 1024 * 1024  # PRRTE itself stops at ARG_MAX (2 MiB on Linux)
MAX_DATA_FRAME: Final = 1024 * 1024
READ_CHUNK: Final = 64 * 1024

HEARTBEAT_S: Final = 3.0  # both sides beat this often by default
LOST_AFTER_S: Final = 15.0  # silence after which a peer counts as lost


class ProtocolError(Exception):
    """The peer broke the framing or closed the connection."""


def send_frame(sock: socket.socket, kind: bytes, payload: bytes = b"") -> None:
    sock.sendall(FRAME_HEADER.pack(kind, len(payload)) + payload)


def recv_exact(sock: socket.socket, size: int) -> bytes:
    chunks: list[bytes] = []
    remaining = size
    while remaining:
        chunk = sock.recv(min(remaining, READ_CHUNK))
        if not chunk:
            raise ProtocolError("connection closed")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def recv_frame(sock: socket.socket, max_len: int = MAX_DATA_FRAME) -> tuple[bytes, bytes]:
    kind, length = FRAME_HEADER.unpack(recv_exact(sock, FRAME_HEADER.size))
    if length > max_len:
        raise ProtocolError(f"frame of {length} bytes is over the {max_len}-byte limit")
    return kind, recv_exact(sock, length)


def canonical_json(obj: object) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def request_mac(secret: bytes, nonce: bytes, body: bytes) -> bytes:
    return hmac.new(secret, nonce + body, hashlib.sha256).digest()


def accept_proof(secret: bytes, nonce: bytes, cnonce: bytes) -> bytes:
    return hmac.new(secret, b"accept" + nonce + cnonce, hashlib.sha256).digest()


def hello_nonce(kind: bytes, payload: bytes) -> bytes | None:
    """The server's nonce from its first frame, or None unless it is a HELLO of this protocol."""
    try:
        hello = json.loads(payload) if kind == HELLO else {}
        nonce = bytes.fromhex(hello["nonce"]) if hello.get("proto") == PROTOCOL_VERSION else b""
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    return nonce if len(nonce) == NONCE_LEN else None


def new_cnonce() -> bytes:
    return secrets.token_bytes(NONCE_LEN)


def request_body(
    kind: str, argv: list[str], cnonce: bytes, env: dict[str, str] | None = None, cwd: str | None = None
) -> bytes:
    """The canonical body of a REQUEST, which the mac covers byte for byte."""
    request: dict[str, Any] = {
        "v": PROTOCOL_VERSION,
        "kind": kind,
        "argv": argv,
        "env": env or {},
        "cwd": cwd,
        "cnonce": cnonce.hex(),
    }
    return canonical_json(request)


def signed_request(secret: bytes, nonce: bytes, body: bytes) -> bytes:
    """The REQUEST frame's payload: mac || body."""
    return request_mac(secret, nonce, body) + body


def exit_payload(code: int, signal: int | None = None) -> bytes:
    return canonical_json({"code": code, "signal": signal})


def read_secret(path: str) -> bytes:
    """The shared secret: the file's bytes without surrounding whitespace (a trailing newline).

    Raises OSError when unreadable and ValueError when empty."""
    with open(path, "rb") as handle:
        secret = handle.read().strip()
    if not secret:
        raise ValueError(f"secret file {path} is empty")
    return secret
