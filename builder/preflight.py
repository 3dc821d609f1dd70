"""Preflight: a source stack against the rules in recipes/source/rules.yaml, before any long build.

A refusal is one line naming the rule, what it says and what the stack has; the rule's sources
(upstream files, issues) are in the data file beside it.
"""

from __future__ import annotations

from functools import cache

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version
from pydantic import BaseModel, ConfigDict, Field, field_validator

from recapp.builder.recipe import read_model
from recapp.errors import RecipeError
from recapp.recipes import RECIPES_DIR

RULES_FILE = RECIPES_DIR / "source" / "rules.yaml"

Match = str | list[str]


class PreflightError(RecipeError):
    """A source stack breaks a preflight rule (exit 2 before anything is downloaded or compiled)."""

    def __init__(self, rule: Rule, detail: str) -> None:
        # One line; the rule's sources stay beside it in the data file.
        super().__init__(
            f"preflight rule {rule.id}: {rule.says}; {detail} (sources: recipes/source/rules.yaml)"
        )
        self.rule = rule


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]*$")
    says: str
    when: dict[str, Match]
    require: dict[str, Match]
    sources: list[str] = Field(min_length=1)

    @field_validator("when", "require")
    @classmethod
    def _matches(cls, value: dict[str, Match]) -> dict[str, Match]:
        for fact, match in value.items():
            if isinstance(match, str):
                try:
                    SpecifierSet(match)
                except InvalidSpecifier as exc:
                    raise ValueError(f"{fact}: {match!r} is not a version specifier") from exc
        return value


class Rules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    rules: list[Rule]


@cache
def rules() -> list[Rule]:
    found = read_model(RULES_FILE, Rules).rules
    ids = [r.id for r in found]
    if len(ids) != len(set(ids)):
        raise RecipeError(f"{RULES_FILE.name}: rule ids are not unique")
    return found


def matches(value: str, match: Match) -> bool:
    if isinstance(match, list):
        return value in match
    try:
        return Version(value) in SpecifierSet(match, prereleases=True)
    except InvalidVersion:
        return False


def violation(rule: Rule, facts: dict[str, str]) -> str | None:
    """Why the facts break the rule, or None when it does not apply or holds."""
    for fact, match in rule.when.items():
        if fact not in facts or not matches(facts[fact], match):
            return None
    for fact, match in rule.require.items():
        if fact in facts and not matches(facts[fact], match):
            return f"this build has {fact} {facts[fact]}"
    return None


def check(facts: dict[str, str]) -> None:
    """Raise PreflightError for the first rule the facts break."""
    for rule in rules():
        detail = violation(rule, facts)
        if detail is not None:
            raise PreflightError(rule, detail)
