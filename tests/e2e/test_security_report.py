"""`recapp conformance security` on real images: the default REC and APP (their recipes strip every
setuid bit, so only the allow-listed file capabilities remain), and a REC made insecure on purpose
(sshd, root user, a setuid shell). The launch-agent attacks run against each REC's own agent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.reliability]

REC = "localhost/recapp/rec:trixie"
APP = "localhost/recapp/app-mpi:trixie"


def _by(report: dict, check: str) -> list[dict]:
    return [c for c in report["checks"] if c["check"] == check]


def _report(run_recapp, *args: str, tmp_path: Path) -> tuple[int, dict]:
    out = tmp_path / "security.json"
    result = run_recapp("conformance", "security", *args, "--no-checkov", "--out", str(out), timeout=300)
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, json.loads(out.read_text())


def test_default_images(default_images, run_recapp, tmp_path):
    code, report = _report(run_recapp, "--rec", REC, "--app", APP, tmp_path=tmp_path)
    assert [c["status"] for c in _by(report, "sshd-absent")] == ["PASS", "PASS"]
    assert [c["status"] for c in _by(report, "user-non-root")] == ["PASS", "PASS"]
    attacks = _by(report, "agent-auth")
    assert len(attacks) >= 12 and {c["status"] for c in attacks} == {"PASS"}, attacks
    # The recipes strip Debian's setuid su, mount, passwd, …: only the two file capabilities remain.
    rec_files, app_files = (
        next(c for c in _by(report, "privileged-files") if c["subject"] == image) for image in (REC, APP)
    )
    assert rec_files["items"] == [
        "ALLOWED /usr/bin/newgidmap (cap_setgid=ep)",
        "ALLOWED /usr/bin/newuidmap (cap_setuid=ep)",
    ]
    assert rec_files["status"] == "PASS", rec_files
    assert app_files["status"] == "PASS" and not app_files["items"], app_files
    assert code == 0, [c for c in report["checks"] if c["status"] == "FAIL"]


def test_insecure_rec_fails_naming_each_problem(engine, default_images, run_recapp, scratch_images, tmp_path):
    tag = "localhost/recapp-test/rec-insecure:trixie"
    scratch_images.append(tag)
    (tmp_path / "Containerfile").write_text(
        f"FROM {REC}\nUSER root\n"
        "RUN cp /bin/true /usr/sbin/sshd && cp /bin/bash /usr/local/bin/rootshell"
        " && chmod 4755 /usr/local/bin/rootshell\n"
    )  # the image's user stays root
    engine.podman("build", "-q", "-t", tag, str(tmp_path), timeout=300)
    code, report = _report(run_recapp, "--rec", tag, tmp_path=tmp_path)
    assert code == 1
    sshd = _by(report, "sshd-absent")[0]
    assert sshd["status"] == "FAIL" and "/usr/sbin/sshd" in sshd["items"]
    assert _by(report, "user-non-root")[0]["status"] == "FAIL"
    assert "NOT ALLOWED /usr/local/bin/rootshell (setuid)" in _by(report, "privileged-files")[0]["items"]


def test_bad_input_is_one_line_exit_2(default_images, run_recapp, tmp_path):
    for args, message in (
        (("--rec", APP), "is labelled 'app', not 'rec'"),
        (("--app", "localhost/recapp-test/no-such:1"), "not found"),
        (("--manifests", str(tmp_path / "nowhere")), "is not a directory"),
    ):
        line = run_recapp("conformance", "security", *args, "--no-checkov").error_line()
        assert message in line, line
