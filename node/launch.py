"""recapp-launch — PRRTE's ssh agent in recapp: runs a command through a node's recapp-agent.

    recapp-launch [ssh options, ignored] HOST [ssh options, ignored] COMMAND...

Point PRRTE at it with PRTE_MCA_plm_ssh_agent=recapp-launch. PRRTE runs it exactly as it would
run ssh (src/mca/plm/ssh/plm_ssh_module.c): `recapp-launch [-x] [plm_ssh_args] HOST [-p PORT]
"<preamble>;prted" --prtemca ess "env" ...`. As with ssh, the COMMAND words are joined with
spaces into one command line; the agent parses it (it never starts a shell) and only starts
allowed programs (prted). ssh options are accepted and ignored, -n excepted (stdin from
/dev/null); `user@HOST` is accepted and the user ignored: the agent runs as its own user.

The connection is mutual TLS 1.3: recapp-launch presents the launcher's certificate and checks
that the agent's certificate, issued by the cluster's CA, names HOST (so HOST must be a name from
the hostfile, not an address). A node that closes the connection before the TLS handshake ends
(its login slots are full) is retried until the connect timeout; a certificate that does not
verify is not.

Environment:
    RECAPP_AGENT_SECRET_FILE      shared secret (default: protocol.SECRET_FILE)
    RECAPP_AGENT_TLS_DIR          ca.crt, launcher.crt and launcher.key (default: protocol.TLS_DIR)
    RECAPP_AGENT_PORT             the agent's TCP port (default: protocol.AGENT_PORT)
    RECAPP_AGENT_CONNECT_TIMEOUT  seconds to connect and authenticate (default 10)
    RECAPP_AGENT_LOST_AFTER       seconds without a frame from the agent before the node is
                                  considered lost (default 15; the agent beats every 3 s)

stdin, stdout and stderr are forwarded. Exit status: the command's (128+N if killed by signal
N), or 255 with one line on stderr when the launch could not happen or the node was lost:
    recapp-launch: cannot reach launch agent on HOST:PORT: ...
    recapp-launch: refused by HOST: <reason from the agent>
    recapp-launch: lost launch agent on HOST:PORT: ...
The wire protocol is in protocol.py.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import os
import socket
import ssl
import sys
import threading
import time

from . import protocol as p
from .sshargs import Target, UsageError, parse_ssh_args

PROGRAM = "recapp-launch"
LOST_EXIT = 255  # like ssh: the launch itself failed
CONNECT_TIMEOUT_S = 10.0
RETRY_PAUSE_S = (0.1, 0.2, 0.5, 1.0)  # between attempts at a node whose login slots are full


class LaunchError(Exception):
    """The launch failed on our side of the command; the message is printed as is."""


def env_number(name: str, default: float) -> float:
    text = os.environ.get(name)
    if text is None or text == "":
        return default
    try:
        value = float(text)
    except ValueError:
        raise LaunchError(f"{name} must be a number, got {text!r}") from None
    if value <= 0:
        raise LaunchError(f"{name} must be > 0, got {text!r}")
    return value


def env_port(name: str, default: int) -> int:
    text = os.environ.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise LaunchError(f"{name} must be a number, got {text!r}") from None
    if value <= 0:
        raise LaunchError(f"{name} must be > 0, got {text!r}")
    if value > 65535:
        raise LaunchError(f"{name} is not a port number: {value}")
    return value


def read_secret(path: str) -> bytes:
    try:
        return p.read_secret(path)
    except OSError as error:
        raise LaunchError(f"cannot read the launch agent secret {path}: {error.strerror}") from None
    except ValueError:
        raise LaunchError(f"the launch agent secret {path} is empty") from None


def is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def tls_context(tls_dir: str) -> ssl.SSLContext:
    """TLS 1.3 only; the agent must show a certificate of the cluster's CA naming the host dialled."""
    try:
        return p.client_tls_context(tls_dir, p.ROLE_LAUNCHER)
    except ValueError as error:
        raise LaunchError(f"cannot load the launcher's {error}") from None


def write_all(fd: int, data: bytes) -> None:
    try:
        while data:
            data = data[os.write(fd, data) :]
    except OSError:
        pass  # our reader went away; keep the command's status, like ssh


class Connection:
    """One launch over one authenticated connection to HOST's agent."""

    def __init__(
        self,
        target: Target,
        port: int,
        secret: bytes,
        connect_timeout: float,
        lost_after: float,
        tls: ssl.SSLContext,
    ) -> None:
        self.target, self.port, self.secret, self.tls = target, port, secret, tls
        self.connect_timeout, self.lost_after = connect_timeout, lost_after
        self.where = f"{target.host}:{port}"
        self.send_lock = threading.Lock()
        self.sock: socket.socket | None = None

    def run(self) -> int:
        sock = self.connect()
        try:
            nonce, cnonce = self.authenticate(sock)
            self.wait_for_accept(sock, nonce, cnonce)
            sock.settimeout(self.lost_after)
            threading.Thread(target=self.forward_stdin, daemon=True).start()
            threading.Thread(target=self.heartbeat, daemon=True).start()
            return self.stream(sock)
        finally:
            sock.close()

    def connect(self) -> socket.socket:
        """A verified TLS connection; retried while the node closes it before the handshake ends."""
        deadline = time.monotonic() + self.connect_timeout
        attempt = 0
        while True:
            try:
                return self.connect_once(deadline)
            except (ssl.SSLEOFError, ConnectionResetError, ConnectionAbortedError) as error:
                # The agent closed at once: its login slots are full (or it is restarting).
                if time.monotonic() + RETRY_PAUSE_S[min(attempt, 3)] >= deadline:
                    raise LaunchError(
                        f"cannot reach launch agent on {self.where}: it kept closing the connection"
                        f" for {self.connect_timeout:g} s ({error.__class__.__name__})"
                    ) from None
                time.sleep(RETRY_PAUSE_S[min(attempt, 3)])
                attempt += 1

    def connect_once(self, deadline: float) -> socket.socket:
        left = max(0.001, deadline - time.monotonic())
        try:
            raw = socket.create_connection((self.target.host, self.port), timeout=left)
        except TimeoutError:
            raise LaunchError(
                f"cannot reach launch agent on {self.where}: no answer within {self.connect_timeout:g} s"
            ) from None
        except OSError as error:
            reason = error.strerror or str(error)
            raise LaunchError(f"cannot reach launch agent on {self.where}: {reason}") from None
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        if hasattr(socket, "TCP_USER_TIMEOUT"):
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, int(self.lost_after * 1000))
        try:
            raw.settimeout(max(0.001, deadline - time.monotonic()))
            sock = self.tls.wrap_socket(raw, server_hostname=self.target.host)
        except ssl.SSLCertVerificationError as error:
            raw.close()
            hint = ""
            if is_address(self.target.host):
                hint = " (certificates name nodes: use the hostfile's names, not hostfile.ip)"
            raise LaunchError(
                f"{self.where} is not the node it should be: {error.verify_message}; not trusting it{hint}"
            ) from None
        except TimeoutError:
            raw.close()
            raise LaunchError(
                f"launch agent on {self.where} did not complete TLS within {self.connect_timeout:g} s"
            ) from None
        except (ssl.SSLEOFError, ConnectionResetError, ConnectionAbortedError):
            raw.close()
            raise
        except (ssl.SSLError, OSError) as error:
            raw.close()
            raise LaunchError(f"TLS with launch agent on {self.where} failed: {error}") from None
        self.sock = sock
        return sock

    def authenticate(self, sock: socket.socket) -> tuple[bytes, bytes]:
        """Answer the agent's nonce with HMAC(secret, nonce || request); the secret stays here."""
        nonce = p.hello_nonce(*self.handshake_frame(sock))
        if nonce is None:
            raise LaunchError(
                f"{self.where} is not a recapp launch agent speaking protocol {p.PROTOCOL_VERSION}"
            )
        cnonce = p.new_cnonce()
        body = p.request_body("launch", self.target.command, cnonce)
        self.send(p.REQUEST, p.signed_request(self.secret, nonce, body))
        return nonce, cnonce

    def wait_for_accept(self, sock: socket.socket, nonce: bytes, cnonce: bytes) -> None:
        kind, payload = self.handshake_frame(sock)
        if kind == p.REFUSE:
            reason = payload.decode(errors="replace")
            raise LaunchError(f"refused by {self.target.host}: {reason}")
        proof = p.accept_proof(self.secret, nonce, cnonce)
        if kind != p.ACCEPT or not hmac.compare_digest(payload, proof):
            raise LaunchError(f"{self.where} did not prove the shared secret; not trusting it")

    def handshake_frame(self, sock: socket.socket) -> tuple[bytes, bytes]:
        try:
            return p.recv_frame(sock)
        except TimeoutError:
            raise LaunchError(
                f"launch agent on {self.where} did not answer within {self.connect_timeout:g} s"
            ) from None
        except (p.ProtocolError, OSError) as error:
            raise LaunchError(f"lost launch agent on {self.where}: {error}") from None

    def stream(self, sock: socket.socket) -> int:
        """Copy output until the exit status arrives; silence or a closed connection = lost node."""
        while True:
            try:
                kind, payload = p.recv_frame(sock)
            except TimeoutError:
                raise LaunchError(
                    f"lost launch agent on {self.where}: nothing heard for {self.lost_after:g} s "
                    "(node down or unreachable)"
                ) from None
            except (p.ProtocolError, OSError) as error:
                raise LaunchError(
                    f"lost launch agent on {self.where}: {error} before the command finished"
                ) from None
            if kind == p.STDOUT:
                write_all(1, payload)
            elif kind == p.STDERR:
                write_all(2, payload)
            elif kind == p.EXIT:
                return int(json.loads(payload)["code"])
            elif kind != p.HEARTBEAT:
                raise LaunchError(f"lost launch agent on {self.where}: unexpected frame {kind!r}")

    def send(self, kind: bytes, payload: bytes = b"") -> bool:
        with self.send_lock:
            try:
                assert self.sock is not None
                p.send_frame(self.sock, kind, payload)
                return True
            except OSError:
                return False  # the reading side reports the loss

    def forward_stdin(self) -> None:
        if not self.target.stdin_from_null:
            while True:
                try:
                    chunk = os.read(0, p.READ_CHUNK)
                except OSError:
                    break
                if not chunk or not self.send(p.STDIN, chunk):
                    break
        self.send(p.STDIN_CLOSED)

    def heartbeat(self) -> None:
        stopped = threading.Event()
        while not stopped.wait(p.HEARTBEAT_S):
            if not self.send(p.HEARTBEAT):
                return


def main(argv: list[str]) -> int:
    try:
        try:
            target = parse_ssh_args(argv, PROGRAM)
        except UsageError as error:
            raise LaunchError(str(error)) from None
        port = env_port("RECAPP_AGENT_PORT", p.AGENT_PORT)
        connect_timeout = env_number("RECAPP_AGENT_CONNECT_TIMEOUT", CONNECT_TIMEOUT_S)
        lost_after = env_number("RECAPP_AGENT_LOST_AFTER", p.LOST_AFTER_S)
        secret = read_secret(os.environ.get("RECAPP_AGENT_SECRET_FILE") or p.SECRET_FILE)
        tls = tls_context(os.environ.get("RECAPP_AGENT_TLS_DIR") or p.TLS_DIR)
        return Connection(target, port, secret, connect_timeout, lost_after, tls).run()
    except LaunchError as error:
        print(f"{PROGRAM}: {error}", file=sys.stderr, flush=True)
        return LOST_EXIT


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
