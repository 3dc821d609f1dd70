"""checkov over the rendered manifests: the default cluster passes with only waived checks, a
privileged pod fails with the check named, and the waiver file itself is well-formed.

checkov runs from its own venv (see security_scan.py); the first run here creates it with pip
(about a minute) under $RECAPP_CHECKOV_VENV or recapp's state dir.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from recapp.errors import ClusterError
from recapp.k8s import render
from recapp.k8s import security_scan as scan
from recapp.k8s.spec import ClusterSpec

SECRET = "0123456789abcdef" * 4

PRIVILEGED_POD = """apiVersion: v1
kind: Pod
metadata:
  name: bad
  namespace: recapp-demo
spec:
  containers:
  - name: c
    image: registry.example.org/x@sha256:{digest}
    securityContext:
      privileged: true
""".format(digest="0" * 64)


@pytest.fixture(scope="session")
def checkov() -> Path:
    return scan.ensure_checkov()


# --- the waiver file ------------------------------------------------------------------------------


def test_the_shipped_waivers_load_and_each_has_a_reason() -> None:
    waivers = scan.load_waivers()
    assert set(waivers) == {
        "CKV_K8S_8", "CKV_K8S_11", "CKV_K8S_15", "CKV_K8S_20", "CKV_K8S_22", "CKV_K8S_25", "CKV_K8S_40",
        "CKV_K8S_43", "CKV2_K8S_6",
    }  # fmt: skip
    assert all(len(w.reason) > 80 and "\n" not in w.reason for w in waivers.values())
    # What only the node pods need is waived for the node pods only.
    assert waivers["CKV_K8S_20"].pods == ["node"]
    assert waivers["CKV_K8S_25"].pods == ["node"]
    assert "CKV_K8S_38" not in waivers  # no pod automounts an API token any more


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "waivers:\n  CKV_AWS_1:\n    reason: a reason that is long enough\n",
            "'CKV_AWS_1' is not a checkov Kubernetes",
        ),
        (
            "waivers:\n  CKV_K8S_1:\n    reason: short\n",
            "CKV_K8S_1.reason: String should have at least 20 characters",
        ),
        (
            "waivers:\n  CKV_K8S_1:\n    reason: a reason that is long enough\n    pod: [node]\n",
            "CKV_K8S_1.pod: Extra",
        ),
        (
            "waivers:\n  CKV_K8S_1:\n    reason: a reason that is long enough\n    pods: [nodes]\n",
            "CKV_K8S_1.pods.0: ",
        ),
        ("- just a list\n", "expected a mapping"),
    ],
)
def test_malformed_waivers_are_named(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "waivers.yaml"
    path.write_text(text)
    with pytest.raises(ClusterError) as info:
        scan.load_waivers(path)
    assert str(info.value).startswith(f"waivers {path}: ")
    assert message in str(info.value)


# --- reading checkov's report ---------------------------------------------------------------------


def test_resource_ids_as_checkov_writes_them() -> None:
    assert scan.parse_resource("StatefulSet.recapp-demo.demo-node") == (
        "StatefulSet",
        "recapp-demo",
        "demo-node",
    )
    assert scan.parse_resource("overlay:overlays/kubexec:Job.recapp-demo.demo-login") == (
        "Job", "recapp-demo", "demo-login",
    )  # fmt: skip
    graph = "base:Pod.recapp-demo.demo-node.app.kubernetes.io/name-recapp.recapp.io/cluster-demo"
    assert scan.parse_resource(graph) == ("Pod", "recapp-demo", "demo-node")


def finding(check_id: str, name: str) -> scan.Finding:
    return scan.Finding(check_id, "a check", f"X.ns.{name}", "X", name, "/f.yaml")


def test_waivers_scoped_to_node_pods_do_not_cover_the_login_pod() -> None:
    waivers = {
        "CKV_K8S_20": scan.Waiver(reason="node pods need file capabilities", pods=["node"]),
        "CKV_K8S_43": scan.Waiver(reason="digests are the user's to give"),
        "CKV_K8S_99": scan.Waiver(reason="fails nowhere in this report"),
    }
    result = scan.apply_waivers(
        [
            finding("CKV_K8S_20", "demo-node"),
            finding("CKV_K8S_20", "demo-login"),
            finding("CKV_K8S_43", "demo-login"),
        ],
        waivers,
    )
    assert [(f.check_id, f.name) for f in result.unwaived] == [("CKV_K8S_20", "demo-login")]
    assert [(f.check_id, f.name) for f in result.waived] == [
        ("CKV_K8S_20", "demo-node"),
        ("CKV_K8S_43", "demo-login"),
    ]
    assert result.unused_waivers == ("CKV_K8S_99",)
    error = result.error()
    assert error is not None
    assert (
        str(error)
        == "security scan: 1 failed check(s) not waived: CKV_K8S_20 a check (X/demo-login in /f.yaml)"
    )


def test_failed_checks_from_reports() -> None:
    report = {
        "check_type": "kubernetes",
        "results": {
            "failed_checks": [
                {"check_id": "CKV_K8S_16", "check_name": "Container should not be privileged",
                 "resource": "Pod.ns.bad", "file_path": "/pod.yaml", "severity": None},
            ]
        },
        "summary": {"passed": 1, "failed": 1, "parsing_errors": 0},
    }  # fmt: skip
    empty_summary = {"passed": 0, "failed": 0, "parsing_errors": 0, "resource_count": 0}
    found = scan.failed_checks([report, empty_summary])
    assert [(f.check_id, f.kind, f.name, f.file) for f in found] == [
        ("CKV_K8S_16", "Pod", "bad", "/pod.yaml")
    ]
    with pytest.raises(ClusterError, match=r"checkov could not parse 2 file"):
        scan.failed_checks({"summary": {"parsing_errors": 2}, "results": {}})


# --- checkov itself -------------------------------------------------------------------------------


def test_default_cluster_objects_pass_with_only_waived_checks(
    make_spec: Callable[..., ClusterSpec], checkov: Path
) -> None:
    result = scan.scan_spec(make_spec(), checkov=checkov)
    assert result.ok, str(result.error())
    assert result.findings, "checkov reported nothing: did it scan anything?"
    assert result.unused_waivers == ()  # every waiver is still needed


@pytest.mark.skipif(
    shutil.which("kubectl") is None and shutil.which("kustomize") is None,
    reason="checkov's kustomize framework runs kubectl or kustomize, and neither is on PATH",
)
def test_rendered_layout_passes_with_only_waived_checks(
    make_spec: Callable[..., ClusterSpec], checkov: Path, tmp_path: Path
) -> None:
    render.render_kustomize(make_spec(), tmp_path / "out", agent_secret=SECRET)
    result = scan.scan_render(tmp_path / "out", checkov=checkov)
    assert result.ok, str(result.error())
    overlays = {f.file for f in result.findings}
    assert {"/overlays/agent/kustomization.yaml", "/overlays/kubexec/kustomization.yaml"} <= overlays


def test_a_privileged_pod_fails_with_the_check_named(checkov: Path, tmp_path: Path) -> None:
    (tmp_path / "pod.yaml").write_text(PRIVILEGED_POD)
    result = scan.scan_directory(tmp_path, checkov=checkov)
    assert not result.ok
    assert "CKV_K8S_16" in result.failed_ids()
    privileged = next(f for f in result.unwaived if f.check_id == "CKV_K8S_16")
    assert str(privileged) == "CKV_K8S_16 Container should not be privileged (Pod/bad in /pod.yaml)"
    error = result.error()
    assert error is not None and error.hint is not None
    assert "CKV_K8S_16 Container should not be privileged" in error.hint


def test_scan_render_refuses_a_directory_recapp_did_not_write(tmp_path: Path) -> None:
    with pytest.raises(ClusterError, match=r"is not a recapp render \(no \.recapp-render\)"):
        scan.scan_render(tmp_path, checkov=Path("/nonexistent/checkov"))
