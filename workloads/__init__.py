"""Workloads: figure extractors and sanity checks over captured job output."""
