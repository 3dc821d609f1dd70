"""Schema validation (Kubernetes 1.29 and the newest shipped) and the Pod Security baseline check."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from recapp.errors import ClusterError
from recapp.k8s import objects as o
from recapp.k8s.spec import ClusterSpec
from recapp.k8s.validate import (
    BASELINE_CAPABILITIES,
    PssViolation,
    check_objects,
    pod_templates,
    pss_baseline_violations,
    schema_versions,
    schema_violations,
)

Make = Callable[..., ClusterSpec]
Obj = dict[str, Any]

VARIANTS: list[dict[str, Any]] = [
    {},
    {"launcher": "kubexec", "storage": "emptyDir"},
    {
        "user_namespace": True,
        "seccomp_localhost_profile": "recapp/nested-podman.json",
        "apparmor_localhost_profile": "recapp-nested-podman",
        "fuse_device_resource": "smarter-devices/fuse",
        "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "2", "memory": "4Gi"}},
        "storage_class": "local-path",
        "shm_size": "2Gi",
        "image_pull_policy": "Never",
    },
]


# --- schemas -------------------------------------------------------------------------------------------


def test_versions_are_1_29_and_the_newest() -> None:
    versions = schema_versions()
    assert versions[0] == "1.29"
    assert len(versions) == 2
    newest = tuple(int(x) for x in versions[1].split(".")[:2])
    assert newest > (1, 29)


@pytest.mark.parametrize("overrides", VARIANTS, ids=["default", "kubexec-emptydir", "all-options"])
def test_objects_pass_the_schemas(make_spec: Make, secret: str, overrides: dict[str, Any]) -> None:
    objects = o.cluster_objects(make_spec(**overrides), agent_secret=secret)
    versions = schema_versions()
    assert schema_violations(objects, versions) == []


def test_schema_check_names_the_bad_field(objects: list[Obj]) -> None:
    broken = copy.deepcopy(objects)
    sts = next(x for x in broken if x["kind"] == "StatefulSet")
    sts["spec"]["replicas"] = "three"
    violations = schema_violations(broken, schema_versions())
    assert [(v.kind, v.name, v.version, v.path) for v in violations] == [
        ("StatefulSet", "demo-node", version, "spec.replicas") for version in schema_versions()
    ]
    assert str(violations[0]).startswith(
        "StatefulSet/demo-node (Kubernetes 1.29): spec.replicas: 'three' is not"
    )


def test_strict_schema_rejects_unknown_fields(objects: list[Obj]) -> None:
    broken = copy.deepcopy(objects)
    next(x for x in broken if x["kind"] == "Service")["spec"]["clusterIp"] = "None"  # misspelt
    violations = schema_violations(broken, ["1.29"])
    assert [(v.kind, v.path) for v in violations] == [("Service", "spec")]
    assert "clusterIp" in violations[0].message


def test_check_objects_accepts_the_cluster(objects: list[Obj]) -> None:
    check_objects(objects)  # raises on any problem


def test_check_objects_raises_one_line(objects: list[Obj]) -> None:
    broken = copy.deepcopy(objects)
    next(x for x in broken if x["kind"] == "Job")["spec"]["template"]["spec"]["hostPID"] = True
    with pytest.raises(
        ClusterError, match=r"^cluster objects: Job/demo-login: PSS baseline 'Host Namespaces'"
    ):
        check_objects(broken)


# --- Pod Security baseline -----------------------------------------------------------------------------


@pytest.mark.parametrize("overrides", VARIANTS, ids=["default", "kubexec-emptydir", "all-options"])
def test_rendered_pods_pass_the_baseline(make_spec: Make, overrides: dict[str, Any]) -> None:
    templates = list(pod_templates(o.cluster_objects(make_spec(**overrides))))
    assert [where for where, _ in templates] == ["StatefulSet/demo-node", "Job/demo-login"]
    for _, template in templates:
        assert pss_baseline_violations(template["spec"], template["metadata"].get("annotations")) == []


def test_setuid_and_setgid_are_in_the_allow_list() -> None:
    assert {"SETUID", "SETGID"} <= BASELINE_CAPABILITIES


def good_pod() -> Obj:
    return {"containers": [{"name": "app", "image": "x", "securityContext": {}}], "securityContext": {}}


def rules(violations: list[PssViolation]) -> list[str]:
    return [v.rule for v in violations]


def test_a_plain_pod_passes() -> None:
    assert pss_baseline_violations(good_pod()) == []


# (rule, where the bad setting goes, the setting, the field the violation must name)
CTR = "spec.containers[app]"
BAD_PODS: list[tuple[str, str, Obj, str]] = [
    (
        "HostProcess",
        "pod.sc",
        {"windowsOptions": {"hostProcess": True}},
        "spec.securityContext.windowsOptions.hostProcess",
    ),
    ("Host Namespaces", "pod", {"hostNetwork": True}, "spec.hostNetwork"),
    ("Host Namespaces", "pod", {"hostIPC": True}, "spec.hostIPC"),
    ("Privileged Containers", "ctr.sc", {"privileged": True}, f"{CTR}.securityContext.privileged"),
    (
        "Capabilities",
        "ctr.sc",
        {"capabilities": {"add": ["SETUID", "SYS_ADMIN"]}},
        f"{CTR}.securityContext.capabilities.add",
    ),
    (
        "HostPath Volumes",
        "pod",
        {"volumes": [{"name": "root", "hostPath": {"path": "/"}}]},
        "spec.volumes[root].hostPath",
    ),
    ("Host Ports", "ctr", {"ports": [{"containerPort": 80, "hostPort": 8080}]}, f"{CTR}.ports.hostPort"),
    ("SELinux", "pod.sc", {"seLinuxOptions": {"type": "spc_t"}}, "spec.securityContext.seLinuxOptions.type"),
    (
        "SELinux",
        "ctr.sc",
        {"seLinuxOptions": {"user": "system_u"}},
        f"{CTR}.securityContext.seLinuxOptions.user",
    ),
    ("/proc Mount Type", "ctr.sc", {"procMount": "Unmasked"}, f"{CTR}.securityContext.procMount"),
    (
        "Seccomp",
        "pod.sc",
        {"seccompProfile": {"type": "Unconfined"}},
        "spec.securityContext.seccompProfile.type",
    ),
    (
        "Seccomp",
        "ctr.sc",
        {"seccompProfile": {"type": "Unconfined"}},
        f"{CTR}.securityContext.seccompProfile.type",
    ),
    (
        "Sysctls",
        "pod.sc",
        {"sysctls": [{"name": "kernel.msgmax", "value": "1"}]},
        "spec.securityContext.sysctls",
    ),
    (
        "AppArmor",
        "ctr.sc",
        {"appArmorProfile": {"type": "Unconfined"}},
        f"{CTR}.securityContext.appArmorProfile.type",
    ),
]


def place(pod: Obj, where: str) -> Obj:
    return {
        "pod": pod,
        "pod.sc": pod["securityContext"],
        "ctr": pod["containers"][0],
        "ctr.sc": pod["containers"][0]["securityContext"],
    }[where]


@pytest.mark.parametrize(
    ("rule", "where", "setting", "field"), BAD_PODS, ids=[f"{r}:{f}" for r, _, _, f in BAD_PODS]
)
def test_a_bad_pod_fails_with_the_rule_named(rule: str, where: str, setting: Obj, field: str) -> None:
    pod = good_pod()
    place(pod, where).update(copy.deepcopy(setting))
    violations = pss_baseline_violations(pod)
    assert [(v.rule, v.field) for v in violations] == [(rule, field)]
    assert str(violations[0]).startswith(f"PSS baseline '{rule}': {field}: ")


def test_capability_violation_lists_only_the_extra_ones() -> None:
    pod = good_pod()
    pod["containers"][0]["securityContext"]["capabilities"] = {"add": ["SETGID", "NET_ADMIN", "SYS_ADMIN"]}
    assert pss_baseline_violations(pod)[0].detail == "not allowed: NET_ADMIN, SYS_ADMIN"


def test_init_and_ephemeral_containers_are_checked() -> None:
    pod = good_pod()
    pod["initContainers"] = [{"name": "init", "securityContext": {"privileged": True}}]
    pod["ephemeralContainers"] = [{"name": "debug", "ports": [{"containerPort": 1, "hostPort": 1}]}]
    assert [(v.rule, v.field) for v in pss_baseline_violations(pod)] == [
        ("Privileged Containers", "spec.initContainers[init].securityContext.privileged"),
        ("Host Ports", "spec.ephemeralContainers[debug].ports.hostPort"),
    ]


@pytest.mark.parametrize(
    ("value", "ok"), [("runtime/default", True), ("localhost/mine", True), ("unconfined", False)]
)
def test_apparmor_annotation(value: str, ok: bool) -> None:
    annotations = {"container.apparmor.security.beta.kubernetes.io/app": value}
    assert rules(pss_baseline_violations(good_pod(), annotations)) == ([] if ok else ["AppArmor"])


def test_safe_sysctls_and_allowed_selinux_pass() -> None:
    pod = good_pod()
    pod["securityContext"]["sysctls"] = [{"name": "net.ipv4.ping_group_range", "value": "0 2147483647"}]
    pod["securityContext"]["seLinuxOptions"] = {"type": "container_t", "level": "s0:c1,c2"}
    assert pss_baseline_violations(pod) == []


def test_the_node_pod_with_a_dangerous_option_fails(objects: list[Obj]) -> None:
    template = o.node_pod_template(objects)
    template["spec"]["containers"][0]["securityContext"]["capabilities"]["add"].append("SYS_ADMIN")
    assert rules(pss_baseline_violations(template["spec"])) == ["Capabilities"]
