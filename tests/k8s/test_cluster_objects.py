"""The cluster's objects as plain dicts: names, labels, RBAC, pod security, volumes, accessors."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from recapp.errors import ClusterError
from recapp.k8s import constants as c
from recapp.k8s import objects as o
from recapp.k8s.spec import ClusterSpec

Make = Callable[..., ClusterSpec]
Obj = dict[str, Any]


def by_name(objects: list[Obj], kind: str, name: str) -> Obj:
    return next(x for x in objects if x["kind"] == kind and x["metadata"]["name"] == name)


def by_kind(objects: list[Obj], kind: str) -> Obj:
    found = [x for x in objects if x["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, got {len(found)}"
    return found[0]


def container(pod_spec: Obj, name: str, list_name: str = "containers") -> Obj:
    return next(x for x in pod_spec[list_name] if x["name"] == name)


def env_of(ctr: Obj) -> dict[str, str]:
    return {e["name"]: e["value"] for e in ctr["env"]}


def mounts_of(ctr: Obj) -> dict[str, str]:
    return {m["name"]: m["mountPath"] for m in ctr["volumeMounts"]}


def all_label_sets(objects: list[Obj]) -> Iterator[tuple[str, dict[str, str]]]:
    for obj in objects:
        yield obj["kind"], obj["metadata"]["labels"]
        spec = obj.get("spec", {})
        if "template" in spec:
            yield f"{obj['kind']} pod template", spec["template"]["metadata"]["labels"]
        for claim in spec.get("volumeClaimTemplates", []):
            yield "volumeClaimTemplate", claim["metadata"]["labels"]


# --- order, names, labels ----------------------------------------------------------------------------


def test_objects_in_apply_order(objects: list[Obj]) -> None:
    assert [x["kind"] for x in objects] == [
        "Namespace", "ServiceAccount", "Role", "RoleBinding", "NetworkPolicy", "NetworkPolicy", "Secret",
        "Service", "StatefulSet", "Job",
    ]  # fmt: skip


def test_names(objects: list[Obj]) -> None:
    names = {x["kind"]: x["metadata"]["name"] for x in objects if x["kind"] != "NetworkPolicy"}
    policies = [x["metadata"]["name"] for x in objects if x["kind"] == "NetworkPolicy"]
    assert policies == ["demo-node", "demo-login"]
    assert names == {
        "Namespace": "recapp-demo",
        "ServiceAccount": "demo",
        "Role": "demo",
        "RoleBinding": "demo",
        "Secret": "demo-agent",
        "Service": "demo-nodes",
        "StatefulSet": "demo-node",
        "Job": "demo-login",
    }


def test_namespaced_objects_live_in_the_cluster_namespace(objects: list[Obj]) -> None:
    assert "namespace" not in by_kind(objects, "Namespace")["metadata"]
    assert {x["metadata"]["namespace"] for x in objects if x["kind"] != "Namespace"} == {"recapp-demo"}


def test_every_object_and_template_carries_the_labels(objects: list[Obj]) -> None:
    seen = 0
    for where, labels in all_label_sets(objects):
        assert labels[c.LABEL_NAME] == "recapp", where
        assert labels[c.LABEL_INSTANCE] == "demo", where
        assert labels[c.LABEL_MANAGED_BY] == "recapp", where
        assert labels[c.LABEL_CLUSTER] == "demo", where
        assert labels[c.LABEL_COMPONENT], where
        seen += 1
    assert seen == 13  # 10 objects + 2 pod templates + 1 claim template


def test_components(objects: list[Obj]) -> None:
    components = {x["kind"]: x["metadata"]["labels"][c.LABEL_COMPONENT] for x in objects}
    assert components["StatefulSet"] == "node"
    assert components["Job"] == "login"
    assert components["Role"] == components["RoleBinding"] == components["ServiceAccount"] == "rbac"


def test_longest_name_keeps_derived_names_within_63(make_spec: Make) -> None:
    spec = make_spec(name="a" * 40, nodes=64)
    names = [*o.node_pod_names(spec), f"storage-{o.node_pod_names(spec)[-1]}", o.login_job_name(spec)]
    names.append(f"{o.node_statefulset_name(spec)}-0123456789")  # controller-revision-hash label value
    assert max(len(n) for n in names) <= 63


def test_node_pod_names_and_dns(spec: ClusterSpec) -> None:
    assert o.node_pod_names(spec) == ["demo-node-0", "demo-node-1", "demo-node-2"]
    assert o.node_dns_name(spec, 0) == "demo-node-0.demo-nodes"
    assert o.node_dns_name(spec, 2) == "demo-node-2.demo-nodes"


@pytest.mark.parametrize("index", [-1, 3])
def test_node_dns_name_out_of_range(spec: ClusterSpec, index: int) -> None:
    with pytest.raises(ClusterError, match=rf"node index {index}: cluster 'demo' has nodes 0\.\.2"):
        o.node_dns_name(spec, index)


# --- RBAC ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("launcher", ["agent", "podexec", "kubexec"])
def test_no_cluster_wide_rbac(make_spec: Make, launcher: str) -> None:
    kinds = {x["kind"] for x in o.cluster_objects(make_spec(launcher=launcher))}
    assert "ClusterRole" not in kinds and "ClusterRoleBinding" not in kinds
    assert {"Role", "RoleBinding"} <= kinds


def test_agent_role_only_reads_pods(objects: list[Obj]) -> None:
    role = by_kind(objects, "Role")
    assert role["rules"] == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}]
    assert not any("pods/exec" in rule["resources"] for rule in role["rules"])


def test_kubexec_role_adds_pod_exec_on_the_node_pods_only(make_spec: Make) -> None:
    role = by_kind(o.cluster_objects(make_spec(launcher="kubexec")), "Role")
    assert role["rules"][1] == {
        "apiGroups": [""],
        "resources": ["pods/exec"],
        "resourceNames": ["demo-node-0", "demo-node-1", "demo-node-2"],
        "verbs": ["create", "get"],
    }
    assert len(role["rules"]) == 2


def test_role_binding_binds_the_service_account_to_the_role(objects: list[Obj]) -> None:
    binding = by_kind(objects, "RoleBinding")
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "demo"}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "demo", "namespace": "recapp-demo"}]


# --- secret and service --------------------------------------------------------------------------------


def test_secret_holds_the_given_value_and_the_tls_files(objects: list[Obj], secret: str) -> None:
    obj = by_kind(objects, "Secret")
    assert obj["type"] == "Opaque"
    assert sorted(obj["stringData"]) == [
        "ca.crt", "demo-node-0.crt", "demo-node-0.key", "demo-node-1.crt", "demo-node-1.key",
        "demo-node-2.crt", "demo-node-2.key", "launcher.crt", "launcher.key", "secret",
    ]  # fmt: skip
    assert obj["stringData"]["secret"] == secret
    assert o.agent_secret_value(objects) == secret
    assert "PRIVATE KEY" not in obj["stringData"]["ca.crt"]


def test_each_pod_mounts_only_its_side_of_the_tls_files(objects: list[Obj]) -> None:
    def items(template: Obj) -> list[str]:
        volume = {v["name"]: v for v in template["spec"]["volumes"]}["agent-secret"]
        return [i["key"] for i in volume["secret"]["items"]]

    node, login = items(o.node_pod_template(objects)), items(o.login_pod_template(objects))
    assert node == ["secret", "ca.crt"] + [f"demo-node-{i}.{ext}" for i in range(3) for ext in ("crt", "key")]
    assert login == ["secret", "ca.crt", "launcher.crt", "launcher.key"]


def test_a_secret_without_every_node_certificate_is_refused(
    make_spec: Make, credentials: object, secret: str
) -> None:
    bigger = make_spec(nodes=4)  # the fixture's credentials cover three nodes
    with pytest.raises(ClusterError, match=r"^TLS credentials: no certificate for demo-node-3$"):
        o.cluster_objects(bigger, agent_secret=secret, credentials=credentials)  # type: ignore[arg-type]


def test_fresh_secrets_are_random_hex(spec: ClusterSpec) -> None:
    first, second = (o.agent_secret_value(o.cluster_objects(spec)) for _ in range(2))
    assert first != second
    assert len(first) == 64 and int(first, 16) >= 0


@pytest.mark.parametrize("bad", ["short", "x" * 31, "a" * 40 + " b", "a" * 40 + "\n", "a" * 513])
def test_bad_given_secret_is_refused(spec: ClusterSpec, bad: str) -> None:
    with pytest.raises(ClusterError, match=r"^agent secret: "):
        o.cluster_objects(spec, agent_secret=bad)


def test_headless_service(objects: list[Obj]) -> None:
    svc = by_kind(objects, "Service")["spec"]
    assert svc["clusterIP"] == "None"
    assert svc["selector"] == {c.LABEL_CLUSTER: "demo", c.LABEL_COMPONENT: "node"}
    assert svc["ports"] == [{"name": "agent", "port": 7450, "targetPort": "agent", "protocol": "TCP"}]


# --- node pods -----------------------------------------------------------------------------------------


def test_statefulset_shape(objects: list[Obj]) -> None:
    sts = by_kind(objects, "StatefulSet")["spec"]
    assert sts["serviceName"] == "demo-nodes"
    assert sts["podManagementPolicy"] == "Parallel"
    assert sts["replicas"] == 3
    assert sts["selector"]["matchLabels"] == by_kind(objects, "Service")["spec"]["selector"]
    template_labels = sts["template"]["metadata"]["labels"]
    assert all(template_labels[k] == v for k, v in sts["selector"]["matchLabels"].items())


def test_node_container_runs_the_agent(objects: list[Obj], make_spec: Make) -> None:
    node = container(o.node_pod_template(objects)["spec"], "node")
    assert node["image"] == "localhost/recapp-rec:trixie"
    assert node["command"] == [
        "recapp-agent", "serve", "--port", "7450", "--secret-file", "/etc/recapp/agent/secret",
        "--tls-dir", "/etc/recapp/agent",
    ]  # fmt: skip
    assert node["ports"] == [{"name": "agent", "containerPort": 7450, "protocol": "TCP"}]
    assert node["readinessProbe"]["exec"]["command"] == [
        "recapp-agent", "ping", "--host", "127.0.0.1", "--port", "7450",
        "--secret-file", "/etc/recapp/agent/secret", "--tls-dir", "/etc/recapp/agent",
    ]  # fmt: skip
    other = container(o.node_pod_template(o.cluster_objects(make_spec(agent_port=9000)))["spec"], "node")
    assert other["command"][3] == "9000" and other["readinessProbe"]["exec"]["command"][5] == "9000"


def test_node_env(objects: list[Obj]) -> None:
    env = env_of(container(o.node_pod_template(objects)["spec"], "node"))
    assert env["RECAPP_CLUSTER"] == "demo"
    assert env["RECAPP_AGENT_PORT"] == "7450"
    assert env["RECAPP_AGENT_SECRET_FILE"] == "/etc/recapp/agent/secret"
    assert env["PODMAN_IGNORE_CGROUPSV1_WARNING"] == "1"


def test_node_security(objects: list[Obj]) -> None:
    pod = o.node_pod_template(objects)["spec"]
    assert pod["securityContext"] == {
        "runAsUser": 998,
        "runAsGroup": 995,
        "runAsNonRoot": True,
        "fsGroup": 995,
        "fsGroupChangePolicy": "OnRootMismatch",
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    sc = container(pod, "node")["securityContext"]
    assert sc["privileged"] is False
    assert sc["allowPrivilegeEscalation"] is True  # no_new_privs would disable newuidmap's file caps
    assert sc["capabilities"] == {"drop": ["ALL"], "add": ["SETUID", "SETGID", "SYS_CHROOT"]}
    assert pod["automountServiceAccountToken"] is False
    assert "hostUsers" not in pod


def test_node_volumes_with_claim_storage(objects: list[Obj]) -> None:
    sts = by_kind(objects, "StatefulSet")["spec"]
    pod = sts["template"]["spec"]
    assert mounts_of(container(pod, "node")) == {
        "storage": "/home/rec/.local/share/containers",
        "images": "/var/lib/recapp/images",
        "agent-secret": "/etc/recapp/agent",
        "dshm": "/dev/shm",
    }
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "storage" not in volumes  # it comes from the claim template
    assert [t["metadata"]["name"] for t in sts["volumeClaimTemplates"]] == ["storage"]
    assert sts["volumeClaimTemplates"][0]["spec"]["resources"]["requests"] == {"storage": "10Gi"}
    assert volumes["images"] == {"name": "images", "emptyDir": {}}
    assert volumes["dshm"]["emptyDir"] == {"medium": "Memory", "sizeLimit": "1Gi"}
    assert volumes["agent-secret"]["secret"]["secretName"] == "demo-agent"
    assert volumes["agent-secret"]["secret"]["defaultMode"] == 0o440


def test_node_volumes_with_empty_dir_storage(make_spec: Make) -> None:
    sts = by_kind(o.cluster_objects(make_spec(storage="emptyDir")), "StatefulSet")["spec"]
    volumes = {v["name"]: v for v in sts["template"]["spec"]["volumes"]}
    assert volumes["storage"] == {"name": "storage", "emptyDir": {}}
    assert "volumeClaimTemplates" not in sts
    assert "persistentVolumeClaimRetentionPolicy" not in sts


def test_storage_class_and_size(make_spec: Make) -> None:
    sts = by_kind(o.cluster_objects(make_spec(storage_class="fast", storage_size="50Gi")), "StatefulSet")[
        "spec"
    ]
    claim = sts["volumeClaimTemplates"][0]["spec"]
    assert claim["storageClassName"] == "fast"
    assert claim["resources"]["requests"]["storage"] == "50Gi"


def test_security_options(make_spec: Make) -> None:
    spec = make_spec(
        user_namespace=True,
        seccomp_localhost_profile="recapp/nested-podman.json",
        apparmor_localhost_profile="recapp-nested-podman",
        fuse_device_resource="smarter-devices/fuse",
        resources={"requests": {"cpu": "1"}, "limits": {"memory": "4Gi"}},
        shm_size="1Gi",
    )
    objects = o.cluster_objects(spec)
    template = o.node_pod_template(objects)
    pod = template["spec"]
    assert pod["hostUsers"] is False
    assert o.login_pod_template(objects)["spec"]["hostUsers"] is False
    assert pod["securityContext"]["seccompProfile"] == {
        "type": "Localhost",
        "localhostProfile": "recapp/nested-podman.json",
    }
    assert template["metadata"]["annotations"] == {
        "container.apparmor.security.beta.kubernetes.io/node": "localhost/recapp-nested-podman"
    }
    assert container(pod, "node")["resources"] == {
        "requests": {"cpu": "1"},
        "limits": {"memory": "4Gi", "smarter-devices/fuse": "1"},
    }
    assert {v["name"]: v for v in pod["volumes"]}["dshm"]["emptyDir"] == {
        "medium": "Memory",
        "sizeLimit": "1Gi",
    }


def test_default_resources_limit_memory_not_cpu(objects: list[Obj]) -> None:
    assert container(o.node_pod_template(objects)["spec"], "node")["resources"] == {
        "requests": {"cpu": "250m", "memory": "256Mi"},
        "limits": {"memory": "8Gi"},
    }


def test_no_resources_key_when_none_asked(make_spec: Make) -> None:
    objects = o.cluster_objects(make_spec(resources=None))
    assert "resources" not in container(o.node_pod_template(objects)["spec"], "node")


# --- login pod -----------------------------------------------------------------------------------------


def test_login_job_shape(objects: list[Obj]) -> None:
    job = by_kind(objects, "Job")["spec"]
    assert (job["parallelism"], job["backoffLimit"]) == (1, 0)
    pod = job["template"]["spec"]
    assert pod["serviceAccountName"] == "demo"
    assert pod["restartPolicy"] == "Never"
    login = container(pod, "login")
    assert login["command"] == ["/usr/bin/catatonit", "-P"]  # a PID 1 that reaps what jobs leave
    assert login["image"] == "localhost/recapp-rec:trixie"
    assert pod["securityContext"]["runAsUser"] == 998 and pod["securityContext"]["runAsGroup"] == 995


def test_wait_nodes_init_container(objects: list[Obj]) -> None:
    pod = o.login_pod_template(objects)["spec"]
    wait = container(pod, "wait-nodes", "initContainers")
    assert wait["command"] == [
        "recapp-wait-nodes",
        "--namespace", "recapp-demo",
        "--selector", "app.kubernetes.io/component=node,recapp.io/cluster=demo",
        "--count", "3",
        "--service", "demo-nodes",
        "--slots", "2",
        "--out", "/etc/recapp/hostfile",
        "--timeout", "300",
        "--owner", "demo-node",
    ]  # fmt: skip
    assert mounts_of(wait) == {
        "hostfile": "/etc/recapp/hostfile",
        "api-token": "/var/run/secrets/kubernetes.io/serviceaccount",
    }
    assert mounts_of(container(pod, "login")) == {
        "hostfile": "/etc/recapp/hostfile",
        "agent-secret": "/etc/recapp/agent",
    }
    assert {v["name"]: v for v in pod["volumes"]}["hostfile"] == {"name": "hostfile", "emptyDir": {}}


def test_wait_nodes_selector_selects_the_node_pods(objects: list[Obj], spec: ClusterSpec) -> None:
    selector = dict(pair.split("=") for pair in o.node_selector_string(spec).split(","))
    node_labels = o.node_pod_template(objects)["metadata"]["labels"]
    login_labels = o.login_pod_template(objects)["metadata"]["labels"]
    assert all(node_labels[k] == v for k, v in selector.items())
    assert not all(login_labels.get(k) == v for k, v in selector.items())


@pytest.mark.parametrize(
    ("launcher", "agent"),
    [("agent", "recapp-launch"), ("kubexec", "/usr/local/bin/recapp-kubexec"), ("podexec", None)],
)
def test_login_plm_agent_per_launcher(make_spec: Make, launcher: str, agent: str | None) -> None:
    login = container(o.login_pod_template(o.cluster_objects(make_spec(launcher=launcher)))["spec"], "login")
    assert env_of(login).get("PRTE_MCA_plm_ssh_agent") == agent


def test_login_containers_cannot_escalate(objects: list[Obj]) -> None:
    pod = o.login_pod_template(objects)["spec"]
    for ctr in [*pod["initContainers"], *pod["containers"]]:
        assert ctr["securityContext"]["allowPrivilegeEscalation"] is False
        assert ctr["securityContext"]["capabilities"] == {"drop": ["ALL"]}


# --- accessors ------------------------------------------------------------------------------------------


def test_templates_are_copies(objects: list[Obj]) -> None:
    template = o.node_pod_template(objects)
    template["spec"]["containers"][0]["image"] = "changed"
    assert o.node_pod_template(objects)["spec"]["containers"][0]["image"] == "localhost/recapp-rec:trixie"


def test_accessor_refuses_objects_without_the_workload(objects: list[Obj]) -> None:
    without_job = [x for x in objects if x["kind"] != "Job"]
    with pytest.raises(ClusterError, match=r"expected one Job with component 'login', found 0"):
        o.login_pod_template(without_job)


def test_objects_are_pure(spec: ClusterSpec, secret: str, credentials: object) -> None:
    def make() -> list[Obj]:
        return o.cluster_objects(spec, agent_secret=secret, credentials=credentials)  # type: ignore[arg-type]

    assert make() == make()


def test_node_policy_admits_and_reaches_only_the_clusters_pods_by_name(objects: list[Obj]) -> None:
    policy = by_name(objects, "NetworkPolicy", "demo-node")["spec"]
    nodes = {
        "matchLabels": {"recapp.io/cluster": "demo", "app.kubernetes.io/component": "node"},
        "matchExpressions": [
            {
                "key": "statefulset.kubernetes.io/pod-name",
                "operator": "In",
                "values": ["demo-node-0", "demo-node-1", "demo-node-2"],
            }
        ],
    }
    login = {
        "matchLabels": {
            "recapp.io/cluster": "demo",
            "app.kubernetes.io/component": "login",
            "batch.kubernetes.io/job-name": "demo-login",
        }
    }
    dns = {"ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}
    assert policy == {
        "podSelector": nodes,
        "policyTypes": ["Ingress", "Egress"],
        "ingress": [{"from": [{"podSelector": nodes}, {"podSelector": login}]}],
        "egress": [{"to": [{"podSelector": nodes}, {"podSelector": login}]}, dns],
    }
    login_policy = by_name(objects, "NetworkPolicy", "demo-login")["spec"]
    assert login_policy["podSelector"] == login
    assert login_policy["ingress"] == [{"from": [{"podSelector": nodes}]}]
    api = {"ports": [{"protocol": "TCP", "port": 443}, {"protocol": "TCP", "port": 6443}]}
    assert login_policy["egress"] == [{"to": [{"podSelector": nodes}]}, dns, api]
    # The selectors match the pod templates' own labels (plus what the controllers add).
    node_labels = o.node_pod_template(objects)["metadata"]["labels"]
    assert all(node_labels[k] == v for k, v in nodes["matchLabels"].items())
    login_labels = o.login_pod_template(objects)["metadata"]["labels"]
    assert all(login_labels.get(k) == v for k, v in login["matchLabels"].items() if "job-name" not in k)


def test_login_egress_to_the_api_server_can_be_pinned(make_spec: Make) -> None:
    objects = o.cluster_objects(make_spec(api_server_cidrs=["10.96.0.1/32"]))
    egress = by_name(objects, "NetworkPolicy", "demo-login")["spec"]["egress"]
    assert egress[2]["to"] == [{"ipBlock": {"cidr": "10.96.0.1/32"}}]


def test_bad_api_server_cidr_is_refused(make_spec: Make) -> None:
    with pytest.raises(ClusterError, match=r"api_server_cidrs.*not an address or CIDR"):
        make_spec(api_server_cidrs=["the api server"])


def test_isolation_is_recognised(objects: list[Obj], spec: ClusterSpec) -> None:
    assert o.isolates_cluster(objects, spec)
    assert not o.isolates_cluster([x for x in objects if x["metadata"]["name"] != "demo-login"], spec)


def test_namespace_enforces_pod_security_baseline(objects: list[Obj]) -> None:
    labels = by_kind(objects, "Namespace")["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "baseline"
    assert labels["pod-security.kubernetes.io/enforce-version"] == "latest"
    assert labels["pod-security.kubernetes.io/warn"] == "baseline"


@pytest.mark.parametrize(("launcher", "login_has_token"), [("agent", False), ("kubexec", True)])
def test_login_pod_token_only_where_needed(make_spec: Make, launcher: str, login_has_token: bool) -> None:
    pod = o.login_pod_template(o.cluster_objects(make_spec(launcher=launcher)))["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert "api-token" in mounts_of(container(pod, "wait-nodes", "initContainers"))
    assert ("api-token" in mounts_of(container(pod, "login"))) is login_has_token
    token = {v["name"]: v for v in pod["volumes"]}["api-token"]["projected"]["sources"][0]
    assert token == {"serviceAccountToken": {"path": "token", "expirationSeconds": 3600}}
