"""`recapp cluster up|status|login|down`: a virtual cluster on a backend (local podman by default)."""

from __future__ import annotations

import os
import shutil
import sys
from typing import Annotated

import typer

from recapp.cli import cluster_render_cmd
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
from recapp.errors import ClusterError, Interrupted
from recapp.host import engine
from recapp.host.names import check_cluster_name
from recapp.k8s.backends import cluster_backend
from recapp.k8s.spec import load_spec

cluster = typer.Typer(help="Create, inspect and remove virtual clusters.", no_args_is_help=True)
cluster.command("render")(cluster_render_cmd.render)

NameOpt = Annotated[str, typer.Option("--name", help="cluster name (DNS label)")]


@cluster.command("up")
def up(
    name: NameOpt,
    rec: Annotated[str, typer.Option("--rec", help="REC image")] = "localhost/recapp/rec:trixie",
    nodes: Annotated[int, typer.Option(help="number of node pods")] = 2,
    slots: Annotated[int, typer.Option(help="slots per node")] = 2,
    launcher: Annotated[str, typer.Option(help="agent (default) or kubexec")] = "agent",
    backend: BackendOpt = "local",
    timeout: Annotated[int, typer.Option(help="seconds to wait for the nodes to be Ready")] = 180,
    cleanup_on_failure: Annotated[
        bool,
        typer.Option(
            "--cleanup-on-failure/--keep-on-failure",
            help="if up fails, remove what it created (the default), or keep it to look at the pods",
        ),
    ] = True,
    kubeconfig: KubeconfigOpt = None,
    context: ContextOpt = None,
    namespace: NamespaceOpt = None,
    storage: StorageOpt = None,
    pull_policy: PullPolicyOpt = None,
    seccomp_profile: SeccompProfileOpt = None,
    network_policy_probe: Annotated[
        str,
        typer.Option(
            help="kubernetes backend: a pod outside the cluster must not reach an agent — refuse the"
            " cluster if it can (refuse), warn, or skip the probe"
        ),
    ] = "refuse",
    user_namespace: Annotated[
        bool | None,
        typer.Option(
            "--user-namespace/--no-user-namespace",
            help="hostUsers: false (kubernetes backend); unset: decided from the server (say why)",
        ),
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
        "network_policy_probe": network_policy_probe,
        "user_namespace": user_namespace,
    }
    data |= pod_settings(namespace, storage, pull_policy, seccomp_profile)
    spec = load_spec(data)
    # Ctrl-C anywhere from here on is one line and exit 130, never click's "Aborted!" (exit 1): a
    # signal that lands while the main thread is blocked is raised when the call returns, which may
    # be after `up` itself has returned (seen once in CI under load).
    try:
        impl = cluster_backend(backend, kubeconfig, context, namespace)
        with progress(f"cluster {name} up ({backend})") as prog:
            status = impl.up(spec, cleanup_on_failure=cleanup_on_failure, step=prog.step)
        _show(status, json_out)
    except KeyboardInterrupt:
        raise Interrupted(_interrupted_up(name, backend)) from None


def _interrupted_up(name: str, backend: str) -> str:
    # The kubernetes backend's `up` is idempotent (409 = already there), so running it again resumes;
    # the local one refuses a cluster that exists, so what was made must go first.
    down = f"recapp cluster down --name {name} --backend {backend}"
    if backend == "kubernetes":
        return (
            f"interrupted: cluster {name} may be half made; run the same `recapp cluster up` again to"
            f" resume it, or `{down}` to remove it"
        )
    return f"interrupted: cluster {name} may be half made; `{down}` removes it, then run up again"


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
    command: Annotated[
        list[str] | None, typer.Argument(help="command to run in the login pod (after --); default: a shell")
    ] = None,
    backend: BackendOpt = "local",
    kubeconfig: KubeconfigOpt = None,
    context: ContextOpt = None,
    namespace: NamespaceOpt = None,
) -> None:
    """Run a command in the login pod as its unprivileged user, like `kubectl exec`: stdin, stdout,
    stderr and the exit status pass through. Without a command: an interactive shell (needs a terminal)."""
    check_cluster_name(name, error=ClusterError)  # a bad name is the first thing to hear about
    interactive = sys.stdin.isatty()
    if not command and not interactive:
        raise ClusterError("no command given and stdin is not a terminal: give one after --")
    tty = interactive and sys.stdout.isatty()
    if backend == "kubernetes":
        _kubectl_login(name, kubeconfig, context, namespace, command or ["bash", "-l"], tty)
        return
    if backend != "local":
        raise ClusterError(f"unknown backend {backend!r}: choose local or kubernetes")
    from recapp.k8s.local.backend import LocalBackend

    local = cluster_backend("local")
    assert isinstance(local, LocalBackend)  # the factory's local backend
    argv = local.login_argv(name, command or ["bash", "-l"], tty=tty)
    sys.stdout.flush()
    # podman exec passes the command's exit status through (125-127: podman's own failures).
    os.execvpe(argv[0], argv, {**os.environ, **engine.settings().env})


def _kubectl_login(
    name: str,
    kubeconfig: str | None,
    context: str | None,
    namespace: str | None,
    command: list[str],
    tty: bool,
) -> None:
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
        [
            *argv,
            *("-n", impl.spec(name).namespace, "exec", "-it" if tty else "-i", pod),
            *("-c", c.LOGIN_CONTAINER, "--", *command),
        ],
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
