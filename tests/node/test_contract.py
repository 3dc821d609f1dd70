"""The node package's contracts: stdlib only, port and secret path written once, no Python in recipes/.

The node programs run inside the REC, where only the standard library exists; the rest of recapp
may import recapp.node, never the other way round. A constant that is copied drifts, so the agent's
port and secret path are defined in node/protocol.py alone (templates get them rendered).
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from recapp.node import protocol

ROOT = Path(__file__).resolve().parents[2]
NODE = ROOT / "node"
PROTOCOL = NODE / "protocol.py"
SKIP_DIRS = {".git", ".venv", "__pycache__", "build", "golden", "captured"}
# What the grep looks for: the agent's port as a number of its own, and the secret's path.
DEFINITIONS = {
    "port": re.compile(rf"(?<![\d.]){protocol.AGENT_PORT}(?![\d.])"),
    "secret path": re.compile(re.escape(protocol.SECRET_FILE)),
}
# In tests an expected value may be spelt out (that is how a test pins a rendered object); a test
# that defines its own constant for it is a copy.
TEST_CONSTANT = re.compile(r"^\s*[A-Z_][A-Z0-9_]*\s*(?::[^=]+)?=")


def imports_of(path: Path) -> list[tuple[str, int]]:
    """(module, level) for every import in the file; level > 0 is a relative import."""
    out: list[tuple[str, int]] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            out += [(alias.name, 0) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            out.append((node.module or "", node.level))
    return out


def stdlib_offenders(root: Path) -> list[str]:
    return [
        f"{path.relative_to(root).as_posix()} imports {name}"
        for path in sorted(root.rglob("*.py"))
        for name, level in imports_of(path)
        if level == 0 and name.split(".")[0] not in sys.stdlib_module_names
    ]


def test_node_modules_import_only_the_standard_library_or_each_other() -> None:
    assert sorted(NODE.rglob("*.py")), "no modules found under node/"
    assert stdlib_offenders(NODE) == []


def test_the_import_checker_sees_a_violation(tmp_path: Path) -> None:
    (tmp_path / "bad.py").write_text("import json\nfrom . import protocol\nfrom recapp.k8s import objects\n")
    (tmp_path / "worse.py").write_text("import yaml\n")
    assert stdlib_offenders(tmp_path) == ["bad.py imports recapp.k8s", "worse.py imports yaml"]


def repository_files(root: Path) -> list[Path]:
    """The repository's files as git sees them (tracked or new, not ignored: no caches, no build output)."""
    listing = subprocess.run(
        ["git", "-C", str(root), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        check=False,
    )
    if listing.returncode == 0:
        return sorted(root / rel for rel in listing.stdout.decode().split("\0") if rel)
    return sorted(path for path in root.rglob("*") if path.is_file())  # not a git checkout


def text_files(root: Path) -> list[Path]:
    out = []
    for path in repository_files(root):
        rel = path.relative_to(root)
        if not path.is_file() or SKIP_DIRS & set(rel.parts) or rel.parts[0].endswith(".egg-info"):
            continue
        try:
            path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue  # binaries, archives
        out.append(path)
    return out


def copies(root: Path, protocol_file: Path) -> list[str]:
    """Lines outside protocol_file that define the agent's port or secret path again."""
    found = []
    for path in text_files(root):
        if path == protocol_file:
            continue
        rel = path.relative_to(root).as_posix()
        in_tests = rel.startswith("tests/")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for what, pattern in DEFINITIONS.items():
                if pattern.search(line) and (not in_tests or TEST_CONSTANT.match(line)):
                    found.append(f"{rel}:{number}: {what}: {line.strip()}")
    return found


def test_port_and_secret_path_are_defined_once() -> None:
    assert PROTOCOL.read_text().count(f"AGENT_PORT: Final = {protocol.AGENT_PORT}\n") == 1
    assert copies(ROOT, PROTOCOL) == []


def test_the_grep_sees_a_copy(tmp_path: Path) -> None:
    (tmp_path / "k8s").mkdir()
    (tmp_path / "k8s" / "constants.py").write_text(f"PORT = {protocol.AGENT_PORT}\nOTHER = 74501\n")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_x.py").write_text(
        f'SECRET = "{protocol.SECRET_FILE}"\n    assert port == {protocol.AGENT_PORT}\n'
    )
    assert copies(tmp_path, tmp_path / "protocol.py") == [
        f"k8s/constants.py:1: port: PORT = {protocol.AGENT_PORT}",
        f'tests/test_x.py:1: secret path: SECRET = "{protocol.SECRET_FILE}"',
    ]


def holds_python(path: Path) -> bool:
    try:
        text = path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return False
    first = text.splitlines()[0] if text else ""
    if first.startswith("#!") and "python" in first:
        return True
    return bool(re.search(r"^(import \w+|from [\w.]+ import |def \w+\(.*\)( -> .+)?:$)", text, re.MULTILINE))


def test_no_program_in_recipes_holds_python_without_a_py_suffix() -> None:
    offenders = [
        path.relative_to(ROOT).as_posix()
        for path in sorted((ROOT / "recipes").rglob("*"))
        if path.is_file() and path.suffix != ".py" and "__pycache__" not in path.parts and holds_python(path)
    ]
    assert offenders == []


@pytest.mark.parametrize(
    ("text", "python"),
    [
        ("#!/usr/bin/python3\nprint(1)\n", True),
        ("#!/bin/sh\nimport_thing() { :; }\n", False),
        ('"""doc"""\nfrom __future__ import annotations\n', True),
        ("#!/bin/bash\nset -euo pipefail\nexec podman run --rm x\n", False),
    ],
)
def test_the_python_detector(tmp_path: Path, text: str, python: bool) -> None:
    path = tmp_path / "program"
    path.write_text(text)
    assert holds_python(path) is python
