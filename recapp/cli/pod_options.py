"""Options that shape the node pods, shared by `cluster up` and `cluster render`."""

from __future__ import annotations

from typing import Annotated

import typer

StorageOpt = Annotated[
    str | None, typer.Option(help="inner podman storage: volume (a PVC per node) or emptyDir")
]
PullPolicyOpt = Annotated[
    str | None, typer.Option(help="imagePullPolicy of the REC: IfNotPresent, Always or Never")
]
SeccompProfileOpt = Annotated[
    str | None,
    typer.Option(help="Localhost seccomp profile (relative to the kubelet's seccomp dir) for node pods"),
]
