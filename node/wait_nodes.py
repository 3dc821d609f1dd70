"""recapp-wait-nodes — the login pod's init step: wait until every node pod is Ready, write hostfiles.

    recapp-wait-nodes --namespace NS --selector LABELS --count N --service SVC --slots S
                      --out DIR [--timeout SECONDS] [--owner STATEFULSET]

Talks to the Kubernetes API with the pod's ServiceAccount token (stdlib only; no kubectl). Ready
means the pod's `Ready` condition is True, not merely Running. With --owner, only pods whose
controller is that StatefulSet count: a pod that merely carries the node pods' labels (anyone who
may create pods in the namespace can make one) never gets into the hostfile. Then writes
  DIR/hostfile     `<pod>.<svc> slots=S` per node, sorted by pod name
  DIR/hostfile.ip  `<pod IP> slots=S` in the same order
atomically (write + rename). Exit 0 when done; exit 1 naming the unready pods on timeout; exit 2
on bad arguments (never 0 on bad input).
"""

from __future__ import annotations

import argparse
import json
import os
import ssl
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from . import pods as pod_facts

SA_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
Pod = dict[str, Any]


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def parse_args(argv: list[str]) -> argparse.Namespace:
    first_line = (__doc__ or "").splitlines()[0]
    p = argparse.ArgumentParser(prog="recapp-wait-nodes", description=first_line)
    p.add_argument("--namespace", required=True)
    p.add_argument("--selector", required=True, help="label selector of the node pods")
    p.add_argument("--count", type=positive, required=True)
    p.add_argument("--service", required=True)
    p.add_argument("--slots", type=positive, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--timeout", type=positive, default=300)
    p.add_argument("--interval", type=float, default=2.0)
    p.add_argument("--owner", help="count only pods controlled by this StatefulSet")
    return p.parse_args(argv)


def list_pods(namespace: str, selector: str) -> list[Pod]:
    host = os.environ.get("KUBERNETES_SERVICE_HOST", "kubernetes.default.svc")
    port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    query = urllib.parse.urlencode({"labelSelector": selector})
    url = f"https://{host}:{port}/api/v1/namespaces/{urllib.parse.quote(namespace)}/pods?{query}"
    token = (SA_DIR / "token").read_text().strip()
    ctx = ssl.create_default_context(cafile=str(SA_DIR / "ca.crt"))
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, context=ctx, timeout=10) as resp:
        items: list[Pod] = json.load(resp).get("items", [])
        return items


def hostfiles(pods: list[Pod], service: str, slots: int) -> tuple[str, str]:
    ordered = sorted(pods, key=lambda pod: str(pod["metadata"]["name"]))
    texts = pod_facts.hostfiles(
        ((str(pod["metadata"]["name"]), str(pod["status"]["podIP"])) for pod in ordered), service, slots
    )
    return texts[pod_facts.HOSTFILE], texts[pod_facts.HOSTFILE_IP]


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    deadline = time.monotonic() + args.timeout
    unready: list[str] = []
    ready: list[Pod] = []
    while True:
        try:
            pods = list_pods(args.namespace, args.selector)
            if args.owner is not None:
                pods = [pod for pod in pods if pod_facts.owned_by(pod, "StatefulSet", args.owner)]
            ready = [pod for pod in pods if pod_facts.is_ready(pod)]
            unready = sorted(pod["metadata"]["name"] for pod in pods if not pod_facts.is_ready(pod))
            if len(pods) < args.count:
                unready.append(f"{args.count - len(pods)} pod(s) not created yet")
            if len(ready) >= args.count and not unready:
                break
        except (OSError, ValueError) as exc:
            unready = [f"API not reachable: {exc}"]
        if time.monotonic() > deadline:
            print(
                f"recapp-wait-nodes: timed out after {args.timeout} s; not ready: {', '.join(unready)}",
                file=sys.stderr,
            )
            return 1
        time.sleep(args.interval)
    args.out.mkdir(parents=True, exist_ok=True)
    by_name, by_ip = hostfiles(ready[: args.count], args.service, args.slots)
    write_atomic(args.out / pod_facts.HOSTFILE, by_name)
    write_atomic(args.out / pod_facts.HOSTFILE_IP, by_ip)
    print(f"recapp-wait-nodes: {args.count} node(s) ready", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
