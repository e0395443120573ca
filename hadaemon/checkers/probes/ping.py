"""PING_CHECK: one ICMP / ICMPv6 echo request, answered within connect_timeout.

A raw socket (root) connected to the target, so the kernel only hands us the target's packets;
without CAP_NET_RAW it falls back to an unprivileged ping socket (``ping_group_range``).
"""

from __future__ import annotations

import asyncio
import os
import socket
import struct

from hadaemon.checkers.probes import ProbeResult
from hadaemon.checkers.spec import CheckSpec

ICMP_ECHO_REPLY, ICMP_ECHO = 0, 8
ICMP6_ECHO, ICMP6_ECHO_REPLY = 128, 129
_seq = 0


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071)."""
    if len(data) % 2:
        data += b"\0"
    s: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def echo_request(v6: bool, ident: int, seq: int, payload: bytes) -> bytes:
    """An echo request; ICMPv6 checksums are filled in by the kernel."""
    typ = ICMP6_ECHO if v6 else ICMP_ECHO
    hdr = struct.pack("!BBHHH", typ, 0, 0, ident, seq)
    if v6:
        return hdr + payload
    c = checksum(hdr + payload)
    return struct.pack("!BBHHH", typ, 0, c, ident, seq) + payload


def _open(v6: bool) -> tuple[socket.socket, bool]:
    fam = socket.AF_INET6 if v6 else socket.AF_INET
    proto = socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP
    try:
        return socket.socket(fam, socket.SOCK_RAW, proto), True
    except PermissionError:
        return socket.socket(fam, socket.SOCK_DGRAM, proto), False


async def probe(spec: CheckSpec) -> ProbeResult:
    """Echo request to ``connect_ip``; up when the matching reply arrives in time."""
    global _seq
    v6 = ":" in spec.connect_ip
    name = f"[{spec.connect_ip}]"
    _seq = (_seq + 1) & 0xFFFF
    ident, seq = os.getpid() & 0xFFFF, _seq
    payload = os.urandom(16)
    loop = asyncio.get_running_loop()
    try:
        sock, raw = _open(v6)
    except OSError as exc:
        return ProbeResult(False, f"PING_CHECK cannot open ICMP socket: {exc}")
    with sock:
        sock.setblocking(False)
        try:
            if spec.bindto:
                sock.bind((spec.bindto, 0))
            sock.connect((spec.connect_ip, 0))
            await loop.sock_sendall(sock, echo_request(v6, ident, seq, payload))
            async with asyncio.timeout(spec.connect_timeout_s):
                while True:
                    data = await loop.sock_recv(sock, 65535)
                    if raw and not v6:
                        data = data[(data[0] & 0x0F) * 4 :]
                    if len(data) < 8:
                        continue
                    typ, _code, _c, rid, rseq = struct.unpack("!BBHHH", data[:8])
                    if typ != (ICMP6_ECHO_REPLY if v6 else ICMP_ECHO_REPLY):
                        continue
                    # ping sockets rewrite the id; match on seq + payload there
                    if rseq == seq and data[8:] == payload and (rid == ident or not raw):
                        return ProbeResult(True, f"ICMP check to {name} success.")
        except TimeoutError:
            return ProbeResult(False, f"ICMP check to {name} timeout.")
        except OSError as exc:
            return ProbeResult(False, f"ICMP check to {name} failed: {exc.strerror or exc}.")
