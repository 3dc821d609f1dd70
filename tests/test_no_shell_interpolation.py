"""Names reach a shell nowhere unquoted: recapp never runs `shell=True`, and a script given to
`sh -c` is a constant (or an f-string of constants); values travel as positional arguments ("$@")."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [
    p for room in ("recapp", "builder", "k8s", "conformance", "reports") for p in (ROOT / room).rglob("*.py")
]

pytestmark = pytest.mark.reliability


def _interpolated_names(node: ast.JoinedStr) -> list[str]:
    """Expressions inside an f-string that are not constants (NAME, module.NAME, NAME[0], …)."""
    found = []
    for value in node.values:
        if not isinstance(value, ast.FormattedValue):
            continue
        expr = value.value
        while isinstance(expr, ast.Subscript):
            expr = expr.value
        if isinstance(expr, ast.Name) and expr.id.isupper():
            continue
        if isinstance(expr, ast.Attribute) and expr.attr.isupper():
            continue
        found.append(ast.unparse(value.value))
    return found


def test_no_shell_true_and_no_interpolated_sh_c_scripts():
    problems = []
    for path in SOURCES:
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.keyword)
                and node.arg == "shell"
                and not (isinstance(node.value, ast.Constant) and node.value.value is False)
            ):
                problems.append(f"{path.relative_to(ROOT)}:{node.value.lineno}: shell=...")
            if isinstance(node, ast.List | ast.Tuple):
                items = node.elts
                for i, item in enumerate(items[:-1]):
                    if isinstance(item, ast.Constant) and item.value == "-c":
                        script = items[i + 1]
                        if isinstance(script, ast.JoinedStr) and _interpolated_names(script):
                            problems.append(
                                f"{path.relative_to(ROOT)}:{script.lineno}: sh -c f-string with "
                                f"{', '.join(_interpolated_names(script))}"
                            )
    # The security report's attack script sends such a string to the agent, which must refuse it.
    problems = [p for p in problems if not p.startswith("conformance/agent_attacks.py")]
    assert problems == []
