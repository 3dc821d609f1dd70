"""What a virtual cluster holds at one moment, counted from the outside: the numbers a leak makes grow.

Counted per pod through `podman exec` as the REC user (processes, zombies, the inner engine's
containers, volumes and images, entries under /tmp where PRRTE keeps its session directories and
wrap-container its sandbox state) and on the host (the cluster's containers, volumes, networks, files
in its state directory).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from recapp.k8s import constants as c
from recapp.k8s import objects as o
from recapp.k8s.local.backend import cluster_dir, login_pod_name
from recapp.k8s.spec import ClusterSpec

# Six counts, one a line, then every path under /tmp. The login pod runs the REC image too (podman
# is there, with no containers): its inner counts are 0. The sixth is PID 1's resident memory (KiB):
# the launch agent in a node pod (counted for node pods only).
_POD_SCRIPT = (
    "ps -e -o stat= | grep -c . ; ps -e -o stat= | grep -c '^Z' ; "
    "podman ps -aq | wc -l ; podman volume ls -q | wc -l ; podman images -aq | wc -l ; "
    "ps -o rss= -p 1 ; find /tmp -mindepth 1"
)
_COUNTS = 6
# Memory is a gauge, not a count: it moves a little either way from one job to the next, so it is
# judged with a tolerance by the soak, never by `grown`.
GAUGES = frozenset({"agent_rss_kib"})


@dataclass(frozen=True)
class Footprint:
    processes: int  # in all pods of the cluster (node pods include their nested APP sandboxes)
    zombies: int
    nested_containers: int  # in the node pods' inner engines (APP sandboxes)
    nested_volumes: int
    nested_images: int  # in the node pods' inner storage (an APP rebuilt under its tag adds one)
    tmp_entries: int  # files and directories under /tmp in all pods
    host_containers: int
    host_volumes: int
    host_networks: int
    state_files: int  # files under the cluster's state directory on the host
    agent_rss_kib: int = 0  # the launch agents' resident memory, summed over the node pods
    tmp_paths: frozenset[str] = frozenset()  # `pod:path`, to name what grew

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "tmp_paths"}

    def grown(self, before: Footprint) -> dict[str, tuple[int, int]]:
        """The counts (not the gauges) that are higher now than in `before`: name → (before, now)."""
        now, then = self.as_dict(), before.as_dict()
        return {k: (then[k], now[k]) for k in now if now[k] > then[k] and k not in GAUGES}

    def new_tmp_paths(self, before: Footprint) -> list[str]:
        return sorted(self.tmp_paths - before.tmp_paths)


def measure(engine, spec: ClusterSpec) -> Footprint:
    totals = [0] * _COUNTS
    tmp: set[str] = set()
    nodes = o.node_pod_names(spec)
    for pod in [*nodes, login_pod_name(spec.name)]:
        user = f"{spec.uid}:{spec.gid}"
        out = engine.podman("exec", "--user", user, pod, "sh", "-c", _POD_SCRIPT).stdout.splitlines()
        counts, paths = out[:_COUNTS], out[_COUNTS:]
        assert all(v.strip().isdigit() for v in counts), f"footprint of {pod}: unexpected output {out[:8]!r}"
        if pod not in nodes:
            counts[-1] = "0"
        totals = [t + int(v) for t, v in zip(totals, counts, strict=True)]
        tmp.update(f"{pod}:{p}" for p in paths)
    # The measuring `sh`, `ps`, `grep`, … are counted too: the same number every time.
    selector = f"label={c.LABEL_CLUSTER}={spec.name}"
    state = cluster_dir(spec.name)
    return Footprint(
        processes=totals[0],
        zombies=totals[1],
        nested_containers=totals[2],
        nested_volumes=totals[3],
        nested_images=totals[4],
        tmp_entries=len(tmp),
        host_containers=len(engine.podman("ps", "-aq", "--filter", selector).stdout.split()),
        host_volumes=len(engine.podman("volume", "ls", "-q", "--filter", selector).stdout.split()),
        host_networks=len(engine.podman("network", "ls", "-q", "--filter", selector).stdout.split()),
        state_files=sum(1 for p in state.rglob("*") if p.is_file()) if state.exists() else 0,
        agent_rss_kib=totals[5],
        tmp_paths=frozenset(tmp),
    )
