"""`cluster up`'s checks of the target cluster: the NetworkPolicy probe and the user-namespace decision."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from recapp.errors import ClusterError
from recapp.k8s import hardening as h
from recapp.k8s import objects as o
from recapp.k8s.spec import ClusterSpec
from recapp.k8s.validate import check_objects, pss_baseline_violations

Make = Callable[..., ClusterSpec]


def test_probe_pod_carries_none_of_the_clusters_pod_labels(spec: ClusterSpec) -> None:
    pod = h.probe_pod_object(spec)
    labels = pod["metadata"]["labels"]
    policy_selectors = [p["spec"]["podSelector"]["matchLabels"] for p in o.network_policy_objects(spec)]
    for selector in policy_selectors:
        assert not all(labels.get(k) == v for k, v in selector.items())
    assert pod["metadata"]["namespace"] == "recapp-demo"
    assert pod["spec"]["automountServiceAccountToken"] is False


def test_probe_pod_targets_node_0s_agent(spec: ClusterSpec) -> None:
    command = h.probe_pod_object(spec)["spec"]["containers"][0]["command"]
    assert command[:2] == ["python3", "-c"]
    assert command[3:] == ["demo-node-0.demo-nodes.recapp-demo.svc", "7450"]
    compile(command[2], "probe", "exec")  # the one-liner is valid Python


def test_probe_pod_meets_the_namespaces_pod_security_level(spec: ClusterSpec) -> None:
    pod = h.probe_pod_object(spec)
    assert pss_baseline_violations(pod["spec"]) == []
    check_objects([pod])  # and the Pod schema


@pytest.mark.parametrize(
    ("code", "enforced"),
    [(h.PROBE_BLOCKED, True), (h.PROBE_REACHED, False), (h.PROBE_NO_DNS, None), (None, None)],
)
def test_judge_probe(spec: ClusterSpec, code: int | None, enforced: bool | None) -> None:
    assert h.judge_probe(spec, code).enforced is enforced


def test_unenforced_policy_refuses_by_default(spec: ClusterSpec) -> None:
    verdict = h.judge_probe(spec, h.PROBE_REACHED)
    with pytest.raises(ClusterError, match=r"NetworkPolicy NOT enforced: .* refusing the cluster"):
        h.act_on_verdict(spec, verdict)


def test_unenforced_policy_warns_when_asked(make_spec: Make) -> None:
    verdict = h.judge_probe(make_spec(network_policy_probe="warn"), h.PROBE_REACHED)
    line = h.act_on_verdict(make_spec(network_policy_probe="warn"), verdict)
    assert line is not None and line.startswith("warning: NetworkPolicy NOT enforced")


def test_inconclusive_probe_is_not_a_pass(spec: ClusterSpec) -> None:
    with pytest.raises(ClusterError, match=r"probe inconclusive: could not resolve"):
        h.act_on_verdict(spec, h.judge_probe(spec, h.PROBE_NO_DNS))


@pytest.mark.parametrize(
    ("asked", "version", "fits", "expected"),
    [
        (None, "v1.34.1", True, True),
        (None, "v1.34.1", None, False),  # the REC's ranges are not known to fit
        (None, "v1.31.0", True, False),  # gate off by default before 1.33
        (None, "garbage", True, False),
        (True, "v1.31.0", None, True),
        (False, "v1.34.1", True, False),
    ],
)
def test_decide_user_namespace(asked: bool | None, version: str, fits: bool | None, expected: bool) -> None:
    value, why = h.decide_user_namespace(asked, version, fits)
    assert value is expected
    assert why.startswith("hostUsers: false" if expected else "hostUsers: true")


def test_user_namespace_on_a_server_that_drops_the_field_is_refused() -> None:
    with pytest.raises(ClusterError, match=r"needs Kubernetes 1\.30\+ \(the server is v1\.29\.4\)"):
        h.decide_user_namespace(True, "v1.29.4", True)


# --- the shipped seccomp profile ------------------------------------------------------------------

SECCOMP = Path(h.__file__).parent / "seccomp" / "recapp-nested-podman.json"
NESTED_PODMAN_NEEDS = (
    "clone", "clone3", "unshare", "setns", "mount", "umount2", "pivot_root", "fsopen", "fsmount",
    "move_mount", "open_tree", "keyctl", "ptrace",
    "kcmp", "process_vm_readv", "process_vm_writev",  # MPI single copy (CMA) without CAP_SYS_PTRACE
)  # fmt: skip


def test_seccomp_profile_allows_what_nested_podman_needs_and_refuses_by_default() -> None:
    profile = json.loads(SECCOMP.read_text())
    assert profile["defaultAction"] == "SCMP_ACT_ERRNO"
    unconditional = {
        name
        for rule in profile["syscalls"]
        if rule["action"] == "SCMP_ACT_ALLOW" and not rule.get("args") and not rule.get("includes")
        for name in rule["names"]
    }
    assert set(NESTED_PODMAN_NEEDS) <= unconditional
    for refused in (
        "kexec_load",
        "userfaultfd",
        "bpf",
        "init_module",
        "open_by_handle_at",
        "process_madvise",
    ):
        assert refused not in unconditional


def test_every_syscall_beyond_moby_is_explained() -> None:
    readme = (SECCOMP.parent / "README.md").read_text()
    for name in NESTED_PODMAN_NEEDS:
        assert f"`{name}`" in readme, name


# newuidmap's words in a hostUsers: false node pod of the real cluster with the REC's default
# /etc/subuid (rec:100000:65536), captured from `podman unshare` there.
NEWUIDMAP_REFUSED = (
    'time="2026-12-03T13:06:57Z" level=error msg="running `/usr/bin/newuidmap 58 0 998 1 1 100000 65536`:'
    ' newuidmap: write to uid_map failed: Operation not permitted\\n"\n'
    'Error: cannot set up namespace using "/usr/bin/newuidmap": exit status 1\n'
)


def test_subids_outside_a_user_namespaced_pod_are_named_with_their_range() -> None:
    assert h.SUBID_MAP_FAILED.search(NEWUIDMAP_REFUSED)
    line = h.userns_subids_cause(NEWUIDMAP_REFUSED)
    assert "\n" not in line
    assert line.startswith("the REC's subordinate ids (100000-165535) lie outside the 65536 ids")
    assert "(0-65535)" in line and "rec:1000:64536" in line and "--no-user-namespace" in line


def test_other_newuidmap_failures_are_not_taken_for_the_range() -> None:
    assert not h.SUBID_MAP_FAILED.search("newuidmap: open of uid_map failed: Permission denied")


def test_the_local_backend_finds_a_localhost_profile_among_the_shipped_ones() -> None:
    from recapp.k8s.local import podman_args

    assert podman_args.local_profile("recapp-nested-podman.json") == SECCOMP.resolve()
    with pytest.raises(ClusterError, match=r"seccomp profile 'nope\.json': not in .*known: recapp-nested"):
        podman_args.local_profile("nope.json")
