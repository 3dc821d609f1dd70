"""`recapp-agent serve`: listen, serve each connection in a thread, stop cleanly on SIGTERM."""

from __future__ import annotations

import argparse
import os
import signal
import socket
import socketserver
import sys
import threading

from .. import protocol as p
from .log import log
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


class ConnectionHandler(socketserver.BaseRequestHandler):
    server: AgentServer

    def handle(self) -> None:
        sock: socket.socket = self.request
        enable_keepalive(sock, self.server.config.lost_after)
        host, port = self.client_address[:2]
        with self.server.config.sessions:
            Session(sock, f"{host}:{port}", self.server.config).run()


def serve(args: argparse.Namespace) -> int:
    try:
        secret = p.read_secret(args.secret_file)
        allow = AllowList.resolve(args.allow or list(DEFAULT_ALLOWED), os.environ.get("PATH"))
        if args.subreaper:
            become_subreaper()
    except (OSError, ValueError) as error:
        print(f"recapp-agent: {error}", file=sys.stderr)
        return 2
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    reaper = Reaper()
    home = os.path.expanduser("~")
    config = AgentConfig(
        secret, allow, args.heartbeat, args.lost_after, home if os.path.isdir(home) else "/", reaper
    )
    try:
        server = AgentServer((args.bind, args.port), config)
    except OSError as error:
        print(f"recapp-agent: cannot listen on {args.bind}:{args.port}: {error}", file=sys.stderr)
        return 2
    bound_host, bound_port = server.socket.getsockname()[:2]
    log(f"listening on {bound_host}:{bound_port} allow={allow.describe()} pid={os.getpid()}")
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
