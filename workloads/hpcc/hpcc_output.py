"""HPCC results from the `hpcc` runner's output (workloads/hpcc/src/records.yaml).

Rank 0 prints one record per HPCC test (HPCC_HPL, HPCC_STREAM, HPCC_PTRANS, HPCC_RANDOMACCESS,
HPCC_FFT, HPCC_BEFF) and HPCC_RESULT last, all read from HPCC's own hpccoutf.txt. Figures:

- `hpcc_hpl_gflops` (Gflop/s), `hpcc_hpl_n` (count), `hpcc_hpl_scaled_residual` (ratio);
- `hpcc_stream_copy_gbs`, `hpcc_stream_triad_gbs` (GB/s per process, StarSTREAM);
- `hpcc_ptrans_gbs` (GB/s); `hpcc_randomaccess_gups` (GUP/s, MPIRandomAccess);
- `hpcc_fft_gflops` (Gflop/s, MPIFFT);
- `hpcc_beff_lat_min_us`, `hpcc_beff_lat_avg_us`, `hpcc_beff_lat_max_us` (µs, b_eff ping-pong
  over all pairs), `hpcc_beff_ring_lat_us` (µs, naturally ordered ring),
  `hpcc_beff_bw_avg_gbs` (GB/s, ping-pong).

Sanity: HPCC's own verification — every check PASSED (HPL's residual, STREAM's validation,
PTRANS's residuals, RandomAccess's error count, FFT's error) and HPCC's summary flag Success=1 —
and HPCC ran on as many processes as the job started. Pure functions over text.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from recapp.reports.records import Figure, fields, rank_reports

RESULT = "HPCC_RESULT"
# Tag → the keys its record carries (records.yaml); each test's record ends with its check.
TESTS: dict[str, tuple[str, ...]] = {
    "HPCC_HPL": ("n", "nb", "p", "q", "gflops", "scaled_residual", "check"),
    "HPCC_STREAM": ("copy_gbs", "scale_gbs", "add_gbs", "triad_gbs", "check"),
    "HPCC_PTRANS": ("gbs", "n", "check"),
    "HPCC_RANDOMACCESS": ("gups", "errors_fraction", "check"),
    "HPCC_FFT": ("n", "gflops", "max_err", "scaled_err", "check"),
}
BEFF = "HPCC_BEFF"
BEFF_KEYS = (
    "pingpong_lat_min_us",
    "pingpong_lat_avg_us",
    "pingpong_lat_max_us",
    "natural_ring_lat_us",
    "random_ring_lat_us",
    "pingpong_bw_min_gbs",
    "pingpong_bw_avg_gbs",
    "pingpong_bw_max_gbs",
    "natural_ring_bw_gbs",
    "random_ring_bw_gbs",
)
RESULT_KEYS = ("np", "commworld", "version", "success", "status", "dir")
# The test's name in messages, as HPCC's sections call it.
NAMES = {
    "HPCC_HPL": "HPL",
    "HPCC_STREAM": "StarSTREAM",
    "HPCC_PTRANS": "PTRANS",
    "HPCC_RANDOMACCESS": "MPIRandomAccess",
    "HPCC_FFT": "MPIFFT",
}
# (figure, tag, key, unit): what the job record carries.
FIGURES = (
    ("hpcc_hpl_gflops", "HPCC_HPL", "gflops", "Gflop/s"),
    ("hpcc_hpl_n", "HPCC_HPL", "n", "count"),
    ("hpcc_hpl_scaled_residual", "HPCC_HPL", "scaled_residual", "ratio"),
    ("hpcc_stream_copy_gbs", "HPCC_STREAM", "copy_gbs", "GB/s"),
    ("hpcc_stream_triad_gbs", "HPCC_STREAM", "triad_gbs", "GB/s"),
    ("hpcc_ptrans_gbs", "HPCC_PTRANS", "gbs", "GB/s"),
    ("hpcc_randomaccess_gups", "HPCC_RANDOMACCESS", "gups", "GUP/s"),
    ("hpcc_fft_gflops", "HPCC_FFT", "gflops", "Gflop/s"),
    ("hpcc_beff_lat_min_us", BEFF, "pingpong_lat_min_us", "us"),
    ("hpcc_beff_lat_avg_us", BEFF, "pingpong_lat_avg_us", "us"),
    ("hpcc_beff_lat_max_us", BEFF, "pingpong_lat_max_us", "us"),
    ("hpcc_beff_ring_lat_us", BEFF, "natural_ring_lat_us", "us"),
    ("hpcc_beff_bw_avg_gbs", BEFF, "pingpong_bw_avg_gbs", "GB/s"),
)


class HpccOutputError(ValueError):
    """The output holds HPCC records that cannot be read as one run."""


@dataclass(frozen=True)
class HpccResult:
    np: int
    commworld: int
    version: str
    success: bool
    passed: bool
    dir: str | None
    # tag → key → value, for the test records and HPCC_BEFF (absent when HPCC itself failed).
    records: dict[str, dict[str, str]]

    def checks(self) -> dict[str, str]:
        """Test name → PASSED | FAILED | missing."""
        return {NAMES[tag]: self.records.get(tag, {}).get("check", "missing") for tag in TESTS}

    def number(self, tag: str, key: str) -> float:
        text = self.records[tag][key]
        try:
            value = float(text)
        except ValueError:
            raise HpccOutputError(f"{tag} {key}={text!r} is not a number") from None
        if not math.isfinite(value):
            raise HpccOutputError(f"{tag} {key}={text!r} is not finite")
        return value


def _lines(output: str, tag: str) -> list[str]:
    lines = (line.strip() for line in output.splitlines())
    return [line[len(tag) + 1 :] for line in lines if line.startswith(tag + " ")]


def _one(output: str, tag: str, keys: tuple[str, ...]) -> dict[str, str] | None:
    found = _lines(output, tag)
    if not found:
        return None
    if len(found) > 1:
        raise HpccOutputError(f"{len(found)} {tag} records in one output (expected one run)")
    values = fields(found[0])
    missing = [key for key in keys if key not in values]
    if missing:
        raise HpccOutputError(f"{tag} record lacks {', '.join(missing)}")
    return values


def parse(output: str) -> HpccResult | None:
    """The one HPCC run in `output`; None when there is none; an error when it is unusable."""
    result = _one(output, RESULT, RESULT_KEYS)
    wanted = (*TESTS.items(), (BEFF, BEFF_KEYS))
    records = {tag: rec for tag, keys in wanted if (rec := _one(output, tag, keys))}
    if result is None:
        if records:
            raise HpccOutputError(f"HPCC records without {RESULT} (the runner did not finish)")
        return None
    if result["status"] not in ("passed", "failed"):
        raise HpccOutputError(f"{RESULT} status={result['status']!r} is neither passed nor failed")
    for tag, rec in records.items():
        if "check" in rec and rec["check"] not in ("PASSED", "FAILED"):
            raise HpccOutputError(f"{tag} check={rec['check']!r} is neither PASSED nor FAILED")
    try:
        np, commworld = int(result["np"]), int(result["commworld"])
    except ValueError:
        raise HpccOutputError(f"{RESULT} np/commworld are not integers") from None
    return HpccResult(
        np=np,
        commworld=commworld,
        version=result["version"],
        success=result["success"] == "1",
        passed=result["status"] == "passed",
        dir=result.get("dir"),
        records=records,
    )


def figures(output: str) -> dict[str, Figure]:
    try:
        r = parse(output)
        if r is None:
            return {}
        return {
            name: Figure(value=r.number(tag, key), unit=unit)
            for name, tag, key, unit in FIGURES
            if tag in r.records
        }
    except HpccOutputError:
        return {}


def sanity_errors(output: str) -> list[str]:
    """What makes an HPCC run not count; [] for output that holds no HPCC records."""
    try:
        r = parse(output)
    except HpccOutputError as exc:
        return [f"HPCC output unusable: {exc}"]
    if r is None:
        return []
    if not r.records:
        return [f"HPCC did not complete (see {r.dir}/hpcc.out.0 on rank 0's node)"]
    checks = r.checks().items()
    errors = [f"HPCC {name}: verification {verdict}" for name, verdict in checks if verdict != "PASSED"]
    if not r.success:
        errors.append("HPCC: its summary flag Success is not 1")
    if not r.passed and not errors:
        errors.append("HPCC: the runner reports status=failed")
    sizes = {report.size for report in rank_reports(output)}
    if sizes and sizes != {r.commworld}:
        started = "/".join(str(s) for s in sorted(sizes))
        errors.append(f"HPCC ran on {r.commworld} process(es), the job started {started}")
    elif r.commworld != r.np:  # its input was sized for another grid (the runner's --np)
        errors.append(f"HPCC ran on {r.commworld} process(es), its input was sized for --np {r.np}")
    return errors
