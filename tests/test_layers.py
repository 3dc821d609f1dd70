"""The rooms point one way: CLI → conformance/reports → builder/k8s → host → recipes.

import-linter cannot see packages mapped from other folders (recapp.builder lives in builder/),
so this reads every module's imports with ast and checks the contract itself.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

ROOMS = {
    "recapp.cli": ROOT / "recapp" / "cli",
    "recapp.host": ROOT / "recapp" / "host",
    "recapp.builder": ROOT / "builder",
    "recapp.k8s": ROOT / "k8s",
    "recapp.conformance": ROOT / "conformance",
    "recapp.reports": ROOT / "reports",
    "recapp.recipes": ROOT / "recipes",
}

# room → rooms it must never import
FORBIDDEN = {
    "recapp.host": ["recapp.cli", "recapp.builder", "recapp.k8s", "recapp.conformance", "recapp.reports"],
    "recapp.builder": ["recapp.cli", "recapp.k8s", "recapp.conformance", "recapp.reports"],
    "recapp.k8s": ["recapp.cli", "recapp.builder", "recapp.conformance", "recapp.reports"],
    # conformance writes result records in the schema reports/ owns; never the other way round.
    "recapp.conformance": ["recapp.cli"],
    "recapp.reports": ["recapp.cli", "recapp.builder", "recapp.k8s", "recapp.conformance"],
    "recapp.recipes": [
        "recapp.cli",
        "recapp.host",
        "recapp.builder",
        "recapp.k8s",
        "recapp.conformance",
        "recapp.reports",
    ],
}
UI_LIBRARIES = ("typer", "rich")


def imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def room_modules(room: str) -> list[Path]:
    return sorted(ROOMS[room].rglob("*.py"))


@pytest.mark.parametrize("room", sorted(FORBIDDEN))
def test_room_imports_point_one_way(room: str) -> None:
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in room_modules(room)
        for name in imports_of(path)
        if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN[room])
    ]
    assert not offenders, "; ".join(offenders)


@pytest.mark.parametrize("room", sorted(set(ROOMS) - {"recapp.cli"}))
def test_only_the_cli_imports_ui_libraries(room: str) -> None:
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in room_modules(room)
        for name in imports_of(path)
        if name.split(".")[0] in UI_LIBRARIES
    ]
    assert not offenders, "; ".join(offenders)


def test_the_checker_sees_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from recapp.k8s import objects\nimport rich.console\n")
    assert {"recapp.k8s", "rich.console"} <= imports_of(bad)
