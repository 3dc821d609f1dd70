"""`recapp-agent serve`: listen, serve each connection in a thread, stop cleanly on SIGTERM."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import socketserver
import ssl
import sys
import threading
import time

from .. import protocol as p
from .log import log, log_request
from .plan import DEFAULT_ALLOWED, AllowList
from .reaper import Reaper, become_subreaper, stop_children
from .session import OUTPUT_DRAIN_S, AgentConfig, Session, enable_keepalive


class AgentServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128  # PRRTE starts up to 128 agents at once (plm_ssh_num_concurrent)

    def __init__(self, address: tuple[str, int], config: AgentConfig) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.config = config
        super().__init__(address, ConnectionHandler)

    def process_request(self, request: socket.socket, client_address: tuple[str, int]) -> None:  # type: ignore[override]
        """Start a thread only for a connection within the login caps; close the others at once."""
        if not self.config.logins.take(client_address[0]):
            log(f"peer={client_address[0]}:{client_address[1]} decision=busy (too many logins in progress)")
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)


def close_gracefully(tls: ssl.SSLSocket) -> None:
    """FIN after our last frame, then read until the client closes: closing with its frames
    (stdin closed, heartbeats) unread would send a RST, which can destroy our EXIT in flight."""
    with contextlib.suppress(OSError, ValueError):
        tls.settimeout(1.0)
        tls.shutdown(socket.SHUT_WR)
        while tls.recv(4096):
            pass
    tls.close()


class ConnectionHandler(socketserver.BaseRequestHandler):
    server: AgentServer

    def handle(self) -> None:
        deadline = time.monotonic() + p.LOGIN_DEADLINE_S
        sock: socket.socket = self.request
        host, port = self.client_address[:2]
        peer = f"{host}:{port}"
        config = self.server.config
        released = False

        def login_done() -> None:
            nonlocal released
            if not released:
                released = True
                config.logins.give_back(host)

        try:
            enable_keepalive(sock, config.lost_after)
            assert config.tls is not None
            tls = config.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
            try:
                p.tls_handshake(tls, deadline)
            except (ssl.SSLError, OSError) as error:  # no certificate of this cluster, not TLS, too slow
                log_request(peer, "dropped", "?", f"reason={json.dumps('TLS: ' + str(error))}")
                tls.close()
                return
            try:
                with config.sessions:
                    Session(tls, peer, config, p.peer_role(tls)).run(deadline, login_done)
            finally:
                close_gracefully(tls)
        finally:
            login_done()


def serve(args: argparse.Namespace) -> int:
    try:
        secret = p.read_secret(args.secret_file)
        tls = p.server_tls_context(args.tls_dir, args.tls_name or socket.gethostname())
        allow = AllowList.resolve(args.allow or list(DEFAULT_ALLOWED), os.environ.get("PATH"))
        if args.subreaper:
            become_subreaper()
    except (OSError, ValueError) as error:
        print(f"recapp-agent: {error}", file=sys.stderr)
        return 2
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    # A handler, not SIG_IGN: an ignored signal stays ignored across exec, so prted and every rank
    # would inherit it; a handled one is reset to the default in the child.
    signal.signal(signal.SIGHUP, lambda *_: None)
    reaper = Reaper()
    home = os.path.expanduser("~")
    config = AgentConfig(
        secret, allow, args.heartbeat, args.lost_after, home if os.path.isdir(home) else "/", reaper, tls
    )
    try:
        server = AgentServer((args.bind, args.port), config)
    except OSError as error:
        print(f"recapp-agent: cannot listen on {args.bind}:{args.port}: {error}", file=sys.stderr)
        return 2
    bound_host, bound_port = server.socket.getsockname()[:2]
    log(f"listening on {bound_host}:{bound_port} allow={allow.describe()} tls=1.3-mutual pid={os.getpid()}")
    threading.Thread(target=server.serve_forever, args=(0.2,), name="server", daemon=True).start()
    while not stop.wait(1.0):
        pass
    log("stopping: terminating running commands")
    server.shutdown()
    server.server_close()
    stop_children(reaper)
    config.sessions.wait_idle(OUTPUT_DRAIN_S + 1.0)  # let clients get their exit status
    log("stopped")
    return 0
