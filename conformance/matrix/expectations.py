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


def level_expected(level: str, ompi: str | None) -> Expectation:
    """What is documented for a deeper level (L5+) with an APP of Open MPI `ompi`."""
    return _by_mpi(level, "ompi", "Open MPI", ompi, _rules().get("level_expectations", {}).get(level, []))


def _by_mpi(level: str, key: str, mpi: str, version_text: str | None, rules: list[dict]) -> Expectation:
    """The first rule the version reaches (rules newest first); `any_app` rules hold for every APP."""
    for rule in rules:
        if rule.get("any_app"):
            return Expectation(rule["verdict"], " ".join(rule["source"].split()))
    version = _tuple(version_text or "")
    if not rules or not version:
        return Expectation(
            "unknown", f"nothing documented for {level} with {mpi} {version_text or 'unknown'}"
        )
    at_least = f"{key}_at_least"
    for rule in rules:
        if version >= _tuple(rule[at_least]):
            return Expectation(rule["verdict"], " ".join(rule["source"].split()))
    first = rules[-1]
    return Expectation(
        "incompatible",
        f"{mpi} {version_text} is below {first[at_least]}: {' '.join(first['source'].split())}",
    )


def _within(version: tuple[int, ...], at_least: str | None, below: str | None) -> bool:
    """Whether `version` lies in [at_least, below); a missing bound does not limit."""
    return (at_least is None or version >= _tuple(at_least)) and (below is None or version < _tuple(below))


def level_expected_for(level: str, server: str | None, app: dict[str, str]) -> Expectation:
    """What is documented for `level` with a REC whose PMIx server is `server` and an APP of these
    versions (labels: ompi or mpich, pmix): a traced breakage of the PMIx pair first (each bound of
    server and client optional: a rule with no client bound holds for any APP), then what the APP's
    MPI documents."""
    client = app.get("pmix")
    s, c = _tuple(server or ""), _tuple(client or "")
    for rule in _rules().get("pmix_level_breakages", []):
        client_bound = "client_at_least" in rule or "client_below" in rule
        if (
            rule["level"] == level
            and s
            and (c or not client_bound)
            and _within(s, rule.get("server_at_least"), rule.get("server_below"))
            and _within(c, rule.get("client_at_least"), rule.get("client_below"))
            and (not rule.get("mpi") or app.get(rule["mpi"]))
        ):
            return Expectation(rule["verdict"], " ".join(rule["source"].split()))
    if app.get("mpich"):
        rules = _rules().get("mpich_level_expectations", {}).get(level, [])
        return _by_mpi(level, "mpich", "MPICH", app.get("mpich"), rules)
    return level_expected(level, app.get("ompi"))


def pmix_levels() -> list[str]:
    return list(_rules().get("pmix_levels", []))


@dataclass(frozen=True)
class KnownIssue:
    """A defect of a PRRTE release that a REC meets, with the setting that works around it."""

    id: str
    below: str | None  # the first release that fixes it; None: none does yet
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
        if i["below"] is None or version < _tuple(i["below"])  # None: no release fixes it
    ]
