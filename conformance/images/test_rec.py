"""REC image checks: PRRTE runs, the PMIx server is the labelled one, the unprivileged user can run
a nested container with default outer settings, no sshd, non-root by default."""

from __future__ import annotations

import pytest

from recapp.conformance.images import facts
from recapp.conformance.images.nesting import nested_run_report
from recapp.host import images
from recapp.k8s.constants import LOGIN_INIT_COMMAND

pytestmark = pytest.mark.rec


@pytest.mark.parametrize("binary", ["prterun", "prte", "prted"])
def test_prrte_binary_runs(rec_host, rec_labels, binary):
    cmd = rec_host.run(f"{binary} --version")
    assert cmd.rc == 0, f"{binary} --version failed (exit {cmd.rc}): {cmd.stderr.strip()[:200]}"
    version = facts.prrte_version(cmd.stdout)
    labelled = rec_labels.get("io.recapp.version.prrte")
    assert version, f"{binary} --version printed no PRRTE version: {cmd.stdout[:200]!r}"
    if labelled:
        assert version == labelled, f"{binary} reports PRRTE {version}, the image label says {labelled}"


def test_pmix_version_matches_label(rec_host, rec_labels):
    cmd = rec_host.run("pmix_info")
    assert cmd.rc == 0, f"pmix_info failed (exit {cmd.rc}): {cmd.stderr.strip()[:200]}"
    reported = facts.pmix_info_version(cmd.stdout)
    assert reported, "pmix_info reported no PMIX version line"
    labelled = rec_labels.get("io.recapp.version.pmix")
    if labelled is None:
        pytest.skip("image has no io.recapp.version.pmix label (not built by recapp); reported " + reported)
    # Debian's pmix_info says '5.0.7a1' for the 5.0.7 release: compare the numeric release.
    assert facts.numeric_core(reported) == facts.numeric_core(labelled), (
        f"PMIx server library is {reported}, the image label says {labelled}"
    )


def test_no_sshd(rec_root):
    assert not rec_root.exists("sshd"), "sshd is on PATH in the REC"
    assert not rec_root.file("/usr/sbin/sshd").exists, "/usr/sbin/sshd exists in the REC"
    assert not rec_root.package("openssh-server").is_installed, "openssh-server is installed in the REC"


def test_default_user_is_not_root(rec_image, rec_host):
    user = (images.inspect(rec_image) or {}).get("Config", {}).get("User", "")
    assert not facts.is_root_user(user), f"REC image's default user is root ({user!r})"
    assert rec_host.user().uid != 0, "REC container runs as uid 0 by default"


def test_newuidmap_uses_file_capabilities(rec_root):
    for tool, cap in (("/usr/bin/newuidmap", "cap_setuid"), ("/usr/bin/newgidmap", "cap_setgid")):
        f = rec_root.file(tool)
        assert f.exists, f"{tool} is missing (package uidmap)"
        assert f.mode & 0o4000 == 0, f"{tool} is setuid-root: nested user namespaces need file capabilities"
        caps = rec_root.run(f"getcap {tool}").stdout
        assert cap in caps, f"{tool} lacks the {cap} file capability: {caps.strip()!r}"


def test_login_init_is_present(rec_host):
    # The login pod's PID 1 (k8s constants LOGIN_INIT_COMMAND): it reaps what every job leaves.
    init = rec_host.file(LOGIN_INIT_COMMAND[0])
    assert init.exists and init.mode & 0o111, f"{LOGIN_INIT_COMMAND[0]} is missing (package catatonit)"


def test_unprivileged_user_runs_nested_container(rec_image, rec_labels, pytestconfig):
    report = nested_run_report(rec_image, rec_labels, pytestconfig.getoption("--nest-image"))
    assert report.ok, report.message
