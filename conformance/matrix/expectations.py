"""What OpenPMIx documents for a REC (server) × APP (client) pair, read from expectations.yaml."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from recapp.conformance.images.facts import numeric_core

DATA = Path(__file__).with_name("expectations.yaml")


@dataclass(frozen=True)
class Expectation:
    verdict: str  # compatible | incompatible | unknown
    source: str


def _tuple(version: str) -> tuple[int, ...]:
    core = numeric_core(version)
    return tuple(int(p) for p in core.split(".")) if core else ()


@cache
def _rules() -> dict:
    return yaml.safe_load(DATA.read_text())


def expected(server: str | None, client: str | None) -> Expectation:
    rules = _rules()
    if not server or not client or not _tuple(server) or not _tuple(client):
        return Expectation("unknown", "a PMIx version is unknown for this pair")
    s, c = _tuple(server), _tuple(client)
    for bad in rules.get("known_bad", []):
        if _tuple(bad["server"]) == s[:3] and _tuple(bad["client"]) == c[:3]:
            return Expectation("incompatible", bad["why"])
    if c < _tuple(rules["min_client_for_server"]):
        return Expectation(
            "incompatible", f"{rules['source']}: servers support clients >= {rules['min_client_for_server']}"
        )
    if s < _tuple(rules["min_server_for_client"]):
        return Expectation(
            "incompatible", f"{rules['source']}: clients support servers >= {rules['min_server_for_client']}"
        )
    return Expectation(
        "compatible",
        f"{rules['source']}: server >= {rules['min_server_for_client']} and "
        f"client >= {rules['min_client_for_server']}",
    )


def pmix_levels() -> list[str]:
    return list(_rules().get("pmix_levels", []))


@dataclass(frozen=True)
class KnownIssue:
    """A defect of a PRRTE release that a REC meets, with the setting that works around it."""

    id: str
    below: str
    fixed_in: str
    symptom: str
    cause: str
    env: dict[str, str]
    workaround: str


def prrte_known_issues(prrte: str | None) -> list[KnownIssue]:
    """The known issues of PRRTE `prrte` (a version as labelled on a REC); none for an unknown one."""
    version = _tuple(prrte or "")
    if not version:
        return []
    return [
        KnownIssue(
            id=i["id"],
            below=i["below"],
            fixed_in=" ".join(i["fixed_in"].split()),
            symptom=" ".join(i["symptom"].split()),
            cause=" ".join(i["cause"].split()),
            env={k: str(v) for k, v in i["env"].items()},
            workaround=" ".join(i["workaround"].split()),
        )
        for i in _rules().get("prrte_known_issues", [])
        if version < _tuple(i["below"])
    ]
