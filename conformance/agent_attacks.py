"""Attacks on a running launch agent, written from the wire protocol in recapp-agent's docstring.

Stdlib only and runnable as a script, because the security report runs it *inside* a REC container
against that container's own agent on 127.0.0.1 (`python3 - PORT SECRET_FILE < this file`):

    python3 agent_attacks.py PORT SECRET_FILE     → one JSON line per attack on stdout

Each attack states what a secure agent must do (`expect`: accepted or refused) and what it did.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import socket
import struct
import sys

FRAME = struct.Struct("!cI")
HELLO, REQUEST, REFUSE, ACCEPT = b"h", b"q", b"r", b"a"
MARKER = "/tmp/recapp-attack-ran"  # a command that must never run creates it


def _send(sock: socket.socket, kind: bytes, payload: bytes) -> None:
    sock.sendall(FRAME.pack(kind, len(payload)) + payload)


def _recv(sock: socket.socket) -> tuple[bytes, bytes]:
    header = sock.recv(FRAME.size, socket.MSG_WAITALL)
    if len(header) < FRAME.size:
        return b"", b""  # closed
    kind, length = FRAME.unpack(header)
    return kind, sock.recv(length, socket.MSG_WAITALL) if length else b""


def _connect(port: int) -> tuple[socket.socket, bytes]:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    kind, payload = _recv(sock)
    if kind != HELLO:
        raise RuntimeError(f"no HELLO from the agent (got {kind!r})")
    return sock, bytes.fromhex(json.loads(payload)["nonce"])


def _body(kind: str, argv: list[str], env: dict[str, str] | None = None) -> bytes:
    request = {
        "v": 1,
        "kind": kind,
        "argv": argv,
        "env": env or {},
        "cwd": None,
        "cnonce": secrets.token_hex(32),
    }
    return json.dumps(request, sort_keys=True, separators=(",", ":")).encode()


def _mac(secret: bytes, nonce: bytes, body: bytes) -> bytes:
    return hmac.new(secret, nonce + body, hashlib.sha256).digest()


def _answer(sock: socket.socket) -> tuple[str, str]:
    kind, payload = _recv(sock)
    sock.close()
    if kind == ACCEPT:
        return "accepted", ""
    if kind == REFUSE:
        return "refused", payload.decode(errors="replace")
    return "closed", ""


def _signed(port: int, secret: bytes, kind: str, argv: list[str], env: dict[str, str] | None = None):
    sock, nonce = _connect(port)
    body = _body(kind, argv, env)
    _send(sock, REQUEST, _mac(secret, nonce, body) + body)
    return _answer(sock)


def attacks(port: int, secret: bytes) -> list[dict[str, str]]:
    results: list[dict[str, str]] = []

    def record(name: str, expect: str, outcome: tuple[str, str]) -> None:
        results.append({"attack": name, "expect": expect, "outcome": outcome[0], "reason": outcome[1]})

    # The baseline: the right secret is accepted (otherwise every refusal below proves nothing).
    record("ping with the cluster's secret", "accepted", _signed(port, secret, "ping", []))
    record("ping with a wrong secret", "refused", _signed(port, secrets.token_bytes(32), "ping", []))

    sock, nonce = _connect(port)
    body = _body("launch", ["prted"])
    tag = _mac(secret, nonce, body)
    _send(sock, REQUEST, tag + body.replace(b'"prted"', b'"prted --evil"'))
    record("request altered after signing", "refused", _answer(sock))

    sock, nonce = _connect(port)
    body = _body("ping", [])
    captured = _mac(secret, nonce, body) + body
    _send(sock, REQUEST, captured)
    first = _answer(sock)
    sock, _nonce = _connect(port)
    _send(sock, REQUEST, captured)
    record("captured request replayed", "refused" if first[0] == "accepted" else "accepted", _answer(sock))

    sock_a, nonce_a = _connect(port)
    sock_b, _ = _connect(port)
    body = _body("ping", [])
    _send(sock_b, REQUEST, _mac(secret, nonce_a, body) + body)
    record("request signed for another connection", "refused", _answer(sock_b))
    sock_a.close()

    for name, argv, env in (
        ("program not allow-listed (touch)", ["touch", MARKER], None),
        ("a shell (/bin/sh -c)", ["/bin/sh", "-c", f"touch {MARKER}"], None),
        ("command chaining (prted; touch)", [f"prted; touch {MARKER}"], None),
        ("command substitution", [f"prted $(touch {MARKER})"], None),
        ("LD_PRELOAD in the request environment", ["prted"], {"LD_PRELOAD": "/tmp/evil.so"}),
        ("PATH override on the command line", ["PATH=/tmp", "prted"], None),
    ):
        record(name, "refused", _signed(port, secret, "launch", argv, env))
    # Whatever the agent said, the forbidden commands must not have run.
    ran = os.path.exists(MARKER)
    results.append(
        {
            "attack": "no refused command ran",
            "expect": "refused",
            "outcome": "accepted" if ran else "refused",
            "reason": f"{MARKER} {'exists' if ran else 'absent'}",
        }
    )
    return results


def main(argv: list[str]) -> int:
    port, secret_file = int(argv[1]), argv[2]
    with open(secret_file, "rb") as fh:
        secret = fh.read().strip()
    for result in attacks(port, secret):
        print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
