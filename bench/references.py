"""Performance references per system, ReFrame-style, and the check of a measured figure against them.

A references file (`conformance/references/<system>.yaml`, or any path) says, per workload, what a
figure should be on that system:

    system: local
    description: …
    workloads:
      ep.A:
        npb_time_s: [10.0, null, 0.5, s]        # value, lower, upper, unit
        ratio:npb_time_s: [1.0, null, 0.02, ""]  # the nested ÷ native ratio of that figure

`lower` and `upper` are *relative* bounds, as in ReFrame (`-0.1` = at most 10 % below the value,
`0.5` = at most 50 % above; `null` = unbounded on that side). A figure is checked on the median of
the nested runs (the model being certified); `ratio:<figure>` on the nested ÷ native ratio. A figure
outside its bounds fails its check, and the check says the numbers. Figures without a reference are
not checked (a missing reference is not a failure).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from recapp.errors import ConformanceError
from recapp.reports.records import ReferenceCheck

# The reference data stays beside the workloads it describes (conformance/references/ until the
# workloads room owns it); only the logic lives here. Found through the package, not a source path.
REFERENCES_DIR = Path(str(resources.files("recapp.conformance") / "references"))
DEFAULT_SYSTEM = "local"
RATIO_PREFIX = "ratio:"


class Reference(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    value: float
    lower: float | None = None  # relative, ≤ 0
    upper: float | None = None  # relative, ≥ 0
    unit: str

    @field_validator("lower")
    @classmethod
    def _lower(cls, v: float | None) -> float | None:
        if v is not None and v > 0:
            raise ValueError(f"lower bound {v} is above the value (relative bounds: lower ≤ 0)")
        return v

    @field_validator("upper")
    @classmethod
    def _upper(cls, v: float | None) -> float | None:
        if v is not None and v < 0:
            raise ValueError(f"upper bound {v} is below the value (relative bounds: upper ≥ 0)")
        return v

    def bounds(self) -> tuple[float | None, float | None]:
        """The absolute bounds (a negative reference value turns the relative ones around, as in ReFrame)."""
        scale = abs(self.value)
        low = None if self.lower is None else self.value + self.lower * scale
        high = None if self.upper is None else self.value + self.upper * scale
        return low, high


class ReferenceFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    system: str
    description: str = ""
    workloads: dict[str, dict[str, Reference]]


@dataclass(frozen=True)
class References:
    system: str
    source: str  # the file they came from
    workloads: dict[str, dict[str, Reference]]

    def get(self, workload: str, figure: str) -> Reference | None:
        return self.workloads.get(workload, {}).get(figure)


def _entry(raw: object) -> object:
    """`[value, lower, upper, unit]` (ReFrame's tuple) or a mapping with those keys."""
    if isinstance(raw, list):
        if len(raw) != 4:
            raise ValueError(f"expected [value, lower, upper, unit], got {len(raw)} item(s)")
        value, lower, upper, unit = raw
        return {"value": value, "lower": lower, "upper": upper, "unit": unit if unit is not None else ""}
    return raw


def resolve(system_or_path: str) -> Path:
    """A references file from a system name (`local` → conformance/references/local.yaml) or a path."""
    path = Path(system_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise ConformanceError(f"references file {path}: not found")
        return path
    candidate = REFERENCES_DIR / f"{system_or_path}.yaml"
    if not candidate.is_file():
        known = ", ".join(sorted(p.stem for p in REFERENCES_DIR.glob("*.yaml"))) or "none"
        raise ConformanceError(f"references: no system {system_or_path!r} (known: {known})")
    return candidate


def load(system_or_path: str = DEFAULT_SYSTEM) -> References:
    path = resolve(system_or_path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        first = str(exc).splitlines()[0]
        raise ConformanceError(f"references file {path}: not readable YAML: {first}") from exc
    if not isinstance(data, dict):
        raise ConformanceError(f"references file {path}: expected a mapping with system and workloads")
    try:
        workloads = data.get("workloads")
        if isinstance(workloads, dict):
            data = {
                **data,
                "workloads": {
                    w: {f: _entry(r) for f, r in (figs or {}).items()} for w, figs in workloads.items()
                },
            }
        parsed = ReferenceFile.model_validate(data)
    except (ValueError, ValidationError) as exc:
        raise ConformanceError(f"references file {path}: {_first_error(exc)}") from exc
    return References(system=parsed.system, source=str(path), workloads=parsed.workloads)


def _first_error(exc: ValueError | ValidationError) -> str:
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        return f"{where}: {err['msg']}" if where else err["msg"]
    return str(exc)


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def check(refs: References, workload: str, figure: str, measured: float, unit: str) -> ReferenceCheck | None:
    """The check of one measured figure, or None when the system has no reference for it."""
    ref = refs.get(workload, figure)
    if ref is None:
        return None
    low, high = ref.bounds()
    shown = f"{_fmt(measured)} {unit}".strip()
    reason = None
    if unit != ref.unit:
        reason = f"{figure} measured in {unit or 'no unit'}, the reference is in {ref.unit or 'no unit'}"
    elif low is not None and measured < low:
        reason = (
            f"{figure} = {shown} is below {_fmt(low)} "
            f"(reference {_fmt(ref.value)}, lower bound {ref.lower:+.0%})"
        )
    elif high is not None and measured > high:
        reason = (
            f"{figure} = {shown} is above {_fmt(high)} "
            f"(reference {_fmt(ref.value)}, upper bound {ref.upper:+.0%})"
        )
    return ReferenceCheck(
        system=refs.system,
        workload=workload,
        figure=figure,
        measured=measured,
        unit=unit,
        reference=ref.value,
        lower=ref.lower,
        upper=ref.upper,
        passed=reason is None,
        reason=reason,
    )
