"""The Kubernetes API error policy, in one place: status codes, transport failures, kubeconfig
problems and pod problems become one-line `ClusterError`s naming the thing at fault.

- create → 409: the object is already there (the caller decides whether that is fine).
- delete/get → 404: already gone / not there (the caller decides).
- 429 and 500/502/503/504: retried with backoff (Retry-After honoured), then fatal.
- 401/403: `forbidden: <verb> <resource> in <namespace> (RBAC)`; the server's sentence is the hint.
- the API server cannot be reached: `cannot reach the Kubernetes API at <host>: <why>`. This and
  5xx after the retries are `ClusterUnreachable` (away for now, e.g. restarting), not refusals.
- a kubeconfig that cannot be loaded: `kubeconfig <file>: <why>`.
- pods that will not come up: read from pod status and events (`pod_problem`).

Everything here is a pure function of exceptions and API objects (dicts as the API returns them,
or the client's models), so it is tested without a cluster.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import urllib3.exceptions
import yaml
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from recapp.errors import ClusterError, ClusterUnreachable
from recapp.k8s import constants as c

T = TypeVar("T")
Obj = Mapping[str, Any]

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
DEFAULT_ATTEMPTS = 5
BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 10.0


# --- what was being done --------------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    """One API request, for messages: `create statefulsets demo-node in recapp-demo`."""

    verb: str  # create, get, list, watch, delete, exec
    resource: str  # the plural RBAC names: statefulsets, pods, pods/exec, namespaces
    namespace: str | None = None  # None: cluster-scoped
    name: str | None = None

    def where(self) -> str:
        return f"in {self.namespace}" if self.namespace else "at cluster scope"

    def __str__(self) -> str:
        target = f"{self.resource} {self.name}" if self.name else self.resource
        return f"{self.verb} {target} {self.where()}"


# --- API status codes -----------------------------------------------------------------------------


def is_conflict(exc: ApiException) -> bool:
    """409 on create: an object of that name already exists."""
    return bool(exc.status == 409)


def is_not_found(exc: ApiException) -> bool:
    """404: on delete, already gone; on get, not there."""
    return bool(exc.status == 404)


def is_retryable(exc: ApiException) -> bool:
    return exc.status in RETRYABLE_STATUSES


def status_body(exc: ApiException) -> dict[str, Any]:
    """The `Status` object the API server sent as the body, or {} when the body is not one."""
    try:
        body = json.loads(exc.body) if exc.body else {}
    except (TypeError, ValueError):
        return {}
    return body if isinstance(body, dict) else {}


def status_message(exc: ApiException) -> str:
    """The server's one-sentence explanation (Status.message), else the HTTP reason phrase."""
    message = status_body(exc).get("message") or exc.reason or f"HTTP {exc.status}"
    return " ".join(str(message).split())  # one line


def _retry_after_s(exc: ApiException, now: dt.datetime | None = None) -> float | None:
    headers = exc.headers or {}
    value = next((v for k, v in dict(headers).items() if str(k).lower() == "retry-after"), None)
    if value is None:
        return None
    text = str(value).strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - (now or dt.datetime.now(dt.UTC))).total_seconds())


def retry_delay(exc: ApiException, attempt: int) -> float:
    """Seconds to wait before retry `attempt` (0-based): Retry-After if sent, else 0.5 s doubling to 10 s."""
    after = _retry_after_s(exc)
    if after is not None:
        return float(min(after, BACKOFF_CAP_S * 3))
    return float(min(BACKOFF_BASE_S * 2**attempt, BACKOFF_CAP_S))


def api_error(exc: ApiException, action: Action) -> ClusterError:
    """The one-line error for an API status that the caller does not handle itself."""
    message = status_message(exc)
    if exc.status == 403:
        if "being terminated" in message and action.namespace:
            return ClusterError(
                f"namespace {action.namespace} is still being deleted; wait until it is gone, then retry",
                hint=message,
            )
        return ClusterError(
            f"forbidden: {action.verb} {action.resource} {action.where()} (RBAC)", hint=message
        )
    if exc.status == 401:
        return ClusterError(
            f"forbidden: {action.verb} {action.resource} {action.where()} "
            "(not authenticated: the API server rejected the kubeconfig's credentials)",
            hint=message,
        )
    if exc.status == 404:
        return ClusterError(f"{action}: not found ({message})")
    if exc.status == 409:
        return ClusterError(f"{action}: already exists ({message})")
    if exc.status == 422:
        return ClusterError(f"{action}: rejected as invalid: {message}")
    if exc.status in RETRYABLE_STATUSES:
        return ClusterUnreachable(f"{action}: the API server kept answering HTTP {exc.status}: {message}")
    return ClusterError(f"{action}: HTTP {exc.status}: {message}")


# --- transport ------------------------------------------------------------------------------------

_TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (
    urllib3.exceptions.HTTPError,
    ConnectionError,
    TimeoutError,
)


def is_unreachable(exc: BaseException) -> bool:
    """True for failures to talk to the API server at all (refused, DNS, TLS, timeouts)."""
    return isinstance(exc, _TRANSPORT_ERRORS)


def unreachable_reason(exc: BaseException) -> str:
    """Why the API server could not be reached, in a few words."""
    cause: BaseException = exc
    if isinstance(exc, urllib3.exceptions.MaxRetryError) and exc.reason is not None:
        cause = exc.reason
    text = str(cause)
    if isinstance(cause, urllib3.exceptions.NameResolutionError):
        return "cannot resolve the server's host name"
    if isinstance(cause, urllib3.exceptions.SSLError):
        return f"TLS failed: {_last_clause(text)}"
    # Before the timeout classes: urllib3's NewConnectionError subclasses ConnectTimeoutError.
    for known in ("Connection refused", "No route to host", "Network is unreachable"):
        if known in text:
            return known.lower()
    if isinstance(cause, urllib3.exceptions.ConnectTimeoutError):
        return "connection timed out"
    if isinstance(cause, urllib3.exceptions.ReadTimeoutError | TimeoutError):
        return "no answer in time (read timed out)"
    return _last_clause(text)


def _last_clause(text: str) -> str:
    text = " ".join(text.split())
    for marker in ("Caused by ", "): "):
        if marker in text:
            text = text.rsplit(marker, 1)[-1]
    return text.strip("() ")[:200] or "unknown error"


def unreachable_error(exc: BaseException, host: str) -> ClusterUnreachable:
    return ClusterUnreachable(f"cannot reach the Kubernetes API at {host}: {unreachable_reason(exc)}")


def call_with_retry(
    fn: Callable[[], T],
    action: Action,
    *,
    host: str,
    tolerate: Collection[int] = (),
    attempts: int = DEFAULT_ATTEMPTS,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call fn(); retry 429/5xx with backoff; re-raise ApiException only for `tolerate`d statuses.

    Everything else becomes a one-line ClusterError: API statuses through `api_error`, transport
    failures through `unreachable_error` (urllib3 has already retried the connection by then).
    """
    for attempt in range(attempts):
        try:
            return fn()
        except ApiException as exc:
            if exc.status in tolerate:
                raise
            if is_retryable(exc) and attempt + 1 < attempts:
                sleep(retry_delay(exc, attempt))
                continue
            raise api_error(exc, action) from exc
        except _TRANSPORT_ERRORS as exc:
            raise unreachable_error(exc, host) from exc
    raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover


# --- the exec websocket ---------------------------------------------------------------------------

_HANDSHAKE = re.compile(r"Handshake status (\d{3})")
_JSON_MESSAGE = re.compile(r'"message"\s*:\s*"((?:[^"\\]|\\.)*)"')
_KUBELET_NO_POD = "pod does not exist"


def exec_error(exc: ApiException, action: Action, *, host: str) -> ClusterError:
    """An exec that could not start. The websocket client reports every failure as status 0 with the
    handshake's status line (and body) in `reason`; map that back to the API status."""
    if exc.status:
        return api_error(exc, action)
    reason = str(exc.reason or "")
    status = _HANDSHAKE.search(reason)
    if status is None:
        if "Connection refused" in reason or "Errno" in reason or "timed out" in reason:
            return ClusterUnreachable(f"cannot reach the Kubernetes API at {host}: {_last_clause(reason)}")
        return ClusterError(f"{action}: {_last_clause(reason)}")
    found = _JSON_MESSAGE.search(reason)
    if status.group(1) == "404" and found is None and _KUBELET_NO_POD in reason:
        # The API server knows the pod (its own 404 is a JSON Status naming it); this plain-text
        # 404 is the node's kubelet, which after a restart answers so until it has synced its pods.
        return ClusterUnreachable(
            f"{action}: the node's kubelet does not know the pod yet (did the kubelet restart?)"
        )
    body = json.dumps({"message": found.group(1).replace('\\"', '"')}) if found else None
    return api_error(ApiException(status=int(status.group(1)), reason="handshake", body=body), action)


# --- kubeconfig -----------------------------------------------------------------------------------


def kubeconfig_error(path: str, exc: BaseException) -> ClusterError:
    """One line naming the kubeconfig file(s) and why it cannot be used."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark
        where = f" at line {mark.line + 1}" if mark is not None else ""
        why = f"not valid YAML ({exc.problem}{where})"
    elif isinstance(exc, yaml.YAMLError):
        why = "not valid YAML"
    elif isinstance(exc, FileNotFoundError) or "No configuration found" in str(exc):
        why = "no such file (set --kubeconfig or KUBECONFIG)"
    elif isinstance(exc, ConfigException):
        text = " ".join(str(exc).split())
        text = text.removeprefix("Invalid kube-config file. ").removeprefix("Invalid kube-config. ")
        why = text.replace(f" in {path}/", " in its ").replace(f" in {path}", "").replace(f"{path} ", "")
    else:
        why = f"not a kubeconfig ({type(exc).__name__}: {' '.join(str(exc).split())[:120]})"
    return ClusterError(f"kubeconfig {path}: {why}")


# --- pods -----------------------------------------------------------------------------------------


def as_dict(obj: Any) -> Any:
    """An API object as the API's JSON (camelCase dicts), whether given as a dict or a client model."""
    if isinstance(obj, Mapping):
        return {k: as_dict(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [as_dict(v) for v in obj]
    if isinstance(obj, dt.datetime):
        return obj.isoformat()
    attribute_map = getattr(obj, "attribute_map", None)
    if isinstance(attribute_map, Mapping):
        return {
            attribute_map[attr]: as_dict(getattr(obj, attr))
            for attr in attribute_map
            if getattr(obj, attr, None) is not None
        }
    return obj


@dataclass(frozen=True)
class PodProblem:
    pod: str
    message: str
    fatal: bool  # waiting longer will not help (bad image, crashing, failed); else it may resolve

    def __str__(self) -> str:
        return self.message


# Waiting reasons that will not go away by waiting.
_FATAL_WAITING = frozenset(
    {"ImagePullBackOff", "ErrImageNeverPull", "InvalidImageName", "CreateContainerConfigError",
     "CreateContainerError", "RunContainerError", "CrashLoopBackOff"}
)  # fmt: skip
_PULL_WAITING = frozenset({"ImagePullBackOff", "ErrImagePull", "ErrImageNeverPull"})


def pod_role(pod: Obj) -> str:
    """`node pod`, `login pod` or `pod`, from the component label."""
    component = str(((pod.get("metadata") or {}).get("labels") or {}).get(c.LABEL_COMPONENT))
    return {c.COMPONENT_NODE: "node pod", c.COMPONENT_LOGIN: "login pod"}.get(component, "pod")


def _event_time(event: Obj) -> str:
    return str(
        event.get("lastTimestamp")
        or (event.get("series") or {}).get("lastObservedTime")
        or event.get("eventTime")
        or event.get("firstTimestamp")
        or ""
    )


def _latest_event(events: Iterable[Obj], pod: str, predicate: Callable[[Obj], bool]) -> Obj | None:
    mine = [
        e
        for e in events
        if (e.get("involvedObject") or {}).get("name") == pod
        and (e.get("involvedObject") or {}).get("kind", "Pod") == "Pod"
        and predicate(e)
    ]
    return max(mine, key=_event_time) if mine else None


def _one_line(text: str | None) -> str:
    return " ".join(str(text or "").split())


def _statuses(pod: Obj) -> list[tuple[str, Obj]]:
    status = pod.get("status") or {}
    return [
        (kind, s)
        for kind, key in (("init container", "initContainerStatuses"), ("container", "containerStatuses"))
        for s in status.get(key) or []
    ]


def _pull_problem(pod: Obj, events: list[Obj], who: str, cs: Obj, waiting: Obj) -> PodProblem:
    name = pod["metadata"]["name"]
    image = cs.get("image") or "?"
    event = _latest_event(
        events,
        name,
        lambda e: (
            e.get("reason") in ("ErrImageNeverPull", "InspectFailed")
            or (e.get("reason") == "Failed" and "pull image" in _one_line(e.get("message")).lower())
        ),
    )
    why = _one_line(event.get("message")) if event else _one_line(waiting.get("message")) or waiting["reason"]
    return PodProblem(
        name, f"{who} {name} cannot pull image {image}: {why}", fatal=waiting["reason"] != "ErrImagePull"
    )


def pod_problem(pod: Obj | Any, events: Iterable[Obj | Any] = ()) -> PodProblem | None:
    """What keeps a pod from running, from its status and its events; None if nothing is wrong yet.

    - ImagePullBackOff / ErrImagePull: `node pod X cannot pull image Y: <the kubelet's event message>`
    - Unschedulable: `node pod X cannot be scheduled: <the scheduler's reason>`
    - a container that cannot start or keeps crashing, a failed init container, a Failed pod.
    """
    pod = as_dict(pod)
    event_list = [as_dict(e) for e in events]
    meta = pod.get("metadata") or {}
    name = meta.get("name", "?")
    who = pod_role(pod)
    status = pod.get("status") or {}
    if status.get("phase") == "Failed":
        why = _one_line(status.get("message")) or status.get("reason") or "no reason given"
        failed = [
            f"{kind} {s.get('name')} exited {t.get('exitCode')}"
            + (f": {_one_line(t.get('message'))}" if t.get("message") else "")
            for kind, s in _statuses(pod)
            if (t := (s.get("state") or {}).get("terminated") or {}) and t.get("exitCode") not in (None, 0)
        ]
        return PodProblem(name, f"{who} {name} failed: {failed[0] if failed else why}", fatal=True)
    for cond in status.get("conditions") or []:
        if cond.get("type") == "PodScheduled" and cond.get("status") == "False":
            event = _latest_event(event_list, name, lambda e: e.get("reason") == "FailedScheduling")
            why = _one_line(cond.get("message")) or (_one_line(event.get("message")) if event else "")
            return PodProblem(
                name,
                f"{who} {name} cannot be scheduled: {why or cond.get('reason', 'Unschedulable')}",
                fatal=False,
            )
    for kind, cs in _statuses(pod):
        state = cs.get("state") or {}
        waiting = state.get("waiting") or {}
        reason = waiting.get("reason")
        if reason in _PULL_WAITING:
            return _pull_problem(pod, event_list, who, cs, waiting)
        if reason == "CrashLoopBackOff":
            last = (cs.get("lastState") or {}).get("terminated") or {}
            detail = f" (last exit {last.get('exitCode')}" + (
                f": {_one_line(last.get('message'))})" if last.get("message") else ")"
            )
            return PodProblem(
                name, f"{who} {name}: {kind} {cs.get('name')} keeps crashing{detail}", fatal=True
            )
        if reason in _FATAL_WAITING:
            why = _one_line(waiting.get("message")) or reason
            return PodProblem(
                name, f"{who} {name}: {kind} {cs.get('name')} cannot start: {reason}: {why}", fatal=True
            )
        terminated = state.get("terminated") or {}
        if kind == "init container" and terminated.get("exitCode") not in (None, 0):
            why = _one_line(terminated.get("message")) or terminated.get("reason") or "no message"
            return PodProblem(
                name,
                f"{who} {name}: init container {cs.get('name')} failed"
                f" (exit {terminated['exitCode']}): {why}",
                fatal=True,
            )
    return None
