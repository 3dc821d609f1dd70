"""A late readiness answer on a busy host is an answer; no answer is still a failed probe (issue 16).

Run against a real container of the REC: a probe that answers after 7 s fails within the kubelet's
5 s on a quiet host and passes within the wait the local backend allows at load 40 on 2 CPUs; a
probe that never answers fails at that wait, not later.
"""

from __future__ import annotations

import secrets
import time

import pytest

from recapp.k8s.local.backend import LocalBackend, probe_timeout_s

pytestmark = [pytest.mark.e2e]

REC = "localhost/recapp/rec:trixie"


@pytest.fixture
def sleeper(engine, default_images):
    name = f"rt{secrets.token_hex(3)}-probe"
    engine.podman(
        "run", "-d", "--rm", *engine.ulimit_args, "--name", name, "--entrypoint", "sleep", REC, "300"
    )  # fmt: skip
    yield name
    engine.podman("rm", "-f", "-t", "0", name, check=False)


def test_a_slow_answer_counts_on_a_busy_host_and_a_missing_one_fails_at_the_wait(sleeper) -> None:
    backend = LocalBackend()
    slow = ["sh", "-c", "sleep 7; exit 0"]
    assert not backend._probe(sleeper, slow, timeout_s=probe_timeout_s(0.0, 2))
    assert backend._probe(sleeper, slow, timeout_s=probe_timeout_s(40.0, 2))
    busy = probe_timeout_s(40.0, 2)
    t0 = time.monotonic()
    assert not backend._probe(sleeper, ["sleep", "120"], timeout_s=busy)
    assert busy <= time.monotonic() - t0 < busy + 10
