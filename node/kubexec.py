"""recapp-kubexec — PRRTE's ssh agent through `kubectl exec` (the talk's kubexec.sh, done carefully).

    recapp-kubexec [ssh options, ignored] HOST [ssh options, ignored] COMMAND...

Point PRRTE at it with PRTE_MCA_plm_ssh_agent=/usr/local/bin/recapp-kubexec (the kubexec overlay
does). HOST is a hostfile name `<pod>.<service>`: the command runs in the pod named by HOST's first
DNS label, in its `node` container, as

    kubectl exec [-i] --namespace $RECAPP_NAMESPACE POD -c node -- sh -c "COMMAND..."

As with ssh, the COMMAND words are joined with spaces and run by a shell; stdin is forwarded
unless -n is given (PRRTE 5 sends the DVM key on it). `user@HOST` is accepted and the user
ignored. kubectl authenticates with the login pod's ServiceAccount token; the kubexec Role grants
pods/exec in the cluster's namespace only.

kubectl must be in the REC image for this launcher. recapp's REC does not ship it (the default
`agent` launcher needs no API access from the login pod); without kubectl this prints one line and
exits 255, as ssh does when it cannot connect. Every daemon spawn through kubectl exec goes through
the API server and holds a stream open for the whole job: prefer the agent launcher for large jobs.

Environment:
    RECAPP_NAMESPACE          the cluster's namespace (set in the login pod); default: kubectl's
    RECAPP_KUBEXEC_CONTAINER  container to exec into (default: node)
    RECAPP_KUBECTL            kubectl to run (default: kubectl on PATH)
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import sys

from .sshargs import UsageError, parse_ssh_args

PROGRAM = "recapp-kubexec"
FAILED = 255  # like ssh: the launch itself failed
DEFAULT_CONTAINER = "node"


class LaunchError(Exception):
    """The launch failed before kubectl ran; the message is printed as is."""


def pod_of(host: str) -> str:
    """The pod a hostfile name means: its first DNS label. Addresses cannot name a pod."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        raise LaunchError(f"{host} is an address, not a pod name (use the hostfile, not hostfile.ip)")
    pod = host.split(".", 1)[0]
    if not pod:
        raise LaunchError(f"cannot tell the pod from host {host!r}")
    return pod


def kubectl_argv(kubectl: str, argv: list[str], env: dict[str, str]) -> list[str]:
    try:
        target = parse_ssh_args(argv, PROGRAM)
    except UsageError as error:
        raise LaunchError(str(error)) from None
    out = [kubectl, "exec"]
    if not target.stdin_from_null:
        out.append("-i")
    namespace = env.get("RECAPP_NAMESPACE")
    if namespace:
        out += ["--namespace", namespace]
    out += [pod_of(target.host), "-c", env.get("RECAPP_KUBEXEC_CONTAINER") or DEFAULT_CONTAINER]
    return [*out, "--", "sh", "-c", " ".join(target.command)]


def find_kubectl(env: dict[str, str]) -> str:
    wanted = env.get("RECAPP_KUBECTL") or "kubectl"
    found = shutil.which(wanted, path=env.get("PATH"))
    if found is None:
        raise LaunchError(
            f"{wanted} not found: the kubexec launcher needs kubectl in the REC image, which recapp's REC"
            " does not ship (use the agent launcher, or add kubectl to the REC)"
        )
    return found


def main(argv: list[str]) -> int:
    env = dict(os.environ)
    try:
        kubectl = find_kubectl(env)
        command = kubectl_argv(kubectl, argv, env)
    except LaunchError as error:
        print(f"{PROGRAM}: {error}", file=sys.stderr)
        return FAILED
    if command[2] != "-i":  # -n: stdin from /dev/null, as ssh -n does
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
    try:
        os.execv(kubectl, command)
    except OSError as error:
        print(f"{PROGRAM}: cannot run {kubectl}: {error.strerror}", file=sys.stderr)
    return FAILED


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
