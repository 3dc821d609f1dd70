"""`recapp cluster up|status|login|down`: a virtual cluster on a backend (local podman by default)."""

from __future__ import annotations

import os
import shutil
from typing import Annotated

import typer

from recapp.cli import cluster_render_cmd
from recapp.cli.ui import console, print_json, print_table, progress
from recapp.errors import ClusterError
from recapp.k8s.backends import cluster_backend
from recapp.k8s.spec import load_spec

cluster = typer.Typer(help="Create, inspect and remove virtual clusters.", no_args_is_help=True)
cluster.command("render")(cluster_render_cmd.render)

NameOpt = Annotated[str, typer.Option("--name", help="cluster name (DNS label)")]
BackendOpt = Annotated[str, typer.Option("--backend", help="local (podman on this machine) or kubernetes")]
KubeconfigOpt = Annotated[str | None, typer.Option(help="kubeconfig file (kubernetes backend)")]
ContextOpt = Annotated[str | None, typer.Option(help="kubeconfig context (kubernetes backend)")]
NamespaceOpt = Annotated[str | None, typer.Option(help="namespace (kubernetes backend)")]


@cluster.command("up")
def up(
    name: NameOpt,
    rec: Annotated[str, typer.Option("--rec", help="REC image")] = "localhost/recapp/rec:trixie",
    nodes: Annotated[int, typer.Option(help="number of node pods")] = 2,
    slots: Annotated[int, typer.Option(help="slots per node")] = 2,
    launcher: Annotated[str, typer.Option(help="agent (default) or kubexec")] = "agent",
    backend: BackendOpt = "local",
    timeout: Annotated[int, typer.Option(help="seconds to wait for the nodes to be Ready")] = 180,
    cleanup_on_failure: Annotated[bool, typer.Option("--cleanup-on-failure")] = False,
    kubeconfig: KubeconfigOpt = None,
    context: ContextOpt = None,
    namespace: NamespaceOpt = None,
    storage: Annotated[
        str | None, typer.Option(help="inner podman storage: volume (a PVC per node) or emptyDir")
    ] = None,
    pull_policy: Annotated[
        str | None, typer.Option(help="imagePullPolicy of the REC: IfNotPresent, Always or Never")
    ] = None,
    seccomp_profile: Annotated[
        str | None,
        typer.Option(help="Localhost seccomp profile (relative to the kubelet's seccomp dir) for node pods"),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Deploy a virtual cluster: node pods running the REC, a login pod, the launch agent's secret."""
    data = {
        "name": name,
        "nodes": nodes,
        "slots_per_node": slots,
        "rec_image": rec,
        "launcher": launcher,
        "ready_timeout_s": timeout,
    }
    # Only what was given: the spec's defaults stay the spec's.
    given = {
        "namespace": namespace,
        "storage": storage,
        "image_pull_policy": pull_policy,
        "seccomp_localhost_profile": seccomp_profile,
    }
    data |= {key: value for key, value in given.items() if value}
    spec = load_spec(data)
    impl = cluster_backend(backend, kubeconfig, context, namespace)
    with progress(f"cluster {name} up ({backend})") as prog:
        status = impl.up(spec, cleanup_on_failure=cleanup_on_failure, step=prog.step)
    _show(status, json_out)


@cluster.command("status")
def status(
    name: NameOpt,
    backend: BackendOpt = "local",
    kubeconfig: KubeconfigOpt = None,
    context: ContextOpt = None,
    namespace: NamespaceOpt = None,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Pods, readiness, network and volumes of a cluster."""
    st = cluster_backend(backend, kubeconfig, context, namespace).status(name)
    if not st.exists:
        raise ClusterError(f"no cluster named {name!r} on the {backend} backend")
    _show(st, json_out)


@cluster.command("login")
def login(
    name: NameOpt,
    backend: BackendOpt = "local",
    kubeconfig: KubeconfigOpt = None,
    context: ContextOpt = None,
    namespace: NamespaceOpt = None,
) -> None:
    """A shell in the login pod as the unprivileged user."""
    if backend == "kubernetes":
        _kubectl_login(name, kubeconfig, context, namespace)
        return
    from recapp.k8s.local.backend import login_pod_name

    spec = cluster_backend(backend).spec(name)
    os.execvp(
        "podman", ["podman", "exec", "-it", "--user", f"{spec.uid}:{spec.gid}", login_pod_name(name), "bash"]
    )


def _kubectl_login(name: str, kubeconfig: str | None, context: str | None, namespace: str | None) -> None:
    # An interactive terminal needs kubectl's own exec (the client library has no tty handling).
    from recapp.k8s import constants as c
    from recapp.k8s.kubernetes.backend import KubernetesBackend

    impl = KubernetesBackend.from_kubeconfig(kubeconfig, context, namespace=namespace)
    pod = impl.login_pod(name)
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        raise ClusterError("cluster login on the kubernetes backend needs kubectl on PATH")
    argv = [kubectl, *(["--kubeconfig", kubeconfig] if kubeconfig else [])]
    argv += ["--context", context] if context else []
    os.execv(
        kubectl,
        [*argv, "-n", impl.spec(name).namespace, "exec", "-it", pod, "-c", c.LOGIN_CONTAINER, "--", "bash"],
    )


@cluster.command("down")
def down(
    name: NameOpt,
    backend: BackendOpt = "local",
    kubeconfig: KubeconfigOpt = None,
    context: ContextOpt = None,
    namespace: NamespaceOpt = None,
) -> None:
    """Remove everything of the cluster. Idempotent: a missing cluster is not an error."""
    removed = cluster_backend(backend, kubeconfig, context, namespace).down(name)
    console.print(
        f"cluster {name}: removed {len(removed)} object(s)"
        if removed
        else f"cluster {name}: nothing to remove",
        markup=False,
    )


def _show(st, json_out: bool) -> None:
    if json_out:
        print_json(
            {
                "name": st.name,
                "backend": st.backend,
                "ready": st.ready,
                "network": st.network,
                "volumes": st.volumes,
                "pods": [p.__dict__ for p in st.pods],
            }
        )
        return
    print_table(
        ["pod", "component", "state", "ready", "ip"],
        [[p.name, p.component, p.state, "yes" if p.ready else "no", p.ip or ""] for p in st.pods],
        title=f"cluster {st.name} ({st.backend}): {'ready' if st.ready else 'NOT ready'}",
    )
