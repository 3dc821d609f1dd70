"""The security report's record (JSON) and its table: one row per check and subject.

Produced by `recapp.conformance.security` (`recapp conformance security`); this module only holds the
schema and renders it, like the other reports.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from recapp.reports.records import SCHEMA_VERSION, write

Status = Literal["PASS", "FAIL", "SKIP", "INFO"]

# The order the table shows the checks in (the list).
CHECK_ORDER = (
    "sshd-absent",
    "user-non-root",
    "privileged-files",
    "capabilities",
    "pod-isolation",
    "rbac-scope",
    "exec-scope",
    "api-token",
    "pod-security-admission",
    "network-policy",
    "resource-limits",
    "agent-auth",
    "checkov",
)


class SecurityCheck(BaseModel):
    check: str  # one of CHECK_ORDER
    subject: str  # an image reference, a pod/object name, or an attack tried on the launch agent
    status: Status
    detail: str = ""
    items: list[str] = Field(default_factory=list)  # e.g. every setuid file found


class SecurityReport(BaseModel):
    schema_version: int = SCHEMA_VERSION
    kind: Literal["security"] = "security"
    created_at: datetime
    rec: str | None = None
    app: str | None = None
    manifests: str | None = None  # a directory, or "rendered from the cluster spec"
    checks: list[SecurityCheck] = Field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not any(c.status == "FAIL" for c in self.checks)

    def counts(self) -> dict[str, int]:
        out = {status: 0 for status in ("PASS", "FAIL", "SKIP", "INFO")}
        for check in self.checks:
            out[check.status] += 1
        return out


def ordered(report: SecurityReport) -> list[SecurityCheck]:
    rank = {name: i for i, name in enumerate(CHECK_ORDER)}
    return sorted(report.checks, key=lambda c: rank.get(c.check, len(rank)))


def table_rows(report: SecurityReport) -> list[list[str]]:
    """check | subject | result | detail, in CHECK_ORDER."""
    return [[c.check, c.subject, c.status, c.detail] for c in ordered(report)]


TABLE_HEADERS = ["check", "subject", "result", "detail"]


def write_report(report: SecurityReport, path: Path) -> Path:
    return write(report, path)
