"""The live cluster's REC and node-pod options, from `make test-kube`'s RECAPP_K8S_* settings."""

from __future__ import annotations

import os

import pytest


def live_rec_and_pod_options() -> tuple[str, list[str]]:
    """The REC the live cluster runs and the `--storage/--pull-policy/--seccomp-profile` options for
    it; skips, naming the setting, when no REC is given."""
    rec = os.environ.get("RECAPP_K8S_REC_IMAGE", "")
    if not rec:
        pytest.skip("needs RECAPP_K8S_REC_IMAGE: a REC image the live cluster can run")
    options = ["--storage", os.environ.get("RECAPP_K8S_STORAGE", "emptyDir")]
    options += ["--pull-policy", os.environ.get("RECAPP_K8S_PULL_POLICY", "IfNotPresent")]
    if os.environ.get("RECAPP_K8S_SECCOMP_PROFILE"):
        options += ["--seccomp-profile", os.environ["RECAPP_K8S_SECCOMP_PROFILE"]]
    return rec, options
