"""A slow-client flood against a launch agent: many connections, each sending one byte a second.

Stdlib only and runnable as a script, so it runs inside a pod of the cluster (as an attacker on the
pod network would) against another pod's agent:

    python3 - HOST PORT CLIENTS SECONDS < agent_flood.py   → one JSON line: what the flood achieved

Every client reconnects as soon as the agent drops it, so the agent faces CLIENTS connections in
progress for the whole time. What an agent with login limits must show: the job it runs meanwhile
still launches, and its threads and memory stay bounded (measured outside, from /proc).
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time


def flood(host: str, port: int, clients: int, seconds: float) -> dict[str, int]:
    stop = time.monotonic() + seconds
    counts = {"connections": 0, "refused_at_once": 0, "dropped_later": 0, "connect_errors": 0}
    lock = threading.Lock()

    def count(key: str) -> None:
        with lock:
            counts[key] += 1

    def client() -> None:
        while time.monotonic() < stop:
            try:
                sock = socket.create_connection((host, port), timeout=5)
            except OSError:
                count("connect_errors")
                time.sleep(0.2)
                continue
            count("connections")
            opened = time.monotonic()
            sock.settimeout(1.0)
            try:
                while time.monotonic() < stop:
                    sock.sendall(b"\x16")  # a TLS record type, one byte at a time, never a full hello
                    try:
                        if sock.recv(1) == b"":
                            break
                    except TimeoutError:
                        continue
            except OSError:
                pass
            finally:
                sock.close()
            count("refused_at_once" if time.monotonic() - opened < 0.5 else "dropped_later")

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 10)
    return counts


def main(argv: list[str]) -> int:
    host, port, clients, seconds = argv[1], int(argv[2]), int(argv[3]), float(argv[4])
    print(json.dumps(flood(host, port, clients, seconds)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
