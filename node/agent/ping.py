"""`recapp-agent ping`: the pod's readiness probe, an authenticated round trip to the agent."""

from __future__ import annotations

import argparse
import hmac
import json
import socket
import ssl
import sys

from .. import protocol as p


def ping(args: argparse.Namespace) -> int:
    where = f"{args.host}:{args.port}"
    try:
        secret = p.read_secret(args.secret_file)
        # The node's own pair as client; the agent must show a certificate naming this node.
        name = args.tls_name or socket.gethostname()
        context = p.client_tls_context(args.tls_dir, name)
        with (
            socket.create_connection((args.host, args.port), timeout=args.timeout) as raw,
            context.wrap_socket(raw, server_hostname=args.server_name or name) as sock,
        ):
            kind, payload = p.recv_frame(sock)
            hello = json.loads(payload) if kind == p.HELLO else {}
            if hello.get("proto") != p.PROTOCOL_VERSION:
                raise p.ProtocolError(
                    f"the peer is not a recapp-agent speaking protocol {p.PROTOCOL_VERSION}"
                )
            nonce, cnonce = bytes.fromhex(hello["nonce"]), p.new_cnonce()
            body = p.request_body("ping", [], cnonce)
            p.send_frame(sock, p.REQUEST, p.signed_request(secret, nonce, body))
            kind, payload = p.recv_frame(sock)
            if kind == p.REFUSE:
                raise p.ProtocolError(f"refused: {payload.decode(errors='replace')}")
            if kind != p.ACCEPT or not hmac.compare_digest(payload, p.accept_proof(secret, nonce, cnonce)):
                raise p.ProtocolError("the agent did not prove the shared secret")
    except (OSError, ValueError, KeyError, p.ProtocolError, ssl.SSLError) as error:
        print(f"recapp-agent ping: {where}: {error}", file=sys.stderr)
        return 1
    print(f"recapp-agent ping: {where}: ok")
    return 0
