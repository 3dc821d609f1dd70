"""`recapp cluster up|status|login|down`: a virtual cluster on a backend (local podman by default)."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from recapp.cli import cluster_render_cmd
from recapp.cli.ui import console, print_json, print_table, progress
from recapp.errors import ClusterError
from recapp.host import engine
from recapp.host.names import check_cluster_name
from recapp.k8s.backends import cluster_backend
from recapp.k8s.constants import LOGIN_JOB_SUFFIX, NAMESPACE_PREFIX
from recapp.k8s.spec import load_spec

cluster = typer.Typer(help="Create, inspect and remove virtual clusters.", no_args_is_help=True)
cluster.command("render")(cluster_render_cmd.render)

NameOpt = Annotated[str, typer.Option("--name", help="cluster name (DNS label)")]
BackendOpt = Annotated[str, typer.Option("--backend", help="local (podman on this machine) or kubernetes")]


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
    kubeconfig: Annotated[str | None, typer.Option(help="kubeconfig file (kubernetes backend)")] = None,
    context: Annotated[str | None, typer.Option(help="kubeconfig context (kubernetes backend)")] = None,
    namespace: Annotated[str | None, typer.Option(help="namespace (kubernetes backend)")] = None,
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
    if namespace:
        data["namespace"] = namespace
    spec = load_spec(data)
    impl = cluster_backend(backend, kubeconfig, context, namespace)
    with progress(f"cluster {name} up ({backend})") as prog:
        status = impl.up(spec, cleanup_on_failure=cleanup_on_failure, step=prog.step)
    _show(status, json_out)


@cluster.command("status")
def status(
    name: NameOpt, backend: BackendOpt = "local", json_out: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """Pods, readiness, network and volumes of a cluster."""
    st = cluster_backend(backend).status(name)
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
) -> None:
    """Run a command in the login pod as its unprivileged user, like `kubectl exec`: stdin, stdout,
    stderr and the exit status pass through. Without a command: an interactive shell (needs a terminal)."""
    check_cluster_name(name, error=ClusterError)  # a bad name is the first thing to hear about
    interactive = sys.stdin.isatty()
    if not command and not interactive:
        raise ClusterError("no command given and stdin is not a terminal: give one after --")
    if backend == "kubernetes":
        raise ClusterError(
            "cluster login is not implemented for the kubernetes backend yet; use kubectl exec -it"
            f" -n {NAMESPACE_PREFIX}{name} job/{name}{LOGIN_JOB_SUFFIX} -- {' '.join(command or ['bash'])}"
            " (-n: the namespace you gave to cluster up, if any)"
        )
    if backend != "local":
        raise ClusterError(f"unknown backend {backend!r}: choose local or kubernetes")
    from recapp.k8s.local.backend import LocalBackend

    local = cluster_backend("local")
    assert isinstance(local, LocalBackend)  # the factory's local backend
    argv = local.login_argv(name, command or ["bash", "-l"], tty=interactive and sys.stdout.isatty())
    sys.stdout.flush()
    # podman exec passes the command's exit status through (125-127: podman's own failures).
    os.execvpe(argv[0], argv, {**os.environ, **engine.settings().env})


@cluster.command("down")
def down(name: NameOpt, backend: BackendOpt = "local") -> None:
    """Remove everything of the cluster. Idempotent: a missing cluster is not an error."""
    removed = cluster_backend(backend).down(name)
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
