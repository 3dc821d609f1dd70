"""Latency, bandwidth and payload validation of recapp's `pingpong` (workloads/mpi/src/records.yaml).

Rank 0 prints `PINGPONG_ENV` (where the peer is), one `PINGPONG` record per message size and a
closing `PINGPONG_SUMMARY`; a rank that receives a payload unlike the one its sender derived
prints `PINGPONG_FAIL`. Figures:

- `pingpong_lat_<bytes>` (us): half the mean round-trip time of messages of that size;
- `pingpong_bw_<bytes>` (MB/s, 10^6 B): bytes / latency;
- `pingpong_validated`: 1.0 when the run completed and every payload checked, else 0.0;
- `pingpong_same_node`: 1.0 when both ranks ran on one node (Open MPI's shared-memory transport),
  0.0 across nodes (TCP here);
- `raw_tcp_lat_<bytes>`, `raw_tcp_bw_<bytes>` (and `raw_shm_…` when both ranks share a node): the
  same ping-pong between the same two ranks without MPI (`RAWPING` records: a plain TCP socket, a
  POSIX shared-memory buffer pair), the physical limit MPI's figures are read against.

A raw transport that could not be measured (`RAWPING_SKIP`) gives no figure and no error; a raw
payload that came back changed fails validation like an MPI one.

Pure functions over text: no containers, no MPI.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from recapp.reports.records import Figure, fields

TAGS = ("PINGPONG_ENV", "PINGPONG", "PINGPONG_FAIL", "PINGPONG_SUMMARY", "RAWPING", "RAWPING_SKIP")
RAW_TRANSPORTS = ("tcp", "shm")


@dataclass(frozen=True)
class SizeResult:
    bytes: int
    iterations: int
    latency_us: float
    bandwidth_mbs: float
    errors: int


@dataclass
class PingPong:
    """What one pingpong run printed; missing parts stay None/empty."""

    peer: str | None = None  # same_node | other_node
    sizes: list[SizeResult] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # PINGPONG_FAIL lines, as printed
    summary: dict[str, str] | None = None
    problems: list[str] = field(default_factory=list)  # records that could not be read
    raw: dict[str, list[SizeResult]] = field(default_factory=dict)  # transport → sizes, without MPI
    raw_skipped: dict[str, str] = field(default_factory=dict)  # transport → why it was not measured

    @property
    def validated(self) -> bool:
        """Completed, every size measured, no payload failed, and the summary says so."""
        s = self.summary
        return (
            s is not None
            and not self.problems
            and not self.failures
            and s.get("validated") == "yes"
            and s.get("status") == "OK"
            and s.get("errors") == "0"
            and s.get("sizes") == str(len(self.sizes))
            and all(r.errors == 0 for r in self.sizes)
            and all(r.errors == 0 for sizes in self.raw.values() for r in sizes)
        )


def _records(output: str) -> list[tuple[str, str, str]]:
    """(tag, pairs, line) for every pingpong record in the output."""
    found = []
    for line in output.splitlines():
        line = line.strip()
        tag, _, pairs = line.partition(" ")
        if tag in TAGS:
            found.append((tag, pairs, line))
    return found


def _size_result(values: dict[str, str]) -> SizeResult:
    result = SizeResult(
        bytes=int(values["bytes"]),
        iterations=int(values["iterations"]),
        latency_us=float(values["latency_us"]),
        bandwidth_mbs=float(values["bandwidth_mbs"]),
        errors=int(values["errors"]),
    )
    if not all(math.isfinite(v) and v > 0 for v in (result.latency_us, result.bandwidth_mbs)):
        raise ValueError("latency and bandwidth must be finite and positive")
    return result


def parse(output: str) -> PingPong | None:
    """The pingpong run in `output`, or None when the output holds no pingpong record at all."""
    records = _records(output)
    if not records:
        return None
    run = PingPong()
    for tag, pairs, line in records:
        values = fields(pairs)
        if tag == "PINGPONG_ENV":
            run.peer = values.get("peer")
        elif tag == "PINGPONG":
            try:
                run.sizes.append(_size_result(values))
            except (KeyError, ValueError) as exc:
                run.problems.append(f"unreadable record ({exc}): {line}")
        elif tag == "PINGPONG_FAIL":
            run.failures.append(line)
        elif tag in ("RAWPING", "RAWPING_SKIP"):
            _raw_record(run, tag, values, line)
        elif run.summary is not None:
            run.problems.append(f"second PINGPONG_SUMMARY: {line}")
        else:
            run.summary = values
    for what, sizes in [("", run.sizes), *((f"raw {t} ", s) for t, s in run.raw.items())]:
        seen = [r.bytes for r in sizes]
        if len(set(seen)) != len(seen):
            run.problems.append(f"{what}message size measured twice: {seen}")
    return run


def _raw_record(run: PingPong, tag: str, values: dict[str, str], line: str) -> None:
    transport = values.get("transport", "")
    if transport not in RAW_TRANSPORTS:
        run.problems.append(f"unknown raw transport {transport!r}: {line}")
    elif tag == "RAWPING_SKIP":
        run.raw_skipped[transport] = values.get("reason", "")
    else:
        try:
            run.raw.setdefault(transport, []).append(_size_result(values))
        except (KeyError, ValueError) as exc:
            run.problems.append(f"unreadable record ({exc}): {line}")


def figures(output: str) -> dict[str, Figure]:
    run = parse(output)
    if run is None:
        return {}
    found: dict[str, Figure] = {}
    for r in run.sizes:
        found[f"pingpong_lat_{r.bytes}"] = Figure(value=r.latency_us, unit="us")
        found[f"pingpong_bw_{r.bytes}"] = Figure(value=r.bandwidth_mbs, unit="MB/s")
    for transport, sizes in run.raw.items():
        for r in sizes:
            found[f"raw_{transport}_lat_{r.bytes}"] = Figure(value=r.latency_us, unit="us")
            found[f"raw_{transport}_bw_{r.bytes}"] = Figure(value=r.bandwidth_mbs, unit="MB/s")
    found["pingpong_validated"] = Figure(value=1.0 if run.validated else 0.0, unit="bool")
    if run.peer in ("same_node", "other_node"):
        found["pingpong_same_node"] = Figure(value=1.0 if run.peer == "same_node" else 0.0, unit="bool")
    return found


def sanity_errors(output: str) -> list[str]:
    """A pingpong whose payloads failed validation, or that did not finish; [] for other output."""
    run = parse(output)
    if run is None:
        return []
    errors = [f"pingpong payload validation failed: {line}" for line in run.failures]
    errors += [f"pingpong output: {problem}" for problem in run.problems]
    errors += [
        f"raw {transport} ping-pong: {r.errors} payload(s) of {r.bytes} bytes came back changed"
        for transport, sizes in run.raw.items()
        for r in sizes
        if r.errors
    ]
    if run.summary is None:
        errors.append(f"pingpong did not finish: no PINGPONG_SUMMARY after {len(run.sizes)} message size(s)")
    elif not run.validated and not errors:
        s = run.summary
        errors.append(
            f"pingpong not validated: status={s.get('status')} errors={s.get('errors')} "
            f"over {len(run.sizes)} of {s.get('sizes')} sizes"
        )
    return errors
