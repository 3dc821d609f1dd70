"""One connection: handshake, decision, and the streams of the command it starts."""

from __future__ import annotations

import contextlib
import hmac
import json
import os
import queue
import secrets
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO

from .. import protocol as p
from .cmdline import Refusal
from .log import log_request
from .plan import AllowList, LaunchPlan, first_word, plan_launch, with_kill_guard
from .reaper import ChildWatch, Reaper
from .request import Request, parse_request

KILL_GRACE_S = 3.0  # SIGTERM -> SIGKILL for a lost client's process group
OUTPUT_DRAIN_S = 2.0  # after exit, how long to wait for output still held by a grandchild


def enable_keepalive(sock: socket.socket, lost_after: float) -> None:
    """Let the kernel, too, give up on a vanished peer within about `lost_after` seconds."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for option, value in (("TCP_KEEPIDLE", 5), ("TCP_KEEPINTVL", 3), ("TCP_KEEPCNT", 3)):
        if hasattr(socket, option):
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, option), value)
    if hasattr(socket, "TCP_USER_TIMEOUT"):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, int(lost_after * 1000))


class SessionCount:
    """How many connections are being served, so a stopping agent can let them say goodbye."""

    def __init__(self) -> None:
        self.count = 0
        self.changed = threading.Condition()

    def __enter__(self) -> None:
        with self.changed:
            self.count += 1

    def __exit__(self, *exc_info: object) -> None:
        with self.changed:
            self.count -= 1
            self.changed.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: self.count == 0, timeout)


class LoginSlots:
    """Counts logins in progress, overall and per peer address, and refuses past the caps."""

    def __init__(self, overall: int = p.MAX_LOGINS, per_peer: int = p.MAX_LOGINS_PER_PEER) -> None:
        self.overall, self.per_peer = overall, per_peer
        self.lock = threading.Lock()
        self.total = 0
        self.by_peer: dict[str, int] = {}

    def take(self, peer: str) -> bool:
        with self.lock:
            if self.total >= self.overall or self.by_peer.get(peer, 0) >= self.per_peer:
                return False
            self.total += 1
            self.by_peer[peer] = self.by_peer.get(peer, 0) + 1
            return True

    def give_back(self, peer: str) -> None:
        with self.lock:
            self.total -= 1
            left = self.by_peer[peer] - 1
            if left:
                self.by_peer[peer] = left
            else:
                del self.by_peer[peer]


@dataclass
class AgentConfig:
    secret: bytes
    allow: AllowList
    heartbeat: float
    lost_after: float
    home: str
    reaper: Reaper
    tls: ssl.SSLContext | None = None  # None only where nothing listens (unit tests of pieces)
    node: str = field(default_factory=socket.gethostname)
    sessions: SessionCount = field(default_factory=SessionCount)
    logins: LoginSlots = field(default_factory=lambda: LoginSlots())


class FrameSender:
    """Serialises frames from several threads; remembers when the peer has gone."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.lock = threading.Lock()
        self.broken = False

    def send(self, kind: bytes, payload: bytes = b"") -> bool:
        with self.lock:
            if self.broken:
                return False
            try:
                p.send_frame(self.sock, kind, payload)
                return True
            except OSError:
                self.broken = True
                return False


class Session:
    def __init__(self, sock: socket.socket, peer: str, config: AgentConfig, role: str | None = None) -> None:
        self.sock, self.peer, self.config, self.role = sock, peer, config, role
        self.sender = FrameSender(sock)
        self.finished = threading.Event()  # p.EXIT sent (or abandoned): reading may stop

    def run(self, deadline: float, login_done: Callable[[], None]) -> None:
        """Serve the connection; `login_done` is called once the login (HELLO + request) is over."""
        try:
            request, nonce = self.handshake(deadline)
        except Refusal as refusal:
            login_done()
            self.refuse(str(refusal), "?")
            return
        except TimeoutError:
            login_done()
            log_request(self.peer, "dropped", "?", f"reason={json.dumps('login deadline passed')}")
            return
        except (p.ProtocolError, OSError) as error:
            login_done()
            log_request(self.peer, "dropped", "?", f"reason={json.dumps(str(error))}")
            return
        login_done()
        argv0 = first_word(request.argv)
        if request.kind == "launch" and self.role != p.ROLE_LAUNCHER:
            self.refuse(
                f"a {self.role or 'role-less'} certificate may not launch (only the launcher's)", argv0
            )
            return
        proof = p.accept_proof(self.config.secret, nonce, request.cnonce)
        if request.kind == "ping":
            self.sender.send(p.ACCEPT, proof)
            self.sender.send(p.EXIT, p.canonical_json({"code": 0, "signal": None}))
            log_request(self.peer, "ping", "-")
            return
        try:
            plan = plan_launch(request.argv, request.env, request.cwd, self.config.allow, self.config.home)
        except Refusal as refusal:
            self.refuse(str(refusal), refusal.program or argv0)
            return
        self.sender.send(p.ACCEPT, proof)
        if plan.builtin_output is not None:
            log_request(self.peer, "builtin", argv0, f"answer={json.dumps(plan.builtin_output.decode())}")
            self.sender.send(p.STDOUT, plan.builtin_output)
            self.sender.send(p.EXIT, p.canonical_json({"code": 0, "signal": None}))
            return
        self.launch(plan)

    def handshake(self, deadline: float) -> tuple[Request, bytes]:
        nonce = secrets.token_bytes(p.NONCE_LEN)
        self.sock.settimeout(max(0.001, deadline - time.monotonic()))
        hello = {"agent": "recapp-agent", "proto": p.PROTOCOL_VERSION, "node": self.config.node}
        p.send_frame(self.sock, p.HELLO, p.canonical_json({**hello, "nonce": nonce.hex()}))
        kind, payload = p.recv_frame(self.sock, p.MAX_REQUEST_BYTES, deadline)
        if kind != p.REQUEST or len(payload) < p.MAC_LEN:
            raise Refusal("protocol error: expected a request")
        mac, body = payload[: p.MAC_LEN], payload[p.MAC_LEN :]
        # One nonce, one request: this comparison is the only one this nonce ever takes part in.
        if not hmac.compare_digest(mac, p.request_mac(self.config.secret, nonce, body)):
            raise Refusal("authentication failed (wrong secret, or the request was altered or replayed)")
        return parse_request(body), nonce

    def refuse(self, reason: str, argv0: str) -> None:
        log_request(self.peer, "refused", argv0, f"reason={json.dumps(reason)}")
        self.sender.send(p.REFUSE, reason.encode())

    def launch(self, plan: LaunchPlan) -> None:
        argv0 = plan.argv[0]
        try:
            process, watch = self.config.reaper.spawn(plan, with_kill_guard(dict(os.environ)))
        except (OSError, ValueError) as error:  # ValueError: what exec cannot carry (a NUL byte)
            # Like a shell: the caller hears why on stderr and gets 126/127.
            code = 126 if isinstance(error, PermissionError) else 127
            log_request(self.peer, "failed", argv0, f"reason={json.dumps(str(error))}")
            self.sender.send(p.STDERR, f"recapp-agent: cannot start {argv0}: {error}\n".encode())
            self.sender.send(p.EXIT, p.canonical_json({"code": code, "signal": None}))
            return
        ignored = f" ignored={','.join(plan.ignored)}" if plan.ignored else ""
        log_request(self.peer, "accepted", argv0, f"pid={process.pid}{ignored}")
        self.sock.settimeout(self.config.lost_after)
        pumps = [
            self.start(self.pump, process.stdout, p.STDOUT),
            self.start(self.pump, process.stderr, p.STDERR),
        ]
        stdin_queue: queue.Queue[bytes | None] = queue.Queue()
        self.start(self.feed_stdin, process.stdin, stdin_queue)
        self.start(self.heartbeat, watch)
        finisher = self.start(self.finish, argv0, watch, pumps)
        lost_reason = self.read_client(stdin_queue)
        if lost_reason is not None and not watch.exited.is_set():
            log_request(self.peer, "lost", argv0, f"pid={process.pid} reason={json.dumps(lost_reason)}")
            watch.terminate_group(KILL_GRACE_S)
        stdin_queue.put(None)
        finisher.join()
        # The reaper collected the status. Without a returncode, Popen.__del__ would queue the
        # pid for subprocess's own waitpid(pid) later, which could steal the status of a new
        # child that reuses the pid.
        process.returncode = watch.code

    @staticmethod
    def start(target: Callable[..., None], *args: object) -> threading.Thread:
        thread = threading.Thread(target=target, args=args, daemon=True)
        thread.start()
        return thread

    def read_client(self, stdin_queue: queue.Queue[bytes | None]) -> str | None:
        """Forward stdin until the command is done; the reason if the client was lost first."""
        while not self.finished.is_set():
            try:
                kind, payload = p.recv_frame(self.sock)
            except TimeoutError:
                return f"no heartbeat from the client for {self.config.lost_after:g} s"
            except (p.ProtocolError, OSError) as error:
                return None if self.finished.is_set() else f"client connection lost: {error}"
            if kind == p.STDIN:
                stdin_queue.put(payload)
            elif kind == p.STDIN_CLOSED:
                stdin_queue.put(None)
            elif kind != p.HEARTBEAT:
                return f"protocol error: unexpected frame {kind!r}"
        return None

    def pump(self, stream: IO[bytes], kind: bytes) -> None:
        fd = stream.fileno()
        while True:
            try:
                chunk = os.read(fd, p.READ_CHUNK)
            except OSError:
                break
            if not chunk:
                break
            self.sender.send(kind, chunk)  # once the client is gone, keep draining
        stream.close()

    @staticmethod
    def feed_stdin(stdin: IO[bytes], stdin_queue: queue.Queue[bytes | None]) -> None:
        fd = stdin.fileno()
        try:
            while (chunk := stdin_queue.get()) is not None:
                os.write(fd, chunk)
        except OSError:
            pass  # the command closed its stdin or exited
        finally:
            stdin.close()

    def heartbeat(self, watch: ChildWatch) -> None:
        while not watch.exited.wait(self.config.heartbeat):
            self.sender.send(p.HEARTBEAT)

    def finish(self, argv0: str, watch: ChildWatch, pumps: list[threading.Thread]) -> None:
        watch.exited.wait()
        for pump in pumps:
            pump.join(OUTPUT_DRAIN_S)  # a daemonized grandchild may hold the pipes open
        self.sender.send(p.EXIT, p.canonical_json({"code": watch.code, "signal": watch.signal}))
        log_request(self.peer, "exited", argv0, f"pid={watch.pid} code={watch.code}")
        self.finished.set()
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes read_client
