"""`recapp doctor`'s checks: the judges on fake hosts (passing and failing), the gathering on this host."""

from __future__ import annotations

import json
import resource
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from recapp.cli import doctor_cmd
from recapp.cli.main import app
from recapp.host import checks, engine
from recapp.host.checks import (
    GIB,
    DiskPlace,
    Finding,
    OverlayFacts,
    RuntimeFacts,
    SmokeFacts,
    Status,
    SubidFacts,
    UlimitFacts,
    UsernsFacts,
)
from recapp.host.runner import run

HYBRID = engine.CgroupLayout("hybrid")
V2 = engine.CgroupLayout("v2")
CONF = Path("/state/engine/containers.conf")

PROC_LIMITS = """\
Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max processes             32768                32768                processes
Max open files            20000                20000                files
Max locked memory         8388608              8388608              bytes
"""


# ---------------------------------------------------------------- helpers


@pytest.mark.parametrize(
    ("text", "version"),
    [
        ("podman version 4.3.1\n", "4.3.1"),
        ("buildah version 1.28.2 (image-spec 1.1.0-rc2, runtime-spec 1.0.2-dev)\n", "1.28.2"),
        ("runc version 1.1.5+ds1\ncommit: 1.1.5+ds1-1+deb12u1\nspec: 1.0.2-dev\n", "1.1.5+ds1"),
        ("mmdebstrap 1.3.5\n", "1.3.5"),
        ("crun version 1.21\ncommit: 10269840\nspec: 1.0.0\n", "1.21"),
        ("no version here\n1.2.3\n", None),
        ("", None),
    ],
)
def test_parse_version(text: str, version: str | None) -> None:
    assert checks.parse_version(text) == version


def test_kernel_version() -> None:
    assert checks.kernel_version("6.18.44-fc-v657") == (6, 18)
    assert checks.kernel_version("5.10.0-28-amd64") == (5, 10)
    assert checks.kernel_version("weird") is None


def test_host_ok_fails_only_on_fail() -> None:
    ok = Finding("a", Status.OK, "")
    assert checks.host_ok([ok, Finding("b", Status.WARN, ""), Finding("c", Status.SKIP, "")])
    assert not checks.host_ok([ok, Finding("d", Status.FAIL, "")])


def test_finding_as_dict_is_plain_strings() -> None:
    data = Finding("disk", Status.WARN, "low", "prune").as_dict()
    assert data == {"name": "disk", "status": "warn", "detail": "low", "fix": "prune"}
    assert json.loads(json.dumps(data))["status"] == "warn"


def test_guarded_turns_an_oserror_into_a_fail() -> None:
    def broken() -> Finding:
        raise PermissionError(13, "Permission denied", "/etc/subuid")

    finding = checks.guarded("subids", broken)
    assert finding.status is Status.FAIL
    assert finding.name == "subids"
    assert "/etc/subuid" in finding.detail


# ---------------------------------------------------------------- 1. engine


def test_engine_ok_lists_versions() -> None:
    tools = {"podman": "4.3.1", "buildah": "1.28.2", "mmdebstrap": "1.3.5", "newuidmap": "", "newgidmap": ""}
    finding = checks.judge_engine(tools)
    assert finding.status is Status.OK
    assert finding.detail == "found: podman 4.3.1, buildah 1.28.2, mmdebstrap 1.3.5, newuidmap, newgidmap"
    assert finding.fix == ""


def test_engine_without_podman_fails() -> None:
    tools = {"podman": None, "buildah": "1.28.2", "mmdebstrap": None, "newuidmap": "", "newgidmap": ""}
    finding = checks.judge_engine(tools)
    assert finding.status is Status.FAIL
    assert "missing: podman, mmdebstrap" in finding.detail
    assert finding.fix == "apt-get install podman mmdebstrap"


def test_engine_without_uidmap_warns_with_one_package() -> None:
    tools = {
        "podman": "4.3.1",
        "buildah": "1.28.2",
        "mmdebstrap": "1.3.5",
        "newuidmap": None,
        "newgidmap": None,
    }
    finding = checks.judge_engine(tools)
    assert finding.status is Status.WARN
    assert finding.fix == "apt-get install uidmap"


# ---------------------------------------------------------------- 2. OCI runtime


def test_runtime_hybrid_with_runc_is_ok_and_explains_crun() -> None:
    finding = checks.judge_runtime(RuntimeFacts(HYBRID, {"runc": "1.1.5"}, "runc"))
    assert finding.status is Status.OK
    assert "recapp uses runc" in finding.detail
    assert "cgroups in hybrid mode not supported" in finding.detail


def test_runtime_hybrid_with_only_crun_fails() -> None:
    finding = checks.judge_runtime(RuntimeFacts(HYBRID, {"crun": "1.8"}, "crun"))
    assert finding.status is Status.FAIL
    assert "no usable OCI runtime" in finding.detail
    assert "hybrid mode not supported" in finding.detail
    assert finding.fix == "apt-get install runc"


def test_runtime_none_installed_fails() -> None:
    finding = checks.judge_runtime(RuntimeFacts(V2, {}, "runc"))
    assert finding.status is Status.FAIL
    assert "installed: none" in finding.detail


def test_runtime_v2_with_crun_is_ok() -> None:
    finding = checks.judge_runtime(RuntimeFacts(V2, {"crun": "1.21", "runc": "1.1.5"}, "crun"))
    assert finding.status is Status.OK
    assert "recapp uses crun" in finding.detail
    assert "hybrid" not in finding.detail


# ---------------------------------------------------------------- 3. ulimits


def ulimits(**kw: object) -> UlimitFacts:
    base: dict[str, object] = {
        "hard_nofile": 20000,
        "hard_nproc": 96551,
        "nofile": 20000,
        "nproc": 32768,
        "conf_path": CONF,
        "podman_hard": {"nofile": 20000, "nproc": 32768},
    }
    return UlimitFacts(**{**base, **kw})  # type: ignore[arg-type]


def test_parse_proc_limits() -> None:
    assert checks.parse_proc_limits(PROC_LIMITS) == {"nofile": 20000, "nproc": 32768}
    unlimited = "Max processes             unlimited            unlimited            processes\n"
    assert checks.parse_proc_limits(unlimited) == {"nproc": None}


def test_ulimits_below_podman_defaults_explains_recapps_conf() -> None:
    finding = checks.judge_ulimits(ulimits())
    assert finding.status is Status.OK
    assert "nofile=20000:20000 nproc=32768:32768" in finding.detail
    assert str(CONF) in finding.detail
    assert "podman lowers its own to 32768" in finding.detail
    assert "/etc is left alone" in finding.detail
    assert f"CONTAINERS_CONF={CONF}" in finding.fix


def test_ulimits_above_podmans_own_ceiling_fails() -> None:
    # What recapp first passed on this host: the shell's nproc hard limit, above podman's own.
    finding = checks.judge_ulimits(ulimits(nproc=96551))
    assert finding.status is Status.FAIL
    assert "nproc=96551 > 32768" in finding.detail
    assert "containers cannot start" in finding.detail


def test_ulimits_above_host_hard_limit_fails() -> None:
    finding = checks.judge_ulimits(ulimits(nofile=1048576, podman_hard=None, podman_error="podman not found"))
    assert finding.status is Status.FAIL
    assert "nofile=1048576 > 20000" in finding.detail
    assert "not measured (podman not found)" in finding.detail


def test_ulimits_unlimited_host_keeps_podman_defaults() -> None:
    facts = ulimits(
        hard_nofile=None,
        hard_nproc=None,
        nofile=engine.PODMAN_DEFAULT_NOFILE,
        nproc=engine.PODMAN_DEFAULT_NPROC,
        podman_hard={"nofile": None, "nproc": None},
    )
    finding = checks.judge_ulimits(facts)
    assert finding.status is Status.OK
    assert finding.detail.endswith("podman's defaults fit")
    assert finding.fix == ""


def test_ulimits_tiny_nofile_warns() -> None:
    facts = ulimits(hard_nofile=1024, nofile=1024, podman_hard={"nofile": 1024, "nproc": 32768})
    finding = checks.judge_ulimits(facts)
    assert finding.status is Status.WARN
    assert "below 4096" in finding.detail


# ---------------------------------------------------------------- 4. user namespaces


def test_userns_enabled() -> None:
    finding = checks.judge_userns(UsernsFacts(96551, None, None))
    assert finding.status is Status.OK
    assert finding.detail == "user.max_user_namespaces=96551: enabled"


@pytest.mark.parametrize(
    ("facts", "fix_part"),
    [
        (UsernsFacts(None, None, None), "CONFIG_USER_NS"),
        (UsernsFacts(0, None, None), "user.max_user_namespaces=15000"),
        (UsernsFacts(15000, 0, None), "kernel.unprivileged_userns_clone=1"),
    ],
)
def test_userns_disabled_fails(facts: UsernsFacts, fix_part: str) -> None:
    finding = checks.judge_userns(facts)
    assert finding.status is Status.FAIL
    assert fix_part in finding.fix


def test_userns_apparmor_restriction_warns() -> None:
    finding = checks.judge_userns(UsernsFacts(15000, 1, 1))
    assert finding.status is Status.WARN
    assert "apparmor_restrict_unprivileged_userns=0" in finding.fix


def test_gather_userns_reads_the_sysctl_files(tmp_path: Path) -> None:
    (tmp_path / "user").mkdir()
    (tmp_path / "kernel").mkdir()
    (tmp_path / "user/max_user_namespaces").write_text("0\n")
    (tmp_path / "kernel/unprivileged_userns_clone").write_text("1\n")
    assert checks.gather_userns(tmp_path) == UsernsFacts(0, 1, None)


# ---------------------------------------------------------------- 5. subids


def test_parse_subids_skips_junk() -> None:
    text = "alice:100000:65536\n# comment\nbroken\n1000:165536:65536\nbob:x:1\n"
    assert checks.parse_subids(text) == [("alice", 100000, 65536), ("1000", 165536, 65536)]


def test_ids_for_matches_name_or_uid() -> None:
    entries = [("alice", 100000, 65536), ("1000", 165536, 65536), ("bob", 231072, 10)]
    assert checks.ids_for(entries, "alice", 1000) == 131072
    assert checks.ids_for(entries, "bob", 1001) == 10
    assert checks.ids_for(entries, "carol", None) == 0


def test_next_free_range_starts_after_the_last_range() -> None:
    assert checks.next_free_range([]) == (100000, 165535)
    assert checks.next_free_range([("a", 100000, 65536), ("b", 300000, 65536)]) == (365536, 431071)


def test_subids_missing_for_root_warns_with_the_command() -> None:
    finding = checks.judge_subids(SubidFacts([("root", 0)], subuid="", subgid=""))
    assert finding.status is Status.WARN
    assert "root 0 uids/0 gids" in finding.detail
    assert finding.fix == "usermod --add-subuids 100000-165535 --add-subgids 100000-165535 root"


def test_subids_partial_only_asks_for_what_is_missing() -> None:
    facts = SubidFacts(
        [("root", 0), ("alice", 1000)], subuid="root:100000:65536\n", subgid="alice:100000:65536\n"
    )
    finding = checks.judge_subids(facts)
    assert finding.status is Status.WARN
    assert finding.fix == (
        "usermod --add-subgids 165536-231071 root; usermod --add-subuids 165536-231071 alice"
    )


def test_subids_suggested_ranges_do_not_overlap() -> None:
    facts = SubidFacts([("root", 0), ("alice", 1000)], subuid="", subgid="")
    assert checks.judge_subids(facts).fix == (
        "usermod --add-subuids 100000-165535 --add-subgids 100000-165535 root; "
        "usermod --add-subuids 165536-231071 --add-subgids 165536-231071 alice"
    )


def test_subids_present_is_ok() -> None:
    facts = SubidFacts([("root", 0)], subuid="0:100000:65536\n", subgid="root:100000:65536\n")
    finding = checks.judge_subids(facts)
    assert finding.status is Status.OK
    assert finding.fix == ""


def test_gather_subids_includes_sudo_user(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "subuid").write_text("root:100000:65536\n")
    monkeypatch.setenv("SUDO_USER", "nobody-such-user-xyz")
    facts = checks.gather_subids(tmp_path)
    names = [name for name, _uid in facts.users]
    assert names[0] == "root"
    assert ("nobody-such-user-xyz", None) in facts.users
    assert facts.subuid == "root:100000:65536\n"
    assert facts.subgid == ""  # absent file reads as empty


# ---------------------------------------------------------------- 6. overlay in a user namespace


def test_overlay_probe_ok() -> None:
    finding = checks.judge_overlay(OverlayFacts("6.18.44", True))
    assert finding.status is Status.OK
    assert "live probe" in finding.detail


def test_overlay_probe_failure_fails() -> None:
    finding = checks.judge_overlay(OverlayFacts("6.1.0", False, "mount: permission denied"))
    assert finding.status is Status.FAIL
    assert "mount: permission denied" in finding.detail


def test_overlay_without_probe_falls_back_to_kernel_version() -> None:
    new = checks.judge_overlay(OverlayFacts("5.15.0-91-generic", None, "unshare not found (util-linux)"))
    old = checks.judge_overlay(OverlayFacts("5.10.0-28-amd64", None, "unshare not found (util-linux)"))
    assert new.status is Status.OK
    assert "kernel >= 5.13" in new.detail
    assert old.status is Status.WARN
    assert "unshare not found" in old.detail


def test_overlay_probe_argv_passes_all_dirs() -> None:
    argv = checks.overlay_probe_argv("/usr/bin/unshare", Path("/s/p"))
    assert argv[:4] == ["/usr/bin/unshare", "--user", "--map-root-user", "--mount"]
    assert argv[4:] == [
        "mount", "-t", "overlay", "overlay", "-o",
        "lowerdir=/s/p/lower,upperdir=/s/p/upper,workdir=/s/p/work", "/s/p/merged",
    ]  # fmt: skip


def test_overlay_probe_refuses_paths_that_break_mount_options() -> None:
    ok, why = checks.probe_overlay_in_userns(Path("/tmp/a,b"))
    assert ok is None
    assert "unusable" in why


# ---------------------------------------------------------------- 7. disk


@pytest.mark.parametrize(
    ("free_gib", "status"), [(100, Status.OK), (20, Status.OK), (10, Status.WARN), (4.9, Status.FAIL)]
)
def test_disk_thresholds(free_gib: float, status: Status) -> None:
    places = [
        DiskPlace("images", "/var/lib/containers/storage", int(free_gib * GIB)),
        DiskPlace("state", "/s", 50 * GIB),
    ]
    finding = checks.judge_disk(places)
    assert finding.status is status
    if status is not Status.OK:
        assert "/var/lib/containers/storage" in finding.fix


def test_disk_fail_wins_over_warn_and_unmeasured() -> None:
    places = [
        DiskPlace("images", "(podman storage)", None, "podman info: exit 125"),
        DiskPlace("state", "/s", 1 * GIB),
    ]
    finding = checks.judge_disk(places)
    assert finding.status is Status.FAIL
    assert "not measured (podman info: exit 125)" in finding.detail


def test_disk_unmeasured_warns() -> None:
    finding = checks.judge_disk([DiskPlace("images", "(podman storage)", None, "podman not found")])
    assert finding.status is Status.WARN


def test_free_bytes_of_a_path_not_yet_created(tmp_path: Path) -> None:
    assert checks.free_bytes(tmp_path / "not" / "yet") == checks.free_bytes(tmp_path)


# ---------------------------------------------------------------- 8. smoke run


def test_pick_smoke_image_prefers_recapp_trixie() -> None:
    local = ["localhost/exp/rec:trixie", "localhost/recapp/base:sid", "localhost/recapp/base:trixie"]
    assert checks.pick_smoke_image(local) == "localhost/recapp/base:trixie"
    assert checks.pick_smoke_image(["localhost/recapp/base:sid", "x:1"]) == "localhost/recapp/base:sid"
    assert (
        checks.pick_smoke_image(["<none>:<none>", "localhost/exp/rec:trixie"]) == "localhost/exp/rec:trixie"
    )
    assert checks.pick_smoke_image(["<none>:<none>"]) is None


def test_smoke_argv_carries_ulimits_and_name() -> None:
    settings = engine.EngineSettings("runc", 20000, 32768, HYBRID, CONF)
    argv = checks.smoke_argv("img:1", "helper-x", settings)
    assert argv[:3] == ["podman", "run", "--rm"]
    assert argv[argv.index("--name") + 1] == "helper-x"
    assert "nofile=20000:20000" in argv
    assert "nproc=32768:32768" in argv
    assert argv[-2:] == ["img:1", "true"]


def test_smoke_without_image_is_skipped_with_reason() -> None:
    finding = checks.judge_smoke(SmokeFacts(image=None, message="no local image"))
    assert finding.status is Status.SKIP
    assert finding.detail == "skipped: no local image"
    assert "recapp base" in finding.fix


def test_smoke_success() -> None:
    finding = checks.judge_smoke(SmokeFacts("img:1", 0, "", 0.42, "runc"))
    assert finding.status is Status.OK
    assert "0.4 s" in finding.detail
    assert "runtime runc" in finding.detail


def test_smoke_rlimit_failure_points_at_ulimits() -> None:
    message = (
        "Error: runc: runc create failed: unable to start container process: error during container init: "
        "error setting rlimits for ready process: error setting rlimit type 6: operation not permitted"
    )
    finding = checks.judge_smoke(SmokeFacts("img:1", 126, message, 0.2, "runc"))
    assert finding.status is Status.FAIL
    assert "exit 126" in finding.detail
    assert "ulimits" in finding.fix


# ---------------------------------------------------------------- the CLI


def fake_findings(status: Status) -> list[Finding]:
    return [
        Finding("engine", Status.OK, "found: podman 4.3.1"),
        Finding("disk", status, "3.0 GiB free", "prune"),
    ]


def test_cli_json_and_exit_code_on_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(doctor_cmd, "_probe_image", lambda: ("img", ""))
    monkeypatch.setattr(doctor_cmd, "run_checks", lambda **_: fake_findings(Status.FAIL))
    result = CliRunner().invoke(app, ["doctor", "--json"])
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["ok"] is False
    assert data["findings"][1] == {"name": "disk", "status": "fail", "detail": "3.0 GiB free", "fix": "prune"}


def test_cli_table_prints_fixes_and_exits_zero_on_warn(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(doctor_cmd, "_probe_image", lambda: ("img", ""))
    monkeypatch.setattr(doctor_cmd, "run_checks", lambda **_: fake_findings(Status.WARN))
    result = CliRunner().invoke(app, ["doctor"])
    assert result.exit_code == 0
    assert "warn disk: prune" in result.stdout
    assert "engine" in result.stdout


# ---------------------------------------------------------------- the real host


def proc_self_hard(name: str) -> int | None:
    """The hard limit as /proc reports it: a source independent of the resource module."""
    return checks.parse_proc_limits(Path("/proc/self/limits").read_text())[name]


def test_real_userns_and_subids_gathering() -> None:
    facts = checks.gather_userns()
    assert facts.max_user_namespaces == int(Path("/proc/sys/user/max_user_namespaces").read_text())
    subids = checks.gather_subids()
    assert ("root", 0) in subids.users


@pytest.mark.e2e
def test_real_runtime_follows_the_cgroup_layout() -> None:
    facts = checks.gather_runtime(engine.settings())
    hybrid = (
        Path("/sys/fs/cgroup/unified").is_dir() and not Path("/sys/fs/cgroup/cgroup.controllers").exists()
    )
    if hybrid:  # this host: crun cannot run here, so runc it must be
        assert facts.cgroups.version == "hybrid"
        assert facts.chosen == "runc"
    assert checks.judge_runtime(facts).status is Status.OK


@pytest.mark.e2e
def test_real_ulimits_fit_podmans_own_limits() -> None:
    settings = engine.settings()
    facts = checks.gather_ulimits(settings)
    assert facts.hard_nofile == proc_self_hard("nofile")  # 20000 on this host
    assert facts.podman_hard is not None, facts.podman_error
    own_nproc = facts.podman_hard["nproc"]
    assert own_nproc is None or settings.nproc <= own_nproc
    assert checks.judge_ulimits(facts).status is Status.OK


@pytest.mark.e2e
def test_real_doctor_passes_on_this_host_within_20_s() -> None:
    # 20 s, not 5: the network probe starts two containers on a network of its own (about 4 s quiet).
    start = time.monotonic()
    findings = checks.run_checks(smoke_name="helper-doctor-smoke")
    elapsed = time.monotonic() - start
    by_name = {f.name: f for f in findings}
    assert list(by_name) == [
        "engine", "oci-runtime", "ulimits", "user-namespaces",
        "subids", "overlay-userns", "disk", "smoke-run", "network",
    ]  # fmt: skip
    failed = {f.name: f.detail for f in findings if f.status is Status.FAIL}
    assert failed == {}
    assert checks.host_ok(findings)
    assert by_name["smoke-run"].status in (Status.OK, Status.SKIP)
    assert by_name["network"].status is Status.OK, by_name["network"].detail
    assert elapsed < 20.0


@pytest.mark.e2e
def test_real_smoke_run_leaves_no_container() -> None:
    settings = engine.settings()
    facts = checks.gather_smoke(settings, "helper-doctor-smoke-left")
    if facts.image is None:
        pytest.skip("no local image to run: `recapp base` creates localhost/recapp/base:trixie")
    assert facts.returncode == 0, facts.message
    listed = run(
        ["podman", "ps", "-a", "--filter", "name=helper-doctor-smoke-left", "--format", "{{.Names}}"],
        env=settings.env,
    )
    assert listed.stdout.strip() == ""


def test_hard_limits_agree_between_sources() -> None:
    # Guards the independent source used above against a misparse.
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert proc_self_hard("nofile") == (None if hard == resource.RLIM_INFINITY else hard)
