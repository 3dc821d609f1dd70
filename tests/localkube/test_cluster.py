"""The local Kubernetes of k8s/localkube, really running: a pod, cluster DNS for a
headless Service, PodSecurity refusing a privileged pod, NetworkPolicy enforced."""

from __future__ import annotations

import json
import subprocess
import time

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from .conftest import LOCALKUBE, busybox_pod, localkube_env, run_to_completion, wait_phase

pytestmark = pytest.mark.k8s


def test_pod_runs_to_completion_and_prints_its_value(core: client.CoreV1Api, namespace: str) -> None:
    pod = busybox_pod("hello", "echo value=$((6 * 7)) uid=$(id -u)")
    phase, logs = run_to_completion(core, namespace, pod)
    assert phase == "Succeeded"
    assert logs.strip() == "value=42 uid=1000"


def test_node_is_the_release_we_built(core: client.CoreV1Api) -> None:
    (node,) = core.list_node().items
    assert node.status.node_info.kubelet_version == localkube_env("KUBE_RELEASE")
    assert node.status.node_info.container_runtime_version.startswith("containerd://2.")


def dns_a(name: str) -> list[str]:
    out = subprocess.run(
        [str(LOCALKUBE / "dns-query"), localkube_env("KUBE_DNS_IP"), name],
        capture_output=True,
        text=True,
        timeout=10,
    )
    return out.stdout.split()


def test_coredns_resolves_a_headless_service_and_its_pod(core: client.CoreV1Api, namespace: str) -> None:
    labels = {"app": "web"}
    core.create_namespaced_service(
        namespace,
        client.V1Service(
            metadata=client.V1ObjectMeta(name="web"),
            spec=client.V1ServiceSpec(
                cluster_ip="None", selector=labels, ports=[client.V1ServicePort(port=8080)]
            ),
        ),
    )
    # hostname + subdomain give the pod its own name under the headless Service,
    # as a StatefulSet's pods (recapp's node pods) get theirs.
    pod = busybox_pod("web-0", "sleep 300", labels, hostname="web-0", subdomain="web")
    core.create_namespaced_pod(namespace, pod)
    ip = wait_phase(core, namespace, "web-0", {"Running"}).status.pod_ip
    domain = localkube_env("KUBE_CLUSTER_DOMAIN")
    # From the host, through the kube-dns Service (kube-proxy's DNAT) to CoreDNS.
    deadline = time.monotonic() + 60
    while dns_a(f"web.{namespace}.svc.{domain}") != [ip] and time.monotonic() < deadline:
        time.sleep(1)
    assert dns_a(f"web.{namespace}.svc.{domain}") == [ip]
    assert dns_a(f"web-0.web.{namespace}.svc.{domain}") == [ip]
    # And from a pod, through the resolv.conf the kubelet writes (busybox's nslookup
    # does not walk the search path, hence the full name).
    ask = busybox_pod("ask", f"nslookup web-0.web.{namespace}.svc.{domain}")
    phase, logs = run_to_completion(core, namespace, ask)
    assert phase == "Succeeded", logs
    assert f"Address: {ip}" in logs


def test_podsecurity_baseline_refuses_a_privileged_pod(core: client.CoreV1Api, namespace: str) -> None:
    pod = busybox_pod("root", "true")
    pod.spec.containers[0].security_context = client.V1SecurityContext(privileged=True)
    with pytest.raises(ApiException) as refused:
        core.create_namespaced_pod(namespace, pod)
    assert refused.value.status == 403
    message = json.loads(refused.value.body)["message"]
    assert 'violates PodSecurity "baseline:latest"' in message
    assert "privileged" in message
    assert core.list_namespaced_pod(namespace).items == []


# Tries the server for up to 30 s; prints REACHED at the first answer, else BLOCKED.
# (nc, not wget: busybox 1.35's static wget segfaults with -T.)
PROBE = (
    "for i in $(seq 1 30); do "
    "if printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 1 {ip} 8080 2>/dev/null | grep -q hello; "
    "then echo REACHED; exit 0; fi; sleep 1; done; echo BLOCKED"
)


def test_networkpolicy_denying_ingress_blocks_pod_to_pod_tcp(
    kube: client.ApiClient, core: client.CoreV1Api, namespace: str
) -> None:
    server = busybox_pod(
        "server",
        "mkdir -p /tmp/www && echo hello > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www",
        {"role": "server"},
    )
    core.create_namespaced_pod(namespace, server)
    ip = wait_phase(core, namespace, "server", {"Running"}).status.pod_ip

    phase, logs = run_to_completion(core, namespace, busybox_pod("before", PROBE.format(ip=ip)))
    assert (phase, logs.strip()) == ("Succeeded", "REACHED")

    deny = client.V1NetworkPolicy(
        metadata=client.V1ObjectMeta(name="deny-ingress"),
        spec=client.V1NetworkPolicySpec(pod_selector=client.V1LabelSelector(), policy_types=["Ingress"]),
    )
    client.NetworkingV1Api(kube).create_namespaced_network_policy(namespace, deny)
    # kube-router programs the policy on the watch event; give it a moment, then a
    # client that never gets an answer in 30 s shows the block.
    time.sleep(5)
    phase, logs = run_to_completion(core, namespace, busybox_pod("after", PROBE.format(ip=ip)), timeout=180)
    assert (phase, logs.strip()) == ("Succeeded", "BLOCKED")


def test_pod_without_host_users_runs_in_its_own_user_namespace(
    core: client.CoreV1Api, namespace: str
) -> None:
    # hostUsers: false (issue 15) needs idmapped mounts: kernel 6.18, containerd 2, runc 1.4 here.
    pod = busybox_pod("userns", "cat /proc/self/uid_map", host_users=False)
    phase, logs = run_to_completion(core, namespace, pod)
    assert phase == "Succeeded", logs
    inside, outside, length = (int(f) for f in logs.split())
    assert (inside, length) == (0, 65536)
    assert outside >= 65536  # pod uid 0 is an unprivileged uid of the host
