"""The capture reader on a pcap built here byte by byte: per-flow payloads in sequence order."""

from __future__ import annotations

import struct

import pytest

from recapp.conformance import pcap
from recapp.errors import ConformanceError


def _frame(src: bytes, dst: bytes, sport: int, dport: int, seq: int, payload: bytes) -> bytes:
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, 5 << 4, 0x18, 65535, 0, 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0, 64, 6, 0, src, dst) + tcp
    return b"\x00" * 12 + b"\x08\x00" + ip


def _pcap(frames: list[bytes]) -> bytes:
    out = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)
    for frame in frames:
        out += struct.pack("<IIII", 0, 0, len(frame), len(frame)) + frame
    return out


A, B = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])


def test_payloads_are_reassembled_in_order_without_retransmissions() -> None:
    data = _pcap(
        [
            _frame(A, B, 40000, 7450, 1005, b"world"),
            _frame(A, B, 40000, 7450, 1000, b"hello"),
            _frame(A, B, 40000, 7450, 1005, b"world"),  # retransmitted
            _frame(B, A, 7450, 40000, 9, b"\x16\x03\x03"),
        ]
    )
    flows = pcap.tcp_payloads(data)
    assert flows[pcap.Flow("10.0.0.1", 40000, "10.0.0.2", 7450)] == b"helloworld"
    assert pcap.leaks(flows, {"greeting": b"lowor"}, port=7450) == [
        "greeting in 10.0.0.1:40000 > 10.0.0.2:7450"
    ]
    assert pcap.leaks(flows, {"greeting": b"lowor"}, port=22) == []


def test_not_a_pcap_is_named() -> None:
    with pytest.raises(ConformanceError, match=r"^capture: not a pcap file"):
        pcap.tcp_payloads(b"\x0a\x0d\x0d\x0a" + b"\x00" * 40)  # pcapng
