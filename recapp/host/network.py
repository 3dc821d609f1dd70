"""The doctor's live network probe: what every cluster needs, tried for real before any job.

A recapp cluster's node containers sit on a podman network and find each other by name. On a
fresh Debian machine that is where things broke: netavark needs the host's firewall tool (iptables
on Debian 12) and failed every `podman run --network` with "netavark: No such file or directory"
while the other checks passed. So the probe does what a cluster does: create a network, start a
container on it, resolve that container's name from a second one (aardvark-dns), then remove
every one of them. Gather and judge halves, as in `checks`: the judge is pure.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from recapp import LABEL_PREFIX
from recapp.errors import HostError
from recapp.host import engine
from recapp.host.findings import Finding, Status
from recapp.host.runner import last_line, run

OWNER_LABEL = f"{LABEL_PREFIX}.owner=doctor"  # `make clean-test` finds what an interrupted probe left
# Where Debian's packages put the helpers podman runs for a network.
AARDVARK_PATHS = ("/usr/lib/podman/aardvark-dns", "/usr/libexec/podman/aardvark-dns")
NETAVARK_PATHS = ("/usr/lib/podman/netavark", "/usr/libexec/podman/netavark")
# (tool netavark runs, the Debian package that has it)
FIREWALL_TOOLS = (("iptables", "iptables"), ("nft", "nftables"))


@dataclass(frozen=True)
class NetworkFacts:
    image: str | None  # None: no image to probe with (why: in message)
    failed_step: str = ""  # "" when every step worked
    message: str = ""  # the failing command's last stderr line, or why the probe could not run
    address: str = ""  # what the name resolved to
    seconds: float = 0.0
    # which helpers exist: tool name -> present?
    tools: dict[str, bool] = field(default_factory=dict)
    leftovers: list[str] = field(default_factory=list)  # what the clean-up could not remove


@dataclass(frozen=True)
class ProbeNames:
    network: str
    server: str
    client: str

    @classmethod
    def for_pid(cls, pid: int | None = None) -> ProbeNames:
        base = f"recapp-doctor-{pid or os.getpid()}"
        return cls(network=f"{base}-net", server=f"{base}-a", client=f"{base}-b")


def probe_steps(image: str, names: ProbeNames, ulimits: list[str]) -> list[tuple[str, list[str]]]:
    """(step, podman args): a network, a container on it, its name resolved from a second one."""
    common = ["--pull=never", "--label", OWNER_LABEL, "--network", names.network, *ulimits]
    server = ["run", "-d", "--name", names.server, *common, image, "sleep", "120"]
    client = ["run", "--rm", "--name", names.client, *common, image, "getent", "hosts", names.server]
    return [
        ("network create", ["network", "create", "--label", OWNER_LABEL, names.network]),
        ("run on the network", server),
        ("resolve a name", client),
    ]


def cleanup_steps(names: ProbeNames) -> list[list[str]]:
    return [
        ["rm", "--force", "--ignore", "--time", "0", names.client],
        ["rm", "--force", "--ignore", "--time", "0", names.server],
        ["network", "rm", "--force", names.network],
    ]


def _present(paths: tuple[str, ...]) -> bool:
    return any(os.access(p, os.X_OK) for p in paths)


def gather_tools(which: Callable[[str], str | None]) -> dict[str, bool]:
    tools = {tool: which(tool) is not None for tool, _pkg in FIREWALL_TOOLS}
    tools["netavark"] = _present(NETAVARK_PATHS)
    tools["aardvark-dns"] = _present(AARDVARK_PATHS)
    return tools


def gather_network(
    settings: engine.EngineSettings,
    image: str | None,
    why_no_image: str,
    which: Callable[[str], str | None],
    names: ProbeNames | None = None,
) -> NetworkFacts:
    tools = gather_tools(which)
    if image is None:
        return NetworkFacts(image=None, message=why_no_image, tools=tools)
    names = names or ProbeNames.for_pid()
    start = time.monotonic()
    failed, message, address = "", "", ""
    try:
        for step, args in probe_steps(image, names, settings.ulimit_args):
            proc = run(["podman", *args], error=HostError, env=settings.env, check=False, timeout=90)
            if proc.returncode != 0:
                failed = step
                message = f"exit {proc.returncode}: {last_line(proc.stderr or proc.stdout)}"
                break
            if step == "resolve a name":
                address = (proc.stdout.split() or [""])[0]
    except HostError as exc:  # timed out
        failed, message = failed or "probe", str(exc)
    finally:
        leftovers = []
        for args in cleanup_steps(names):
            proc = run(["podman", *args], error=HostError, env=settings.env, check=False, timeout=60)
            if proc.returncode != 0:
                leftovers.append(f"{args[-1]} ({last_line(proc.stderr)})")
    return NetworkFacts(
        image=image,
        failed_step=failed,
        message=message,
        address=address,
        seconds=time.monotonic() - start,
        tools=tools,
        leftovers=leftovers,
    )


def network_fix(facts: NetworkFacts) -> str:
    """The package to install for a failed probe, from the error and which helpers are missing."""
    text = facts.message.lower()
    missing_fw = [pkg for tool, pkg in FIREWALL_TOOLS if not facts.tools.get(tool, True)]
    if "netavark" in text and "no such file or directory" in text:
        # netavark ran a firewall tool that is not there (or is itself missing)
        if not facts.tools.get("netavark", True):
            return "apt-get install netavark"
        wanted = [p for p in missing_fw if ("nft" in text) == (p == "nftables")] or missing_fw
        if wanted:
            return f"apt-get install {' '.join(wanted)} (netavark runs it for every container network)"
    if "aardvark" in text or (facts.failed_step == "resolve a name" and not facts.tools.get("aardvark-dns")):
        return "apt-get install aardvark-dns (podman's name server for container networks)"
    if facts.failed_step == "resolve a name":
        return "check that aardvark-dns runs (podman --log-level=debug run --network …)"
    if "netavark" in text and not facts.tools.get("netavark", True):
        return "apt-get install netavark"
    if "iptables" in text:
        return "apt-get install iptables"
    if "nft" in text:
        return "apt-get install nftables"
    return "run the failing podman command by hand with --log-level=debug"


def judge_network(facts: NetworkFacts) -> Finding:
    if facts.image is None:
        return Finding(
            "network",
            Status.FAIL,
            f"no image to probe a container network with: {facts.message}",
            "make setup (mmdebstrap builds localhost/recapp/base:trixie), then `recapp doctor` again",
        )
    left = f"; could not remove: {', '.join(facts.leftovers)}" if facts.leftovers else ""
    if facts.failed_step:
        return Finding(
            "network",
            Status.FAIL,
            f"{facts.failed_step} with {facts.image}: {facts.message} (a cluster's nodes need a "
            f"podman network and each other's names){left}",
            network_fix(facts),
        )
    status = Status.WARN if facts.leftovers else Status.OK
    return Finding(
        "network",
        status,
        f"podman network, a container on it, its name resolved from a second one ({facts.address}) "
        f"with {facts.image} in {facts.seconds:.1f} s, all removed{left}",
        "podman rm -f / podman network rm the names above" if facts.leftovers else "",
    )
