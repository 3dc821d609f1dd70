"""The local backend: a virtual cluster as podman containers on one machine, made from the *same*
pod templates as the Kubernetes manifests (see podman_args.py).

One network per cluster (DNS names as the headless service gives them), one container per node pod
(`<statefulset>-<i>`), a login container, named volumes for each node's inner image storage and
delivered images, the agent secret as a read-only file. Everything carries the cluster's label,
so `down` finds it even after a crash.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from recapp import LABEL_PREFIX
from recapp.errors import ClusterError, HostError
from recapp.host import engine, images, netavark
from recapp.host.names import check_cluster_name, check_image_ref
from recapp.host.paths import state_dir
from recapp.host.progress import Step
from recapp.host.runner import last_line, run
from recapp.k8s import constants as c
from recapp.k8s import objects as o
from recapp.k8s.backend import ClusterBackend, ClusterStatus, PodStatus
from recapp.k8s.local import native
from recapp.k8s.local.podman_args import Placement, probe_command, run_argv
from recapp.k8s.spec import ClusterSpec
from recapp.node import pods as node_pods

OWNER_LABEL = f"{LABEL_PREFIX}.owner"
PROBE_TIMEOUT_S = 5.0  # the node template's readinessProbe.timeoutSeconds
# Nodes that load a delivered APP image at once. Bounded: each `podman load` holds a core and the
# disk, and on a shared 2-core host more than a few at once only queue.
DELIVERY_CONCURRENCY = 4

# The kubelet's 5 s is for a node of its own. Here every pod shares this host's CPUs with all its other
# work, and at load >= 40 on 2 cores `podman exec … recapp-agent ping` (a Python start and a TLS
# handshake) missed 5 s on healthy clusters, so jobs were refused (issue 16). A late answer is
# still an answer: the wait grows with the run queue per CPU above BUSY_PER_CPU, up to
# PROBE_TIMEOUT_MAX_S. A quiet host keeps the kubelet's 5 s; a stopped agent is found at once (its pod
# stops: it is PID 1); a wedged one still fails, after at most PROBE_TIMEOUT_MAX_S per probe.
BUSY_PER_CPU = 4.0
PROBES_AT_ONCE = 8  # status() probes this many node pods at a time
PROBE_TIMEOUT_MAX_S = 30.0


def _podman(*args: str, check: bool = True, timeout: float = 300, what: str | None = None) -> str:
    return engine.podman(*args, error=ClusterError, check=check, timeout=timeout, what=what).stdout


def _locked(say: Step) -> Step:
    """A progress step that the delivery threads may call at once (one line at a time)."""
    lock = threading.Lock()

    def step(text: str) -> None:
        with lock:
            say(text)

    return step


def probe_timeout_s(load1: float | None = None, cpus: int | None = None) -> float:
    """How long one readiness probe may take on this host now: PROBE_TIMEOUT_S, scaled by the
    1-minute load per CPU beyond BUSY_PER_CPU, at most PROBE_TIMEOUT_MAX_S."""
    load = os.getloadavg()[0] if load1 is None else load1
    n = cpus if cpus is not None else len(os.sched_getaffinity(0))
    per_cpu = load / max(1, n)
    return min(PROBE_TIMEOUT_MAX_S, PROBE_TIMEOUT_S * max(1.0, per_cpu / BUSY_PER_CPU))


def network_name(name: str) -> str:
    return f"recapp-{name}"


def login_pod_name(name: str) -> str:
    return f"{name}{c.LOGIN_JOB_SUFFIX}"


def cluster_dir(name: str) -> Path:
    # The one place a cluster name becomes a path (and `down` removes it): never `..` or `/`.
    return state_dir() / "clusters" / check_cluster_name(name, error=ClusterError)


def cluster_labels(spec: ClusterSpec) -> dict[str, str]:
    return {c.LABEL_CLUSTER: spec.name, OWNER_LABEL: "cluster"}


def check_rec_image(ref: str) -> None:
    """Refuse before anything is created: the image must exist and be a REC."""
    data = images.inspect(ref)
    if data is None:
        raise ClusterError(
            f"REC image {ref!r} not found in the local image store (build it: recapp build rec)"
        )
    kind = (data.get("Labels") or {}).get(f"{LABEL_PREFIX}.kind")
    if kind == "rec":
        return
    if kind is not None:
        raise ClusterError(f"image {ref!r} is not a REC (its {LABEL_PREFIX}.kind label is {kind!r})")
    probe = run(
        [
            "podman",
            "run",
            "--rm",
            "--pull=never",
            *engine.settings().ulimit_args,
            "--entrypoint",
            "sh",
            ref,
            "-c",
            "command -v prterun && command -v recapp-agent && command -v wrap-container"
            f" && test -x {c.LOGIN_INIT_COMMAND[0]}",
        ],
        check=False,
        env=engine.settings().env,
        timeout=120,
    )
    if probe.returncode != 0:
        raise ClusterError(
            f"image {ref!r} is not a REC: it lacks prterun, recapp-agent, wrap-container"
            f" or {c.LOGIN_INIT_COMMAND[0]}"
        )


class LocalBackend(ClusterBackend):
    name = "local"

    def __init__(self, delivery_concurrency: int = DELIVERY_CONCURRENCY) -> None:
        if delivery_concurrency < 1:
            raise ClusterError(f"delivery concurrency must be at least 1, got {delivery_concurrency}")
        self.delivery_concurrency = delivery_concurrency

    # ---- up -------------------------------------------------------------------------------
    def up(
        self, spec: ClusterSpec, *, cleanup_on_failure: bool = True, step: Step | None = None
    ) -> ClusterStatus:
        say = step or (lambda _t: None)
        if spec.launcher != "agent":
            # podexec would need the host engine's socket inside the login pod (root on the host), and
            # kubexec needs a Kubernetes API: neither belongs in an unprivileged local cluster.
            raise ClusterError(f"launcher {spec.launcher!r} is not available on the local backend: use agent")
        check_rec_image(spec.rec_image)
        if self.status(spec.name).exists:
            raise ClusterError(
                f"cluster {spec.name!r} already exists (recapp cluster down --name {spec.name})"
            )
        for pod in [*o.node_pod_names(spec), login_pod_name(spec.name)]:
            if _exists("container", pod):
                raise ClusterError(
                    f"a container named {pod!r} already exists and is not part of a recapp cluster"
                )
        objects = o.cluster_objects(spec)
        try:
            self._create(spec, objects, say)
            self._wait_ready(spec, objects, say)
            self._write_hostfiles(spec)
        except ClusterError as exc:
            if not cleanup_on_failure:
                note = f"cluster kept for `recapp cluster status --name {spec.name}`"
                raise ClusterError(f"{exc} ({note})", hint=exc.hint, log_path=exc.log_path) from exc
            self.down(spec.name)
            raise ClusterError(
                f"{exc} (cluster {spec.name} removed)", hint=exc.hint, log_path=exc.log_path
            ) from exc
        except BaseException:  # interrupted: leave nothing half-made behind either
            if cleanup_on_failure:
                self.down(spec.name)
            raise
        return self.status(spec.name)

    def _create(self, spec: ClusterSpec, objects: list[dict[str, Any]], say: Step) -> None:
        labels = cluster_labels(spec)
        label_args = [a for k, v in labels.items() for a in ("--label", f"{k}={v}")]
        cdir = cluster_dir(spec.name)
        cdir.mkdir(parents=True, exist_ok=True)
        (cdir / "spec.json").write_text(spec.model_dump_json(indent=2) + "\n")
        say(f"network {network_name(spec.name)}")
        # The NetworkPolicy (only the cluster's own pods get in) as podman can say it: an isolated
        # network, which other networks' containers cannot reach.
        isolate = ["--opt", "isolate=true"] if o.isolates_cluster(objects, spec) else []
        _podman("network", "create", *label_args, *isolate, network_name(spec.name))
        secret_files = o.agent_secret_files(objects)
        ulimits = engine.settings().ulimit_args
        node_template = o.node_pod_template(objects)
        service = o.nodes_service_name(spec)
        for i, pod in enumerate(o.node_pod_names(spec)):
            sources = {c.AGENT_SECRET_VOLUME: str(self._write_secret(spec, pod, secret_files))}
            for vol in (c.STORAGE_VOLUME, c.IMAGES_VOLUME):
                sources[vol] = self._volume(f"recapp-{pod}-{vol}", label_args)
            placement = Placement(
                pod=pod,
                hostname=pod,
                network=network_name(spec.name),
                aliases=[f"{pod}.{service}"],
                volume_sources=sources,
                extra_labels={
                    **labels,
                    "statefulset.kubernetes.io/pod-name": pod,
                    "apps.kubernetes.io/pod-index": str(i),
                },
                ulimit_args=ulimits,
            )
            say(f"node pod {pod}")
            _podman(*run_argv(node_template, c.NODE_CONTAINER, placement)[1:], what=f"start node pod {pod}")
        login = login_pod_name(spec.name)
        hostfile_vol = self._volume(f"recapp-{login}-{c.HOSTFILE_VOLUME}", label_args)
        placement = Placement(
            pod=login,
            hostname=login,
            network=network_name(spec.name),
            volume_sources={
                c.AGENT_SECRET_VOLUME: str(self._write_secret(spec, login, secret_files)),
                c.HOSTFILE_VOLUME: hostfile_vol,
            },
            extra_labels=labels,
            ulimit_args=ulimits,
        )
        say(f"login pod {login}")
        _podman(
            *run_argv(o.login_pod_template(objects), c.LOGIN_CONTAINER, placement)[1:],
            what=f"start login pod {login}",
        )

    def _volume(self, name: str, label_args: list[str]) -> str:
        _podman("volume", "create", *label_args, name)
        return name

    def _write_secret(self, spec: ClusterSpec, pod: str, files: dict[str, str]) -> Path:
        """What the pod's Secret volume holds, as Kubernetes mounts it: read-only files,
        group-readable by fsGroup only. Each pod gets its own directory with its own side of the TLS
        files (a node its own pair, the login pod the launcher's), which is tighter than the
        StatefulSet's shared volume can be.

        The rec group's id means nothing on the host (it may be a host group of other users), so
        the directory above the pods' directories is root's alone (0700): no host user but root can
        reach a file, whatever its group. The bind mount makes the pod's own directory the mount
        point, so the container never sees that parent."""
        parent = cluster_dir(spec.name) / "agent-secret"
        parent.mkdir(parents=True, exist_ok=True)
        os.chown(parent, 0, 0)
        os.chmod(parent, 0o700)
        secret_dir = parent / pod
        secret_dir.mkdir(exist_ok=True)
        os.chown(secret_dir, 0, spec.gid)
        os.chmod(secret_dir, 0o750)
        is_node = pod in o.node_pod_names(spec)
        wanted = [c.AGENT_SECRET_KEY, c.TLS_CA_KEY]
        wanted += [o.node_cert_key(pod), o.node_key_key(pod)] if is_node else [
            c.TLS_LAUNCHER_CERT_KEY, c.TLS_LAUNCHER_KEY_KEY,
        ]  # fmt: skip
        for key in wanted:
            path = secret_dir / key
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(files[key])
            os.chown(path, 0, spec.gid)
            os.chmod(path, c.AGENT_SECRET_MODE)
        return secret_dir

    def _wait_ready(self, spec: ClusterSpec, objects: list[dict[str, Any]], say: Step) -> None:
        probe = probe_command(o.node_pod_template(objects), c.NODE_CONTAINER)
        pending = set(o.node_pod_names(spec))
        deadline = time.monotonic() + spec.ready_timeout_s
        say(f"waiting for {len(pending)} node pod(s) to be Ready")
        while pending:
            for pod in sorted(pending):
                state = _state(pod)
                if state not in ("running", "created", "configured"):
                    logs = _podman("logs", "--tail", "5", pod, check=False)
                    raise ClusterError(
                        f"node pod {pod} is {state or 'missing'} instead of Ready: {last_line(logs)}"
                    )
                if probe is None or self._probe(pod, probe):
                    pending.discard(pod)
            if not pending:
                break
            if time.monotonic() > deadline:
                raise ClusterError(
                    f"node pod(s) not Ready after {spec.ready_timeout_s} s: {', '.join(sorted(pending))}"
                )
            time.sleep(0.5)

    def _probe(self, pod: str, probe: list[str], timeout_s: float | None = None) -> bool:
        """One readiness probe: exit 0 within the probe's timeout (probe_timeout_s unless given) means
        Ready, as the kubelet counts it."""
        if timeout_s is None:
            timeout_s = probe_timeout_s()
        try:
            proc = run(
                ["podman", "exec", pod, *probe],
                check=False,
                env=engine.settings().env,
                timeout=timeout_s,
                error=ClusterError,
            )
        except ClusterError:
            return False  # a probe that hangs is a failed probe
        return proc.returncode == 0

    def _write_hostfiles(self, spec: ClusterSpec) -> None:
        """What the login pod's `wait-nodes` init container writes on Kubernetes."""
        nodes = [(pod, _node_ip(pod, network_name(spec.name))) for pod in o.node_pod_names(spec)]
        texts = node_pods.hostfiles(nodes, o.nodes_service_name(spec), spec.slots_per_node)
        mount = Path(
            _podman(
                "volume",
                "inspect",
                "--format",
                "{{.Mountpoint}}",
                f"recapp-{login_pod_name(spec.name)}-{c.HOSTFILE_VOLUME}",
            ).strip()
        )
        for fname, text in texts.items():
            (mount / fname).write_text(text)
            os.chown(mount / fname, spec.uid, spec.gid)
            os.chmod(mount / fname, 0o644)

    # ---- status / down --------------------------------------------------------------------
    def status(self, name: str) -> ClusterStatus:
        check_cluster_name(name, error=ClusterError)
        rows = json.loads(
            _podman("ps", "-a", "--filter", f"label={c.LABEL_CLUSTER}={name}", "--format", "json") or "[]"
        )
        pods: list[PodStatus] = []
        probed = [
            row["Names"][0]
            for row in rows
            if str(row.get("State", "")).lower() == "running"
            and (row.get("Labels") or {}).get(c.LABEL_COMPONENT) == c.COMPONENT_NODE
        ]
        # The node pods' probes at once: one after another, a job's pre-check on 4 nodes took 4
        # `podman exec … ping` (1-3 s each at load 15 here) twice per failing job (issue 16's soak).
        with ThreadPoolExecutor(max_workers=max(1, min(PROBES_AT_ONCE, len(probed)))) as pool:
            answered = dict(
                zip(probed, pool.map(lambda pod: self._probe_ready(name, pod), probed), strict=True)
            )
        for row in rows:
            pod = row["Names"][0]
            labels = row.get("Labels") or {}
            component = labels.get(c.LABEL_COMPONENT, "?")
            state = str(row.get("State", "")).lower()
            ready = state == "running" and (component != c.COMPONENT_NODE or answered.get(pod, False))
            pods.append(
                PodStatus(
                    pod, component, state, ready, _ip(pod, network_name(name)) if state == "running" else None
                )
            )
        nets = _podman("network", "ls", "-q", "--filter", f"label={c.LABEL_CLUSTER}={name}").split()
        vols = _podman("volume", "ls", "-q", "--filter", f"label={c.LABEL_CLUSTER}={name}").split()
        exists = bool(pods or nets or vols or cluster_dir(name).exists())
        return ClusterStatus(
            name,
            self.name,
            exists,
            sorted(pods, key=lambda p: p.name),
            nets[0] if nets else None,
            sorted(vols),
        )

    def _probe_ready(self, name: str, pod: str) -> bool:
        try:
            spec = self.spec(name)
        except ClusterError:
            return False
        return self._probe(pod, o.agent_ping_command(spec))

    def down(self, name: str) -> list[str]:
        check_cluster_name(name, error=ClusterError)
        removed: list[str] = []
        selector = f"label={c.LABEL_CLUSTER}={name}"
        pods = _podman("ps", "-aq", "--filter", selector).split()
        if pods:
            _podman("rm", "-f", "-v", "-t", "0", *pods, timeout=120)  # -v: the REC's anonymous VOLUMEs too
            removed += [f"container {p[:12]}" for p in pods]
            # Our network's last container took netavark's shared isolation jump with it (see
            # recapp/host/netavark.py): without this, the clusters left would reach each other. At
            # once, not after the volumes and network: until then the other clusters are open (a
            # reliability run saw a login pod reach another cluster's agent in that gap).
            try:
                netavark.restore_isolation()
            except HostError as exc:
                raise ClusterError(f"cluster {name}: pods removed, but {exc}") from exc
        for vol in _podman("volume", "ls", "-q", "--filter", selector).split():
            _podman("volume", "rm", "-f", vol)
            removed.append(f"volume {vol}")
        for net in _podman("network", "ls", "-q", "--filter", selector).split():
            _podman("network", "rm", "-f", net)
            removed.append(f"network {net}")
        cdir = cluster_dir(name)
        if cdir.exists():
            shutil.rmtree(cdir)
            removed.append(f"state {cdir}")
        return removed

    def spec(self, name: str) -> ClusterSpec:
        path = cluster_dir(name) / "spec.json"
        if not path.is_file():
            raise ClusterError(
                f"no cluster named {name!r} on the local backend (recapp cluster up --name {name})"
            )
        return ClusterSpec.model_validate_json(path.read_text())

    # ---- jobs -----------------------------------------------------------------------------
    def login_argv(self, name: str, argv: Sequence[str], *, tty: bool) -> list[str]:
        """`podman exec` of argv in the login pod as the unprivileged user, stdin attached (`-i`)
        like `kubectl exec -i`, with a terminal (`-t`) when the caller has one."""
        spec = self.spec(name)
        login = login_pod_name(name)
        if _state(login) != "running":
            raise ClusterError(f"login pod {login} is not running")
        return [
            "podman",
            "exec",
            "-i",
            *(["-t"] if tty else []),
            "--user",
            f"{spec.uid}:{spec.gid}",
            login,
            *argv,
        ]

    def login_exec(
        self, name: str, argv: Sequence[str], *, env: dict[str, str] | None = None
    ) -> subprocess.Popen[str]:
        spec = self.spec(name)
        login = login_pod_name(name)
        if _state(login) != "running":
            raise ClusterError(f"login pod {login} is not running")
        env_args = [a for k, v in (env or {}).items() for a in ("--env", f"{k}={v}")]
        cmd = ["podman", "exec", "--user", f"{spec.uid}:{spec.gid}", *env_args, login, *argv]
        return subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            env={**os.environ, **engine.settings().env},
            start_new_session=True,
        )

    def node_exec(
        self, name: str, node: str, argv: Sequence[str], *, timeout: float = 600
    ) -> tuple[int, str]:
        proc = run(
            ["podman", "exec", node, *argv],
            check=False,
            env=engine.settings().env,
            timeout=timeout,
            error=ClusterError,
        )
        return proc.returncode, proc.stdout + proc.stderr

    def deliver_image(self, name: str, image: str, *, step: Step | None = None) -> str:
        """Save/load through each node's `images` volume: no registry needed (README: architecture).
        Up to `delivery_concurrency` nodes load at once: one after the other, 16 nodes took over 10
        minutes for a 466 MB APP (issue 18), most of it each node's `podman load` waiting on disk."""
        say = _locked(step or (lambda _t: None))
        spec = self.spec(name)
        host_id = images.image_id(check_image_ref(image, error=ClusterError, what="APP image"))
        if host_id is None:
            raise ClusterError(f"APP image {image!r} not found in the local image store")
        lock = threading.Lock()
        saved: list[Path] = []

        def tarball() -> Path:
            # Saved once, by the first node that needs it; the others wait for that one archive.
            with lock:
                if not saved:
                    say(f"saving {image}")
                    saved.append(images.saved_tarball(image, error=ClusterError))
                return saved[0]

        pods = o.node_pod_names(spec)
        workers = max(1, min(self.delivery_concurrency, len(pods)))
        with ThreadPoolExecutor(workers, thread_name_prefix="deliver") as pool:
            futures = [
                pool.submit(self._deliver_to_node, name, pod, image, host_id, tarball, say) for pod in pods
            ]
            for (
                future
            ) in futures:  # every node's outcome is awaited; the first failure (in node order) is raised
                future.exception()
            for future in futures:
                future.result()
        return image

    def _deliver_to_node(
        self, name: str, pod: str, image: str, host_id: str, tarball: Callable[[], Path], say: Step
    ) -> None:
        status, out = self.node_exec(name, pod, ["podman", "image", "inspect", "--format", "{{.Id}}", image])
        if status == 0 and out.strip().splitlines()[-1:] == [host_id]:
            return
        if self.node_exec(name, pod, ["podman", "image", "exists", host_id])[0] == 0:
            # The same image under another name (a second tag): name it, nothing to load.
            self._tag_in_node(name, pod, host_id, image)
            return
        archive = tarball()
        say(f"loading {image} into {pod}")
        mount = Path(
            _podman(
                "volume", "inspect", "--format", "{{.Mountpoint}}", f"recapp-{pod}-{c.IMAGES_VOLUME}"
            ).strip()
        )
        # A name of this delivery's own, made whole before it is visible: two recapp processes
        # delivering one image into one node must never load (or remove) the other's half-made
        # copy ("manifest.json: not a directory" was seen when they shared one name).
        target = mount / f"{archive.stem}.{secrets.token_hex(4)}.tar"
        part = target.with_suffix(".part")
        try:
            try:
                os.link(archive, target)
            except OSError:
                shutil.copyfile(archive, part)
                os.replace(part, target)
            os.chmod(target, 0o644)
            names_before = self._node_image_names(name, pod)
            status, out = self.node_exec(
                name, pod, ["podman", "load", "-i", f"{c.IMAGES_MOUNT}/{target.name}"]
            )
        finally:
            # Loaded into the node's storage (or failed): the tarball is dead weight either way.
            target.unlink(missing_ok=True)
            part.unlink(missing_ok=True)
        if status != 0:
            raise ClusterError(f"node pod {pod}: cannot load {image}: {images.load_error(out)}")
        # The cached archive carries the tag it was first saved under, which may be another
        # name for the same image: the name asked for must point at it.
        self._tag_in_node(name, pod, host_id, image)
        self._restore_names(name, pod, host_id, image, names_before)
        # A new build under the same tag: the node's APP sandbox of the old one must go, and so
        # must the old build itself once no name points at it (it would stay in the node's
        # storage for good; `image prune` misses it when the new build shares its top layer).
        self.node_exec(name, pod, ["wrap-container", "--reset", image])
        replaced = names_before.get(image)
        if replaced and replaced != host_id and replaced not in self._node_image_names(name, pod).values():
            self.node_exec(name, pod, ["podman", "rmi", replaced])

    def _node_image_names(self, name: str, pod: str) -> dict[str, str]:
        """name:tag → image id in a node's storage."""
        status, out = self.node_exec(
            name, pod, ["podman", "images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}", "--no-trunc"]
        )
        pairs = (line.split() for line in out.splitlines() if status == 0)
        return {p[0]: p[1].removeprefix("sha256:") for p in pairs if len(p) == 2 and "<none>" not in p[0]}

    def _restore_names(self, name: str, pod: str, image_id: str, image: str, before: dict[str, str]) -> None:
        """Undo what the archive's own tag did: a name nobody asked for goes, a moved one goes back
        (so an old build keeps no stray name and is pruned, and no other name changes meaning)."""
        for tag, now_id in self._node_image_names(name, pod).items():
            if tag == image or now_id != image_id or before.get(tag) == image_id:
                continue
            if tag in before:
                self._tag_in_node(name, pod, before[tag], tag)
            else:
                self.node_exec(name, pod, ["podman", "untag", image_id, tag])

    def _tag_in_node(self, name: str, pod: str, image_id: str, image: str) -> None:
        status, out = self.node_exec(name, pod, ["podman", "tag", image_id, image])
        if status != 0:
            raise ClusterError(f"node pod {pod}: cannot name {image_id[:12]} {image}: {last_line(out)}")

    def deliver_binaries(self, name: str, image: str, *, step: Step | None = None) -> str:
        """The APP's /usr/local (its programs and what they find beside them) and the libraries they
        need that the REC lacks (never its MPI: native.py), in every node; return the bin directory."""
        say = step or (lambda _t: None)
        spec = self.spec(name)
        host_id = images.image_id(image)
        if host_id is None:
            raise ClusterError(f"APP image {image!r} not found in the local image store")
        rel = f"native/{host_id[:12]}"
        staging = cluster_dir(name) / "native" / host_id[:12]
        if not staging.is_dir():
            say(f"extracting /usr/local from {image}")
            staging.parent.mkdir(parents=True, exist_ok=True)
            part = staging.with_name(f"{staging.name}.{secrets.token_hex(4)}.part")
            try:
                libs = native.stage(image, spec.rec_image, part)
                os.replace(part, staging)  # whole or not there: a failed staging is not reused
            finally:
                shutil.rmtree(part, ignore_errors=True)
            if libs:
                say(f"libraries the REC lacks, from {image}: {', '.join(libs)}")
        for pod in o.node_pod_names(spec):
            mount = Path(
                _podman(
                    "volume", "inspect", "--format", "{{.Mountpoint}}", f"recapp-{pod}-{c.IMAGES_VOLUME}"
                ).strip()
            )
            target = mount / rel
            if not target.is_dir():
                shutil.copytree(staging, target, symlinks=True)
                for path in [target, *target.parents][: len(Path(rel).parts)]:
                    os.chown(path, spec.uid, spec.gid)
        return f"{c.IMAGES_MOUNT}/{rel}/bin"


def _exists(kind: str, name: str) -> bool:
    return run(["podman", kind, "exists", name], check=False, env=engine.settings().env).returncode == 0


def _state(pod: str) -> str:
    proc = run(
        ["podman", "inspect", "--format", "{{.State.Status}}", pod], check=False, env=engine.settings().env
    )
    return proc.stdout.strip() if proc.returncode == 0 else ""


def _node_ip(pod: str, network: str) -> str:
    """A ready node's address on the cluster network; a node without one cannot be in the hostfile."""
    ip = _ip(pod, network)
    if ip is None:
        raise ClusterError(f"node {pod} has no address on network {network}")
    return ip


def _ip(pod: str, network: str) -> str | None:
    proc = run(["podman", "inspect", "--format", "json", pod], check=False, env=engine.settings().env)
    if proc.returncode != 0:
        return None
    nets = json.loads(proc.stdout)[0].get("NetworkSettings", {}).get("Networks", {}) or {}
    return (nets.get(network) or {}).get("IPAddress") or None
