"""The benchmarks room: side-by-side workload runs, launch and cluster-up benchmarks, references.

- cluster.py       cluster up and launch benchmarks (samples alternate between variants)
- side_by_side.py  workloads nested vs native vs traditional, compared as ratios of medians
- references.py    ReFrame-style references (value, lower, upper, unit) and the check of a figure
"""
