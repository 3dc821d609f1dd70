"""Preflight rules (recipes/source/rules.yaml): data with sources, each rule shown to refuse and to
allow, and the CLI refusing a forbidden stack before any work (exit 2, one line naming the rule)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from recapp.builder import preflight, source
from recapp.builder.recipe import load

# Facts of a stack → the rule that must refuse it (None: allowed). Versions are upstream releases.
CASES: list[tuple[str, dict[str, str], str | None]] = [
    ("rec default", source.facts(source.stack(load("rec-source"), {})), None),
    ("app default", source.facts(source.stack(load("app-mpi-source"), {})), None),
    ("prrte 3.0.8 on pmix 4.2.2", {"prrte": "3.0.8", "pmix": "4.2.2"}, "prrte-3.0.1-pmix-min"),
    ("prrte 3.0.8 on pmix 4.2.4", {"prrte": "3.0.8", "pmix": "4.2.4"}, None),
    ("prrte 3.0.0 on pmix 4.2.2", {"prrte": "3.0.0", "pmix": "4.2.2"}, None),
    ("prrte 3.0.0 on pmix 4.2.3", {"prrte": "3.0.0", "pmix": "4.2.3"}, "prrte-3.0.0-pmix-4.2.2"),
    ("prrte 3.0.8 on pmix 6.0.0", {"prrte": "3.0.8", "pmix": "6.0.0"}, "prrte3-pmix-below-6"),
    ("prrte 4.0.0 on pmix 6.0.0", {"prrte": "4.0.0", "pmix": "6.0.0"}, None),
    ("ompi 5 on pmix 4.1.2", {"ompi": "5.0.7", "pmix": "4.1.2", "ompi.prrte": "no"}, "ompi5-pmix-min"),
    ("ompi 4 on pmix 4.1.2", {"ompi": "4.1.4", "pmix": "4.1.2"}, None),
    (
        "ompi 5 with an old prrte",
        {"ompi": "5.0.7", "pmix": "4.2.4", "ompi.prrte": "external", "prrte": "2.0.2"},
        "ompi5-prrte-min",
    ),
    (
        "ompi 5 without prrte, old prrte around",
        {"ompi": "5.0.7", "pmix": "4.2.4", "ompi.prrte": "no", "prrte": "2.0.2"},
        None,
    ),
    (
        "external pmix, internal hwloc",
        {"ompi.pmix": "external", "ompi.hwloc": "internal", "ompi.libevent": "external"},
        "external-pmix-external-hwloc-libevent",
    ),
    (
        "internal pmix, internal hwloc",
        {"ompi.pmix": "internal", "ompi.hwloc": "internal", "ompi.libevent": "internal"},
        None,
    ),
    (
        "prrte on external pmix, internal libevent",
        {"prrte.pmix": "external", "prrte.hwloc": "external", "prrte.libevent": "internal"},
        "prrte-external-pmix-external-hwloc-libevent",
    ),
]


@pytest.mark.parametrize(("facts", "refused_by"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_rule_decision(facts: dict[str, str], refused_by: str | None) -> None:
    if refused_by is None:
        preflight.check(facts)
        return
    with pytest.raises(preflight.PreflightError) as err:
        preflight.check(facts)
    assert err.value.rule.id == refused_by
    assert str(err.value).startswith(f"preflight rule {refused_by}: ")


def test_every_rule_is_exercised_and_sourced() -> None:
    refused = {c[2] for c in CASES if c[2]}
    ids = {r.id for r in preflight.rules()}
    assert refused == ids, f"rules without a refusing case: {sorted(ids - refused)}"
    for rule in preflight.rules():
        assert rule.sources and all(len(s) > 20 for s in rule.sources), f"{rule.id}: no usable source"


def test_pinned_releases_are_consistent_with_the_rules() -> None:
    """Every default stack of every source recipe passes; the talk's bookworm pair does not."""
    for name in ("rec-source", "app-mpi-source"):
        preflight.check(source.facts(source.stack(load(name), {})))
    with pytest.raises(preflight.PreflightError):
        preflight.check(source.facts(source.stack(load("rec-source"), {"pmix": "4.2.2"})))


@pytest.mark.parametrize(
    ("value", "match", "expected"),
    [
        ("4.2.4", ">=4.2.4", True),
        ("4.2.3", ">=4.2.4", False),
        ("5.0.5", ">=3,<6", True),
        ("6.0.0", "<6", False),
        ("7.0.0rc1", ">=6", True),
        ("external", ["external"], True),
        ("internal", ["external"], False),
        ("not-a-version", ">=1", False),
    ],
)
def test_matches(value: str, match: str | list[str], expected: bool) -> None:
    assert preflight.matches(value, match) is expected


def test_a_bad_rule_file_names_the_field(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "rules.yaml"
    bad.write_text("rules:\n  - {id: x, says: y, when: {pmix: '=>4'}, require: {}, sources: [z]}\n")
    monkeypatch.setattr(preflight, "RULES_FILE", bad)
    preflight.rules.cache_clear()
    try:
        with pytest.raises(preflight.RecipeError, match="not a version specifier"):
            preflight.rules()
    finally:
        preflight.rules.cache_clear()


def test_cli_refuses_forbidden_stack_before_any_work(run_recapp, tmp_path: Path) -> None:
    """The talk's bookworm REC (PRRTE 3.0.x on PMIx 4.2.2) with the PRRTE we can build (3.0.8):
    refused by the rule, exit 2, one line, nothing made in the state dir (no base image, download,
    context or log). The wall time is printed for the report, not asserted."""
    state = tmp_path / "state"
    started = time.monotonic()
    result = run_recapp(
        "build",
        "rec",
        "--flavor",
        "source",
        "--suite",
        "bookworm",
        "--pmix",
        "4.2.2",
        "--prrte",
        "3.0.8",
        env={"RECAPP_HOME": str(state)},
    )
    elapsed = time.monotonic() - started
    line = result.error_line()
    assert line.startswith(
        "preflight rule prrte-3.0.1-pmix-min: PRRTE 3.0.1 and later 3.x require PMIx >= 4.2.4"
    )
    assert "this build has pmix 4.2.2" in line
    made = sorted(p.relative_to(state).as_posix() for p in state.rglob("*")) if state.exists() else []
    assert not [m for m in made if m.split("/")[0] in ("sources", "contexts", "logs", "records")], made
    print(f"preflight refusal through the CLI: {elapsed:.2f} s wall (process start included)")
