"""Options shared by the commands that make clusters: the backend and how to reach it (`cluster`,
`run`, `matrix`, `conformance`), and what shapes the node pods (`cluster up`, `cluster render`,
`matrix`, `conformance`)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

BackendOpt = Annotated[str, typer.Option("--backend", help="local (podman on this machine) or kubernetes")]
KubeconfigOpt = Annotated[str | None, typer.Option(help="kubeconfig file (kubernetes backend)")]
ContextOpt = Annotated[str | None, typer.Option(help="kubeconfig context (kubernetes backend)")]
NamespaceOpt = Annotated[str | None, typer.Option(help="namespace (kubernetes backend)")]

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


def pod_settings(
    namespace: str | None, storage: str | None, pull_policy: str | None, seccomp_profile: str | None
) -> dict[str, Any]:
    """The spec fields of the options that were given: the spec's defaults stay the spec's."""
    given = {
        "namespace": namespace,
        "storage": storage,
        "image_pull_policy": pull_policy,
        "seccomp_localhost_profile": seccomp_profile,
    }
    return {key: value for key, value in given.items() if value}
