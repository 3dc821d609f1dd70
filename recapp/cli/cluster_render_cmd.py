"""`recapp cluster render --out DIR`: the virtual cluster as a kustomize layout for `kubectl apply -k`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from recapp.cli.pod_options import PullPolicyOpt, SeccompProfileOpt, StorageOpt
from recapp.cli.ui import out as stdout
from recapp.cli.ui import print_json
from recapp.k8s import render as k8s_render
from recapp.k8s.spec import load_spec


def render(
    out: Annotated[
        Path, typer.Option("--out", help="directory to write (created; recapp-owned if it exists)")
    ],
    name: Annotated[str, typer.Option("--name", help="cluster name (DNS label); object names start with it")],
    nodes: Annotated[int, typer.Option(help="number of node pods")] = 2,
    slots: Annotated[int, typer.Option(help="MPI slots per node")] = 2,
    rec: Annotated[
        str,
        typer.Option(help="REC image the node and login pods run (a registry reference the cluster pulls)"),
    ] = "localhost/recapp/rec:trixie",
    launcher: Annotated[str, typer.Option(help="how PRRTE starts its daemons: agent or kubexec")] = "agent",
    namespace: Annotated[str, typer.Option(help="namespace (default recapp-NAME)")] = "",
    storage: StorageOpt = None,
    pull_policy: PullPolicyOpt = None,
    seccomp_profile: SeccompProfileOpt = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="print the files written and the overlay as JSON")
    ] = False,
) -> None:
    """Write base/ and overlays/{agent,kubexec}/ for `kubectl apply -k DIR/overlays/LAUNCHER`."""
    data = {
        "name": name,
        "nodes": nodes,
        "slots_per_node": slots,
        "rec_image": rec,
        "launcher": launcher,
        "namespace": namespace,
    }
    # Only what was given: the spec's defaults stay the spec's (as `cluster up`).
    given = {
        "storage": storage,
        "image_pull_policy": pull_policy,
        "seccomp_localhost_profile": seccomp_profile,
    }
    spec = load_spec(data | {key: value for key, value in given.items() if value})
    overlay = k8s_render.overlay_dir(out, spec.launcher)  # refuses launchers without an overlay first
    written = k8s_render.render_kustomize(spec, out)
    if json_out:
        print_json({"files": [str(p) for p in written], "overlay": str(overlay), "namespace": spec.namespace})
        return
    stdout.print(f"wrote {len(written)} files to {out}", markup=False)
    stdout.print(f"deploy with: kubectl apply -k {overlay}", markup=False)
    stdout.print(f"remove with: kubectl delete namespace {spec.namespace}", markup=False)
