"""Run a part of the conformance suite as one pytest session, from code (the CLI) or a shell."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

SUITE_DIR = Path(__file__).resolve().parent
# The whole suite, in the order it runs: static image checks, then the REC as a cluster, the PMIx
# levels of the pair, and the workloads with their sanity and reference checks.
FULL_SUITE = ("images", "suite/test_cluster.py", "suite/test_pmix.py", "suite/test_workloads.py")


def _base_args(parts: list[str]) -> list[str]:
    # One line per failing check, not pages of tracebacks; RECAPP_DEBUG=1 shows them.
    debug = os.environ.get("RECAPP_DEBUG", "") not in ("", "0")
    return [
        *(str(SUITE_DIR / p) for p in parts),
        "-p",
        "no:cacheprovider",
        "-q",
        "-rs",
        "--rootdir",
        str(SUITE_DIR),
        *([] if debug else ["--recapp-oneline"]),
    ]


def run_suite(part: str, *, rec_image: str | None, app_image: str | None, junit: str | None = None) -> int:
    """pytest's exit status for conformance/<part> against the given images."""
    args = _base_args([part])
    if rec_image:
        args += ["--rec-image", rec_image]
    else:
        args += ["-m", "not rec"]
    if app_image:
        args += ["--app-image", app_image]
    else:
        args += ["-m", "not app"]
    if junit:
        args += ["--junitxml", junit]
    return int(pytest.main(args))


@dataclass(frozen=True)
class FullRun:
    rec_image: str | None
    app_image: str | None
    records_dir: Path
    workloads: str = "conformance"
    references: str = "local"
    repeats: int = 1
    nodes: int = 2
    levels: str | None = None
    junit: Path | None = None
    backend: str = "local"
    kubeconfig: str | None = None
    context: str | None = None
    cluster_settings: dict[str, Any] = field(default_factory=dict)


def full_suite_args(run: FullRun) -> list[str]:
    """The pytest arguments of the whole suite. A check that needs the image not given is skipped by
    its fixture, naming the missing option, so the session shows what was not checked and why."""
    args = _base_args(list(FULL_SUITE))
    args += ["--records-dir", str(run.records_dir), "--workloads", run.workloads]
    args += ["--references", run.references, "--repeats", str(run.repeats), "--nodes", str(run.nodes)]
    if run.rec_image:
        args += ["--rec-image", run.rec_image]
    if run.app_image:
        args += ["--app-image", run.app_image]
    if run.levels:
        args += ["--levels", run.levels]
    if run.junit:
        args += ["--junitxml", str(run.junit)]
    args += ["--backend", run.backend, "--cluster-settings", json.dumps(run.cluster_settings)]
    if run.kubeconfig:
        args += ["--kubeconfig", run.kubeconfig]
    if run.context:
        args += ["--kube-context", run.context]
    return args


def run_full_suite(run: FullRun) -> int:
    return int(pytest.main(full_suite_args(run)))
