"""`recapp conformance images` on a broken image: one line per failing check with its fix, no
tracebacks (they come back with RECAPP_DEBUG=1)."""

from __future__ import annotations

import pytest

from recapp.conformance.oneline import check_name, failure_line, grouped


class Crash:
    def __init__(self, message: str) -> None:
        self.message = message


class Repr:
    def __init__(self, message: str) -> None:
        self.reprcrash = Crash(message)


def test_failure_line_is_the_message_not_the_assert_expression() -> None:
    text = "AssertionError: /usr/bin/catatonit is missing (package catatonit)\nassert (False)\n + where …"
    assert failure_line(Repr(text)) == "/usr/bin/catatonit is missing (package catatonit)"
    assert failure_line("Failed: --rec-image x: image not found") == "--rec-image x: image not found"
    assert failure_line(Repr("\n\n")) == "failed without a message"


def test_check_name_keeps_the_file_and_the_test() -> None:
    assert check_name("conformance/images/test_rec.py::test_login[prte]") == "rec: test_login[prte]"


def test_a_shared_cause_is_one_line_naming_every_check() -> None:
    netavark = "podman run -d: exit 127: Error: netavark: No such file or directory (os error 2)"
    lines = grouped([("rec: a", netavark), ("rec: b", "x is missing"), ("rec: c", netavark)])
    assert lines == [f"FAIL 2 checks (rec: a, rec: c): {netavark}", "FAIL rec: b: x is missing"]


@pytest.mark.e2e
def test_images_on_a_base_image_fail_one_line_each(engine, run_recapp, tmp_path) -> None:
    image = "localhost/recapp/base:trixie"  # a plain Debian: none of the REC's programs
    if not engine.image_exists(image):
        pytest.skip(f"{image} missing (recapp doctor builds it)")
    junit = tmp_path / "junit.xml"
    result = run_recapp("conformance", "images", "--rec-image", image, "--junit", str(junit), timeout=600)
    assert result.returncode == 1
    fails = [ln for ln in result.stdout.splitlines() if ln.startswith("FAIL ")]
    assert "FAIL rec: test_login_init_is_present: /usr/bin/catatonit is missing (package catatonit)" in fails
    assert (
        "FAIL rec: test_newuidmap_uses_file_capabilities: /usr/bin/newuidmap is missing (package uidmap)"
        in fails
    )
    prterun = "prterun --version failed (exit 127): /bin/sh: 1: prterun: not found"
    assert f"FAIL rec: test_prrte_binary_runs[prterun]: {prterun}" in fails
    assert len(fails) >= 6
    for text in (result.stdout, result.stderr):
        assert "Traceback" not in text and "def test_" not in text and "\nE   " not in text
    assert "tracebacks: run the same command with RECAPP_DEBUG=1" in result.stdout
    assert "def test_login_init_is_present" in junit.read_text()  # CI's JUnit keeps the tracebacks
    debug = run_recapp("conformance", "images", "--rec-image", image, env={"RECAPP_DEBUG": "1"}, timeout=600)
    assert debug.returncode == 1
    assert "def test_login_init_is_present" in debug.stdout
