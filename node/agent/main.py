"""recapp-agent's command line: `serve` and `ping`."""

from __future__ import annotations

import argparse
import sys

from .. import agent
from .. import protocol as p
from .ping import ping
from .server import serve


def positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def port_number(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"not a port number: {text}")
    return value


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="recapp-agent", description=(agent.__doc__ or "").splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    serve_parser = commands.add_parser("serve", help="run the launch agent")
    serve_parser.add_argument("--port", type=port_number, default=p.AGENT_PORT, help="0 picks a free port")
    serve_parser.add_argument("--secret-file", default=p.SECRET_FILE)
    serve_parser.add_argument(
        "--allow", action="append", metavar="PROGRAM", help="allowed executable (repeatable; default prted)"
    )
    serve_parser.add_argument("--tls-dir", default=p.TLS_DIR, help="ca.crt and this node's pair")
    serve_parser.add_argument(
        "--tls-name", help="the pair to present: NAME.crt/NAME.key (default: this hostname, the pod name)"
    )
    serve_parser.add_argument("--bind", default="0.0.0.0")
    serve_parser.add_argument("--heartbeat", type=positive_float, default=p.HEARTBEAT_S, metavar="SECONDS")
    serve_parser.add_argument("--lost-after", type=positive_float, default=p.LOST_AFTER_S, metavar="SECONDS")
    serve_parser.add_argument(
        "--subreaper", action="store_true", help="adopt orphaned descendants when not running as PID 1"
    )
    ping_parser = commands.add_parser("ping", help="authenticated health check (readiness probe)")
    ping_parser.add_argument("--host", default="127.0.0.1")
    ping_parser.add_argument("--port", type=port_number, default=p.AGENT_PORT)
    ping_parser.add_argument("--secret-file", default=p.SECRET_FILE)
    ping_parser.add_argument("--timeout", type=positive_float, default=5.0, metavar="SECONDS")
    ping_parser.add_argument("--tls-dir", default=p.TLS_DIR, help="ca.crt and the client pair")
    ping_parser.add_argument("--tls-name", help="client pair NAME.crt/NAME.key (default: this hostname)")
    ping_parser.add_argument(
        "--server-name", help="the name the agent's certificate must carry (default: --tls-name)"
    )
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    return serve(args) if args.command == "serve" else ping(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
