"""Attacks on a running launch agent, built on the wire protocol of recapp.node.protocol.

Stdlib and recapp.node only, and runnable as a script, because the security report runs it *inside*
a REC container against that container's own agent on 127.0.0.1, with the REC's copy of the node
package on PYTHONPATH (`python3 - PORT SECRET_FILE < this file`):

    python3 agent_attacks.py PORT SECRET_FILE     → one JSON line per attack on stdout

Each attack states what a secure agent must do (`expect`: accepted or refused) and what it did.
tests/agent/test_security.py attacks the same handshake with frames written independently.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import sys

from recapp.node import protocol as p

MARKER = "/tmp/recapp-attack-ran"  # a command that must never run creates it


def _recv(sock: socket.socket) -> tuple[bytes, bytes]:
    try:
        return p.recv_frame(sock)
    except p.ProtocolError:
        return b"", b""  # closed


def _connect(port: int) -> tuple[socket.socket, bytes]:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    kind, payload = _recv(sock)
    if kind != p.HELLO:
        raise RuntimeError(f"no HELLO from the agent (got {kind!r})")
    return sock, bytes.fromhex(json.loads(payload)["nonce"])


def _body(kind: str, argv: list[str], env: dict[str, str] | None = None) -> bytes:
    return p.request_body(kind, argv, p.new_cnonce(), env)


def _answer(sock: socket.socket) -> tuple[str, str]:
    kind, payload = _recv(sock)
    sock.close()
    if kind == p.ACCEPT:
        return "accepted", ""
    if kind == p.REFUSE:
        return "refused", payload.decode(errors="replace")
    return "closed", ""


def _signed(
    port: int, secret: bytes, kind: str, argv: list[str], env: dict[str, str] | None = None
) -> tuple[str, str]:
    sock, nonce = _connect(port)
    body = _body(kind, argv, env)
    p.send_frame(sock, p.REQUEST, p.signed_request(secret, nonce, body))
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
    tag = p.request_mac(secret, nonce, body)
    p.send_frame(sock, p.REQUEST, tag + body.replace(b'"prted"', b'"prted --evil"'))
    record("request altered after signing", "refused", _answer(sock))

    sock, nonce = _connect(port)
    body = _body("ping", [])
    captured = p.signed_request(secret, nonce, body)
    p.send_frame(sock, p.REQUEST, captured)
    first = _answer(sock)
    sock, _nonce = _connect(port)
    p.send_frame(sock, p.REQUEST, captured)
    record("captured request replayed", "refused" if first[0] == "accepted" else "accepted", _answer(sock))

    sock_a, nonce_a = _connect(port)
    sock_b, _ = _connect(port)
    body = _body("ping", [])
    p.send_frame(sock_b, p.REQUEST, p.signed_request(secret, nonce_a, body))
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
    secret = p.read_secret(secret_file)
    for result in attacks(port, secret):
        print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
