"""What a launch request may start: the allow-list, the environment rule and the launch plan."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field

from .cmdline import NAME_RE, Refusal, Word, split_statements, strip_profile_prelude, tokenize

DEFAULT_ALLOWED = ("prted",)
PROBE_COMMAND = "echo $SHELL"
PROBE_ANSWER = b"/bin/bash\n"
ALLOWED_ENV_PREFIXES = ("PRTE_", "PMIX_", "OMPI_")
IGNORED_ASSIGNMENTS = frozenset({"LD_LIBRARY_PATH", "DYLD_LIBRARY_PATH"})
# The REC's guards for PRRTE's daemons: one keeps a daemon from signalling its own process group
# (files/rec/killguard.c), one keeps PRRTE 3.0.x's connect from writing past its info array
# (files/rec/infopad.c); one library, preloaded by the agent itself into what it starts. It removes
# itself from the environment, so the ranks (nested in an APP without it) never inherit it.
KILL_GUARD = "/usr/local/lib/recapp/libkillguard.so"


def with_kill_guard(env: dict[str, str], guard: str = KILL_GUARD) -> dict[str, str]:
    """env with the kill guard preloaded where this node has it (a REC built before it has not)."""
    return {**env, "LD_PRELOAD": guard} if os.path.isfile(guard) else env


class AllowList:
    """Executables the agent may start, resolved once on the agent's own PATH."""

    def __init__(self, by_name: dict[str, str]) -> None:
        self.by_name = by_name  # name as written in a command -> resolved real path
        self.real_paths = set(by_name.values())

    @classmethod
    def resolve(cls, specs: list[str], search_path: str | None) -> AllowList:
        by_name: dict[str, str] = {}
        for spec in specs:
            if "/" in spec and not os.path.isabs(spec):
                raise ValueError(f"allowed program {spec!r} must be a bare name or an absolute path")
            found = spec if os.path.isabs(spec) else shutil.which(spec, path=search_path)
            if not found or not os.path.isfile(found) or not os.access(found, os.X_OK):
                raise ValueError(f"allowed program {spec!r} is not an executable on this node's PATH")
            by_name[os.path.basename(spec)] = os.path.realpath(found)
        return cls(by_name)

    def describe(self) -> str:
        return ", ".join(sorted(self.by_name))

    def executable_for(self, program: str) -> str | None:
        if "/" not in program:
            return self.by_name.get(program)
        if os.path.isabs(program) and os.path.realpath(program) in self.real_paths:
            return os.path.realpath(program)
        return None

    def check(self, program: str) -> str:
        executable = self.executable_for(program)
        if executable is None:
            raise Refusal(f"command {program!r} is not allowed (allowed: {self.describe()})", program)
        return executable


def env_decision(name: str, expands: bool) -> bool:
    """True to apply NAME=..., False to ignore it; refuses names that could change resolution."""
    if name in IGNORED_ASSIGNMENTS:
        return False
    if not name.startswith(ALLOWED_ENV_PREFIXES):
        allowed = ", ".join(f"{prefix}*" for prefix in ALLOWED_ENV_PREFIXES)
        raise Refusal(f"environment variable {name!r} may not be set (allowed: {allowed})")
    if expands:
        raise Refusal(f"shell expansion ('$') is not supported in the value of {name}")
    return True


@dataclass
class LaunchPlan:
    executable: str  # resolved path that is executed
    argv: list[str]  # argv[0] as the caller wrote it
    env: dict[str, str] = field(default_factory=dict)  # added to the agent's environment
    ignored: list[str] = field(default_factory=list)
    cwd: str | None = None
    builtin_output: bytes | None = None  # answered by the agent itself (the shell probe)


class _Interpreter:
    """Walks the statements of a parsed command line and builds the one launch it may make."""

    def __init__(self, allow: AllowList, cwd: str) -> None:
        self.allow, self.cwd = allow, cwd
        self.shell_vars: dict[str, str] = {}
        self.env: dict[str, str] = {}
        self.ignored: list[str] = []
        self.plan: LaunchPlan | None = None
        self.builtins: dict[str, Callable[[list[Word]], None]] = {
            "export": self.builtin_export,
            "cd": self.builtin_cd,
        }

    def run(self, statements: list[list[Word]]) -> LaunchPlan:
        for statement in statements:
            self.statement(statement)
        if self.plan is None:
            raise Refusal("no command to run")
        return self.plan

    def statement(self, words: list[Word]) -> None:
        assignments = []
        while words and words[0].assignment is not None:
            assignments.append(words[0])
            words = words[1:]
        if self.plan is not None:
            self.after_command(words or assignments)
        elif not words:
            for word in assignments:
                self.assign(word, self.shell_vars)
        elif (builtin := self.builtins.get(words[0].text)) and not words[0].expands:
            if assignments:
                raise Refusal(f"assignments before {words[0].text!r} are not supported")
            builtin(words[1:])
        else:
            self.command(assignments, words)

    def after_command(self, words: list[Word]) -> None:
        first = words[0].text
        self.allow.check(first)
        raise Refusal("only one command may be started per request", first)

    def assign(self, word: Word, target: dict[str, str]) -> None:
        assert word.assignment is not None
        name, value = word.assignment
        if env_decision(name, word.expands):
            target[name] = value
        else:
            self.ignored.append(name)

    def builtin_export(self, args: list[Word]) -> None:
        for word in args:
            if word.assignment is not None:
                self.assign(word, self.env)
            elif NAME_RE.fullmatch(word.text) and not word.expands:
                if word.text in self.shell_vars:
                    self.env[word.text] = self.shell_vars.pop(word.text)
            else:
                raise Refusal(f"export: unsupported argument {word.text!r}")

    def builtin_cd(self, args: list[Word]) -> None:
        if len(args) != 1 or args[0].expands:
            raise Refusal("cd: expected one literal directory")
        target = os.path.normpath(os.path.join(self.cwd, args[0].text))
        if not os.path.isdir(target):
            raise Refusal(f"cd: no such directory on this node: {args[0].text}")
        self.cwd = target

    def command(self, assignments: list[Word], words: list[Word]) -> None:
        if words[0].text == "exec" and not words[0].expands and len(words) > 1:
            words = words[1:]
        program = words[0]
        if program.expands:
            raise Refusal(f"shell expansion ('$') is not supported in the command name {program.text!r}")
        executable = self.allow.check(program.text)
        for word in assignments:
            self.assign(word, self.env)
        for word in words[1:]:
            if word.expands:
                raise Refusal(f"shell expansion ('$') is not supported in argument {word.text!r}")
        argv = [word.text for word in words]
        self.plan = LaunchPlan(executable, argv, dict(self.env), list(self.ignored), self.cwd)


def plan_launch(
    words: list[str], request_env: dict[str, str], cwd: str | None, allow: AllowList, home: str
) -> LaunchPlan:
    """Decide what a launch request starts, or raise Refusal naming why it may not."""
    line = " ".join(words)  # what ssh hands the remote shell
    if line.strip() == PROBE_COMMAND:
        return LaunchPlan("", ["echo"], builtin_output=PROBE_ANSWER)
    if cwd is not None and not (os.path.isabs(cwd) and os.path.isdir(cwd)):
        raise Refusal(f"working directory {cwd!r} does not exist on this node")
    interpreter = _Interpreter(allow, cwd or home)
    for name, value in request_env.items():
        if not NAME_RE.fullmatch(name):
            raise Refusal(f"invalid environment variable name {name!r}")
        interpreter.assign(Word(f"{name}={value}", False, (name, value)), interpreter.env)
    return interpreter.run(split_statements(tokenize(strip_profile_prelude(line))))


def first_word(words: list[str]) -> str:
    """A short name for the log when the command line could not be parsed into a program."""
    return (" ".join(words).split() or ["-"])[0][:80]
