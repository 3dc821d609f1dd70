"""The `kubernetes` backend: the virtual cluster's objects, created through the official client.

Construction takes an `ApiClient` (tests and callers inject it; nothing global is configured), or
builds one from a kubeconfig file and context (`from_kubeconfig`). What to do is planned by pure
functions in kube_plan.py; API errors are mapped in kube_errors.py; execs go through kube_exec.py.

- `up`: creates Namespace, spec ConfigMap, ServiceAccount, Role, RoleBinding, NetworkPolicy, Secret, Service,
  StatefulSet, Job in that order; 409 means the object is there (an interrupted `up` resumes; a
  cluster that exists with a *different* spec is refused). Then lists the cluster's pods and
  watches them from that resourceVersion (re-listing on 410) until every node pod is Ready and the
  login pod runs (its init container has written the hostfile), or the spec's ready timeout passes.
- `down`: deletes the Namespace with foreground propagation when recapp made it for this cluster,
  else each of the cluster's objects (found by label) in reverse creation order; 404 = gone; then
  waits until they are gone. Idempotent.
- `spec`: read back from the `<name>-spec` ConfigMap.
- `login_exec`/`node_exec`: the exec API; `deliver_image`: `podman pull` inside each node pod.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.stream import stream as k8s_stream
from kubernetes.watch.watch import iter_resp_lines

from recapp.errors import ClusterError, ClusterUnreachable
from recapp.host import images
from recapp.host.names import check_cluster_name
from recapp.host.progress import Step
from recapp.k8s import constants as c
from recapp.k8s import hardening, validate
from recapp.k8s import objects as o
from recapp.k8s.backend import MPI_STACK_RE, ClusterBackend, ClusterStatus
from recapp.k8s.kubernetes.errors import (
    Action,
    call_with_retry,
    exec_error,
    is_unreachable,
    kubeconfig_error,
    unreachable_error,
)
from recapp.k8s.kubernetes.plan import (
    KINDS,
    NAMESPACED_KINDS,
    PlannedObject,
    Readiness,
    WatchExpired,
    apply_watch_event,
    backend_objects,
    belongs_to,
    cluster_selector,
    creation_plan,
    deletion_plan,
    image_reference_problem,
    is_owned_namespace,
    namespace_for,
    pod_status_from,
    readiness_from_pods,
    same_spec,
    spec_config_map_name,
    spec_from_config_map,
)
from recapp.k8s.kubernetes.remote_exec import ExecProcess, signal_argv, wrapped_argv
from recapp.k8s.spec import ClusterSpec

T = TypeVar("T")
Obj = dict[str, Any]

REQUEST_TIMEOUT = (5.0, 30.0)  # (connect, read) seconds for ordinary requests
WATCH_CHUNK_S = 60  # a watch request lasts at most this long, then is resumed
DOWN_TIMEOUT_S = 180.0
DELETE_POLL_S = 2.0
# `up` outlives an API server that stops answering for this long (a restart: about 15-40 s here,
# docs/kubernetes.md), then says the cluster is half made and how to go on. Within the 60 s.
API_OUTAGE_S = 45.0
OUTAGE_POLL_S = 2.0
PROBE_TIMEOUT_S = 90.0  # the NetworkPolicy probe pod: scheduled, started, its DNS wait, one 5 s connect
PULL_TIMEOUT_S = 1800.0  # one `podman pull` (or copy) inside a node pod
IN_CLUSTER_TOKEN = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")
# podman's words for an image that is not in its store (any other inspect failure is the engine's).
NO_SUCH_IMAGE = re.compile(r"no such image|image not known", re.IGNORECASE)
# In a node pod: copy IMAGE's /usr/local to TARGET once (TARGET is per image ID), so that its programs
# in TARGET/bin find what they start from ../lib/recapp (HPCC's runner), and into TARGET/lib/deps the
# libraries they need that this node (the REC) lacks, from IMAGE, round by round as those need others
# (HPCC's BLAS, then its Fortran runtime): as k8s/local/native.py does on the host, never the MPI stack
# (MPI_STACK_RE), which a native rank takes from the REC.
EXTRACT_BIN_SCRIPT = (
    'set -e; target="$1"; image="$2"; [ -d "$target/bin" ] && exit 0; '
    'rm -rf "$target.tmp"; mkdir -p "$(dirname "$target")"; '
    'ctr=$(podman create --pull=never "$image" true); '
    "trap 'podman rm -f -v \"$ctr\" >/dev/null 2>&1' EXIT; "
    'podman cp "$ctr:/usr/local" "$target.tmp"; deps="$target.tmp/lib/deps"; mkdir -p "$deps"; '
    "for round in 1 2 3 4 5 6; do "
    'missing=$(find "$target.tmp" -type f -exec sh -c '
    '\'LD_LIBRARY_PATH="$0" ldd "$1" 2>/dev/null || true\' "$deps" {} \\; '
    '| awk \'$2 == "=>" && $3 == "not" {print $1}\' | sort -u '
    f"| grep -Ev '{MPI_STACK_RE}' || true); "
    '[ -z "$missing" ] && break; before=$(ls "$deps" | wc -l); '
    'podman run --rm --pull=never --user 0 --network none -v "$deps:/deps" --entrypoint sh "$image" -c '
    '\'for l; do p=$(ldconfig -p | awk -v l="$l" "\\$1 == l {print \\$NF; exit}"); '
    '[ -z "$p" ] || cp -L "$p" /deps/; done\' sh $missing; '
    '[ "$(ls "$deps" | wc -l)" -gt "$before" ] || break; done; '
    'mv "$target.tmp" "$target"'
)


def load_api_client(kubeconfig: str | Path | None = None, context: str | None = None) -> k8s_client.ApiClient:
    """An ApiClient from a kubeconfig (the given file, else $KUBECONFIG, else ~/.kube/config), or the
    pod's ServiceAccount when none exists and recapp runs inside a cluster. Never touches the client's
    global default configuration, and never writes to the kubeconfig."""
    path = (
        str(kubeconfig)
        if kubeconfig
        else os.environ.get("KUBECONFIG") or str(Path.home() / ".kube" / "config")
    )
    in_cluster = (
        kubeconfig is None
        and not os.environ.get("KUBECONFIG")
        and not Path(path).exists()
        and os.environ.get("KUBERNETES_SERVICE_HOST")
        and IN_CLUSTER_TOKEN.exists()
    )
    if in_cluster:
        configuration = k8s_client.Configuration()
        try:
            k8s_config.load_incluster_config(client_configuration=configuration)
        except k8s_config.ConfigException as exc:
            raise ClusterError(f"in-cluster configuration: {' '.join(str(exc).split())}") from exc
        return k8s_client.ApiClient(configuration)
    try:
        api: k8s_client.ApiClient = k8s_config.new_client_from_config(
            config_file=path, context=context, persist_config=False
        )
        return api
    except Exception as exc:  # the loader raises ConfigException, YAML errors, TypeError, KeyError, …
        raise kubeconfig_error(path, exc) from exc


class KubernetesBackend(ClusterBackend):
    name = "kubernetes"

    def __init__(
        self,
        api_client: k8s_client.ApiClient,
        *,
        namespace: str | None = None,
        request_timeout: tuple[float, float] = REQUEST_TIMEOUT,
        down_timeout_s: float = DOWN_TIMEOUT_S,
        api_outage_s: float = API_OUTAGE_S,
    ) -> None:
        """`namespace`: where clusters live when it is not `recapp-<name>` (their spec's namespace)."""
        self._client = api_client
        self._namespace = namespace
        self._timeout = request_timeout
        self._down_timeout_s = down_timeout_s
        self._api_outage_s = api_outage_s
        self._api_answered = False
        self._apis: dict[str, Any] = {}
        self._exec_lock = threading.Lock()
        self._exec_client: k8s_client.ApiClient | None = None

    @classmethod
    def from_kubeconfig(
        cls, kubeconfig: str | Path | None = None, context: str | None = None, *, namespace: str | None = None
    ) -> KubernetesBackend:
        return cls(load_api_client(kubeconfig, context), namespace=namespace)

    @property
    def host(self) -> str:
        return str(self._client.configuration.host)

    # ---- plumbing -----------------------------------------------------------------------------
    def _api(self, class_name: str) -> Any:
        if class_name not in self._apis:
            self._apis[class_name] = getattr(k8s_client, class_name)(self._client)
        return self._apis[class_name]

    def _method(self, kind: str, verb: str) -> Callable[..., Any]:
        info = KINDS[kind]
        method: Callable[..., Any] = getattr(self._api(info.api), f"{verb}_{info.suffix}")
        return method

    def _call(self, fn: Callable[[], T], action: Action, tolerate: Sequence[int] = ()) -> T:
        result = call_with_retry(fn, action, host=self.host, tolerate=tolerate)
        self._api_answered = True  # an API that answered once and then stops is restarting
        return result

    def _json(self, response: Any) -> Obj:
        data: Obj = json.loads(response.data or b"{}")
        return data

    def _create(self, planned: PlannedObject, tolerate: Sequence[int] = (409,)) -> int:
        """Create one object: 201, or the tolerated status it failed with (409: it already exists)."""
        create = self._method(planned.kind, "create")
        args = (planned.body,) if planned.namespace is None else (planned.namespace, planned.body)
        action = Action("create", planned.api.plural, planned.namespace, planned.name)
        try:
            self._call(
                lambda: create(*args, _preload_content=False, _request_timeout=self._timeout),
                action,
                tolerate,
            )
        except ApiException as exc:
            return int(exc.status)
        return 201

    def _read(self, kind: str, name: str, namespace: str | None, tolerate: Sequence[int] = ()) -> Obj | None:
        """The object as JSON, or None if it does not exist (404) or reading it is `tolerate`d."""
        read = self._method(kind, "read")
        args = (name,) if namespace is None else (name, namespace)
        action = Action("get", KINDS[kind].plural, namespace, name)
        try:
            return self._json(
                self._call(
                    lambda: read(*args, _preload_content=False, _request_timeout=self._timeout),
                    action,
                    (404, *tolerate),
                )
            )
        except ApiException as exc:
            if exc.status != 404:
                raise _Tolerated(int(exc.status)) from exc
            return None

    def _delete(self, kind: str, name: str, namespace: str | None) -> bool:
        """Delete with foreground propagation; False if it was already gone (404) or going (409)."""
        delete = self._method(kind, "delete")
        args = (name,) if namespace is None else (name, namespace)
        options = k8s_client.V1DeleteOptions(propagation_policy="Foreground")
        action = Action("delete", KINDS[kind].plural, namespace, name)
        try:
            self._call(
                lambda: delete(*args, body=options, _preload_content=False, _request_timeout=self._timeout),
                action,
                (404, 409),  # 409: a namespace already terminating
            )
        except ApiException:
            return False
        return True

    def _list(self, kind: str, namespace: str, selector: str) -> tuple[list[Obj], str]:
        """(items, resourceVersion) of a labelled list in one namespace."""
        lister = self._method(kind, "list")
        action = Action("list", KINDS[kind].plural, namespace)
        data = self._json(
            self._call(
                lambda: lister(
                    namespace, label_selector=selector, _preload_content=False, _request_timeout=self._timeout
                ),
                action,
            )
        )
        return list(data.get("items") or []), str((data.get("metadata") or {}).get("resourceVersion") or "")

    def _list_pods(self, namespace: str, selector: str) -> tuple[list[Obj], str]:
        core = self._api("CoreV1Api")
        data = self._json(
            self._call(
                lambda: core.list_namespaced_pod(
                    namespace, label_selector=selector, _preload_content=False, _request_timeout=self._timeout
                ),
                Action("list", "pods", namespace),
            )
        )
        return list(data.get("items") or []), str((data.get("metadata") or {}).get("resourceVersion") or "")

    def _events_for(self, namespace: str, pods: Sequence[str]) -> list[Obj]:
        core = self._api("CoreV1Api")
        events: list[Obj] = []
        for pod in pods:
            try:
                data = self._json(
                    self._call(
                        functools.partial(
                            core.list_namespaced_event,
                            namespace,
                            field_selector=f"involvedObject.name={pod}",
                            _preload_content=False,
                            _request_timeout=self._timeout,
                        ),
                        Action("list", "events", namespace),
                    )
                )
            except ClusterError:
                return events  # events only sharpen messages: missing RBAC for them is not fatal
            events += data.get("items") or []
        return events

    def _watch_pods(self, namespace: str, selector: str, version: str, seconds: int) -> Iterator[Obj]:
        """One watch request from `version`, at most `seconds` long; yields raw events."""
        core = self._api("CoreV1Api")
        response = self._call(
            lambda: core.list_namespaced_pod(
                namespace,
                label_selector=selector,
                watch=True,
                resource_version=version,
                allow_watch_bookmarks=True,
                timeout_seconds=seconds,
                _preload_content=False,
                _request_timeout=(self._timeout[0], seconds + 15),
            ),
            Action("watch", "pods", namespace),
            (410,),
        )
        try:
            for line in iter_resp_lines(response):
                if line.strip():
                    yield json.loads(line)
        except Exception as exc:
            if is_unreachable(exc):
                raise unreachable_error(exc, self.host) from exc
            raise
        finally:
            response.close()
            response.release_conn()

    # ---- up -----------------------------------------------------------------------------------
    def up(
        self, spec: ClusterSpec, *, cleanup_on_failure: bool = True, step: Step | None = None
    ) -> ClusterStatus:
        """Create the cluster and wait until it is ready. On failure (or interrupt) the objects this
        call created are deleted again, unless `cleanup_on_failure` is False (`--keep-on-failure`,
        to look at the broken pods); objects that were there before this call are never touched."""
        say = step or (lambda _t: None)
        spec = self._resolve_user_namespace(spec, say)
        objects = backend_objects(spec)
        validate_pods(objects)
        plan = creation_plan(objects)
        created: list[PlannedObject] = []

        def attempt() -> None:
            # Every step is idempotent (409 = there; the watch re-lists), so after an outage the
            # whole sequence simply runs again: what a second `cluster up` would do.
            self._create_all(spec, plan, say, created)
            self._wait_ready(spec, say)
            self._probe_network_policy(spec, say)

        try:
            self._riding_out_api_outages(spec, attempt, say)
        except ClusterError as exc:
            if not created:
                raise  # nothing of ours to remove or keep: the error as it is
            if not cleanup_on_failure:
                raise _with_note(exc, f"cluster kept: recapp cluster status --name {spec.name}") from exc
            say(f"removing what this `up` created ({len(created)} object(s))")
            try:
                self._undo(spec, created)
            except ClusterError as undo_exc:
                raise _with_note(exc, f"and removing what was created failed: {undo_exc}") from exc
            raise _with_note(exc, f"removed what this `up` created in {spec.namespace}") from exc
        except KeyboardInterrupt:
            # Ctrl-C: out at once; the CLI's line says how to resume (up is idempotent) or remove it.
            raise
        except BaseException:  # a bug: still leave nothing half-made behind
            if created and cleanup_on_failure:
                self._undo(spec, created)
            raise
        return self.status(spec.name, namespace=spec.namespace)

    def _undo(self, spec: ClusterSpec, created: list[PlannedObject]) -> None:
        """Delete what `up` created: its own Namespace (with everything in it), else each object."""
        if any(p.kind == "Namespace" for p in created):
            if self._delete("Namespace", spec.namespace, None):
                self._wait_gone(
                    lambda: self._read("Namespace", spec.namespace, None) is not None,
                    f"namespace {spec.namespace}",
                )
            return
        for kind, name in deletion_plan((p.kind, p.name) for p in created):
            self._delete(kind, name, spec.namespace)
        selector = cluster_selector(spec.name)
        self._wait_gone(
            lambda: bool(self._list_pods(spec.namespace, selector)[0]),
            f"pods of cluster {spec.name} in {spec.namespace}",
        )

    def _riding_out_api_outages(self, spec: ClusterSpec, attempt: Callable[[], None], say: Step) -> None:
        """attempt(), again while an API server that has answered is away (a restart), for at most
        api_outage_s in all; then one line saying the cluster is half made and how to go on."""
        away_since: float | None = None
        while True:
            try:
                attempt()
                return
            except ClusterUnreachable as exc:
                if not self._api_answered:
                    raise  # never reached (a wrong address, a cluster that is down): say so at once
                now = time.monotonic()
                away_since = now if away_since is None else away_since
                if now - away_since >= self._api_outage_s:
                    raise ClusterError(
                        f"{exc} (for {self._api_outage_s:.0f} s); cluster {spec.name} is half made: run the"
                        " same `recapp cluster up` again once the API answers, or"
                        f" `recapp cluster down --name {spec.name} --backend kubernetes`"
                    ) from exc
                say(f"{exc}: retrying for up to {self._api_outage_s - (now - away_since):.0f} s")
                time.sleep(OUTAGE_POLL_S)

    def _resolve_user_namespace(self, spec: ClusterSpec, say: Step) -> ClusterSpec:
        """Settle spec.user_namespace (unset: detected from the server version; see k8s/hardening)."""
        try:
            version = str(self._api("VersionApi").get_code(_request_timeout=self._timeout).git_version)
        except Exception:  # no verdict without the version: the decision says so
            version = ""
        value, why = hardening.decide_user_namespace(spec.user_namespace, version, rec_subids_fit=None)
        say(why)
        return spec.model_copy(update={"user_namespace": value})

    def _probe_network_policy(self, spec: ClusterSpec, say: Step) -> None:
        """A pod without the cluster's labels must not reach an agent (spec.network_policy_probe)."""
        if spec.network_policy_probe == "skip":
            return
        pod = hardening.probe_pod_object(spec)
        name = pod["metadata"]["name"]
        say(f"probing NetworkPolicy enforcement (pod {name})")
        core, ns = self._api("CoreV1Api"), spec.namespace
        options = k8s_client.V1DeleteOptions(grace_period_seconds=0)
        quick: dict[str, Any] = {"_preload_content": False, "_request_timeout": self._timeout}

        def delete() -> None:
            self._call(
                lambda: core.delete_namespaced_pod(name, ns, body=options, **quick),
                Action("delete", "pods", ns, name),
                (404,),
            )

        def read() -> Obj:
            response = self._call(
                lambda: core.read_namespaced_pod(
                    name, ns, _preload_content=False, _request_timeout=self._timeout
                ),
                Action("get", "pods", ns, name),
            )
            return self._json(response)

        with contextlib.suppress(ApiException):
            delete()  # a probe pod left by an interrupted `up`
        self._call(
            lambda: core.create_namespaced_pod(
                ns, pod, _preload_content=False, _request_timeout=self._timeout
            ),
            Action("create", "pods", ns, name),
        )
        code: int | None = None
        deadline = time.monotonic() + PROBE_TIMEOUT_S
        try:
            while code is None and time.monotonic() < deadline:
                for status in (read().get("status") or {}).get("containerStatuses") or []:
                    terminated = (status.get("state") or {}).get("terminated")
                    if terminated is not None:
                        code = int(terminated.get("exitCode", -1))
                if code is None:
                    time.sleep(1.0)
        finally:
            with contextlib.suppress(ApiException):
                delete()
        line = hardening.act_on_verdict(spec, hardening.judge_probe(spec, code))
        if line:
            say(line)

    def _create_all(
        self, spec: ClusterSpec, plan: list[PlannedObject], say: Step, created: list[PlannedObject]
    ) -> None:
        """Create the plan's objects in order; `created` collects those this call made (for undo)."""
        namespace_refused = False
        for planned in plan:
            say(f"{planned.kind.lower()} {planned.name}")
            if planned.kind == "Namespace":
                status = self._ensure_namespace(spec, planned, say)
                namespace_refused = status == 403
                if status == 201:
                    created.append(planned)
                continue
            try:
                if planned.kind == "ConfigMap" and planned.name == spec_config_map_name(spec.name):
                    self._check_stored_spec(spec)
                status = self._create(planned)
            except ClusterError as exc:
                if namespace_refused and str(exc).startswith("forbidden"):
                    # The first refusal is the namespace's: name it and what is missing (the server's
                    # sentence about the ConfigMap would only hide it).
                    raise ClusterError(
                        f"forbidden: create namespaces at cluster scope (RBAC): cannot make namespace "
                        f"{spec.namespace}, and no rights in it either ({exc}); ask for a namespace with "
                        "rights in it, then pass --namespace"
                    ) from exc
                raise
            namespace_refused = False
            if status == 201:
                created.append(planned)
                continue
            existing = self._read(planned.kind, planned.name, planned.namespace)
            if existing is not None and not belongs_to(existing, spec.name):
                raise ClusterError(
                    f"a {planned.kind} named {planned.name} already exists in {planned.namespace} "
                    f"and is not part of cluster {spec.name}"
                )

    def _ensure_namespace(self, spec: ClusterSpec, planned: PlannedObject, say: Step) -> int:
        """Create the Namespace, or use the existing one; return the create's status (201, 409, 403).
        Users who may not create namespaces (403) can still use one they were given: carry on, and
        the first namespaced create tells whether they may work in it."""
        status = self._create(planned, tolerate=(409, 403))
        if status == 201:
            return status
        try:
            existing = self._read("Namespace", planned.name, None, tolerate=(403,))
        except _Tolerated:
            say(f"namespace {planned.name}: not allowed to create or read it; using it as given")
            return status
        if existing is None:
            if status == 403:
                raise ClusterError(
                    f"forbidden: create namespaces at cluster scope (RBAC), and namespace {planned.name} "
                    "does not exist (ask for one, then pass --namespace)"
                )
            return status
        if (existing.get("status") or {}).get("phase") == "Terminating":
            raise ClusterError(
                f"namespace {spec.namespace} is still being deleted; wait until it is gone, then retry"
            )
        if not is_owned_namespace(existing, spec.name):
            say(f"namespace {planned.name} is not recapp's: `down` will remove only this cluster's objects")
        return status

    def _check_stored_spec(self, spec: ClusterSpec) -> None:
        stored = self._read("ConfigMap", spec_config_map_name(spec.name), spec.namespace)
        if stored is not None and not same_spec(spec_from_config_map(stored), spec):
            raise ClusterError(
                f"cluster {spec.name} already exists in {spec.namespace} with a different spec "
                f"(recapp cluster down --name {spec.name} --backend kubernetes)"
            )

    def _wait_ready(self, spec: ClusterSpec, say: Step) -> Readiness:
        """List, then watch from that resourceVersion (re-list on 410), until ready or timed out."""
        deadline = time.monotonic() + spec.ready_timeout_s
        selector = cluster_selector(spec.name)
        say(f"waiting for {spec.nodes} node pod(s) to be Ready and the login pod to run")
        pods: dict[str, Obj] = {}
        version = ""
        listed = False
        last_summary = ""
        while True:
            if not listed:
                items, version = self._list_pods(spec.namespace, selector)
                pods = {p["metadata"]["name"]: p for p in items}
                listed = True
            readiness = readiness_from_pods(spec, pods.values())
            if readiness.done:
                return readiness
            readiness = self._with_events(spec, pods, readiness)
            summary = readiness.summary()
            if summary != last_summary:
                say(summary)
                last_summary = summary
            if readiness.fatal is not None:
                hint = _image_hint(spec, readiness)
                raise ClusterError(f"{readiness.fatal}" + (f"; {hint}" if hint else ""))
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                problems = "; ".join(str(p) for p in readiness.problems)
                raise ClusterError(
                    f"cluster {spec.name} not ready after {spec.ready_timeout_s} s: {summary}"
                    + (f"; {problems}" if problems else "")
                )
            try:
                for event in self._watch_pods(
                    spec.namespace, selector, version, max(1, min(WATCH_CHUNK_S, int(remaining)))
                ):
                    version = apply_watch_event(pods, event) or version
                    now = readiness_from_pods(spec, pods.values())
                    if now.done or now.fatal is not None or now.summary() != last_summary:
                        break  # re-evaluate (with events), then watch on from `version`
            except (ApiException, WatchExpired):  # 410 Gone: our resourceVersion is too old
                listed = False

    def _with_events(self, spec: ClusterSpec, pods: dict[str, Obj], readiness: Readiness) -> Readiness:
        """Readiness again with the events of the pods that have problems (sharper messages)."""
        if not readiness.problems:
            return readiness
        events = self._events_for(spec.namespace, sorted({p.pod for p in readiness.problems}))
        return readiness_from_pods(spec, pods.values(), events)

    # ---- status / down / spec -----------------------------------------------------------------
    def _namespace_of(self, name: str, namespace: str | None = None) -> str:
        # The name goes into label selectors (`recapp.io/cluster=NAME`): a checked DNS label only.
        check_cluster_name(name, error=ClusterError)
        return namespace or namespace_for(name, self._namespace)

    def status(self, name: str, *, namespace: str | None = None) -> ClusterStatus:
        ns = self._namespace_of(name, namespace)
        selector = cluster_selector(name)
        pods, _ = self._list_pods(ns, selector)  # listing in a missing namespace is just empty
        config_map = self._read("ConfigMap", spec_config_map_name(name), ns)
        sets, _ = self._list("StatefulSet", ns, selector)
        if config_map is None and not pods and not sets:
            return ClusterStatus(name, self.name, exists=False)
        claims, _ = self._list("PersistentVolumeClaim", ns, selector)
        services, _ = self._list("Service", ns, selector)
        return ClusterStatus(
            name,
            self.name,
            exists=True,
            pods=sorted((pod_status_from(p) for p in pods), key=lambda p: p.name),
            network=f"{ns}/{services[0]['metadata']['name']}" if services else None,
            volumes=sorted(p["metadata"]["name"] for p in claims),
        )

    def down(self, name: str, *, namespace: str | None = None) -> list[str]:
        ns = self._namespace_of(name, namespace)
        try:
            ns_obj = self._read("Namespace", ns, None, tolerate=(403,))
        except _Tolerated:  # may not read namespaces: remove the cluster's objects one by one
            return self._delete_objects(name, ns)
        if ns_obj is None:
            return []
        if is_owned_namespace(ns_obj, name):
            removed = [f"namespace {ns}"] if self._delete("Namespace", ns, None) else []
            self._wait_gone(lambda: self._read("Namespace", ns, None) is not None, f"namespace {ns}")
            return removed
        return self._delete_objects(name, ns)

    def _delete_objects(self, name: str, namespace: str) -> list[str]:
        selector = cluster_selector(name)
        found = [
            (kind, obj["metadata"]["name"])
            for kind in NAMESPACED_KINDS
            for obj in self._list(kind, namespace, selector)[0]
        ]
        removed = [
            f"{kind.lower()} {namespace}/{obj_name}"
            for kind, obj_name in deletion_plan(found)
            if self._delete(kind, obj_name, namespace)
        ]
        self._wait_gone(
            lambda: bool(self._list_pods(namespace, selector)[0]), f"pods of cluster {name} in {namespace}"
        )
        return removed

    def _wait_gone(self, still_there: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + self._down_timeout_s
        while still_there():
            if time.monotonic() > deadline:
                raise ClusterError(f"{what} still there after {self._down_timeout_s:.0f} s (finalizers?)")
            time.sleep(DELETE_POLL_S)

    def spec(self, name: str, *, namespace: str | None = None) -> ClusterSpec:
        ns = self._namespace_of(name, namespace)
        config_map = self._read("ConfigMap", spec_config_map_name(name), ns)
        if config_map is None:
            raise ClusterError(
                f"no cluster named {name!r} in namespace {ns} (no ConfigMap {spec_config_map_name(name)}; "
                "clusters deployed with `kubectl apply -k` have none)"
            )
        return spec_from_config_map(config_map)

    # ---- exec ---------------------------------------------------------------------------------
    def _exec_api(self) -> Any:
        # stream() swaps the ApiClient's transport while it opens the websocket: execs get their own
        # client (sharing the configuration), so concurrent ordinary requests are never affected.
        if self._exec_client is None:
            self._exec_client = k8s_client.ApiClient(self._client.configuration)
        return k8s_client.CoreV1Api(self._exec_client)

    def _open_exec(
        self, namespace: str, pod: str, container: str, argv: list[str], *, stdin: bool = False
    ) -> Any:
        action = Action("exec", "pods/exec", namespace, pod)
        with self._exec_lock:
            core = self._exec_api()
            try:
                return k8s_stream(
                    core.connect_get_namespaced_pod_exec,
                    pod,
                    namespace,
                    command=argv,
                    container=container,
                    stdin=stdin,
                    stdout=True,
                    stderr=True,
                    tty=False,
                    binary=True,
                    _preload_content=False,
                    _request_timeout=self._timeout,
                )
            except ApiException as exc:
                raise exec_error(exc, action, host=self.host) from exc
            except Exception as exc:
                if is_unreachable(exc):
                    raise unreachable_error(exc, self.host) from exc
                raise

    def pod_exec(
        self,
        namespace: str,
        pod: str,
        container: str,
        argv: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        stdin: bool = False,
    ) -> ExecProcess:
        """Start argv in one container of a pod (as the container's user); Popen-like handle.
        With `stdin`, feed it through the handle's `feed`."""
        full = wrapped_argv(argv, env)

        def signal_remote(pid: int, sig: int) -> None:
            with ExecProcess(
                self._open_exec(namespace, pod, container, signal_argv(pid, sig)), ["kill"]
            ) as p:
                p.communicate(timeout=30)

        return ExecProcess(
            self._open_exec(namespace, pod, container, full, stdin=stdin),
            list(argv),
            signal_remote=signal_remote,
        )

    def login_pod(self, name: str) -> str:
        """The name of the cluster's running login pod (a Job's pod: its name carries a suffix)."""
        return self._login_target(name)[1]

    def _login_target(self, name: str) -> tuple[str, str]:
        """(namespace, pod) of the cluster's running login pod."""
        spec = self.spec(name)
        pods, _ = self._list_pods(
            spec.namespace, f"{c.LABEL_CLUSTER}={name},{c.LABEL_COMPONENT}={c.COMPONENT_LOGIN}"
        )
        readiness = readiness_from_pods(spec, pods)
        if readiness.login_running and readiness.login_pod is not None:
            return spec.namespace, readiness.login_pod
        if readiness.login_pod is not None:
            raise ClusterError(f"login pod {readiness.login_pod} of cluster {name} is not running yet")
        # No login pod at all. Its Job never makes a second one (backoffLimit 0), and an evicted login
        # pod even counts as done: catatonit exits 0 on SIGTERM, so the Job is Complete.
        job = self._read("Job", o.login_job_name(spec), spec.namespace)
        ended = [
            str(cond.get("reason") or cond.get("type"))
            for cond in ((job or {}).get("status") or {}).get("conditions") or []
            if cond.get("type") in ("Complete", "Failed") and cond.get("status") == "True"
        ]
        why = f"its Job ended: {ended[0]}" if ended else "its Job is gone" if job is None else "none started"
        raise ClusterError(
            f"cluster {name} has no login pod ({why}; an evicted or deleted login pod is not replaced):"
            f" recapp cluster down --name {name} --backend kubernetes, then up"
        )

    def login_exec(  # a Popen-like ExecProcess, see kube_exec
        self, name: str, argv: Sequence[str], *, env: dict[str, str] | None = None
    ) -> ExecProcess:
        namespace, pod = self._login_target(name)
        return self.pod_exec(namespace, pod, c.LOGIN_CONTAINER, argv, env=env)

    def _run_in_node(
        self, spec: ClusterSpec, node: str, argv: Sequence[str], timeout: float
    ) -> tuple[int, str, str]:
        """(status, stdout, stderr) of argv in one node pod; the command is killed after `timeout`."""
        if node not in o.node_pod_names(spec):
            raise ClusterError(
                f"cluster {spec.name} has no node pod {node!r} (nodes: {', '.join(o.node_pod_names(spec))})"
            )
        proc = self.pod_exec(spec.namespace, node, c.NODE_CONTAINER, argv)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            proc.kill()
            raise ClusterError(f"node pod {node}: {argv[0]} timed out after {timeout:.0f} s") from exc
        finally:
            proc.close()
        return (proc.returncode if proc.returncode is not None else 255), out, err

    def node_exec(
        self, name: str, node: str, argv: Sequence[str], *, timeout: float = 600
    ) -> tuple[int, str]:
        status, out, err = self._run_in_node(self.spec(name), node, argv, timeout)
        return status, out + err

    def deliver_image(self, name: str, image: str, *, step: Step | None = None) -> str:
        """The APP into every node pod's nested podman: `podman pull` from a registry the nodes
        reach, or, for a `localhost/…` image of this machine's store, `podman load` of its archive
        streamed through the exec API (no registry needed)."""
        self._deliver(self.spec(name), image, step or (lambda _t: None))
        return image

    def _deliver(self, spec: ClusterSpec, image: str, say: Step) -> None:
        problem = image_reference_problem(image)
        if problem is None:
            self._pull_everywhere(spec, image, say)
            return
        local_id = images.image_id(image) if image.startswith("localhost/") else None
        if local_id is None:
            raise ClusterError(problem)
        self._load_everywhere(spec, image, local_id, say)

    def _node_image_id(self, spec: ClusterSpec, pod: str, image: str) -> str:
        """The ID of `image` in a node pod's nested podman, "" if it has none; a ClusterError when
        nested podman itself cannot run there (the cause every later step would hit)."""
        inspect = ["podman", "image", "inspect", "--format", "{{.Id}}", image]
        status, out, err = self._run_in_node(spec, pod, inspect, 120)
        if status == 0 or NO_SUCH_IMAGE.search(err):
            return out.strip() if status == 0 else ""
        why = _last_line(err or out, status)
        if spec.user_namespace and hardening.SUBID_MAP_FAILED.search(err):
            raise ClusterError(
                f"node pod {pod}: nested podman does not run: {hardening.userns_subids_cause(err)}"
            )
        if "cannot clone" in err or "Operation not permitted" in err:
            why += (
                " (nested podman cannot create its user namespace: on containerd nodes give node pods a"
                " Localhost seccomp profile, recapp cluster up --seccomp-profile FILE)"
            )
        raise ClusterError(f"node pod {pod}: nested podman does not run: {why}")

    def _load_everywhere(self, spec: ClusterSpec, image: str, image_id: str, say: Step) -> None:
        archive: Path | None = None
        for pod in o.node_pod_names(spec):
            before = self._node_image_id(spec, pod, image)
            if before == image_id:
                continue  # this very build is there already
            if archive is None:
                say(f"saving {image} from the local image store")
                archive = images.saved_tarball(image, error=ClusterError)
            say(f"loading {image} into {pod} ({archive.stat().st_size // 2**20} MiB through the exec API)")
            self._load_archive(spec, pod, image, archive)
            if before:
                # A new build under the same tag: the node's APP sandbox of the old one must go.
                self._run_in_node(spec, pod, ["wrap-container", "--reset", image], PULL_TIMEOUT_S)

    def _load_archive(self, spec: ClusterSpec, pod: str, image: str, archive: Path) -> None:
        size = archive.stat().st_size
        # `head -c` ends the input at the archive's size: stdin's end needs the v5 exec protocol.
        load = ["sh", "-c", 'head -c "$1" | podman load --quiet', "recapp-load", str(size)]
        proc = self.pod_exec(spec.namespace, pod, c.NODE_CONTAINER, load, stdin=True)
        try:
            with open(archive, "rb") as source:
                proc.feed(source)
            out, err = proc.communicate(timeout=PULL_TIMEOUT_S)
        except subprocess.TimeoutExpired as exc:
            proc.kill()
            raise ClusterError(f"node pod {pod}: loading {image} timed out") from exc
        finally:
            proc.close()
        if proc.returncode != 0:
            output = err or out
            why = images.load_error(output) if output.strip() else f"exit {proc.returncode or 255}"
            raise ClusterError(f"node pod {pod}: cannot load {image}: {why}")

    def _pull_everywhere(self, spec: ClusterSpec, image: str, say: Step) -> None:
        for pod in o.node_pod_names(spec):
            say(f"pulling {image} in {pod}")
            before = self._node_image_id(spec, pod, image)
            status, out, err = self._run_in_node(
                spec, pod, ["podman", "pull", "--quiet", image], PULL_TIMEOUT_S
            )
            if status != 0:
                raise ClusterError(f"node pod {pod}: cannot pull {image}: {_last_line(err or out, status)}")
            if out.strip() != before:
                # A new build under the same tag: the node's APP sandbox of the old one must go.
                self._run_in_node(spec, pod, ["wrap-container", "--reset", image], PULL_TIMEOUT_S)

    def deliver_binaries(self, name: str, image: str, *, step: Step | None = None) -> str:
        """The APP's /usr/local, copied out of the pulled image by each node's nested podman into the
        node's `images` volume (for native runs); return its bin directory there."""
        say = step or (lambda _t: None)
        spec = self.spec(name)
        self._deliver(spec, image, say)
        directories: set[str] = set()
        for pod in o.node_pod_names(spec):
            inspect = ["podman", "image", "inspect", "--format", "{{.Id}}", image]
            status, out, err = self._run_in_node(spec, pod, inspect, 60)
            image_id = out.strip()
            if status != 0 or not image_id:
                raise ClusterError(
                    f"node pod {pod}: cannot inspect {image}: {_last_line(err or out, status)}"
                )
            target = f"{c.IMAGES_MOUNT}/native/{image_id[:12]}"
            say(f"extracting /usr/local from {image} in {pod}")
            extract = ["sh", "-c", EXTRACT_BIN_SCRIPT, "extract", target, image]
            status, out, err = self._run_in_node(spec, pod, extract, PULL_TIMEOUT_S)
            if status != 0:
                why = _last_line(err or out, status)
                raise ClusterError(f"node pod {pod}: cannot copy /usr/local out of {image}: {why}")
            directories.add(f"{target}/bin")
        if len(directories) != 1:
            raise ClusterError(
                f"node pods pulled different images for {image} (did the tag move?): {sorted(directories)}"
            )
        return directories.pop()


class _Tolerated(Exception):
    """A read failed with a status the caller chose to handle (e.g. 403 on namespaces)."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def validate_pods(objects: list[Obj]) -> None:
    """Refuse before anything is created if a pod template breaks the Pod Security baseline."""
    for where, template in validate.pod_templates(objects):
        violations = validate.pss_baseline_violations(
            template.get("spec") or {}, (template.get("metadata") or {}).get("annotations")
        )
        if violations:
            raise ClusterError(f"cluster objects: {where}: {violations[0]}")


def _last_line(text: str, status: int) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1] if lines else f"exit {status}"


def _image_hint(spec: ClusterSpec, readiness: Readiness) -> str | None:
    """A few words on what to do about an image the kubelet cannot get (part of the error line)."""
    if not any("cannot pull image" in str(p) for p in readiness.problems):
        return None
    if spec.rec_image.startswith("localhost/"):
        return (
            "a local image must be imported into the nodes' runtime (k8s/localkube/load-image, kind load"
            " image-archive) or pushed to a registry they pull from"
        )
    return "check the image reference, the registry's reachability from the nodes, and imagePullSecrets"


def _with_note(exc: ClusterError, note: str) -> ClusterError:
    """The same error with `(note)` at the end of its line."""
    return ClusterError(f"{exc} ({note})", hint=exc.hint, log_path=exc.log_path)
