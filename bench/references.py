"""Performance references per system, ReFrame-style, and the check of a measured figure against them.

A system's references are gathered from every workload folder's references.yaml (keyed by system;
workloads/systems.yaml names the systems). A references file given by path says, per workload, what
a figure should be on that system:

    system: local
    description: …
    workloads:
      ep.A:
        npb_time_s: [10.0, null, 0.5, s]        # value, lower, upper, unit
        ratio:npb_time_s: [1.0, null, 0.02, ""]  # the nested ÷ native ratio of that figure

`lower` and `upper` are *relative* bounds, as in ReFrame (`-0.1` = at most 10 % below the value,
`0.5` = at most 50 % above; `null` = unbounded on that side). A figure is checked on the median of
the nested runs (the model being certified); `ratio:<figure>` on the nested ÷ native ratio. The check
is decided on the figure's bootstrap 95 % interval (recapp.bench.stats): a figure whose whole interval
is outside its bounds fails its check, and the check says the numbers. Figures without a reference are
not checked (a missing reference is not a failure).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from recapp.errors import ConformanceError
from recapp.reports.records import ReferenceCheck
from recapp.workloads import WORKLOADS_DIR, registry

SYSTEMS = WORKLOADS_DIR / "systems.yaml"
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


def _yaml(path: Path) -> object:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        first = str(exc).splitlines()[0]
        raise ConformanceError(f"references file {path}: not readable YAML: {first}") from exc


def systems() -> dict[str, str]:
    """System name → description (workloads/systems.yaml)."""
    data = _yaml(SYSTEMS)
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise ConformanceError(f"references file {SYSTEMS}: expected system: description lines")
    return data


def _system_data(system: str) -> dict[str, object]:
    """A system's references, gathered from every workload folder's references.yaml."""
    workloads: dict[str, object] = {}
    for unit in registry().values():
        if not unit.references_file.is_file():
            continue
        data = _yaml(unit.references_file)
        if not isinstance(data, dict):
            raise ConformanceError(f"references file {unit.references_file}: expected a mapping of systems")
        unknown = sorted(set(data) - set(systems()))
        if unknown:
            raise ConformanceError(
                f"references file {unit.references_file}: unknown system(s) {', '.join(unknown)} "
                f"(known: {', '.join(systems())}, in {SYSTEMS})"
            )
        for name, figures in (data.get(system) or {}).items():
            if name in workloads:
                raise ConformanceError(f"references file {unit.references_file}: {name!r} is given twice")
            workloads[name] = figures
    return {"system": system, "description": systems()[system], "workloads": workloads}


def load(system_or_path: str = DEFAULT_SYSTEM) -> References:
    """A system's references (by name: from the workload folders) or a references file (by path)."""
    path = Path(system_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise ConformanceError(f"references file {path}: not found")
        data = _yaml(path)
        source = str(path)
    elif system_or_path in systems():
        data = _system_data(system_or_path)
        source = f"{WORKLOADS_DIR}/*/references.yaml ({system_or_path})"
    else:
        known = ", ".join(sorted(systems())) or "none"
        raise ConformanceError(f"references: no system {system_or_path!r} (known: {known})")
    if not isinstance(data, dict):
        raise ConformanceError(f"references file {source}: expected a mapping with system and workloads")
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
        raise ConformanceError(f"references file {source}: {_first_error(exc)}") from exc
    return References(system=parsed.system, source=source, workloads=parsed.workloads)


def _first_error(exc: ValueError | ValidationError) -> str:
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        return f"{where}: {err['msg']}" if where else err["msg"]
    return str(exc)


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def check(
    refs: References,
    workload: str,
    figure: str,
    measured: float,
    unit: str,
    *,
    interval: list[float] | None = None,
) -> ReferenceCheck | None:
    """The check of one measured figure (a median), or None when the system has no reference for it.

    With the median's 95 % interval [low, high] (recapp.bench.stats) the check is decided on the
    interval, not on the one median: it fails only when the whole interval lies outside the bounds (the
    figure is out of bounds beyond the noise); an interval that reaches across a bound passes with a
    note saying the figure is not shown to be within. Without an interval, the median decides."""
    ref = refs.get(workload, figure)
    if ref is None:
        return None
    low, high = ref.bounds()
    shown = f"{_fmt(measured)} {unit}".strip()
    lo_m, hi_m = (interval[0], interval[1]) if interval else (measured, measured)
    span = f" (95 % interval {_fmt(lo_m)} … {_fmt(hi_m)})" if interval else ""
    reason = None
    note = None
    if unit != ref.unit:
        reason = f"{figure} measured in {unit or 'no unit'}, the reference is in {ref.unit or 'no unit'}"
    elif low is not None and hi_m < low:
        reason = (
            f"{figure} = {shown}{span} is below {_fmt(low)} "
            f"(reference {_fmt(ref.value)}, lower bound {ref.lower:+.0%})"
        )
    elif high is not None and lo_m > high:
        reason = (
            f"{figure} = {shown}{span} is above {_fmt(high)} "
            f"(reference {_fmt(ref.value)}, upper bound {ref.upper:+.0%})"
        )
    elif low is not None and lo_m < low:
        note = f"inconclusive: {figure} = {shown}{span} reaches below the lower bound {_fmt(low)}"
    elif high is not None and hi_m > high:
        note = f"inconclusive: {figure} = {shown}{span} reaches above the upper bound {_fmt(high)}"
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
        interval=list(interval) if interval else None,
        note=note,
    )
