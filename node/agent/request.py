"""A request's body, checked field by field before anything acts on it."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from ..protocol import PROTOCOL_VERSION
from .cmdline import Refusal


@dataclass
class Request:
    kind: str
    argv: list[str]
    env: dict[str, str]
    cwd: str | None
    cnonce: bytes


def parse_request(body: bytes) -> Request:
    try:
        data = json.loads(body)
    except ValueError as error:
        raise Refusal(f"malformed request: {error}") from None
    expected = {"v", "kind", "argv", "env", "cwd", "cnonce"}
    if not isinstance(data, dict) or set(data) != expected:
        raise Refusal(f"malformed request: expected the keys {sorted(expected)}")
    if data["v"] != PROTOCOL_VERSION:
        raise Refusal(f"unsupported protocol version {data['v']!r} (this agent speaks {PROTOCOL_VERSION})")
    argv, env, cwd = data["argv"], data["env"], data["cwd"]
    valid = (
        data["kind"] in ("launch", "ping")
        and isinstance(argv, list)
        and all(isinstance(word, str) for word in argv)
        and isinstance(env, dict)
        and all(isinstance(value, str) for value in env.values())
        and (cwd is None or isinstance(cwd, str))
        and isinstance(data["cnonce"], str)
        and re.fullmatch(r"[0-9a-f]{64}", data["cnonce"]) is not None
    )
    if not valid:
        raise Refusal("malformed request: a field has the wrong type")
    # exec cannot carry a NUL byte (Popen would fail deep inside, leaving the caller no status).
    for name, value in env.items():
        if "\0" in name or "\0" in value:
            raise Refusal(f"NUL byte in the environment variable {name.split(chr(0))[0]!r}")
    if any("\0" in word for word in argv) or (cwd is not None and "\0" in cwd):
        raise Refusal("NUL byte in the command or working directory")
    if data["kind"] == "launch" and not argv:
        raise Refusal("no command given")
    return Request(data["kind"], argv, env, cwd, bytes.fromhex(data["cnonce"]))
