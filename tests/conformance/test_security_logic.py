"""The security report's judgements on plain data: manifests (recapp's own and hostile ones), getcap
output, the privileged-file allow-list, and the record/table."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from recapp.conformance import security as sec
from recapp.conformance import security_images as si
from recapp.conformance import security_manifests as sm
from recapp.errors import ConformanceError
from recapp.reports.security import SecurityCheck, SecurityReport, table_rows

pytestmark = pytest.mark.reliability


def test_recapps_own_manifests_pass_every_manifest_check():
    checks = sec.manifest_checks(sec.default_objects(None))
    assert {c.check for c in checks} == {
        "capabilities", "pod-isolation", "rbac-scope", "exec-scope", "api-token", "pod-security-admission",
        "network-policy", "resource-limits",
    }  # fmt: skip
    assert [c for c in checks if c.status != "PASS"] == []
    tokens = {c.subject: c.detail for c in checks if c.check == "api-token"}
    assert tokens["Job/demo-login (agent launcher)"] == "API token only in: wait-nodes"
    assert tokens["Job/demo-login (kubexec launcher)"] == "API token only in: wait-nodes, login"
    node_caps = next(
        c for c in checks if c.check == "capabilities" and "node (agent launcher) node" in c.subject
    )
    assert node_caps.detail == "drop ALL, add SETGID, SETUID, SYS_CHROOT"
    roles = [c for c in checks if c.check == "rbac-scope"]
    assert len(roles) == 2  # agent and kubexec launchers
    assert any("pods/exec: create,get" in c.detail for c in roles)
    (scope,) = [c for c in checks if c.check == "exec-scope"]
    assert scope.detail == "pods/exec on demo-node-0, demo-node-1"
    assert all("namespace recapp-demo" in c.detail for c in roles)


def _hostile(objects):
    objs = copy.deepcopy(objects)
    sts = next(o for o in objs if o["kind"] == "StatefulSet")
    pod = sts["spec"]["template"]["spec"]
    pod["hostPID"] = True
    pod["volumes"].append({"name": "root", "hostPath": {"path": "/"}})
    node = pod["containers"][0]
    node["securityContext"]["privileged"] = True
    node["securityContext"]["capabilities"]["add"].append("SYS_ADMIN")
    node["ports"][0]["hostPort"] = 7450
    objs.append({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "all"},
        "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}],
    })  # fmt: skip
    role = next(o for o in objs if o["kind"] == "Role")
    role["rules"].append({"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]})
    return objs


def test_hostile_manifests_fail_naming_each_problem():
    checks = sec.manifest_checks(_hostile(sec.default_objects(None)))
    failed = {(c.check, c.subject): c for c in checks if c.status == "FAIL"}
    caps = failed[("capabilities", "StatefulSet/demo-node (agent launcher) node")]
    assert "beyond the baseline: SYS_ADMIN" in caps.detail
    iso = failed[("pod-isolation", "StatefulSet/demo-node (agent launcher)")]
    assert set(iso.items) >= {"hostPID: true", "hostPath volume root", "container node privileged",
                              "container node hostPort 7450"}  # fmt: skip
    assert ("rbac-scope", "ClusterRole/all") in failed
    assert "cluster-wide" in failed[("rbac-scope", "ClusterRole/all")].detail
    assert any(s == "Role/demo (agent launcher)" for _c, s in failed)  # secrets: get


def test_manifests_from_a_directory(tmp_path: Path):
    objs = _hostile(sec.default_objects(None))
    (tmp_path / "all.yaml").write_text(yaml.safe_dump_all(objs))
    (tmp_path / "kustomization.yaml").write_text("resources: [all.yaml]\n")
    loaded = sm.load_directory(tmp_path)
    assert len(loaded) == len(objs)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "is not a directory"),
        ("just: a mapping\n", "no Kubernetes objects"),
        ("kind: [unclosed\n", "not valid YAML"),
    ],
)
def test_bad_manifest_directories_are_one_line_errors(tmp_path: Path, content, message):
    target = tmp_path / "m"
    if content is not None:
        target.mkdir()
        (target / "x.yaml").write_text(content)
    with pytest.raises(ConformanceError, match=message) as info:
        sm.load_directory(target)
    assert "\n" not in str(info.value)


def test_getcap_output_is_read_relative_to_the_image_root():
    root = Path("/var/lib/containers/storage/overlay/abc/merged")
    out = f"{root}/usr/bin/newuidmap cap_setuid=ep\n{root}/usr/bin/ping cap_net_raw=ep\n"
    assert si.parse_getcap(out, root) == {
        "/usr/bin/newuidmap": "cap_setuid=ep",
        "/usr/bin/ping": "cap_net_raw=ep",
    }


def test_allow_list_is_exact_about_path_kind_and_capability():
    ok = si.PrivilegedFile("/usr/bin/newuidmap", False, False, "cap_setuid=ep")
    setuid_instead = si.PrivilegedFile("/usr/bin/newgidmap", True, False, None)
    wrong_cap = si.PrivilegedFile("/usr/bin/newgidmap", False, False, "cap_sys_admin=ep")
    other = si.PrivilegedFile("/usr/bin/su", True, False, None)
    assert si.not_allowed([ok, setuid_instead, wrong_cap, other], "rec") == [setuid_instead, wrong_cap, other]
    assert si.not_allowed([ok], "app") == [ok]  # an APP may carry none


def test_report_passes_only_without_failures_and_orders_the_table():
    report = SecurityReport(created_at=datetime.now(UTC), checks=[
        SecurityCheck(check="checkov", subject="x", status="SKIP"),
        SecurityCheck(check="sshd-absent", subject="img", status="PASS"),
    ])  # fmt: skip
    assert report.passed
    assert [r[0] for r in table_rows(report)] == ["sshd-absent", "checkov"]
    report.checks.append(SecurityCheck(check="rbac-scope", subject="r", status="FAIL"))
    assert not report.passed and report.counts()["FAIL"] == 1


def _before_issue_15(objects):
    """recapp's objects as they were before the launch-path hardening (issue 15)."""
    objs = copy.deepcopy(objects)
    for obj in objs:
        if obj["kind"] == "Namespace":
            obj["metadata"]["labels"] = {
                k: v for k, v in obj["metadata"]["labels"].items() if not k.startswith("pod-security")
            }
        if obj["kind"] == "Role":
            for rule in obj["rules"]:
                rule.pop("resourceNames", None)
        if obj["kind"] == "NetworkPolicy":
            obj["spec"] = {
                "podSelector": {"matchLabels": {"recapp.io/cluster": "demo"}},
                "policyTypes": ["Ingress"],
                "ingress": [{"from": [{"podSelector": {"matchLabels": {"recapp.io/cluster": "demo"}}}]}],
            }
        template = (obj.get("spec") or {}).get("template")
        if template:
            pod = template["spec"]
            if obj["kind"] == "Job":
                pod["automountServiceAccountToken"] = True
            for ctr in [*pod.get("initContainers", []), *pod["containers"]]:
                ctr.pop("resources", None)
    return objs


def test_the_old_manifests_fail_each_new_check():
    checks = sec.manifest_checks(_before_issue_15(sec.default_objects(None)))
    failed = {c.check for c in checks if c.status == "FAIL"}
    assert failed == {
        "exec-scope",
        "api-token",
        "pod-security-admission",
        "network-policy",
        "resource-limits",
    }
    policy = next(c for c in checks if c.check == "network-policy")
    assert policy.detail == "no Egress; selects pods by shared labels only"


def test_a_render_s_overlay_patches_are_not_read_as_objects(tmp_path):
    from recapp.k8s import render
    from recapp.k8s.spec import load_spec

    spec = load_spec({"name": "demo", "nodes": 2, "rec_image": "localhost/recapp/rec:trixie"})
    render.render_kustomize(spec, tmp_path)
    objects = sm.load_directory(tmp_path)
    assert sorted(o["kind"] for o in objects).count("Job") == 1  # base's Job, not the kubexec patch
    checks = sec.manifest_checks(objects)
    assert [c for c in checks if c.status == "FAIL"] == []
