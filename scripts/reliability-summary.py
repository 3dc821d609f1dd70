#!/usr/bin/env python3
"""Print the figures the reliability tests left in RECAPP_HOME/reliability, newest run of each kind.

soak-*.json: jobs passed, the counts that grew (before, after), the agents' memory (KiB) and, for the
short-job soak, job times, how often the failed rank was named and the jobs lost to the DVM's known
exit on a late launch report (k8s/dvm.py). concurrency-*.json: jobs and failures per cluster, job
time, load. short-jobs-*.json: the hang's check (8 ranks of `true`, by
hand and by `recapp run`): jobs, exit 0, under the limit, job time, load.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


def newest(folder: Path, pattern: str, prefixes: tuple[str, ...]) -> list[Path]:
    """The newest file of each prefix (soak-prterun-, soak-dvm-, …)."""
    picked = []
    for prefix in prefixes:
        found = sorted(folder.glob(f"{prefix}*.json"), key=lambda p: p.stat().st_mtime)
        if found:
            picked.append(found[-1])
    return picked


def main() -> None:
    home = Path(os.environ.get("RECAPP_HOME") or Path.home() / ".local/state/recapp")
    folder = home / "reliability"
    soaks = newest(folder, "soak-*", ("soak-prterun-", "soak-dvm-", "soak-short-prterun-", "soak-short-dvm-"))
    for path in soaks:
        r = json.loads(path.read_text())
        grown = {
            k: (r["baseline"][k], r["last"][k])
            for k in r["last"]
            if r["last"][k] > r["baseline"][k] and k != "agent_rss_kib"  # a gauge, shown on its own
        }
        rss = (r["baseline"].get("agent_rss_kib"), r["last"].get("agent_rss_kib"))
        print(f"{path.name}: passed {r['passed']}/{r['jobs']}; grown: {grown}; agent RSS KiB {rss}")
        if "seconds" in r:
            print(
                f"  seconds {r['seconds']}; failed rank named {r['failed_rank_named']} of {r['failing_jobs']}"
            )
            print(f"  load before {r['loadavg_before']} after {r['loadavg_after']}; bad {r['bad'][:5]}")
            lost = r.get("dvm_lost_to_known_issue") or []
            if lost:  # not counted as passed: each names the keeper's restart line that shows it
                print(f"  lost to the DVM's known exit: {len(lost)} (job, path, kind, status)")
                print(f"    {[tuple(x[:4]) for x in lost]}")
    for path in newest(folder, "concurrency-*", ("concurrency-",)):
        r = json.loads(path.read_text())
        print(f"{path.name}: {r['duration_s']:.0f} s; jobs {r['jobs']}; failures {r['failures']}")
        print(f"  job seconds {r['job_s']}; load during {r['load1_during']}; after {r['loadavg_after']}")
        if r["first_failures"]:
            print(f"  first failures {r['first_failures']}")
    for path in newest(folder, "short-jobs-*", ("short-jobs-hand-", "short-jobs-recapp-")):
        r = json.loads(path.read_text())
        print(
            f"{path.name}: exit 0 {r['exit_0']}/{r['jobs']};"
            f" under {r['limit_s']:g} s {r['under_limit']}/{r['jobs']}; seconds {r['seconds']};"
            f" load before {r['loadavg_before']} after {r['loadavg_after']}"
        )


if __name__ == "__main__":
    main()
