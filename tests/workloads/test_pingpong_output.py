"""pingpong output → figures and sanity verdicts (workloads/mpi/pingpong_output.py).

The captures in captured/ are verbatim stdout+stderr of `mpirun -np 2 ./pingpong` built from
workloads/mpi/src with Open MPI 5.0.7 in a trixie container (numbers from a busy shared machine):
`pingpong.ok.txt` a clean run, `pingpong.corrupt.txt` with RECAPP_PINGPONG_CORRUPT=1 (rank 1
flips one bit of its last 4 MiB reply), `pingpong.np3.txt` started on 3 ranks (refused).
`pingpong.raw-tcp.txt` and `pingpong.raw-shm.txt` are `recapp`-cluster runs of the program with its
raw transports (nested, Open MPI 5.0.7, a 2-core machine at load ~25): across two node pods, and
both ranks in one node pod.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from recapp.k8s.jobs import workload_figures, workload_sanity_errors
from recapp.reports.records import rank_reports
from recapp.workloads.mpi import pingpong_output
from recapp.workloads.mpi.pingpong_output import figures, parse, sanity_errors

CAPTURED = Path(__file__).parent / "captured"
OK = (CAPTURED / "pingpong.ok.txt").read_text()
CORRUPT = (CAPTURED / "pingpong.corrupt.txt").read_text()
NP3 = (CAPTURED / "pingpong.np3.txt").read_text()
RAW_TCP = (CAPTURED / "pingpong.raw-tcp.txt").read_text()
RAW_SHM = (CAPTURED / "pingpong.raw-shm.txt").read_text()
SIZES = [8, 64, 512, 4096, 32768, 262144, 1048576, 4194304]


def test_clean_run_gives_latency_and_bandwidth_for_every_size():
    found = figures(OK)
    for size in SIZES:
        lat, bw = found[f"pingpong_lat_{size}"], found[f"pingpong_bw_{size}"]
        assert (lat.unit, bw.unit) == ("us", "MB/s")
        assert lat.value > 0 and bw.value > 0
        # bandwidth is bytes over the one-way latency, in 10^6 B/s (latency printed to 1 ns)
        assert bw.value == pytest.approx(size / lat.value, rel=2e-3)
    assert found["pingpong_lat_8"].value == pytest.approx(0.630)
    assert found["pingpong_bw_4194304"].value == pytest.approx(1025.495249)
    assert found["pingpong_validated"].value == 1.0
    assert found["pingpong_same_node"].value == 1.0
    assert sanity_errors(OK) == []


def test_clean_run_is_parsed_fully():
    run = parse(OK)
    assert run is not None and run.validated
    assert [r.bytes for r in run.sizes] == SIZES
    assert [r.iterations for r in run.sizes] == [1000, 1000, 1000, 1000, 512, 64, 20, 20]
    summary = {"sizes": "8", "messages": "10262", "errors": "0", "validated": "yes", "status": "OK"}
    assert run.summary == summary
    assert sorted(r.rank for r in rank_reports(OK)) == [0, 1]


def test_corrupted_payload_fails_validation_and_is_named():
    found = figures(CORRUPT)
    assert found["pingpong_validated"].value == 0.0
    assert found["pingpong_lat_8"].value > 0  # the measurements are still reported
    errors = sanity_errors(CORRUPT)
    assert len(errors) == 1
    assert "pingpong payload validation failed" in errors[0]
    # rank 0 received rank 1's bad reply: the last word of the 4 MiB message, one bit off
    assert "rank=0 bytes=4194304" in errors[0] and "offset=4194296" in errors[0]
    run = parse(CORRUPT)
    assert run is not None and run.sizes[-1].errors == 1 and run.summary["status"] == "FAIL"


def test_refused_size_is_no_pingpong_result():
    # 3 ranks: the program refuses before any record (exit 2); the job's exit status says so.
    assert "needs exactly 2 ranks" in NP3
    assert parse(NP3) is None and figures(NP3) == {} and sanity_errors(NP3) == []


def test_truncated_run_is_not_validated():
    head = OK[: OK.index("PINGPONG bytes=262144")]
    assert figures(head)["pingpong_validated"].value == 0.0
    assert sanity_errors(head) == ["pingpong did not finish: no PINGPONG_SUMMARY after 5 message size(s)"]


def test_summary_that_disagrees_with_the_records_is_not_validated():
    # A summary claiming success over fewer sizes than were measured.
    forged = OK.replace("PINGPONG_SUMMARY sizes=8", "PINGPONG_SUMMARY sizes=7")
    assert figures(forged)["pingpong_validated"].value == 0.0
    assert sanity_errors(forged) == ["pingpong not validated: status=OK errors=0 over 8 of 7 sizes"]


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("PINGPONG bytes=8 iterations=10 latency_us=0.000 bandwidth_mbs=inf errors=0", "positive"),
        ("PINGPONG bytes=8 iterations=10 latency_us=abc bandwidth_mbs=1 errors=0", "unreadable"),
        ("PINGPONG bytes=8 iterations=10 errors=0", "unreadable"),
    ],
)
def test_bad_size_record_is_a_problem(line, problem):
    first = "PINGPONG bytes=8 iterations=1000 latency_us=0.630 bandwidth_mbs=12.706571 errors=0"
    assert first in OK
    output = OK.replace(first, line)
    errors = sanity_errors(output)
    assert len(errors) == 1 and problem in errors[0] and line in errors[0]
    assert figures(output)["pingpong_validated"].value == 0.0


def test_peer_on_another_node():
    other = OK.replace("peer=same_node", "peer=other_node")
    assert figures(other)["pingpong_same_node"].value == 0.0


def test_other_programs_output_is_ignored():
    hello = (
        'HELLO rank=0 size=1 host=n0 pid=1 mpi_version="Open MPI v5.0.7"\n'
        "RING size=2 laps=1 token=1 expected=1 status=OK\n"
    )
    assert figures(hello) == {} and sanity_errors(hello) == []


def test_registered_with_the_job_runner():
    assert "pingpong_validated" in workload_figures(OK)
    assert any("validation failed" in e for e in workload_sanity_errors(CORRUPT))
    assert pingpong_output.TAGS[0] == "PINGPONG_ENV"


def test_two_nodes_give_the_raw_tcp_figures_beside_mpi():
    found = figures(RAW_TCP)
    for size in SIZES:
        assert found[f"raw_tcp_lat_{size}"].unit == "us" and found[f"raw_tcp_bw_{size}"].unit == "MB/s"
        assert found[f"pingpong_lat_{size}"].value > 0
    assert found["raw_tcp_lat_64"].value == pytest.approx(10.581)
    assert found["raw_tcp_bw_4194304"].value == pytest.approx(336.712265)
    assert found["pingpong_lat_8"].value == pytest.approx(1157.122)
    assert not any(name.startswith("raw_shm_") for name in found)  # no shared memory across nodes
    assert found["pingpong_same_node"].value == 0.0 and found["pingpong_validated"].value == 1.0
    assert sanity_errors(RAW_TCP) == []


def test_one_node_gives_raw_tcp_and_raw_shm():
    run = parse(RAW_SHM)
    assert run is not None and run.validated and run.raw_skipped == {}
    assert {t: [r.bytes for r in sizes] for t, sizes in run.raw.items()} == {"tcp": SIZES, "shm": SIZES}
    assert [r.iterations for r in run.raw["shm"]] == [1000, 1000, 1000, 1000, 512, 64, 20, 20]
    found = figures(RAW_SHM)
    assert found["raw_shm_lat_8"].value == pytest.approx(0.080)
    assert found["raw_shm_bw_4194304"].value == pytest.approx(1457.999640)
    assert found["pingpong_same_node"].value == 1.0


def test_raw_echo_that_came_back_changed_fails_validation():
    line = (
        "RAWPING transport=tcp bytes=512 iterations=1000 latency_us=11.872 bandwidth_mbs=43.125431 errors=0"
    )
    assert line in RAW_TCP
    bad = RAW_TCP.replace(line, line.replace("errors=0", "errors=3"))
    assert figures(bad)["pingpong_validated"].value == 0.0
    assert sanity_errors(bad) == ["raw tcp ping-pong: 3 payload(s) of 512 bytes came back changed"]


def test_raw_transport_not_measured_is_reported_but_not_an_error():
    lines = [ln for ln in RAW_TCP.splitlines() if not ln.startswith("RAWPING ")]
    lines.insert(3, 'RAWPING_SKIP transport=tcp reason="rank 0 could not connect to any address of rank 1"')
    skipped = "\n".join(lines)
    run = parse(skipped)
    assert run is not None and run.validated and run.raw == {}
    assert run.raw_skipped == {"tcp": "rank 0 could not connect to any address of rank 1"}
    found = figures(skipped)
    assert not any(name.startswith("raw_") for name in found) and found["pingpong_lat_8"].value > 0
    assert sanity_errors(skipped) == []


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("RAWPING transport=udp bytes=8 iterations=10 latency_us=1 bandwidth_mbs=8 errors=0", "unknown raw"),
        ("RAWPING transport=tcp bytes=8 iterations=10 latency_us=x bandwidth_mbs=8 errors=0", "unreadable"),
        ("RAWPING transport=tcp bytes=64 iterations=10 latency_us=1 bandwidth_mbs=64 errors=0", "twice"),
    ],
)
def test_bad_raw_record_is_a_problem(line, problem):
    first = "RAWPING transport=tcp bytes=8 iterations=1000 latency_us=250.119 bandwidth_mbs=0.031985 errors=0"
    assert first in RAW_TCP
    output = RAW_TCP.replace(first, line)
    errors = sanity_errors(output)
    assert len(errors) == 1 and problem in errors[0]
    assert figures(output)["pingpong_validated"].value == 0.0
