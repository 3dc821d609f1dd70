"""Authenticated requests that still must not start anything: the agent's allow-list and parser.

Each case is a command a holder of the secret might send. None may run a shell, change how
the program is resolved, or start anything but the allowed `prted`; each is refused with one
line naming the reason and exit status 255, and nothing it asked for happens.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import Agent

NOT_ALLOWED = "is not allowed (allowed: prted)"

# (command words as handed to recapp-launch after HOST, reason the agent must give).
# Filled in with str.format: {marker} must never be created, {victim} never removed, {impostor}
# is a different file named prted ({{ and }} are literal braces).
CASES = [
    (["bash", "-c", "touch {marker}"], f"command 'bash' {NOT_ALLOWED}"),
    (["/bin/sh", "-c", "prted"], f"command '/bin/sh' {NOT_ALLOWED}"),
    (["exec", "bash"], f"command 'bash' {NOT_ALLOWED}"),
    (["prted; rm -rf {victim}"], f"command 'rm' {NOT_ALLOWED}"),
    (["prted;", "touch", "{marker}"], f"command 'touch' {NOT_ALLOWED}"),
    (["prted; prted"], "only one command may be started per request"),
    (["prted", "&&", "touch", "{marker}"], "shell operator '&&' is not supported"),
    (["prted", "||", "touch", "{marker}"], "shell operator '||' is not supported"),
    (["prted", "|", "tee", "{marker}"], "shell operator '|' is not supported"),
    (["prted", ">", "{marker}"], "shell operator '>' is not supported"),
    (["prted", "&", "touch", "{marker}"], "shell operator '&' is not supported"),
    (["(touch {marker})"], "shell operator '(' is not supported"),
    (["prted", "$(touch {marker})"], "command substitution is not allowed"),
    (['prted "$(touch {marker})"'], "command substitution is not allowed"),
    (["prted", "`touch {marker}`"], "command substitution is not allowed"),
    (["prted\ntouch {marker}"], "control characters (such as newlines) are not allowed in the command"),
    (["prted", "$HOME"], "shell expansion ('$') is not supported in argument '$HOME'"),
    (["PATH=/evil", "prted"], "environment variable 'PATH' may not be set (allowed: PRTE_*, PMIX_*, OMPI_*)"),
    (
        ["PATH=/evil;export PATH;prted"],
        "environment variable 'PATH' may not be set (allowed: PRTE_*, PMIX_*, OMPI_*)",
    ),
    (
        ["export PATH=/evil;prted"],
        "environment variable 'PATH' may not be set (allowed: PRTE_*, PMIX_*, OMPI_*)",
    ),
    (
        ["LD_PRELOAD=/tmp/evil.so", "prted"],
        "environment variable 'LD_PRELOAD' may not be set (allowed: PRTE_*, PMIX_*, OMPI_*)",
    ),
    (["PRTE_X=$(touch {marker})", "prted"], "command substitution is not allowed"),
    (['"PATH=/evil"', "prted"], f"command 'PATH=/evil' {NOT_ALLOWED}"),
    (["./prted"], f"command './prted' {NOT_ALLOWED}"),
    (["{impostor}"], f"command '{{impostor}}' {NOT_ALLOWED}"),
    (["prted", "*"], "filename expansion ('*') is not supported"),
    (["~/prted"], "tilde expansion ('~') is not supported"),
    (["PRTE_PREFIX=~/x", "prted"], "tilde expansion ('~') is not supported"),
    (["prted", "{{a,b}}"], "brace expansion ('{{') is not supported"),
    (["prted", "#", "touch", "{marker}"], "comments ('#') are not supported"),
    (["setenv PRTE_PREFIX /usr;prted"], f"command 'setenv' {NOT_ALLOWED}"),
    (["cd /no/such/dir;prted"], "cd: no such directory on this node: /no/such/dir"),
    (["PRTE_PREFIX=/usr;export PRTE_PREFIX"], "no command to run"),
]


@pytest.fixture(scope="module")
def targets(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    base = tmp_path_factory.mktemp("targets")
    victim = base / "victim"
    victim.mkdir()
    impostor = base / "elsewhere" / "prted"
    impostor.parent.mkdir()
    impostor.write_text("#!/bin/sh\ntouch marker\n")
    impostor.chmod(0o755)
    yield {"marker": base / "marker", "victim": victim, "impostor": impostor}


@pytest.mark.parametrize(("words", "reason"), CASES, ids=[" ".join(words)[:40] for words, _ in CASES])
def test_refused_with_reason_and_nothing_happens(
    shared_agent: Agent, targets: dict[str, Path], words: list[str], reason: str
) -> None:
    def fill(text: str) -> str:
        return text.format(**{name: str(path) for name, path in targets.items()})

    result = shared_agent.launch("127.0.0.1", *map(fill, words))

    assert result.returncode == 255
    assert result.stdout == b""
    assert result.stderr.decode() == f"recapp-launch: refused by 127.0.0.1: {fill(reason)}\n"
    assert not targets["marker"].exists()
    assert targets["victim"].is_dir()
    assert shared_agent.runs() == []
