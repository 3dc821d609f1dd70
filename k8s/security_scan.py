"""checkov's Kubernetes checks over the cluster's manifests, with recapp's waivers.

    scan_render(DIR)      a `recapp cluster render` layout, each overlay built by kustomize
                          (checkov --framework kustomize; needs kubectl or kustomize on PATH)
    scan_spec(SPEC)       the same objects without kustomize: both launchers' objects as plain YAML
    scan_directory(DIR)   any directory of manifests (checkov --framework kubernetes)

Every failed check must be waived in checkov-waivers.yaml (one reason per check id, optionally only
for the node or the login pods) or the scan fails. checkov's severities come from its platform API,
which recapp does not call (`--skip-download`), so severity is not used to pick what may fail.

checkov does not share our venv: it pins packaging<24, tabulate<0.10 and (through botocore)
python-dateutil<3, while kubernetes>=37.0.2 needs python-dateutil>=3. It runs from its own venv,
$RECAPP_CHECKOV_VENV (default: `venv-checkov` in recapp's state dir, outside any source tree),
created on demand by `ensure_checkov()`. `RECAPP_CHECKOV` names a checkov executable to use instead.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from recapp.errors import ClusterError
from recapp.host.paths import state_dir
from recapp.host.runner import last_line, run, run_logged
from recapp.k8s import constants as c
from recapp.k8s import objects as o
from recapp.k8s import render
from recapp.k8s.spec import ClusterSpec

WAIVERS_FILE = Path(__file__).with_name("checkov-waivers.yaml")
CHECKOV_REQUIREMENT = "checkov>=3.2,<4"
CHECKOV_ENV = "RECAPP_CHECKOV"
CHECKOV_VENV_ENV = "RECAPP_CHECKOV_VENV"
SCAN_TIMEOUT_S = 900
_CHECK_ID = re.compile(r"^CKV2?_K8S_[0-9]+$")
# checkov names a resource KIND.NAMESPACE.NAME (graph checks add the labels after it), prefixed by
# `base:` or `overlay:<dir>:` for kustomize; kinds start upper-case, the prefixes do not.
_RESOURCE = re.compile(r"(?:^|:)([A-Z][A-Za-z0-9]*)\.([^.:]*)\.([^.:]+)")

PodRole = Literal["node", "login"]
_ROLE_SUFFIX: dict[str, str] = {"node": c.NODE_STATEFULSET_SUFFIX, "login": c.LOGIN_JOB_SUFFIX}


# --- waivers --------------------------------------------------------------------------------------


class Waiver(BaseModel):
    """Why one checkov check may fail, and for which pods (all of them if `pods` is not given)."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=20)
    pods: list[PodRole] | None = None

    @field_validator("reason")
    @classmethod
    def _one_paragraph(cls, value: str) -> str:
        return " ".join(value.split())


def load_waivers(path: Path = WAIVERS_FILE) -> dict[str, Waiver]:
    """check id → Waiver; a malformed file is a one-line error naming the entry."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ClusterError(f"waivers {path}: cannot read: {' '.join(str(exc).split())[:200]}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("waivers"), dict):
        raise ClusterError(f"waivers {path}: expected a mapping `waivers: {{CHECK_ID: {{reason: …}}}}`")
    waivers: dict[str, Waiver] = {}
    for check_id, entry in data["waivers"].items():
        if not _CHECK_ID.fullmatch(str(check_id)):
            raise ClusterError(f"waivers {path}: {check_id!r} is not a checkov Kubernetes check id")
        try:
            waivers[str(check_id)] = Waiver.model_validate(entry)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "(entry)"
            raise ClusterError(f"waivers {path}: {check_id}.{where}: {first['msg']}") from exc
    return waivers


# --- findings -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    check_id: str
    check_name: str
    resource: str  # as checkov names it
    kind: str
    name: str
    file: str
    severity: str | None = None

    def __str__(self) -> str:
        return f"{self.check_id} {self.check_name} ({self.kind}/{self.name} in {self.file})"


def parse_resource(resource: str) -> tuple[str, str, str]:
    """(kind, namespace, name) from checkov's resource id; ('?', '', resource) when unrecognised."""
    found = _RESOURCE.search(resource)
    return (found.group(1), found.group(2), found.group(3)) if found else ("?", "", resource)


def failed_checks(report: Any) -> list[Finding]:
    """The failed checks of checkov's JSON report (one framework: a dict; several: a list of them;
    nothing scanned: a bare summary)."""
    reports = report if isinstance(report, list) else [report]
    findings: list[Finding] = []
    for one in reports:
        if not isinstance(one, Mapping):
            continue
        parsing_errors = int((one.get("summary") or one).get("parsing_errors") or 0)
        if parsing_errors:
            raise ClusterError(f"security scan: checkov could not parse {parsing_errors} file(s)")
        for item in (one.get("results") or {}).get("failed_checks") or []:
            kind, _ns, name = parse_resource(str(item.get("resource", "")))
            findings.append(
                Finding(
                    check_id=str(item.get("check_id")),
                    check_name=str(item.get("check_name", "")),
                    resource=str(item.get("resource", "")),
                    kind=kind,
                    name=name,
                    file=str(item.get("file_path", "")),
                    severity=item.get("severity"),
                )
            )
    return findings


def waiver_covers(waiver: Waiver, finding: Finding) -> bool:
    if waiver.pods is None:
        return True
    return any(finding.name.endswith(_ROLE_SUFFIX[role]) for role in waiver.pods)


@dataclass(frozen=True)
class ScanResult:
    findings: tuple[Finding, ...]
    unwaived: tuple[Finding, ...]
    waived: tuple[Finding, ...]
    unused_waivers: tuple[str, ...]  # waived check ids that failed nowhere: candidates for removal

    @property
    def ok(self) -> bool:
        return not self.unwaived

    def failed_ids(self) -> list[str]:
        return sorted({f.check_id for f in self.unwaived})

    def error(self) -> ClusterError | None:
        if self.ok:
            return None
        first = self.unwaived[0]
        more = f" (and {len(self.unwaived) - 1} more)" if len(self.unwaived) > 1 else ""
        return ClusterError(
            f"security scan: {len(self.unwaived)} failed check(s) not waived: {first}{more}",
            hint="\n".join(str(f) for f in self.unwaived),
        )


def apply_waivers(findings: Iterable[Finding], waivers: Mapping[str, Waiver]) -> ScanResult:
    found = tuple(findings)
    waived = tuple(f for f in found if f.check_id in waivers and waiver_covers(waivers[f.check_id], f))
    unwaived = tuple(f for f in found if f not in waived)
    used = {f.check_id for f in waived}
    return ScanResult(found, unwaived, waived, tuple(sorted(set(waivers) - used)))


# --- running checkov ------------------------------------------------------------------------------


def default_venv() -> Path:
    """$RECAPP_CHECKOV_VENV, else `venv-checkov` in recapp's state dir."""
    env = os.environ.get(CHECKOV_VENV_ENV)
    return Path(env) if env else state_dir() / "venv-checkov"


def find_checkov(venv: Path | None = None) -> Path | None:
    """$RECAPP_CHECKOV, else the checkov venv's, else one on PATH; None if there is none."""
    if os.environ.get(CHECKOV_ENV):
        return Path(os.environ[CHECKOV_ENV])
    candidate = (venv or default_venv()) / "bin" / "checkov"
    if candidate.is_file():
        return candidate
    on_path = shutil.which("checkov")
    return Path(on_path) if on_path else None


def ensure_checkov(venv: Path | None = None) -> Path:
    """The checkov executable, installing it into its own venv first if there is none."""
    found = find_checkov(venv)
    if found is not None:
        return found
    target = venv or default_venv()
    log = state_dir() / "logs" / "checkov-venv.log"
    run_logged([sys.executable, "-m", "venv", str(target)], log, error=ClusterError, what=f"create {target}")
    run_logged(
        [str(target / "bin" / "python"), "-m", "pip", "install", "--quiet", CHECKOV_REQUIREMENT],
        log,
        error=ClusterError,
        what=f"pip install {CHECKOV_REQUIREMENT} into {target}",
    )
    return target / "bin" / "checkov"


def checkov_argv(checkov: Path, directory: Path, framework: str) -> list[str]:
    return [
        str(checkov), "-d", str(directory), "--framework", framework,
        "-o", "json", "--quiet", "--compact", "--skip-download",
    ]  # fmt: skip


def run_checkov(
    directory: Path, *, framework: str = "kubernetes", checkov: Path | None = None
) -> list[Finding]:
    """Failed checks of one checkov run over `directory` (exit 0: none failed, 1: some failed)."""
    exe = checkov or ensure_checkov()
    proc = run(
        checkov_argv(exe, directory, framework),
        error=ClusterError,
        check=False,
        timeout=SCAN_TIMEOUT_S,
        what="checkov",
        env={"PYTHONWARNINGS": "ignore"},
    )
    if proc.returncode not in (0, 1):
        raise ClusterError(f"checkov: exit {proc.returncode}: {last_line(proc.stderr or proc.stdout)}")
    try:
        report = json.loads(proc.stdout) if proc.stdout.strip() else []
    except ValueError as exc:
        raise ClusterError(f"checkov: output is not JSON: {last_line(proc.stdout)}") from exc
    return failed_checks(report)


def scan_directory(
    directory: Path, *, waivers: Mapping[str, Waiver] | None = None, checkov: Path | None = None
) -> ScanResult:
    """checkov's Kubernetes checks over plain manifests in `directory`."""
    findings = run_checkov(directory, framework="kubernetes", checkov=checkov)
    return apply_waivers(findings, load_waivers() if waivers is None else waivers)


def scan_render(
    render_dir: Path, *, waivers: Mapping[str, Waiver] | None = None, checkov: Path | None = None
) -> ScanResult:
    """A kustomize render (base and each overlay as kustomize builds it). The kubexec overlay's
    patches are fragments: scanned as plain files they would fail checks the built objects pass."""
    if not (render_dir / render.MARKER_FILE).is_file():
        raise ClusterError(f"security scan: {render_dir} is not a recapp render (no {render.MARKER_FILE})")
    if shutil.which("kubectl") is None and shutil.which("kustomize") is None:
        raise ClusterError(
            "security scan of a kustomize layout needs kubectl or kustomize on PATH (or use scan_spec)"
        )
    findings = run_checkov(render_dir, framework="kustomize", checkov=checkov)
    return apply_waivers(findings, load_waivers() if waivers is None else waivers)


def write_manifests(objects_by_dir: Mapping[str, Sequence[Mapping[str, Any]]], out_dir: Path) -> list[Path]:
    """Each group of objects as `<out>/<group>/<kind>.yaml` (Secrets left out: their value is no
    manifest property checkov checks, and it need not touch a temporary file)."""
    written: list[Path] = []
    for group, objects in objects_by_dir.items():
        (out_dir / group).mkdir(parents=True, exist_ok=True)
        for obj in objects:
            if obj.get("kind") == "Secret":
                continue
            path = out_dir / group / f"{str(obj['kind']).lower()}.yaml"
            path.write_text(yaml.safe_dump(dict(obj), sort_keys=False), encoding="utf-8")
            written.append(path)
    return written


def scan_spec(
    spec: ClusterSpec, *, waivers: Mapping[str, Waiver] | None = None, checkov: Path | None = None
) -> ScanResult:
    """The objects of both launchers' overlays for `spec`, scanned without kustomize."""
    groups = {
        launcher: o.cluster_objects(spec.model_copy(update={"launcher": launcher}), agent_secret="0" * 64)
        for launcher in render.OVERLAYS
    }
    with tempfile.TemporaryDirectory(prefix="recapp-scan-") as tmp:
        write_manifests(groups, Path(tmp))
        return scan_directory(Path(tmp), waivers=waivers, checkov=checkov)
