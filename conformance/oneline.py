"""One line per failing check instead of tracebacks (`--recapp-oneline`, set by `session` unless
RECAPP_DEBUG is set): what failed and what its message says to do. A check's message carries its
fix (e.g. "… is missing (package catatonit)"); a cause shared by several checks, such as a podman
that cannot start a container, is printed once with the checks it broke."""

from __future__ import annotations

import pytest

ONELINE_OPTION = "--recapp-oneline"


def failure_line(longrepr: object) -> str:
    """The first meaningful line of a failure: the assertion's or error's message, not the code."""
    crash = getattr(longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(longrepr)
    for line in text.splitlines():
        line = line.strip()
        if line:
            # "AssertionError: msg" → "msg"; "Failed: msg" (pytest.fail) → "msg"
            for prefix in ("AssertionError: ", "Failed: ", "E   "):
                line = line.removeprefix(prefix)
            return line
    return "failed without a message"


def check_name(nodeid: str) -> str:
    """conformance/images/test_rec.py::test_x → rec: test_x (the file says what is checked)."""
    path, _, name = nodeid.partition("::")
    stem = path.rsplit("/", 1)[-1].removesuffix(".py").removeprefix("test_")
    return f"{stem}: {name}" if name else stem


def grouped(failed: list[tuple[str, str]]) -> list[str]:
    """One line per distinct message, naming every check it failed, in first-seen order."""
    by_message: dict[str, list[str]] = {}
    for name, message in failed:
        by_message.setdefault(message, []).append(name)
    lines = []
    for message, names in by_message.items():
        if len(names) == 1:
            lines.append(f"FAIL {names[0]}: {message}")
        else:
            lines.append(f"FAIL {len(names)} checks ({', '.join(names)}): {message}")
    return lines


class OneLineSummary:
    """Registered by the plugin when --recapp-oneline is given: collects failures, prints them."""

    def __init__(self) -> None:
        self.failed: list[tuple[str, str]] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.failed:
            self.failed.append((check_name(report.nodeid), failure_line(report.longrepr)))

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        # Only now, before the terminal prints its failures section: the reports (and the JUnit
        # XML written from them) keep their full tracebacks; the terminal shows the lines below.
        session.config.option.tbstyle = "no"

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if not self.failed:
            return
        for line in grouped(self.failed):
            terminalreporter.write_line(line)
        terminalreporter.write_line("tracebacks: run the same command with RECAPP_DEBUG=1")


def configure(config: pytest.Config) -> None:
    if config.getoption(ONELINE_OPTION):  # off with RECAPP_DEBUG=1: pytest's own tracebacks
        config.pluginmanager.register(OneLineSummary(), "recapp-oneline-summary")
