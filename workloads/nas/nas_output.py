"""Results of recapp's NAS kernels (EP, IS, CG) from their output (workloads/nas/src/records.yaml).

A kernel's rank 0 prints NPB's standard result block

     EP Benchmark Completed.
     Class           =                        S
     ...
     Verification    =               SUCCESSFUL

and then one record, `NPB_RESULT kernel=EP class=S np=4 time_s=… mops=… verification=SUCCESSFUL`.
`parse` reads both and refuses output where they disagree, so neither a truncated log nor a
spliced one passes for a result. Everything else in the output (RANK records, the kernel's own
report, other ranks' "Failed partial verification" lines, launcher warnings) is skipped.

Pure functions over text: no containers, no MPI.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from recapp.reports.records import Figure, fields

RECORD_TAG = "NPB_RESULT"
RECORD_KEYS = ("kernel", "class", "np", "time_s", "mops", "verification")
VERDICTS = ("SUCCESSFUL", "UNSUCCESSFUL")

# ` NAS Parallel Benchmarks (NPB-spec kernel, recapp implementation) - EP Benchmark`
BANNER = re.compile(r"^ NAS Parallel Benchmarks \((?P<origin>[^)]*)\) - (?P<kernel>[A-Z]{2}) Benchmark\s*$")
# The official NPB's banner (` NAS Parallel Benchmarks 3.4 -- EP Benchmark`): its binaries, built from
# the user's tarball (`recapp build app --workload nas --npb-tarball`), print no NPB_RESULT record.
OFFICIAL_BANNER = re.compile(
    r"^ NAS Parallel Benchmarks (?P<version>\d+\.\d+\S*) -- (?P<kernel>[A-Z]{2}) Benchmark\s*$"
)
COMPLETED = re.compile(r"^ (?P<kernel>[A-Z]{2}) Benchmark Completed\.?\s*$")
# ` Label           =   value`: one leading space (NPB's compile options have four).
BLOCK_LINE = re.compile(r"^ (?P<label>[A-Za-z][A-Za-z/ ]*?)\s*=\s*(?P<value>\S.*?)\s*$")
RECORD = re.compile(rf"^{RECORD_TAG}\s+(?P<pairs>.*)$")

REQUIRED_LABELS = (
    "Class",
    "Size",
    "Iterations",
    "Time in seconds",
    "Total processes",
    "Mop/s total",
    "Operation type",
    "Verification",
)
# The block prints seconds and Mop/s with two decimals, the record with more.
BLOCK_ROUNDING = 0.005 + 1e-9


class NasOutputError(ValueError):
    """The output holds no complete, self-consistent NAS kernel result."""


@dataclass(frozen=True)
class NasResult:
    """One kernel run: the NPB_RESULT record, cross-checked with NPB's result block."""

    kernel: str  # EP, IS, CG
    class_: str  # S, W, A (`class` is a Python keyword)
    np: int
    time_s: float
    mops: float
    verified: bool
    # NPB's result block, as printed
    size: int
    iterations: int
    block_time_s: float
    total_processes: int
    mops_total: float
    mops_per_process: float | None
    operation_type: str
    verification: str  # SUCCESSFUL or UNSUCCESSFUL
    implementation: str | None  # recapp's kernels print "recapp (NPB 3.x spec)"
    origin: str | None  # the banner's parenthesis, e.g. "NPB-spec kernel, recapp implementation"
    block: dict[str, str] = field(default_factory=dict)  # every `label = value` line of the block


def _int(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise NasOutputError(f"{what}: not an integer: {text!r}") from None


def _float(text: str, what: str) -> float:
    """A finite, non-negative number (seconds, Mop/s)."""
    try:
        value = float(text)
    except ValueError:
        raise NasOutputError(f"{what}: not a number: {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise NasOutputError(f"{what}: not a finite non-negative number: {text!r}")
    return value


def _record(lines: list[str]) -> tuple[int, dict[str, str]]:
    found = [(i, m.group("pairs")) for i, line in enumerate(lines) if (m := RECORD.match(line.strip()))]
    if not found:
        raise NasOutputError(f"no {RECORD_TAG} record in the output")
    if len(found) > 1:
        raise NasOutputError(f"{len(found)} {RECORD_TAG} records in one output (expected one run)")
    index, pairs = found[0]
    values = fields(pairs)
    missing = [key for key in RECORD_KEYS if key not in values]
    if missing:
        raise NasOutputError(f"{RECORD_TAG} record lacks {', '.join(missing)}: {lines[index].strip()}")
    if values["verification"] not in VERDICTS:
        raise NasOutputError(f"{RECORD_TAG} verification={values['verification']!r} is not a verdict")
    return index, values


def _block(lines: list[str], end: int) -> tuple[str, dict[str, str]]:
    """The `XX Benchmark Completed.` block before line `end`: its kernel, and label → value."""
    starts = [(i, m.group("kernel")) for i in range(end) if (m := COMPLETED.match(lines[i]))]
    if not starts:
        raise NasOutputError("no 'Benchmark Completed.' block before the NPB_RESULT record")
    if len(starts) > 1:
        raise NasOutputError(f"{len(starts)} 'Benchmark Completed.' blocks in one output")
    start, kernel = starts[0]
    block: dict[str, str] = {}
    for line in lines[start + 1 : end]:
        match = BLOCK_LINE.match(line)
        if match is None:
            continue  # blank lines, other ranks' lines, NPB's compile options
        label, value = match.group("label"), match.group("value")
        if label in block:
            raise NasOutputError(f"block line {label!r} printed twice")
        block[label] = value
    missing = [label for label in REQUIRED_LABELS if label not in block]
    if missing:
        raise NasOutputError(f"{kernel} result block lacks {', '.join(missing)}")
    return kernel, block


def _origin(lines: list[str], kernel: str) -> str | None:
    for line in lines:
        match = BANNER.match(line)
        if match and match.group("kernel") == kernel:
            return match.group("origin")
    return None


def _size(text: str) -> int:
    """NPB's Size: `33554432`, or a grid `64x 64x 64` (its points)."""
    return math.prod(_int(part.strip(), "Size") for part in text.split("x"))


def _official(lines: list[str]) -> NasResult | None:
    """An official NPB binary's run: its result block alone (it prints no NPB_RESULT record)."""
    banners = {
        (m.group("kernel"), m.group("version")) for line in lines if (m := OFFICIAL_BANNER.match(line))
    }
    if not banners or any(RECORD.match(line.strip()) for line in lines):
        return None
    kernel, block = _block(lines, len(lines))
    if kernel not in {k for k, _ in banners}:
        raise NasOutputError(f"{kernel} result block under another benchmark's banner")
    time_s = _float(block["Time in seconds"], "Time in seconds")
    mops = _float(block["Mop/s total"], "Mop/s total")
    processes = _int(block["Total processes"], "Total processes")
    return NasResult(
        kernel=kernel,
        class_=block["Class"],
        np=processes,
        time_s=time_s,
        mops=mops,
        verified=block["Verification"] == "SUCCESSFUL",
        size=_size(block["Size"]),
        iterations=_int(block["Iterations"], "Iterations"),
        block_time_s=time_s,
        total_processes=processes,
        mops_total=mops,
        mops_per_process=(
            _float(block["Mop/s/process"], "Mop/s/process") if "Mop/s/process" in block else None
        ),
        operation_type=block["Operation type"],
        verification=block["Verification"],
        implementation=block.get("Version"),
        origin=f"NPB {block.get('Version', '?')}",
        block=block,
    )


def parse(output: str) -> NasResult:
    """The one kernel run in `output`; NasOutputError when there is none, or it is inconsistent."""
    lines = output.replace("\r\n", "\n").split("\n")
    official = _official(lines)
    if official is not None:
        if official.verification not in VERDICTS:
            raise NasOutputError(f"block verification {official.verification!r} is not a verdict")
        return official
    index, record = _record(lines)
    kernel, block = _block(lines, index)

    result = NasResult(
        kernel=record["kernel"],
        class_=record["class"],
        np=_int(record["np"], "np"),
        time_s=_float(record["time_s"], "time_s"),
        mops=_float(record["mops"], "mops"),
        verified=record["verification"] == "SUCCESSFUL",
        size=_int(block["Size"], "Size"),
        iterations=_int(block["Iterations"], "Iterations"),
        block_time_s=_float(block["Time in seconds"], "Time in seconds"),
        total_processes=_int(block["Total processes"], "Total processes"),
        mops_total=_float(block["Mop/s total"], "Mop/s total"),
        mops_per_process=(
            _float(block["Mop/s/process"], "Mop/s/process") if "Mop/s/process" in block else None
        ),
        operation_type=block["Operation type"],
        verification=block["Verification"],
        implementation=block.get("Implementation"),
        origin=_origin(lines, kernel),
        block=block,
    )
    _check_agreement(result, kernel)
    return result


def _check_agreement(r: NasResult, block_kernel: str) -> None:
    disagreements = []
    if r.kernel != block_kernel:
        disagreements.append(f"kernel {r.kernel} vs block {block_kernel}")
    if r.class_ != r.block["Class"]:
        disagreements.append(f"class {r.class_} vs block {r.block['Class']}")
    if r.np != r.total_processes:
        disagreements.append(f"np {r.np} vs block {r.total_processes} processes")
    if r.verification not in VERDICTS:
        disagreements.append(f"block verification {r.verification!r} is not a verdict")
    elif r.verified != (r.verification == "SUCCESSFUL"):
        verdict = "SUCCESSFUL" if r.verified else "UNSUCCESSFUL"
        disagreements.append(f"verification {verdict} vs block {r.verification}")
    if abs(r.time_s - r.block_time_s) > BLOCK_ROUNDING:
        disagreements.append(f"time_s {r.time_s} vs block {r.block_time_s}")
    if abs(r.mops - r.mops_total) > BLOCK_ROUNDING:
        disagreements.append(f"mops {r.mops} vs block {r.mops_total}")
    if disagreements:
        raise NasOutputError(f"{RECORD_TAG} record and result block disagree: {'; '.join(disagreements)}")


def looks_like_nas(output: str) -> bool:
    """Whether the output comes from a NAS kernel at all (its banner, block or record)."""
    return any(
        BANNER.match(line)
        or OFFICIAL_BANNER.match(line)
        or COMPLETED.match(line)
        or RECORD.match(line.strip())
        for line in output.splitlines()
    )


def figures(output: str) -> dict[str, Figure]:
    """`npb_time_s`, `npb_mops` and `npb_verified` (1 = NPB's Verification SUCCESSFUL, 0 = not) of a
    NAS run; {} for output of anything else or an unusable run."""
    try:
        r = parse(output)
    except NasOutputError:
        return {}
    return {
        "npb_time_s": Figure(value=r.time_s, unit="s"),
        "npb_mops": Figure(value=r.mops, unit="Mop/s"),
        "npb_verified": Figure(value=1.0 if r.verified else 0.0, unit="bool"),
    }


def sanity_errors(output: str) -> list[str]:
    """Program-level verdicts: a NAS run whose result is missing, inconsistent or UNSUCCESSFUL.

    Output that is not a NAS kernel's (no banner, block or record) gives no errors.
    """
    if not looks_like_nas(output):
        return []
    try:
        r = parse(output)
    except NasOutputError as exc:
        return [f"NAS kernel output unusable: {exc}"]
    if not r.verified:
        return [f"NPB {r.kernel} class {r.class_} on {r.np} processes: verification UNSUCCESSFUL"]
    return []
