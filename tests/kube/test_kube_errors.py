"""The API error policy: ApiExceptions, transport failures and pod status → one-line ClusterErrors."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest
import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from recapp.errors import ClusterError, ClusterUnreachable
from recapp.k8s.kubernetes import errors as ke

CREATE_STS = ke.Action("create", "statefulsets", "recapp-demo", "demo-node")


def status_exc(
    code: int, message: str = "", reason: str = "", headers: dict[str, str] | None = None
) -> ApiException:
    body = (
        json.dumps({"kind": "Status", "status": "Failure", "message": message, "code": code})
        if message
        else None
    )
    exc = ApiException(status=code, reason=reason or "Reason", body=body)
    exc.headers = headers
    return exc


# --- statuses -------------------------------------------------------------------------------------


def test_action_names_verb_resource_name_and_scope() -> None:
    assert str(CREATE_STS) == "create statefulsets demo-node in recapp-demo"
    assert (
        str(ke.Action("delete", "namespaces", None, "recapp-demo"))
        == "delete namespaces recapp-demo at cluster scope"
    )


def test_409_and_404_are_recognised() -> None:
    assert ke.is_conflict(status_exc(409)) and not ke.is_conflict(status_exc(404))
    assert ke.is_not_found(status_exc(404)) and not ke.is_not_found(status_exc(409))


@pytest.mark.parametrize(
    ("code", "retry"),
    [
        (429, True),
        (500, True),
        (502, True),
        (503, True),
        (504, True),
        (400, False),
        (403, False),
        (409, False),
        (501, False),
    ],
)
def test_which_statuses_are_retried(code: int, retry: bool) -> None:
    assert ke.is_retryable(status_exc(code)) is retry


def test_403_names_verb_resource_namespace_and_rbac() -> None:
    server = 'statefulsets.apps is forbidden: User "alice" cannot create resource "statefulsets"'
    err = ke.api_error(status_exc(403, server), CREATE_STS)
    assert str(err) == "forbidden: create statefulsets in recapp-demo (RBAC)"
    assert err.hint == server


def test_403_at_cluster_scope() -> None:
    err = ke.api_error(status_exc(403, "nope"), ke.Action("create", "namespaces", None, "recapp-demo"))
    assert str(err) == "forbidden: create namespaces at cluster scope (RBAC)"


def test_401_is_forbidden_with_the_credentials_named() -> None:
    err = ke.api_error(status_exc(401, "Unauthorized"), CREATE_STS)
    assert str(err).startswith("forbidden: create statefulsets in recapp-demo (not authenticated")


def test_403_in_a_terminating_namespace_says_so() -> None:
    server = (
        'configmaps "demo-spec" is forbidden: unable to create new content in namespace recapp-demo '
        "because it is being terminated"
    )
    err = ke.api_error(status_exc(403, server), ke.Action("create", "configmaps", "recapp-demo", "demo-spec"))
    assert str(err) == "namespace recapp-demo is still being deleted; wait until it is gone, then retry"


def test_422_quotes_the_servers_reason_on_one_line() -> None:
    err = ke.api_error(
        status_exc(422, 'StatefulSet "demo-node" is invalid:\n spec.replicas: must be >= 0'), CREATE_STS
    )
    assert str(err) == (
        "create statefulsets demo-node in recapp-demo: rejected as invalid: "
        'StatefulSet "demo-node" is invalid: spec.replicas: must be >= 0'
    )
    assert "\n" not in str(err)


def test_status_message_falls_back_to_the_reason_phrase() -> None:
    assert (
        ke.status_message(ApiException(status=500, reason="Internal Server Error")) == "Internal Server Error"
    )
    assert ke.status_message(ApiException(status=500, reason="x", body="not json")) == "x"


def test_retry_delay_doubles_and_is_capped() -> None:
    delays = [ke.retry_delay(status_exc(503), attempt) for attempt in range(8)]
    assert delays[:5] == [0.5, 1.0, 2.0, 4.0, 8.0]
    assert delays[5:] == [10.0, 10.0, 10.0]


def test_retry_delay_honours_retry_after_seconds() -> None:
    assert ke.retry_delay(status_exc(429, headers={"Retry-After": "3"}), 0) == 3.0


def test_retry_delay_honours_retry_after_http_date_in_the_past() -> None:
    assert ke.retry_delay(status_exc(429, headers={"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}), 2) == 0.0


# --- call_with_retry ------------------------------------------------------------------------------


class Script:
    """A callable that raises the given exceptions in turn, then returns `result`."""

    def __init__(self, *outcomes: BaseException, result: Any = "done") -> None:
        self.outcomes = list(outcomes)
        self.calls = 0
        self.result = result

    def __call__(self) -> Any:
        self.calls += 1
        if self.outcomes:
            raise self.outcomes.pop(0)
        return self.result


def test_retries_429_and_5xx_then_succeeds() -> None:
    slept: list[float] = []
    fn = Script(status_exc(429, headers={"Retry-After": "1"}), status_exc(503), status_exc(500))
    assert ke.call_with_retry(fn, CREATE_STS, host="https://k", sleep=slept.append) == "done"
    assert fn.calls == 4
    assert slept == [1.0, 1.0, 2.0]


def test_gives_up_after_the_attempts_with_one_line() -> None:
    fn = Script(*(status_exc(503, "etcdserver: request timed out") for _ in range(5)))
    with pytest.raises(ClusterError) as info:
        ke.call_with_retry(fn, CREATE_STS, host="https://k", sleep=lambda _s: None)
    assert fn.calls == 5
    assert str(info.value) == (
        "create statefulsets demo-node in recapp-demo: the API server kept answering HTTP 503: "
        "etcdserver: request timed out"
    )


def test_tolerated_status_is_reraised_for_the_caller() -> None:
    fn = Script(status_exc(409, "already exists"))
    with pytest.raises(ApiException) as info:
        ke.call_with_retry(fn, CREATE_STS, host="https://k", tolerate=(409,))
    assert info.value.status == 409
    assert fn.calls == 1


def test_forbidden_is_not_retried() -> None:
    fn = Script(status_exc(403, "no"))
    with pytest.raises(ClusterError, match=r"^forbidden: create statefulsets in recapp-demo \(RBAC\)$"):
        ke.call_with_retry(fn, CREATE_STS, host="https://k", sleep=lambda _s: pytest.fail("slept"))
    assert fn.calls == 1


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_server_through_real_urllib3() -> None:
    port = closed_port()
    pool = urllib3.PoolManager(retries=urllib3.Retry(total=0))

    def request() -> Any:
        return pool.request("GET", f"http://127.0.0.1:{port}/api")

    with pytest.raises(ClusterError) as info:
        ke.call_with_retry(request, CREATE_STS, host=f"http://127.0.0.1:{port}")
    assert (
        str(info.value) == f"cannot reach the Kubernetes API at http://127.0.0.1:{port}: connection refused"
    )


def test_unresolvable_host_is_named() -> None:
    pool = urllib3.PoolManager(retries=urllib3.Retry(total=0))
    with pytest.raises(urllib3.exceptions.HTTPError) as info:
        pool.request("GET", "http://no-such-host.invalid/api", timeout=5)
    assert ke.unreachable_reason(info.value) == "cannot resolve the server's host name"


# --- exec handshake -------------------------------------------------------------------------------


def test_exec_handshake_403_becomes_forbidden_pods_exec() -> None:
    reason = (
        "Handshake status 403 Forbidden -+-+- {'content-type': 'application/json'} -+-+- "
        'b\'{"kind":"Status","status":"Failure","message":"pods \\"demo-node-0\\" is forbidden: User '
        '\\"bob\\" cannot create resource \\"pods/exec\\"","reason":"Forbidden","code":403}\''
    )
    action = ke.Action("exec", "pods/exec", "recapp-demo", "demo-node-0")
    err = ke.exec_error(ApiException(status=0, reason=reason), action, host="https://k")
    assert str(err) == "forbidden: exec pods/exec in recapp-demo (RBAC)"
    assert err.hint is not None and "cannot create resource" in err.hint


def test_exec_handshake_404_names_the_pod() -> None:
    reason = (
        'Handshake status 404 Not Found -+-+- {} -+-+- b\'{"message":"pods \\"demo-node-7\\" not found"}\''
    )
    action = ke.Action("exec", "pods/exec", "recapp-demo", "demo-node-7")
    err = ke.exec_error(ApiException(status=0, reason=reason), action, host="https://k")
    assert str(err) == 'exec pods/exec demo-node-7 in recapp-demo: not found (pods "demo-node-7" not found)'


def test_exec_handshake_404_from_a_restarted_kubelet_is_unreachable_not_a_refusal() -> None:
    # What CI's websocket client reported right after `k8s/localkube/restart kubelet` (the pod
    # was there all along: the kubelet had not synced it yet). It used to be a final "not found".
    reason = (
        "Handshake status 404 Not Found -+-+- {'content-length': '18', 'content-type': 'text/plain;"
        " charset=utf-8', 'date': 'Thu, 03 Dec 2026 16:06:50 GMT'} -+-+- pod does not exist"
    )
    action = ke.Action("exec", "pods/exec", "recapp-demo", "demo-node-0")
    err = ke.exec_error(ApiException(status=0, reason=reason), action, host="https://k")
    assert isinstance(err, ClusterUnreachable)
    assert str(err) == (
        "exec pods/exec demo-node-0 in recapp-demo: the node's kubelet does not know the pod yet"
        " (did the kubelet restart?)"
    )


def test_exec_connection_refused_is_unreachable() -> None:
    action = ke.Action("exec", "pods/exec", "recapp-demo", "demo-login-x")
    err = ke.exec_error(
        ApiException(status=0, reason="[Errno 111] Connection refused"), action, host="https://k:6443"
    )
    assert str(err).startswith("cannot reach the Kubernetes API at https://k:6443: ")


# --- kubeconfig -----------------------------------------------------------------------------------


def test_kubeconfig_error_for_a_missing_file() -> None:
    err = ke.kubeconfig_error("/nowhere/config", FileNotFoundError(2, "No such file"))
    assert str(err) == "kubeconfig /nowhere/config: no such file (set --kubeconfig or KUBECONFIG)"


# --- pods -----------------------------------------------------------------------------------------


def test_healthy_pods_have_no_problem(api: Any) -> None:
    node = api.pod("demo-node-0", "node", containers=[api.running("node")])
    assert ke.pod_problem(node) is None


def test_image_pull_backoff_names_pod_image_and_the_kubelets_event(api: Any) -> None:
    image = "registry.example.org/recapp/rec:nope"
    node = api.pod(
        "demo-node-1",
        "node",
        phase="Pending",
        ready=False,
        containers=[
            api.waiting("node", "ImagePullBackOff", f'Back-off pulling image "{image}"', image=image)
        ],
    )
    events = [
        api.event("demo-node-1", "Pulling", f'Pulling image "{image}"', "2026-01-01T00:00:02Z"),
        api.event(
            "demo-node-1", "Failed", f'Failed to pull image "{image}": not found', "2026-01-01T00:00:03Z"
        ),
        api.event("demo-node-1", "Failed", "Error: ErrImagePull", "2026-01-01T00:00:04Z"),
        api.event(
            "demo-node-0", "Failed", f'Failed to pull image "{image}": other pod', "2026-01-01T00:00:09Z"
        ),
    ]
    problem = ke.pod_problem(node, events)
    assert problem is not None
    assert (
        problem.message
        == f'node pod demo-node-1 cannot pull image {image}: Failed to pull image "{image}": not found'
    )
    assert problem.fatal


def test_err_image_pull_without_events_uses_the_waiting_message_and_is_not_fatal(api: Any) -> None:
    node = api.pod(
        "demo-node-0", "node", phase="Pending", ready=False,
        containers=[api.waiting("node", "ErrImagePull", "rpc error: code = NotFound")],
    )  # fmt: skip
    problem = ke.pod_problem(node)
    assert problem is not None
    assert problem.message == (
        "node pod demo-node-0 cannot pull image registry.example.org/recapp/rec:trixie: "
        "rpc error: code = NotFound"
    )
    assert not problem.fatal


def test_unschedulable_quotes_the_scheduler(api: Any) -> None:
    why = "0/3 nodes are available: 3 Insufficient smarter-devices/fuse."
    node = api.pod(
        "demo-node-0", "node", phase="Pending", ip=None,
        conditions=[{"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": why}],
    )  # fmt: skip
    problem = ke.pod_problem(node)
    assert problem is not None
    assert problem.message == f"node pod demo-node-0 cannot be scheduled: {why}"
    assert not problem.fatal  # an autoscaler may still add a node


def test_unschedulable_without_a_message_reads_the_event(api: Any) -> None:
    node = api.pod(
        "demo-node-0", "node", phase="Pending", ip=None,
        conditions=[{"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}],
    )  # fmt: skip
    events = [
        api.event(
            "demo-node-0", "FailedScheduling", "0/1 nodes are available: 1 node(s) had untolerated taint."
        )
    ]
    problem = ke.pod_problem(node, events)
    assert problem is not None
    assert problem.message.endswith(": 0/1 nodes are available: 1 node(s) had untolerated taint.")


def test_failed_wait_nodes_init_container_fails_the_login_pod(api: Any) -> None:
    login = api.pod(
        "demo-login-abcde", "login", phase="Failed", ready=False,
        init=[api.terminated("wait-nodes", 1, "recapp-wait-nodes: timed out after 300 s; not ready: demo-node-1")],  # noqa: E501
        containers=[api.waiting("login", "PodInitializing")],
    )  # fmt: skip
    problem = ke.pod_problem(login)
    assert problem is not None
    assert problem.message == (
        "login pod demo-login-abcde failed: init container wait-nodes exited 1: "
        "recapp-wait-nodes: timed out after 300 s; not ready: demo-node-1"
    )
    assert problem.fatal


def test_crash_loop_reports_the_last_exit(api: Any) -> None:
    cs = api.waiting("node", "CrashLoopBackOff", "back-off 40s restarting failed container")
    cs["lastState"] = {"terminated": {"exitCode": 2, "message": "recapp-agent: cannot read secret"}}
    problem = ke.pod_problem(api.pod("demo-node-0", "node", ready=False, containers=[cs]))
    assert problem is not None
    assert problem.message == (
        "node pod demo-node-0: container node keeps crashing (last exit 2: recapp-agent: cannot read secret)"
    )


def test_create_container_config_error_is_fatal(api: Any) -> None:
    cs = api.waiting("node", "CreateContainerConfigError", 'secret "demo-agent" not found')
    problem = ke.pod_problem(api.pod("demo-node-0", "node", phase="Pending", ready=False, containers=[cs]))
    assert problem is not None and problem.fatal
    assert problem.message == (
        "node pod demo-node-0: container node cannot start: CreateContainerConfigError: "
        'secret "demo-agent" not found'
    )


def test_client_models_are_read_like_dicts() -> None:
    model = client.V1Pod(
        metadata=client.V1ObjectMeta(name="demo-node-0", labels={"app.kubernetes.io/component": "node"}),
        status=client.V1PodStatus(
            phase="Pending",
            conditions=[client.V1PodCondition(type="PodScheduled", status="False", message="0/1 nodes fit")],
        ),
    )
    assert ke.as_dict(model)["status"]["conditions"][0] == {
        "type": "PodScheduled",
        "status": "False",
        "message": "0/1 nodes fit",
    }
    problem = ke.pod_problem(model)
    assert problem is not None
    assert problem.message == "node pod demo-node-0 cannot be scheduled: 0/1 nodes fit"
