"""The security report: the facts that make the separated model safe, gathered into one record.

images     sshd absent; default user not root; setuid/setgid/file-capability files only where
           allow-listed (a REC's newuidmap/newgidmap)                    (security_images.py)
manifests  capabilities each container asks for; privileged, host namespaces, hostPath, host
           ports; RBAC scope                                             (security_manifests.py)
agent      the attacks of agent_attacks.py, run inside a REC container against its own launch
           agent on 127.0.0.1 (no network: --network none)
checkov    the scan of the manifests with recapp's waivers               (k8s/security_scan.py)
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from recapp import LABEL_PREFIX
from recapp.conformance import agent_attacks, containers
from recapp.conformance import security_images as si
from recapp.conformance import security_manifests as sm
from recapp.errors import ConformanceError, RecappError
from recapp.host import engine, images
from recapp.host.names import check_image_ref
from recapp.host.progress import Step
from recapp.host.runner import run
from recapp.k8s import objects as o
from recapp.k8s import pki, render
from recapp.k8s import security_scan as scan
from recapp.k8s.spec import load_spec
from recapp.node import install as node_install
from recapp.node import protocol
from recapp.reports.security import SecurityCheck, SecurityReport

AGENT_PORT = protocol.AGENT_PORT
SECRET_PATH = "/tmp/recapp-security-secret"
TLS_PATH = "/tmp/recapp-security-tls"  # ca.crt, node.crt/.key, launcher.crt/.key, foreign/…
REC_NODE_LIB = f"{node_install.PREFIX}/{node_install.LIB_DIR}"


# --- images ---------------------------------------------------------------------------------------


def image_checks(ref: str, kind: str) -> list[SecurityCheck]:
    facts = si.image_facts(ref)
    sshd = [*facts.sshd_paths, *(["package openssh-server"] if facts.openssh_server_installed else [])]
    checks = [
        SecurityCheck(
            check="sshd-absent",
            subject=ref,
            status="FAIL" if sshd else "PASS",
            detail=f"found: {', '.join(sshd)}" if sshd else "no sshd binary, openssh-server not installed",
            items=sshd,
        ),
        SecurityCheck(
            check="user-non-root",
            subject=ref,
            status="FAIL" if si.is_root(facts.user) else "PASS",
            detail=f"default user {facts.user or '(none: root)'}",
        ),
    ]
    bad = si.not_allowed(facts.privileged, kind)
    allowed = [f for f in facts.privileged if f not in bad]
    detail = f"allow-listed: {', '.join(f.describe() for f in allowed) or 'none'}"
    if bad:
        detail = f"{len(bad)} not allow-listed, e.g. {', '.join(f.describe() for f in bad[:3])}; " + detail
    checks.append(
        SecurityCheck(
            check="privileged-files",
            subject=ref,
            status="FAIL" if bad else "PASS",
            detail=detail,
            items=[
                f"{'ALLOWED' if f in allowed else 'NOT ALLOWED'} {f.describe()}" for f in facts.privileged
            ],
        )
    )
    return checks


def image_kind(ref: str, asked: str) -> str:
    """The kind the user says the image is; its label must not say otherwise."""
    labelled = images.labels(ref).get(f"{LABEL_PREFIX}.kind")
    if labelled is not None and labelled != asked:
        raise ConformanceError(f"image {ref!r} is labelled {labelled!r}, not {asked!r}")
    return asked


# --- manifests ------------------------------------------------------------------------------------


def default_objects(rec: str | None) -> list[dict[str, Any]]:
    """recapp's own objects for a 2-node cluster, both launchers (what `cluster render` writes)."""
    spec = load_spec({"name": "demo", "nodes": 2, "rec_image": rec or "localhost/recapp/rec:trixie"})
    out: list[dict[str, Any]] = []
    for launcher in render.OVERLAYS:
        objs = o.cluster_objects(spec.model_copy(update={"launcher": launcher}), agent_secret="0" * 64)
        for obj in objs:
            if obj["kind"] in ("StatefulSet", "Job", "Role"):
                obj["metadata"]["name"] += f" ({launcher} launcher)"
        out += [obj for obj in objs if launcher == "agent" or obj["kind"] in ("Role", "Job")]
    return out


def manifest_checks(objects: list[dict[str, Any]]) -> list[SecurityCheck]:
    checks: list[SecurityCheck] = []
    for template in sm.pod_templates(objects):
        for subject, ok, detail in sm.capability_findings(template):
            checks.append(
                SecurityCheck(
                    check="capabilities", subject=subject, status="PASS" if ok else "FAIL", detail=detail
                )
            )
        problems = sm.isolation_problems(template)
        checks.append(
            SecurityCheck(
                check="pod-isolation",
                subject=template.owner,
                status="FAIL" if problems else "PASS",
                detail="; ".join(problems) if problems else sm.isolation_summary(template),
                items=problems,
            )
        )
    for template in sm.pod_templates(objects):
        for check, (ok, detail) in (
            ("api-token", sm.token_findings(template)),
            ("resource-limits", sm.resource_findings(template)),
        ):
            checks.append(
                SecurityCheck(
                    check=check, subject=template.owner, status="PASS" if ok else "FAIL", detail=detail
                )
            )
    for check, findings in (
        ("pod-security-admission", sm.pod_security_findings(objects)),
        ("network-policy", sm.network_policy_findings(objects)),
        ("exec-scope", sm.exec_scope_findings(objects)),
    ):
        checks += [
            SecurityCheck(check=check, subject=f.subject, status="PASS" if f.ok else "FAIL", detail=f.detail)
            for f in findings
        ]
    rbac = sm.rbac_findings(objects)
    checks += [
        SecurityCheck(
            check="rbac-scope", subject=f.subject, status="PASS" if f.ok else "FAIL", detail=f.detail
        )
        for f in rbac
    ]
    if not rbac:
        checks.append(
            SecurityCheck(check="rbac-scope", subject="(manifests)", status="INFO", detail="no RBAC objects")
        )
    return checks


def checkov_check(manifests: Path | None, rec: str | None) -> SecurityCheck:
    subject = str(manifests) if manifests else "rendered objects (both launchers)"
    try:
        if manifests is None:
            spec = load_spec({"name": "demo", "nodes": 2, "rec_image": rec or "localhost/recapp/rec:trixie"})
            result = scan.scan_spec(spec)
        elif (manifests / render.MARKER_FILE).is_file():
            result = scan.scan_render(manifests)
        else:
            result = scan.scan_directory(manifests)
    except RecappError as exc:
        return SecurityCheck(check="checkov", subject=subject, status="FAIL", detail=f"scan failed: {exc}")
    waived_ids = sorted({f.check_id for f in result.waived})
    detail = (
        f"{len(result.findings)} failed check(s): {len(result.waived)} waived"
        f" ({', '.join(waived_ids) or 'none'}; reasons in k8s/checkov-waivers.yaml),"
        f" {len(result.unwaived)} not waived"
    )
    return SecurityCheck(
        check="checkov",
        subject=subject,
        status="PASS" if result.ok else "FAIL",
        detail=detail,
        items=[str(f) for f in result.unwaived],
    )


# --- the launch agent ------------------------------------------------------------------------------


def attack_tls_files() -> dict[str, str]:
    """A throwaway cluster's TLS files as the attack script expects them (relative path -> PEM)."""
    files: dict[str, str] = {}
    for where, cluster in (("", "security-report"), ("foreign/", "foreign")):
        ca = pki.make_ca(cluster, 1)
        node = pki.issue_node_cert(ca, "node", ["node", "localhost", "127.0.0.1"])
        launcher = pki.issue_client_cert(ca)
        files[f"{where}ca.crt"] = ca.cert_pem.decode()
        for name, issued in (("node", node), ("launcher", launcher)):
            files[f"{where}{name}.crt"] = issued.cert_pem.decode()
            files[f"{where}{name}.key"] = issued.key_pem.decode()
    return files


def agent_checks(rec: str, *, timeout_s: float = 30) -> list[SecurityCheck]:
    """Start the REC's own agent in a throwaway container (no network) and attack it on 127.0.0.1."""
    script = Path(agent_attacks.__file__).read_text(encoding="utf-8")
    with containers.running(rec, extra=["--network", "none"]) as ctr:
        containers.podman(
            "exec", ctr, "sh", "-c",
            f"umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \\n' > {SECRET_PATH}"
            f" && mkdir -p {TLS_PATH}/foreign",
        )  # fmt: skip
        for rel, pem in attack_tls_files().items():
            run(
                [
                    "podman",
                    "exec",
                    "-i",
                    ctr,
                    "sh",
                    "-c",
                    'umask 077; cat > "$1"',
                    "sh",
                    f"{TLS_PATH}/{rel}",
                ],
                env=engine.settings().env,
                input=pem,
                error=ConformanceError,
                timeout=60,
            )
        tls = ["--tls-dir", TLS_PATH, "--tls-name", "node"]
        containers.podman(
            "exec", "-d", ctr, "recapp-agent", "serve", "--port", str(AGENT_PORT), "--bind", "127.0.0.1",
            "--secret-file", SECRET_PATH, *tls,
        )  # fmt: skip
        deadline = time.monotonic() + timeout_s
        ping = ["exec", ctr, "recapp-agent", "ping", "--port", str(AGENT_PORT), "--secret-file", SECRET_PATH]
        ping += tls
        while engine.podman(*ping, check=False).returncode != 0:
            if time.monotonic() > deadline:
                raise ConformanceError(f"the launch agent of {rec} did not answer within {timeout_s:.0f} s")
            time.sleep(0.3)
        proc = run(
            # The script imports recapp.node.protocol: the REC's own copy of the node package.
            [
                "podman",
                "exec",
                "-i",
                "-e",
                f"PYTHONPATH={REC_NODE_LIB}",
                ctr,
                "python3",
                "-",
                str(AGENT_PORT),
                SECRET_PATH,
                TLS_PATH,
            ],
            env=engine.settings().env,
            input=script,
            check=False,
            timeout=120,
            error=ConformanceError,
        )
    if proc.returncode != 0:
        raise ConformanceError(f"agent attacks in {rec} failed: {proc.stderr.strip().splitlines()[-1:]}")
    checks = []
    for line in proc.stdout.splitlines():
        result = json.loads(line)
        ok = result["outcome"] == result["expect"]
        detail = f"{result['outcome']} (expected {result['expect']})"
        if result["reason"]:
            detail += f": {result['reason']}"
        checks.append(
            SecurityCheck(
                check="agent-auth", subject=result["attack"], status="PASS" if ok else "FAIL", detail=detail
            )
        )
    return checks


# --- the whole report ------------------------------------------------------------------------------


def security_report(
    *,
    rec: str | None,
    app: str | None,
    manifests: Path | None,
    checkov: bool = True,
    step: Step | None = None,
) -> SecurityReport:
    say = step or (lambda _t: None)
    # Refuse bad input before anything runs.
    for option, ref in (("--rec", rec), ("--app", app)):
        if ref is not None:
            check_image_ref(ref, error=ConformanceError, what=option)
    objects = sm.load_directory(manifests) if manifests is not None else default_objects(rec)
    for ref in (r for r in (rec, app) if r):
        if images.image_id(ref) is None:
            raise ConformanceError(f"image {ref!r} not found in the local image store")
    if rec:
        image_kind(rec, "rec")
    if app:
        image_kind(app, "app")
    report = SecurityReport(
        created_at=datetime.now(UTC),
        rec=rec,
        app=app,
        manifests=str(manifests) if manifests else "rendered from the cluster spec",
    )
    for ref, kind in ((rec, "rec"), (app, "app")):
        if ref:
            say(f"scanning {ref}")
            report.checks += image_checks(ref, kind)
    report.checks += manifest_checks(objects)
    if rec:
        say(f"attacking the launch agent of {rec}")
        report.checks += agent_checks(rec)
    else:
        report.checks.append(
            SecurityCheck(
                check="agent-auth", subject="(no REC)", status="SKIP", detail="give --rec to attack its agent"
            )
        )
    if checkov:
        say("checkov")
        report.checks.append(checkov_check(manifests, rec))
    else:
        report.checks.append(
            SecurityCheck(check="checkov", subject="-", status="SKIP", detail="--no-checkov")
        )
    return report
