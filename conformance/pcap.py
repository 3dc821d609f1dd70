"""What a packet capture shows in clear text: TCP payloads of a classic pcap file, per connection.

Used to check that the launch path leaks nothing readable (the agent secret, PRRTE's command line,
its DVM key) to someone sniffing the pod network. Pure functions over the file's bytes; the capture
itself is taken with tcpdump (`tcpdump -i BRIDGE -s 0 -w FILE`).
"""

from __future__ import annotations

import struct
from collections import defaultdict
from dataclasses import dataclass

from recapp.errors import ConformanceError

_MAGIC = {
    b"\xd4\xc3\xb2\xa1": "<",
    b"\xa1\xb2\xc3\xd4": ">",
    b"\x4d\x3c\xb2\xa1": "<",
    b"\xa1\xb2\x3c\x4d": ">",
}
_LINKTYPE_ETHERNET = 1


@dataclass(frozen=True)
class Flow:
    src: str
    sport: int
    dst: str
    dport: int


def tcp_payloads(data: bytes) -> dict[Flow, bytes]:
    """Each direction of each TCP connection -> its payload bytes in sequence order (IPv4, Ethernet)."""
    if len(data) < 24 or data[:4] not in _MAGIC:
        raise ConformanceError("capture: not a pcap file (tcpdump -w writes one)")
    order = _MAGIC[data[:4]]
    linktype = struct.unpack(order + "I", data[20:24])[0]
    if linktype != _LINKTYPE_ETHERNET:
        raise ConformanceError(f"capture: link type {linktype} is not Ethernet")
    segments: dict[Flow, dict[int, bytes]] = defaultdict(dict)
    pos = 24
    while pos + 16 <= len(data):
        incl_len = struct.unpack(order + "I", data[pos + 8 : pos + 12])[0]
        frame = data[pos + 16 : pos + 16 + incl_len]
        pos += 16 + incl_len
        if len(frame) < 14 + 20 or frame[12:14] != b"\x08\x00":  # IPv4 only
            continue
        ip = frame[14:]
        ihl = (ip[0] & 0x0F) * 4
        total = struct.unpack("!H", ip[2:4])[0]
        if ip[9] != 6:  # TCP
            continue
        tcp = ip[ihl:total]
        sport, dport, seq = struct.unpack("!HHI", tcp[:8])
        offset = (tcp[12] >> 4) * 4
        payload = tcp[offset:]
        if payload:
            flow = Flow(".".join(map(str, ip[12:16])), sport, ".".join(map(str, ip[16:20])), dport)
            segments[flow].setdefault(seq, payload)  # a retransmission repeats a sequence number
    return {flow: b"".join(p for _, p in sorted(by_seq.items())) for flow, by_seq in segments.items()}


def leaks(payloads: dict[Flow, bytes], secrets: dict[str, bytes], port: int | None = None) -> list[str]:
    """`name in src:sport > dst:dport` for every secret found in clear in a flow (of `port` if given)."""
    found = []
    for flow, payload in payloads.items():
        if port is not None and port not in (flow.sport, flow.dport):
            continue
        for name, needle in secrets.items():
            if needle and needle in payload:
                found.append(f"{name} in {flow.src}:{flow.sport} > {flow.dst}:{flow.dport}")
    return sorted(found)
