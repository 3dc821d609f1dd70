"""A read that only says "try again" is not a lost connection (issue 16's soak).

With a timeout set, Python's ssl runs the socket non-blocking; a send from another thread can leave a
read with EAGAIN or SSLWantRead on a healthy connection (CPython issue 77271). That interleaving
cannot be forced on a real TLS socket from a test, so these sockets answer "try again" on cue, over a
real socketpair the retry waits on.
"""

from __future__ import annotations

import socket
import ssl
import time

import pytest

from recapp.node import protocol as p


class AgainFirst:
    """A socketpair end whose first `times` reads raise `error`, as ssl's read did."""

    def __init__(self, sock: socket.socket, error: type[OSError], times: int = 1) -> None:
        self.sock, self.error, self.times = sock, error, times

    def gettimeout(self) -> float | None:
        return self.sock.gettimeout()

    def settimeout(self, value: float | None) -> None:
        self.sock.settimeout(value)

    def fileno(self) -> int:
        return self.sock.fileno()

    def recv(self, size: int) -> bytes:
        if self.times:
            self.times -= 1
            raise self.error(11, "Resource temporarily unavailable")
        return self.sock.recv(size)


@pytest.mark.parametrize("error", [BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError])
def test_a_frame_is_read_whole_after_try_again(error) -> None:
    a, b = socket.socketpair()
    with a, b:
        a.settimeout(5)
        p.send_frame(b, p.STDOUT, b"rank 3 says hi")
        assert p.recv_frame(AgainFirst(a, error, times=3)) == (p.STDOUT, b"rank 3 says hi")


def test_try_again_forever_is_still_silence_after_the_sockets_timeout() -> None:
    a, b = socket.socketpair()
    with a, b:
        a.settimeout(0.5)
        t0 = time.monotonic()
        with pytest.raises(TimeoutError):
            p.recv_frame(AgainFirst(a, BlockingIOError, times=10**9))
        assert 0.5 <= time.monotonic() - t0 < 2.0
