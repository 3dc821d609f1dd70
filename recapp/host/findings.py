"""A check's verdict, shared by every host check (`checks`, `network`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"


@dataclass(frozen=True)
class Finding:
    """One check's verdict: what was found (detail) and what to do about it (fix)."""

    name: str
    status: Status
    detail: str
    fix: str = ""

    def as_dict(self) -> dict[str, str]:
        return {k: str(v) for k, v in asdict(self).items()}


def host_ok(findings: Sequence[Finding]) -> bool:
    """True when no check failed: warnings and skips still leave a host recapp can use."""
    return all(f.status is not Status.FAIL for f in findings)
