"""`recapp matrix`: the REC × APP PMIx cross-version matrix, as data (JSON) plus tables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from recapp.builder.images import source_flavor_tags
from recapp.cli.pod_options import (
    BackendOpt,
    ContextOpt,
    KubeconfigOpt,
    NamespaceOpt,
    PullPolicyOpt,
    SeccompProfileOpt,
    StorageOpt,
    pod_settings,
)
from recapp.cli.ui import console, print_json, print_table, progress
from recapp.conformance.matrix.levels import parse_levels
from recapp.conformance.matrix.runner import PARTIAL, run_matrix, short_ref
from recapp.errors import ConformanceError
from recapp.host.names import check_image_ref
from recapp.k8s.backends import cluster_backend
from recapp.reports import records


def matrix(
    rec: Annotated[list[str] | None, typer.Option("--rec", help="REC image (repeat for several)")] = None,
    app: Annotated[list[str] | None, typer.Option("--app", help="APP image (repeat for several)")] = None,
    source: Annotated[
        bool,
        typer.Option(
            "--source", help="also every source-flavor REC/APP built here (recapp build --flavor source)"
        ),
    ] = False,
    levels: Annotated[
        str | None, typer.Option(help="comma-separated levels, or all; default L1,L2,L3,L4")
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="folder for matrix.json, job records and logs")] = Path(
        "matrix-out"
    ),
    json_out: Annotated[bool, typer.Option("--json", help="print the matrix record as JSON")] = False,
    backend: BackendOpt = "local",
    kubeconfig: KubeconfigOpt = None,
    context: ContextOpt = None,
    namespace: NamespaceOpt = None,
    storage: StorageOpt = None,
    pull_policy: PullPolicyOpt = None,
    seccomp_profile: SeccompProfileOpt = None,
) -> None:
    """Run every APP against every REC through the levels; one cluster per REC is reused across APPs.
    On the kubernetes backend the REC must be one the kubelet can run (pushed, or imported into the
    nodes' runtime); the APPs come from this machine's image store, as with `recapp run`."""
    rec, app = list(rec or []), list(app or [])
    if source:
        rec += [t for t in source_flavor_tags("rec") if t not in rec]
        app += [t for t in source_flavor_tags("app") if t not in app]
    if not rec or not app:
        raise ConformanceError("give at least one --rec and one --app")
    for option, refs in (("--rec", rec), ("--app", app)):
        for ref in refs:
            check_image_ref(ref, error=ConformanceError, what=option)
    chosen = parse_levels(levels)
    impl = cluster_backend(backend, kubeconfig, context, namespace)
    settings = pod_settings(namespace, storage, pull_policy, seccomp_profile)
    with progress(f"matrix ({backend})") as prog:
        record = run_matrix(impl, rec, app, chosen, out, step=prog.step, cluster_settings=settings)
    path = records.write(record, out / "matrix.json")
    (out / PARTIAL).unlink(missing_ok=True)  # the run's record so far, now whole in matrix.json
    if json_out:
        print_json(record.model_dump(mode="json"))
        return
    rows: list[list[str]] = []
    notes: list[str] = []
    for pair in record.pairs:
        first = pair.first_failed_level or ""
        if pair.reason:
            notes.append(f"[{len(notes) + 1}] {short_ref(pair.rec)} × {short_ref(pair.app)}: {pair.reason}")
            first += f" [{len(notes)}]"
        statuses = [pair.levels.get(level, "—") for level in chosen]
        rows.append(
            [
                short_ref(pair.rec),
                short_ref(pair.app),
                *statuses,
                first,
                pair.expected,
                pair.disagreement or "",
            ]
        )
    print_table(
        ["REC", "APP", *chosen, "first failing", "documented", "disagreement"],
        rows,
        title=f"PMIx matrix ({', '.join(chosen)}), {record.wall_s:.0f} s",
    )
    for note in notes:
        console.print(note, markup=False, soft_wrap=True)
    for error in record.errors:
        console.print(f"error outside the cells: {error}", markup=False, soft_wrap=True)
    console.print(f"matrix: {path}", markup=False)
