"""Crafted VRRP frames for the eBPF/classic-BPF tests (Ethernet + IPv4/IPv6 + VRRP).

Checksums are filled in (IPv4 header, VRRP), but the filters do not check them: the builders
exist to hit each branch of the verdict tables, including malformed ones.
"""

from __future__ import annotations

import socket
import struct

BCAST_MAC = bytes.fromhex("01005e000012")
SRC_MAC = bytes.fromhex("020000000001")
VRRP_GROUP4 = "224.0.0.18"
VRRP_GROUP6 = "ff02::12"


def csum(data: bytes) -> int:
    """Internet checksum (RFC 1071)."""
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def vrrp_payload(
    *,
    version: int = 3,
    vrid: int = 51,
    priority: int = 100,
    family: int = socket.AF_INET,
    addrs: list[str] | None = None,
    interval_cs: int = 100,
    type_: int = 1,
    count: int | None = None,
    src: str = "10.0.0.1",
    dst: str = VRRP_GROUP4,
    seq: int = 0,
) -> bytes:
    """A VRRP message (v2 carries 8 bytes of auth data; v3 the RFC 5798 pseudo-header csum)."""
    if addrs is None:
        addrs = ["10.0.0.100"] if family == socket.AF_INET else ["fe80::100"]
    packed = b"".join(socket.inet_pton(family, a) for a in addrs)
    n = len(addrs) if count is None else count
    if version == 2:
        hdr = struct.pack(
            "!BBBBBBH", (2 << 4) | type_, vrid, priority, n, 0, max(1, interval_cs // 100), 0
        )
        body = packed + struct.pack("!Q", seq)
        ck = csum(hdr + body)
    else:
        hdr = struct.pack(
            "!BBBBHH", (version << 4) | type_, vrid, priority, n, interval_cs & 0x0FFF, 0
        )
        body = packed
        if family == socket.AF_INET:
            pseudo = (
                socket.inet_aton(src)
                + socket.inet_aton(dst)
                + struct.pack("!BBH", 0, 112, len(hdr + body))
            )
        else:
            pseudo = (
                socket.inet_pton(family, src)
                + socket.inet_pton(family, dst)
                + struct.pack("!IxxxB", len(hdr + body), 112)
            )
        ck = csum(pseudo + hdr + body)
    return hdr[:6] + struct.pack("!H", ck) + body


def ipv4(
    payload: bytes,
    *,
    src: str = "10.0.0.1",
    dst: str = VRRP_GROUP4,
    ttl: int = 255,
    proto: int = 112,
    frag: int = 0,
    tot_len: int | None = None,
) -> bytes:
    """An IPv4 header (no options) followed by ``payload``."""
    tl = 20 + len(payload) if tot_len is None else tot_len
    h = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,
        0xC0,
        tl,
        1,
        frag,
        ttl,
        proto,
        0,
        socket.inet_aton(src),
        socket.inet_aton(dst),
    )
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + payload


def ipv6(
    payload: bytes,
    *,
    src: str = "fe80::1",
    dst: str = VRRP_GROUP6,
    hlim: int = 255,
    nxt: int = 112,
    plen: int | None = None,
) -> bytes:
    """An IPv6 header followed by ``payload`` (``plen`` overrides the payload length)."""
    return (
        struct.pack(
            "!IHBB16s16s",
            6 << 28,
            len(payload) if plen is None else plen,
            nxt,
            hlim,
            socket.inet_pton(socket.AF_INET6, src),
            socket.inet_pton(socket.AF_INET6, dst),
        )
        + payload
    )


def ether(l3: bytes, *, ethertype: int = 0x0800, vlans: tuple[int, ...] = ()) -> bytes:
    """An Ethernet frame; ``vlans`` outermost first (first tag 802.1ad when two)."""
    tags = b""
    for i, vid in enumerate(vlans):
        tpid = 0x88A8 if (len(vlans) == 2 and i == 0) else 0x8100
        tags += struct.pack("!HH", tpid, vid)
    return BCAST_MAC + SRC_MAC + tags + struct.pack("!H", ethertype) + l3


def frame4(
    *,
    vlans: tuple[int, ...] = (),
    ttl: int = 255,
    src: str = "10.0.0.1",
    dst: str = VRRP_GROUP4,
    **kw: object,
) -> bytes:
    """Ethernet + IPv4 + VRRP advert."""
    p = vrrp_payload(family=socket.AF_INET, src=src, dst=dst, **kw)  # type: ignore[arg-type]
    return ether(ipv4(p, src=src, dst=dst, ttl=ttl), vlans=vlans)


def frame6(
    *,
    vlans: tuple[int, ...] = (),
    hlim: int = 255,
    src: str = "fe80::1",
    dst: str = VRRP_GROUP6,
    **kw: object,
) -> bytes:
    """Ethernet + IPv6 + VRRPv3 advert."""
    p = vrrp_payload(family=socket.AF_INET6, src=src, dst=dst, **kw)  # type: ignore[arg-type]
    return ether(ipv6(p, src=src, dst=dst, hlim=hlim), ethertype=0x86DD, vlans=vlans)
