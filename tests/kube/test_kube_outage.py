"""`cluster up` and an API server that stops answering half way (a restart), without a cluster: the
ride-out policy of KubernetesBackend.up (every step runs again while the API is away, for a bounded
time) and the error classes it keys on. The live fault is in test_live_faults.py."""

from __future__ import annotations

import time
from typing import Any

import pytest
import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from recapp.cli.cluster_cmd import _interrupted_up
from recapp.errors import ClusterError, ClusterUnreachable, Interrupted
from recapp.k8s.kubernetes import backend as kb
from recapp.k8s.kubernetes.errors import Action, api_error, unreachable_error
from recapp.k8s.spec import ClusterSpec

HOST = "https://192.0.2.2:6443"


def _backend(api_outage_s: float) -> kb.KubernetesBackend:
    configuration = client.Configuration()
    configuration.host = HOST
    return kb.KubernetesBackend(client.ApiClient(configuration), api_outage_s=api_outage_s)


def _refused() -> ClusterUnreachable:
    cause = urllib3.exceptions.NewConnectionError(None, "[Errno 111] Connection refused")  # type: ignore[arg-type]
    return unreachable_error(cause, HOST)


@pytest.fixture(autouse=True)
def quick_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kb, "OUTAGE_POLL_S", 0.01)


def test_unreachable_and_5xx_are_outages_refusals_are_not() -> None:
    action = Action("create", "pods", "recapp-demo", "x")
    assert isinstance(_refused(), ClusterUnreachable)
    assert isinstance(
        api_error(ApiException(status=503, reason="Service Unavailable"), action), ClusterUnreachable
    )
    for status in (403, 404, 409, 422):
        error = api_error(ApiException(status=status, reason="no"), action)
        assert type(error) is ClusterError, status


def test_an_outage_after_the_api_answered_is_ridden_out(spec: ClusterSpec) -> None:
    backend = _backend(api_outage_s=30)
    backend._api_answered = True
    attempts: list[float] = []
    said: list[str] = []

    def attempt() -> None:
        attempts.append(time.monotonic())
        if len(attempts) < 3:
            raise _refused()

    backend._riding_out_api_outages(spec, attempt, said.append)
    assert len(attempts) == 3
    assert said[0].startswith(
        f"cannot reach the Kubernetes API at {HOST}: connection refused: retrying for up to"
    )


def test_an_api_never_reached_fails_at_once(spec: ClusterSpec) -> None:
    backend = _backend(api_outage_s=30)
    calls: list[int] = []

    def attempt() -> None:
        calls.append(1)
        raise _refused()

    with pytest.raises(
        ClusterUnreachable, match=r"^cannot reach the Kubernetes API at .*: connection refused$"
    ):
        backend._riding_out_api_outages(spec, attempt, lambda _t: None)
    assert calls == [1]


def test_a_long_outage_ends_in_one_line_naming_both_ways_on(spec: ClusterSpec) -> None:
    backend = _backend(api_outage_s=0.2)
    backend._api_answered = True

    def attempt() -> None:
        raise _refused()

    started = time.monotonic()
    with pytest.raises(ClusterError) as info:
        backend._riding_out_api_outages(spec, attempt, lambda _t: None)
    assert time.monotonic() - started < 5
    assert str(info.value) == (
        f"cannot reach the Kubernetes API at {HOST}: connection refused (for 0 s); cluster demo is half made:"
        " run the same `recapp cluster up` again once the API answers, or"
        " `recapp cluster down --name demo --backend kubernetes`"
    )


def test_a_refusal_during_an_outage_is_not_retried(spec: ClusterSpec) -> None:
    backend = _backend(api_outage_s=30)
    backend._api_answered = True
    refusal = ClusterError("forbidden: create pods in recapp-demo (RBAC)")

    def attempt() -> Any:
        raise refusal

    with pytest.raises(ClusterError) as info:
        backend._riding_out_api_outages(spec, attempt, lambda _t: None)
    assert info.value is refusal


def test_ctrl_c_during_up_says_how_to_go_on() -> None:
    assert Interrupted("x").exit_code == 130
    assert _interrupted_up("k1", "kubernetes") == (
        "interrupted: cluster k1 may be half made; run the same `recapp cluster up` again to resume it,"
        " or `recapp cluster down --name k1 --backend kubernetes` to remove it"
    )
    # The local backend refuses a cluster that exists: down first.
    assert _interrupted_up("k1", "local") == (
        "interrupted: cluster k1 may be half made;"
        " `recapp cluster down --name k1 --backend local` removes it, then run up again"
    )
