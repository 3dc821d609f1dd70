"""PRRTE's remote command line read into shell words with POSIX sh quoting; never executed by a shell."""

from __future__ import annotations

import re
from dataclasses import dataclass

PROFILE_PRELUDE = "( test ! -r ./.profile || . ./.profile;"
NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class Refusal(Exception):
    """The request is not allowed; the message is shown to the caller as the reason."""

    def __init__(self, reason: str, program: str | None = None) -> None:
        super().__init__(reason)
        self.program = program  # the command at fault, for the log line


@dataclass
class Word:
    text: str  # after quote removal
    expands: bool = False  # holds a `$NAME` / `${NAME}` a shell would expand
    assignment: tuple[str, str] | None = None  # NAME=VALUE written with an unquoted NAME=


@dataclass
class Operator:
    text: str


OPERATOR_CHARS = frozenset(";&|<>()")
BLANKS = frozenset(" \t")
GLOB_CHARS = frozenset("*?[")


class _WordScanner:
    """Reads one shell word starting at `pos`, removing quotes the way POSIX sh does."""

    def __init__(self, line: str, pos: int) -> None:
        self.line, self.pos = line, pos
        self.chars: list[str] = []
        self.expands = False
        self.plain_so_far = True  # no quoting or expansion seen yet: NAME= may start an assignment
        self.assign_name: str | None = None

    def scan(self) -> Word:
        line = self.line
        while self.pos < len(line) and line[self.pos] not in BLANKS and line[self.pos] not in OPERATOR_CHARS:
            char = line[self.pos]
            if char == "'":
                self._single_quoted()
            elif char == '"':
                self._double_quoted()
            elif char == "\\":
                self._escaped()
            elif char in "$`":
                self._expansion()
            else:
                self._plain(char)
        text = "".join(self.chars)
        assignment = None
        if self.assign_name is not None:
            assignment = (self.assign_name, text[len(self.assign_name) + 1 :])
        return Word(text, self.expands, assignment)

    def _plain(self, char: str) -> None:
        if char in GLOB_CHARS:
            raise Refusal(f"filename expansion ({char!r}) is not supported")
        if char == "{":
            raise Refusal("brace expansion ('{') is not supported")
        if char == "~":  # sh expands it at a word's start and after = or : in assignments
            raise Refusal("tilde expansion ('~') is not supported")
        if char == "#" and not self.chars and self.plain_so_far:
            raise Refusal("comments ('#') are not supported")
        if char == "=" and self.plain_so_far and self.assign_name is None:
            name = "".join(self.chars)
            if NAME_RE.fullmatch(name):
                self.assign_name = name
        self.chars.append(char)
        self.pos += 1

    def _single_quoted(self) -> None:
        end = self.line.find("'", self.pos + 1)
        if end < 0:
            raise Refusal("unterminated single quote")
        self.chars.append(self.line[self.pos + 1 : end])
        self.plain_so_far = False
        self.pos = end + 1

    def _double_quoted(self) -> None:
        line, pos = self.line, self.pos + 1
        self.plain_so_far = False
        while pos < len(line) and line[pos] != '"':
            char = line[pos]
            if char == "\\" and pos + 1 < len(line) and line[pos + 1] in '$`"\\':
                self.chars.append(line[pos + 1])
                pos += 2
                continue
            if char in "$`":
                self.pos = pos
                self._expansion()
                pos = self.pos
                continue
            self.chars.append(char)
            pos += 1
        if pos >= len(line):
            raise Refusal("unterminated double quote")
        self.pos = pos + 1

    def _escaped(self) -> None:
        if self.pos + 1 >= len(self.line):
            raise Refusal("trailing backslash")
        self.chars.append(self.line[self.pos + 1])
        self.plain_so_far = False
        self.pos += 2

    def _expansion(self) -> None:
        """`$NAME`/`${NAME}` is kept verbatim and flagged; command substitution is refused."""
        line, pos = self.line, self.pos
        if line[pos] == "`" or line.startswith("$(", pos):
            raise Refusal("command substitution is not allowed")
        self.expands = True
        self.plain_so_far = False
        if line.startswith("${", pos):
            end = line.find("}", pos)
            if end < 0:
                raise Refusal("unterminated '${'")
            self.chars.append(line[pos : end + 1])
            self.pos = end + 1
            return
        match = NAME_RE.match(line, pos + 1)
        end = match.end() if match else pos + 1
        self.chars.append(line[pos:end])
        self.pos = end


def tokenize(line: str) -> list[Word | Operator]:
    """Split a command line into words and operators with POSIX sh quoting rules."""
    for char in line:
        if (ord(char) < 0x20 and char != "\t") or ord(char) == 0x7F:
            raise Refusal("control characters (such as newlines) are not allowed in the command")
    tokens: list[Word | Operator] = []
    pos = 0
    while pos < len(line):
        char = line[pos]
        if char in BLANKS:
            pos += 1
        elif char in OPERATOR_CHARS:
            end = pos
            while end < len(line) and line[end] in OPERATOR_CHARS:
                end += 1
            tokens.append(Operator(line[pos:end]))
            pos = end
        else:
            scanner = _WordScanner(line, pos)
            tokens.append(scanner.scan())
            pos = scanner.pos
    return tokens


def split_statements(tokens: list[Word | Operator]) -> list[list[Word]]:
    """`;`-separated statements; any other operator is refused."""
    statements: list[list[Word]] = [[]]
    for token in tokens:
        if isinstance(token, Word):
            statements[-1].append(token)
        elif token.text == ";":
            statements.append([])
        else:
            raise Refusal(f"shell operator {token.text!r} is not supported")
    return [statement for statement in statements if statement]


def strip_profile_prelude(line: str) -> str:
    """PRRTE wraps the command in `( test ! -r ./.profile || . ./.profile; ... )` for sh/ksh."""
    stripped = line.strip()
    if stripped.startswith(PROFILE_PRELUDE) and stripped.endswith(" )"):
        return stripped[len(PROFILE_PRELUDE) : -2]
    return line
