"""The backend's plans as pure functions: API mapping, creation/deletion order, spec storage,
readiness from pods, watch folding, image references."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from kubernetes import client

from recapp.errors import ClusterError
from recapp.k8s import constants as c
from recapp.k8s.kubernetes import plan as kp
from recapp.k8s.spec import ClusterSpec

SECRET = "0123456789abcdef" * 4


# --- the API mapping ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", kp.CREATION_ORDER)
def test_every_kind_maps_to_real_client_methods(kind: str) -> None:
    info = kp.KINDS[kind]
    api_class = getattr(client, info.api)
    for verb in ("create", "read", "delete", "list"):
        assert callable(getattr(api_class, f"{verb}_{info.suffix}", None)), f"{info.api}.{verb}_{info.suffix}"


def test_every_object_the_backend_creates_has_an_api(spec: ClusterSpec) -> None:
    kinds = {obj["kind"] for obj in kp.backend_objects(spec, agent_secret=SECRET)}
    assert kinds <= set(kp.KINDS)


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"launcher": "kubexec", "storage": "emptyDir", "user_namespace": True, "shm_size": "2Gi"},
        {
            "resources": {"limits": {"cpu": "2", "memory": "4Gi"}},
            "fuse_device_resource": "smarter-devices/fuse",
            "seccomp_localhost_profile": "recapp/nested-podman.json",
            "apparmor_localhost_profile": "recapp-nested",
        },
    ],
)
def test_request_bodies_survive_the_clients_models_unchanged(
    make_spec: Callable[..., ClusterSpec], overrides: dict[str, Any]
) -> None:
    # The client validates dict bodies into its models before sending: a field its models lack would
    # be dropped silently. Every object must come back byte-for-byte equal.
    serializer = client.ApiClient()
    for obj in kp.backend_objects(make_spec(**overrides), agent_secret=SECRET):
        model = getattr(client, f"V1{obj['kind']}").model_validate(obj)
        assert serializer.sanitize_for_serialization(model) == obj, obj["kind"]


# --- creation and deletion order ------------------------------------------------------------------


def test_creation_plan_order(spec: ClusterSpec) -> None:
    plan = kp.creation_plan(kp.backend_objects(spec, agent_secret=SECRET))
    assert [(p.kind, p.name) for p in plan] == [
        ("Namespace", "recapp-demo"),
        ("ConfigMap", "demo-spec"),
        ("ServiceAccount", "demo"),
        ("Role", "demo"),
        ("RoleBinding", "demo"),
        ("NetworkPolicy", "demo-login"),
        ("NetworkPolicy", "demo-node"),
        ("Secret", "demo-agent"),
        ("Service", "demo-nodes"),
        ("StatefulSet", "demo-node"),
        ("Job", "demo-login"),
    ]
    assert plan[0].namespace is None
    assert {p.namespace for p in plan[1:]} == {"recapp-demo"}


def test_creation_plan_sorts_whatever_order_it_is_given(spec: ClusterSpec) -> None:
    objects = kp.backend_objects(spec, agent_secret=SECRET)
    assert kp.creation_plan(reversed(objects)) == kp.creation_plan(objects)


def test_creation_plan_refuses_kinds_it_cannot_create() -> None:
    obj = {"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "x", "namespace": "n"}}
    with pytest.raises(ClusterError, match=r"^kubernetes backend: no API for kind 'LimitRange'"):
        kp.creation_plan([obj])


def test_creation_plan_refuses_duplicates_and_missing_namespaces() -> None:
    cm = {"kind": "ConfigMap", "metadata": {"name": "x", "namespace": "n"}}
    with pytest.raises(ClusterError, match=r"ConfigMap x appears twice"):
        kp.creation_plan([cm, cm])
    with pytest.raises(ClusterError, match=r"ConfigMap x has no metadata\.namespace"):
        kp.creation_plan([{"kind": "ConfigMap", "metadata": {"name": "x"}}])


def test_deletion_plan_is_reverse_creation_order() -> None:
    found = [
        ("ServiceAccount", "demo"), ("StatefulSet", "demo-node"), ("ConfigMap", "demo-spec"),
        ("Job", "demo-login"), ("PersistentVolumeClaim", "storage-demo-node-1"),
        ("PersistentVolumeClaim", "storage-demo-node-0"), ("Role", "demo"), ("Job", "demo-login"),
    ]  # fmt: skip
    assert kp.deletion_plan(found) == [
        ("Job", "demo-login"),
        ("StatefulSet", "demo-node"),
        ("PersistentVolumeClaim", "storage-demo-node-0"),
        ("PersistentVolumeClaim", "storage-demo-node-1"),
        ("Role", "demo"),
        ("ServiceAccount", "demo"),
        ("ConfigMap", "demo-spec"),
    ]


def test_namespace_ownership(spec: ClusterSpec) -> None:
    ours = kp.creation_plan(kp.backend_objects(spec, agent_secret=SECRET))[0].body
    assert kp.is_owned_namespace(ours, "demo")
    assert not kp.is_owned_namespace(ours, "other")
    assert not kp.is_owned_namespace({"metadata": {"name": "default", "labels": {}}}, "demo")
    someone_elses = {"metadata": {"labels": {c.LABEL_CLUSTER: "demo"}}}  # labelled, but not by recapp
    assert not kp.is_owned_namespace(someone_elses, "demo")


def test_names_and_selectors() -> None:
    assert kp.namespace_for("demo") == "recapp-demo"
    assert kp.namespace_for("demo", "team-a") == "team-a"
    assert kp.cluster_selector("demo") == "recapp.io/cluster=demo"


# --- the spec ConfigMap ---------------------------------------------------------------------------


def test_spec_round_trips_through_the_config_map(make_spec: Callable[..., ClusterSpec]) -> None:
    spec = make_spec(nodes=3, launcher="kubexec", namespace="team-a", resources={"limits": {"memory": "4Gi"}})
    cm = kp.spec_config_map(spec)
    assert cm["metadata"] == {
        "name": "demo-spec",
        "namespace": "team-a",
        "labels": {
            "app.kubernetes.io/name": "recapp",
            "app.kubernetes.io/instance": "demo",
            "app.kubernetes.io/component": "cluster",
            "app.kubernetes.io/managed-by": "recapp",
            "recapp.io/cluster": "demo",
        },
    }
    back = kp.spec_from_config_map(json.loads(json.dumps(cm)))  # as it comes back from the API
    assert back == spec
    assert kp.same_spec(back, spec)
    assert not kp.same_spec(back, make_spec(nodes=4, launcher="kubexec", namespace="team-a"))


def test_a_config_map_without_the_spec_is_named() -> None:
    cm = {"metadata": {"name": "demo-spec", "namespace": "recapp-demo"}, "data": {}}
    with pytest.raises(ClusterError, match=r"^ConfigMap recapp-demo/demo-spec has no spec.json"):
        kp.spec_from_config_map(cm)


def test_a_tampered_spec_is_a_one_line_error(spec: ClusterSpec) -> None:
    cm = kp.spec_config_map(spec)
    cm["data"]["spec.json"] = cm["data"]["spec.json"].replace('"nodes": 2', '"nodes": 0')
    with pytest.raises(ClusterError) as info:
        kp.spec_from_config_map(cm)
    assert str(info.value) == (
        "ConfigMap recapp-demo/demo-spec: cluster spec: field 'nodes': "
        "Input should be greater than or equal to 1 (got 0)"
    )


# --- readiness ------------------------------------------------------------------------------------


def test_ready_when_every_node_is_ready_and_login_runs(spec: ClusterSpec, api: Any) -> None:
    pods = [
        api.pod("demo-node-0", "node", containers=[api.running("node")]),
        api.pod("demo-node-1", "node", containers=[api.running("node")]),
        api.pod(
            "demo-login-x1",
            "login",
            containers=[api.running("login")],
            init=[api.terminated("wait-nodes", 0)],
        ),
    ]
    r = kp.readiness_from_pods(spec, pods)
    assert r.done
    assert r.ready_nodes == ("demo-node-0", "demo-node-1")
    assert r.login_pod == "demo-login-x1"
    assert r.problems == ()
    assert r.summary() == "2/2 node pods Ready; login pod running"


def test_not_ready_while_a_node_is_unready_or_missing(spec: ClusterSpec, api: Any) -> None:
    pods = [api.pod("demo-node-0", "node", ready=False, containers=[api.running("node")])]
    r = kp.readiness_from_pods(spec, pods)
    assert not r.done
    assert r.waiting_nodes == ("demo-node-0", "demo-node-1")
    assert r.summary() == "0/2 node pods Ready (waiting: demo-node-0, demo-node-1); no login pod yet"


def test_login_waiting_in_its_init_container_is_not_ready(spec: ClusterSpec, api: Any) -> None:
    pods = [
        api.pod("demo-node-0", "node"),
        api.pod("demo-node-1", "node"),
        api.pod(
            "demo-login-x1", "login", phase="Pending", ready=False,
            init=[api.running("wait-nodes")], containers=[api.waiting("login", "PodInitializing")],
        ),
    ]  # fmt: skip
    r = kp.readiness_from_pods(spec, pods)
    assert not r.done
    assert not r.login_running
    assert r.summary() == "2/2 node pods Ready; login pod demo-login-x1 not running yet"


def test_terminating_and_foreign_pods_do_not_count(spec: ClusterSpec, api: Any) -> None:
    pods = [
        api.pod("demo-node-0", "node", deleting=True),
        api.pod("demo-node-1", "node"),
        api.pod("demo-node-2", "node"),  # beyond spec.nodes (left from a larger cluster): ignored
        api.pod("demo-login-old", "login", containers=[api.running("login")], deleting=True),
    ]
    r = kp.readiness_from_pods(spec, pods)
    assert r.ready_nodes == ("demo-node-1",)
    assert r.login_pod is None


def test_the_newest_login_pod_is_the_login_pod(spec: ClusterSpec, api: Any) -> None:
    pods = [
        api.pod("demo-login-b", "login", containers=[api.running("login")], created="2026-01-02T00:00:00Z"),
        api.pod("demo-login-a", "login", phase="Failed", ready=False, created="2026-01-01T00:00:00Z"),
    ]
    assert kp.readiness_from_pods(spec, pods).login_pod == "demo-login-b"


def test_problems_are_collected_and_fatal_ones_surface(spec: ClusterSpec, api: Any) -> None:
    image = spec.rec_image
    pods = [
        api.pod(
            "demo-node-0",
            "node",
            phase="Pending",
            ready=False,
            containers=[api.waiting("node", "ImagePullBackOff", image=image)],
        ),
        api.pod(
            "demo-node-1",
            "node",
            phase="Pending",
            ip=None,
            conditions=[{"type": "PodScheduled", "status": "False", "message": "0/1 nodes are available"}],
        ),
    ]
    events = [api.event("demo-node-0", "Failed", f'Failed to pull image "{image}": 401 Unauthorized')]
    r = kp.readiness_from_pods(spec, pods, events)
    assert [p.pod for p in r.problems] == ["demo-node-0", "demo-node-1"]
    assert r.fatal is not None
    assert str(r.fatal) == (
        f'node pod demo-node-0 cannot pull image {image}: Failed to pull image "{image}": 401 Unauthorized'
    )


def test_pod_status_for_tables(api: Any) -> None:
    node = kp.pod_status_from(api.pod("demo-node-0", "node", ip="10.1.2.3"))
    assert (node.name, node.component, node.state, node.ready, node.ip) == (
        "demo-node-0", "node", "running", True, "10.1.2.3",
    )  # fmt: skip
    pulling = kp.pod_status_from(
        api.pod("demo-node-1", "node", phase="Pending", ready=False, ip=None,
                containers=[api.waiting("node", "ErrImagePull")])
    )  # fmt: skip
    assert (pulling.state, pulling.ready, pulling.ip) == ("pending (ErrImagePull)", False, None)
    init = kp.pod_status_from(
        api.pod("demo-login-x", "login", phase="Pending", ready=False,
                init=[api.running("wait-nodes")], containers=[api.waiting("login", "PodInitializing")])
    )  # fmt: skip
    assert (init.state, init.ready) == ("initializing", False)
    assert kp.pod_status_from(api.pod("demo-node-0", "node", deleting=True)).state == "terminating"


# --- watches --------------------------------------------------------------------------------------


def test_watch_events_fold_into_the_pod_map(api: Any) -> None:
    pods: dict[str, Any] = {}
    p0 = api.pod("demo-node-0", "node", ready=False)
    p0["metadata"]["resourceVersion"] = "101"
    assert kp.apply_watch_event(pods, {"type": "ADDED", "object": p0}) == "101"
    p0b = api.pod("demo-node-0", "node")
    p0b["metadata"]["resourceVersion"] = "102"
    assert kp.apply_watch_event(pods, {"type": "MODIFIED", "object": p0b}) == "102"
    assert pods["demo-node-0"]["status"]["conditions"][1]["status"] == "True"
    bookmark = {"type": "BOOKMARK", "object": {"kind": "Pod", "metadata": {"resourceVersion": "150"}}}
    assert kp.apply_watch_event(pods, bookmark) == "150"
    assert list(pods) == ["demo-node-0"]
    gone = {"type": "DELETED", "object": {**p0b, "metadata": {**p0b["metadata"], "resourceVersion": "160"}}}
    assert kp.apply_watch_event(pods, gone) == "160"
    assert pods == {}


def test_watch_410_means_list_again() -> None:
    expired = {
        "type": "ERROR",
        "object": {"kind": "Status", "code": 410, "message": "too old resource version"},
    }
    with pytest.raises(kp.WatchExpired):
        kp.apply_watch_event({}, expired)


def test_other_watch_errors_are_one_line() -> None:
    other = {
        "type": "ERROR",
        "object": {"kind": "Status", "code": 500, "reason": "InternalError", "message": "boom"},
    }
    with pytest.raises(ClusterError, match=r"^watch pods: InternalError: boom$"):
        kp.apply_watch_event({}, other)


# --- images ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ref",
    [
        "registry.example.org/recapp/app-mpi:trixie",
        "registry:5000/app@sha256:" + "a" * 64,
        "10.0.0.5:5000/app:1",
        "docker.io/library/debian:trixie",
    ],
)
def test_pullable_references(ref: str) -> None:
    assert kp.image_reference_problem(ref) is None


@pytest.mark.parametrize(
    ("ref", "start"),
    [
        (
            "localhost/recapp/app-mpi:trixie",
            "APP image 'localhost/recapp/app-mpi:trixie' exists only in a local",
        ),
        (
            "localhost:5000/app:1",
            "APP image 'localhost:5000/app:1': inside a node pod localhost:5000 is the pod",
        ),
        ("app-mpi:trixie", "APP image 'app-mpi:trixie' is not fully qualified"),
        ("recapp/app-mpi:trixie", "APP image 'recapp/app-mpi:trixie' is not fully qualified"),
    ],
)
def test_unpullable_references_are_explained(ref: str, start: str) -> None:
    problem = kp.image_reference_problem(ref)
    assert problem is not None and problem.startswith(start)
