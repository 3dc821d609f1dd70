"""The local readiness probe waits longer on a busy host (issue 16: at load >= 40 on 2 cores healthy
clusters were refused because `podman exec … recapp-agent ping` took more than the kubelet's 5 s)."""

from __future__ import annotations

import pytest

from recapp.k8s.local.backend import PROBE_TIMEOUT_MAX_S, PROBE_TIMEOUT_S, probe_timeout_s


@pytest.mark.parametrize(
    ("load1", "cpus", "expected"),
    [
        (0.0, 2, PROBE_TIMEOUT_S),  # idle: the kubelet's own timeout
        (1.4, 2, PROBE_TIMEOUT_S),
        (8.0, 2, PROBE_TIMEOUT_S),  # 4 per CPU: still the kubelet's
        (16.0, 2, 10.0),  # 8 per CPU: twice as long
        (40.0, 2, 25.0),  # where jobs were refused last session
        (57.0, 2, PROBE_TIMEOUT_MAX_S),  # capped: a wedged agent is still found
        (40.0, 16, PROBE_TIMEOUT_S),  # the same load on a bigger host is not busy
        (3.0, 0, PROBE_TIMEOUT_S),  # no CPU count: counted as one CPU, not a division by zero
    ],
)
def test_probe_timeout_grows_with_the_load_per_cpu_and_is_capped(load1, cpus, expected) -> None:
    assert probe_timeout_s(load1, cpus) == pytest.approx(expected)


def test_probe_timeout_reads_this_host_when_not_told() -> None:
    assert PROBE_TIMEOUT_S <= probe_timeout_s() <= PROBE_TIMEOUT_MAX_S
