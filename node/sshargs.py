"""An ssh-style argv, as PRRTE's plm/ssh hands it to its `plm_ssh_agent`: HOST and the command words.

    AGENT [ssh options, ignored] [user@]HOST [ssh options, ignored] COMMAND...

recapp-launch and recapp-kubexec both stand in for ssh, so both read their argv here.
"""

from __future__ import annotations

from dataclasses import dataclass

# ssh(1) options that take a value; every other single-letter option is a flag.
SSH_OPTIONS_WITH_VALUE = frozenset("BbcDEeFIiJLlmOopQRSWw")


class UsageError(Exception):
    """The argv names no host or no command; the message is printed as is."""


@dataclass
class Target:
    host: str  # without user@
    command: list[str]  # the words ssh would join with spaces for the remote shell
    stdin_from_null: bool  # -n


def skip_option(argv: list[str], index: int) -> tuple[int, str]:
    """Index after the option cluster at argv[index] (and its value), and the flags it set."""
    letters = argv[index][1:]
    for position, letter in enumerate(letters):
        if letter in SSH_OPTIONS_WITH_VALUE:
            has_inline_value = position + 1 < len(letters)
            return index + (1 if has_inline_value else 2), letters[:position]
    return index + 1, letters


def parse_ssh_args(argv: list[str], program: str) -> Target:
    """HOST and COMMAND from an ssh-style argv; options may come before and right after HOST."""
    host: str | None = None
    stdin_from_null = False
    index = 0
    while index < len(argv):
        arg = argv[index]
        if arg == "--":
            index += 1
            if host is None and index < len(argv):
                host, index = argv[index], index + 1
            break
        if arg.startswith("-") and len(arg) > 1:
            index, flags = skip_option(argv, index)
            stdin_from_null = stdin_from_null or "n" in flags
            continue
        if host is not None:
            break  # first word of the command
        host, index = arg, index + 1
    if host is None:
        raise UsageError(f"usage: {program} [ssh options] HOST COMMAND...")
    command = argv[index:]
    if not command:
        raise UsageError(f"no command given for {host} (interactive sessions are not supported)")
    return Target(host.rpartition("@")[2], command, stdin_from_null)
