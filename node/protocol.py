"""The launch agent's wire protocol: the one place its port, secret path, TLS, framing and proofs are written.

Transport: mutual TLS 1.3, nothing else. Every connection is TLS 1.3 (older versions are
refused) with a certificate on both sides, both issued by the cluster's own CA (`ca.crt` in the
TLS directory; recapp makes it per cluster on the host, k8s/pki.py, and keeps no key for it
anywhere in the cluster). The agent presents `<name>.crt` (default: its hostname, which is its
pod name), whose names are the pod's DNS names, so a launcher that checks the name it dialled
knows it reached that node. The client certificate's subject OU says who it is: `launcher` may
launch and ping; `node` (a node pod's own pair, for its readiness probe) may only ping. A client
without a certificate of the cluster never gets past the TLS handshake, and nothing below — the
secret's proofs, the command line, PRRTE's DVM key on stdin, output, exit statuses — crosses the
network in clear text.

Inside the tunnel the shared-secret login below stays, as defence in depth: taking a request needs
both the launcher's key and the secret (both in the cluster's Secret), and the agent still proves
the secret back before a client trusts its output.

Login limits (agent/server.py): the TLS handshake, HELLO and the request must all complete within
LOGIN_DEADLINE_S of the connection (one deadline, not per read: a client trickling a byte at a time
is dropped); at most MAX_LOGINS logins may be in progress at once, MAX_LOGINS_PER_PEER from one
address, and a connection past either cap is closed at once (no thread is started for it); a
request is at most MAX_REQUEST_BYTES.

Version 1, inside TLS, one request per connection. Every message is a frame: 1 type byte, 4-byte
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

The stream after ACCEPT is protected by TLS (confidentiality, integrity, the peer's identity);
the NetworkPolicy keeps other pods from reaching the agent's port at all.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import select
import socket
import ssl
import struct
import time
from typing import Any, Final

PROTOCOL_VERSION: Final = 1
AGENT_PORT: Final = 7450
SECRET_FILE: Final = "/etc/recapp/agent/secret"
SECRET_DIR: Final = SECRET_FILE.rpartition("/")[0]
AGENT_NAME: Final = "recapp-agent"  # the HELLO's "agent" field
TLS_DIR: Final = SECRET_DIR  # ca.crt and the pairs live beside the secret (one Secret, one volume)
TLS_CA_FILE: Final = "ca.crt"
ROLE_LAUNCHER: Final = "launcher"  # a client certificate's subject OU, and its pair's file name
ROLE_NODE: Final = "node"

# Frame types (one byte each); see the module docstring.
HELLO, REQUEST, REFUSE, ACCEPT = b"h", b"q", b"r", b"a"
STDOUT, STDERR, STDIN, STDIN_CLOSED, HEARTBEAT, EXIT = b"o", b"e", b"i", b"c", b"b", b"x"

FRAME_HEADER: Final = struct.Struct("!cI")
MAC_LEN: Final = 32
NONCE_LEN: Final = 32
# prted's command line is a few KiB; 256 KiB bounds what MAX_LOGINS unauthenticated logins can make
# the agent hold (16 MiB at most).
MAX_REQUEST_BYTES: Final = 256 * 1024
LOGIN_DEADLINE_S: Final = 10.0  # TLS handshake + HELLO + request, from accept()
MAX_LOGINS: Final = 64  # logins (connections not yet past their request) in progress at once
MAX_LOGINS_PER_PEER: Final = 16  # ... from one address: PRRTE opens one or two per node and job
MAX_DATA_FRAME: Final = 1024 * 1024
READ_CHUNK: Final = 64 * 1024

HEARTBEAT_S: Final = 3.0  # both sides beat this often by default
LOST_AFTER_S: Final = 15.0  # silence after which a peer counts as lost


class ProtocolError(Exception):
    """The peer broke the framing or closed the connection."""


def send_frame(sock: socket.socket, kind: bytes, payload: bytes = b"") -> None:
    sock.sendall(FRAME_HEADER.pack(kind, len(payload)) + payload)


def recv_some(sock: socket.socket, size: int) -> bytes:
    """sock.recv, again when it only says "try again". With a timeout set, Python's ssl runs the
    socket non-blocking, and a send from another thread (heartbeats, stdin) can make a read end in
    EAGAIN or SSLWantRead on a healthy connection (CPython issue 77271, bpo-33090): recapp-launch took
    that for a lost agent, and PRRTE lost its daemon (issue 16's soak: 2 of 80 jobs at load 20).
    The socket's timeout still counts from the first try."""
    timeout = sock.gettimeout()
    give_up = None if timeout is None else time.monotonic() + timeout
    while True:
        try:
            return sock.recv(size)
        except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError) as again:
            left = 1.0 if give_up is None else give_up - time.monotonic()
            if left <= 0:
                raise TimeoutError("timed out") from None
            wants_write = isinstance(again, ssl.SSLWantWriteError)
            select.select([] if wants_write else [sock], [sock] if wants_write else [], [], min(left, 1.0))


def recv_exact(sock: socket.socket, size: int, deadline: float | None = None) -> bytes:
    """`size` bytes; with a deadline (monotonic), every read only gets the time left until it."""
    chunks: list[bytes] = []
    remaining = size
    while remaining:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("login deadline passed")
            sock.settimeout(left)
        chunk = recv_some(sock, min(remaining, READ_CHUNK))
        if not chunk:
            raise ProtocolError("connection closed")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def recv_frame(
    sock: socket.socket, max_len: int = MAX_DATA_FRAME, deadline: float | None = None
) -> tuple[bytes, bytes]:
    kind, length = FRAME_HEADER.unpack(recv_exact(sock, FRAME_HEADER.size, deadline))
    if length > max_len:
        raise ProtocolError(f"frame of {length} bytes is over the {max_len}-byte limit")
    return kind, recv_exact(sock, length, deadline)


# --- mutual TLS (stdlib ssl; the certificates are made on the host, k8s/pki.py) ---------------------


def _tls_context(purpose: ssl._SSLMethod, tls_dir: str, name: str) -> ssl.SSLContext:
    """TLS 1.3 only, the peer verified against the cluster CA, our pair `<name>.crt`/`<name>.key`."""
    context = ssl.SSLContext(purpose)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.verify_mode = ssl.CERT_REQUIRED
    try:
        context.load_verify_locations(os.path.join(tls_dir, TLS_CA_FILE))
        context.load_cert_chain(os.path.join(tls_dir, f"{name}.crt"), os.path.join(tls_dir, f"{name}.key"))
    except (OSError, ssl.SSLError) as error:
        raise ValueError(f"TLS files in {tls_dir} for {name!r}: {error}") from None
    return context


def server_tls_context(tls_dir: str, name: str) -> ssl.SSLContext:
    """The agent's side: requires a client certificate of the cluster CA."""
    return _tls_context(ssl.PROTOCOL_TLS_SERVER, tls_dir, name)


def client_tls_context(tls_dir: str, name: str) -> ssl.SSLContext:
    """A client's side: also checks that the agent's certificate names the host given as server_hostname."""
    return _tls_context(ssl.PROTOCOL_TLS_CLIENT, tls_dir, name)


def tls_handshake(tls: ssl.SSLSocket, deadline: float) -> None:
    """Complete a server-side handshake by `deadline` in total (a per-read timeout lets a trickle go on)."""
    tls.setblocking(False)
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("TLS handshake deadline passed")
        try:
            tls.do_handshake()
            break
        except ssl.SSLWantReadError:
            select.select([tls], [], [], left)
        except ssl.SSLWantWriteError:
            select.select([], [tls], [], left)
    tls.setblocking(True)


def peer_role(tls: ssl.SSLSocket) -> str | None:
    """The OU of the verified peer certificate's subject: ROLE_LAUNCHER or ROLE_NODE."""
    cert: dict[str, Any] = dict(tls.getpeercert() or {})
    for rdn in cert.get("subject", ()):
        for attribute in rdn:  # ((name, value), ...) per relative distinguished name
            if attribute[0] == "organizationalUnitName":
                return str(attribute[1])
    return None


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
