"""The rooms point one way: CLI → conformance → bench → builder/k8s → host → recipes; reports beside.

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
    "recapp.bench": ROOT / "bench",
    "recapp.conformance": ROOT / "conformance",
    "recapp.reports": ROOT / "reports",
    "recapp.recipes": ROOT / "recipes",
    "recapp.workloads": ROOT / "workloads",
}

# room → rooms it must never import
FORBIDDEN = {
    "recapp.host": [
        "recapp.cli",
        "recapp.builder",
        "recapp.k8s",
        "recapp.bench",
        "recapp.conformance",
        "recapp.reports",
    ],
    "recapp.builder": ["recapp.cli", "recapp.k8s", "recapp.bench", "recapp.conformance", "recapp.reports"],
    "recapp.k8s": ["recapp.cli", "recapp.builder", "recapp.bench", "recapp.conformance", "recapp.reports"],
    # The suite's workload checks measure through bench; bench never reaches back into the suite.
    "recapp.bench": ["recapp.cli", "recapp.builder", "recapp.conformance"],
    # conformance writes result records in the schema reports/ owns; never the other way round.
    "recapp.conformance": ["recapp.cli"],
    "recapp.reports": ["recapp.cli", "recapp.builder", "recapp.k8s", "recapp.bench", "recapp.conformance"],
    # A workload's parsers write figures in the schema reports/ owns; the cluster, bench and the suite
    # read workloads, never the other way round.
    "recapp.workloads": ["recapp.cli", "recapp.builder", "recapp.k8s", "recapp.bench", "recapp.conformance"],
    "recapp.recipes": [
        "recapp.cli",
        "recapp.workloads",
        "recapp.host",
        "recapp.builder",
        "recapp.k8s",
        "recapp.bench",
        "recapp.conformance",
        "recapp.reports",
    ],
}
# room → modules of a forbidden room it may still import.
ALLOWED = {
    # A job writes its result record (Cluster → Job → Result record): the schema, not the renderers.
    "recapp.k8s": ["recapp.reports.records"],
}
UI_LIBRARIES = ("typer", "rich")


def imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from a.b import c` is a.b.c: a submodule or a name of a.b, inside a.b either way.
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _within(name: str, modules: list[str]) -> bool:
    return any(name == m or name.startswith(m + ".") for m in modules)


def room_modules(room: str) -> list[Path]:
    return sorted(ROOMS[room].rglob("*.py"))


@pytest.mark.parametrize("room", sorted(FORBIDDEN))
def test_room_imports_point_one_way(room: str) -> None:
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in room_modules(room)
        for name in imports_of(path)
        if _within(name, FORBIDDEN[room]) and not _within(name, ALLOWED.get(room, []))
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


def test_the_builder_reads_workloads_through_the_registry_only() -> None:
    """The builder finds sources and recipes with recapp.workloads (folders and YAML), which imports
    no other room: so building an image never imports a parser, the cluster or the reports."""
    registry = ROOT / "workloads" / "__init__.py"
    assert {n.rsplit(".", 1)[0] for n in imports_of(registry) if n.startswith("recapp")} == {"recapp.errors"}
    submodules = {p.stem for p in (ROOT / "workloads").iterdir() if p.suffix == ".py" or p.is_dir()}
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in room_modules("recapp.builder")
        for name in imports_of(path)
        if name.startswith("recapp.workloads.") and name.split(".")[2] in submodules - {"__init__"}
    ]
    assert not offenders, "; ".join(offenders)


def test_the_checker_sees_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from recapp.k8s import objects\nimport rich.console\n")
    assert {"recapp.k8s.objects", "rich.console"} <= imports_of(bad)


def test_one_line_callback_type() -> None:
    """`Callable[[str], None]` (progress steps, output lines) is declared once, in recapp/host/progress.py."""
    declared = [
        f"{path.relative_to(ROOT)}:{n}"
        for room in ROOMS
        for path in room_modules(room)
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if "Callable[[str], None]" in line
    ]
    assert declared == ["recapp/host/progress.py:10"], declared


def test_one_cluster_backend_factory() -> None:
    """Only k8s/backends.py picks a cluster backend by name (the builder has its own, for build backends)."""
    makers = [
        f"{path.relative_to(ROOT)}"
        for room in ROOMS
        for path in room_modules(room)
        if "LocalBackend()" in path.read_text()
    ]
    assert makers == ["k8s/backends.py"], makers
