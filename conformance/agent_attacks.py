"""Attacks on a running launch agent, built on the wire protocol of recapp.node.protocol.

Stdlib and recapp.node only, and runnable as a script, because the security report runs it *inside*
a REC container against that container's own agent on 127.0.0.1, with the REC's copy of the node
package on PYTHONPATH (`python3 - PORT SECRET_FILE TLS_DIR < this file`):

    python3 agent_attacks.py PORT SECRET_FILE TLS_DIR   → one JSON line per attack on stdout

TLS_DIR holds the test cluster's `ca.crt`, the agent's pair `node.crt/.key` (naming 127.0.0.1),
the launcher's pair, and `foreign/` with another cluster's launcher pair.

Each attack states what a secure agent must do (`expect`: accepted or refused) and what it did.
tests/agent/test_security.py attacks the same handshake with frames written independently.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import ssl
import sys
import time

from recapp.node import protocol as p

MARKER = "/tmp/recapp-attack-ran"  # a command that must never run creates it
# Set by main() (or a caller): where the TLS files are; the launcher's pair is the default identity.
TLS_DIR = "."


def _recv_all(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        try:
            chunk = sock.recv(size - len(data))
        except (ssl.SSLError, ConnectionResetError):
            chunk = b""
        if not chunk:
            break
        data += chunk
    return data


def _recv(sock: socket.socket) -> tuple[bytes, bytes]:
    header = _recv_all(sock, p.FRAME_HEADER.size)
    if len(header) < p.FRAME_HEADER.size:
        return b"", b""  # closed
    kind, length = p.FRAME_HEADER.unpack(header)
    return kind, _recv_all(sock, length)


def _context(pair: str | None = "launcher", pair_dir: str | None = None) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.load_verify_locations(os.path.join(TLS_DIR, "ca.crt"))
    if pair is not None:
        where = pair_dir or TLS_DIR
        context.load_cert_chain(os.path.join(where, f"{pair}.crt"), os.path.join(where, f"{pair}.key"))
    return context


def _connect(
    port: int, pair: str | None = "launcher", pair_dir: str | None = None
) -> tuple[socket.socket, bytes]:
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock = _context(pair, pair_dir).wrap_socket(raw, server_hostname="127.0.0.1")
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
    port: int,
    secret: bytes,
    kind: str,
    argv: list[str],
    env: dict[str, str] | None = None,
    pair: str = "launcher",
) -> tuple[str, str]:
    sock, nonce = _connect(port, pair)
    body = _body(kind, argv, env)
    p.send_frame(sock, p.REQUEST, p.signed_request(secret, nonce, body))
    return _answer(sock)


def attacks(port: int, secret: bytes) -> list[dict[str, str]]:
    results: list[dict[str, str]] = []

    def record(name: str, expect: str, outcome: tuple[str, str]) -> None:
        results.append({"attack": name, "expect": expect, "outcome": outcome[0], "reason": outcome[1]})

    # The baseline: the right secret is accepted (otherwise every refusal below proves nothing).
    record("ping with the cluster's secret", "accepted", _signed(port, secret, "ping", []))
    record("plain TCP, no TLS", "refused", _tls_attack(port, None, plain=True))
    record("TLS without a client certificate", "refused", _tls_attack(port, None))
    record(
        "TLS with another cluster's launcher certificate",
        "refused",
        _tls_attack(port, "launcher", os.path.join(TLS_DIR, "foreign")),
    )
    record(
        "a node's certificate asks to launch",
        "refused",
        _signed(port, secret, "launch", ["prted"], pair="node"),
    )
    record(
        "NUL byte in an environment value",
        "refused",
        _signed(port, secret, "launch", ["prted"], {"PRTE_X": "a\0b"}),
    )
    record("request over 256 KiB", "refused", _oversized(port))
    record("a login trickled one byte a second", "refused", _trickle(port))
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


def _tls_attack(
    port: int, pair: str | None, pair_dir: str | None = None, plain: bool = False
) -> tuple[str, str]:
    """A client without the cluster's launcher certificate: it must not get so much as the HELLO."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        if plain:
            raw.sendall(b"\0" * 64)
            got = raw.recv(4096)
            return (
                ("accepted", "the agent spoke in clear text") if b"recapp-agent" in got else ("refused", "")
            )
        with _context(pair, pair_dir).wrap_socket(raw, server_hostname="127.0.0.1") as sock:
            kind, _ = _recv(sock)
            return ("accepted", "got the HELLO") if kind else ("refused", "closed in the TLS handshake")
    except (ssl.SSLError, OSError) as error:
        return "refused", f"TLS: {error.__class__.__name__}"
    finally:
        raw.close()


def _oversized(port: int) -> tuple[str, str]:
    sock, _nonce = _connect(port)
    with sock:
        p.send_frame(sock, p.REQUEST, b"x" * (256 * 1024 + 1))
        outcome = _answer(sock)
    return ("refused", "connection closed") if outcome[0] == "closed" else outcome


def _trickle(port: int) -> tuple[str, str]:
    """Headers of a small request, then its body one byte a second: the login deadline must end it."""
    sock, _nonce = _connect(port)
    started = time.monotonic()
    with sock:
        try:
            sock.sendall(p.FRAME_HEADER.pack(p.REQUEST, 1000))
            sock.settimeout(1.0)
            while time.monotonic() - started < 20:
                sock.sendall(b"x")
                try:
                    if sock.recv(1) == b"":
                        return "refused", f"dropped after {time.monotonic() - started:.0f} s"
                except TimeoutError:
                    continue
        except (ssl.SSLError, OSError):
            return "refused", f"dropped after {time.monotonic() - started:.0f} s"
    return "accepted", "still connected after 20 s"


def main(argv: list[str]) -> int:
    global TLS_DIR
    port, secret_file, TLS_DIR = int(argv[1]), argv[2], argv[3]
    secret = p.read_secret(secret_file)
    for result in attacks(port, secret):
        print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
