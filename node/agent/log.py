"""The agent's log: one line per event on stderr, whole lines even from many threads."""

from __future__ import annotations

import datetime
import json
import sys
import threading

_log_lock = threading.Lock()


def log(message: str) -> None:
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    with _log_lock:
        sys.stderr.write(f"{stamp} recapp-agent {message}\n")
        sys.stderr.flush()


def log_request(peer: str, decision: str, argv0: str, detail: str = "") -> None:
    suffix = f" {detail}" if detail else ""
    log(f"peer={peer} decision={decision} argv0={json.dumps(argv0)}{suffix}")
