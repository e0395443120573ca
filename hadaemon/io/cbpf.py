"""Classic BPF (``SO_ATTACH_FILTER``) programs for raw VRRP sockets: the headerless fallback.

Where bcc, kernel headers or eBPF are not available, the kernel can still drop what can never
be valid before it is queued on the socket (and before it wakes the VRRP process):

- IPv4 (``AF_INET``, ``SOCK_RAW``, 112): the program sees the IP header. It keeps a packet when
  (destination not multicast, or TTL == 255) and version/type is 2/1 or 3/1 and the VRID is in
  the configured set.
- IPv6 (``AF_INET6``, ``SOCK_RAW``, 112): the kernel strips the IPv6 header, so the hop limit
  is not in the payload. The program checks version/type (3/1) and the VRID; the hop limit is
  checked in user space from the ``IPV6_HOPLIMIT`` cmsg (see :mod:`hadaemon.io.receive`).

Instructions are ``struct sock_filter {u16 code; u8 jt; u8 jf; u32 k}``; jumps are relative and
8-bit, so a VRID set larger than :data:`MAX_FILTERED_VRIDS` is not filtered by VRID (the TTL
and version checks stay).
"""

from __future__ import annotations

import contextlib
import ctypes
import socket
import struct
from collections.abc import Iterable

SO_ATTACH_FILTER = 26
SO_DETACH_FILTER = 27

#: more VRIDs than this and the jump offsets would not fit in 8 bits: VRIDs then not filtered
MAX_FILTERED_VRIDS = 200

# opcodes (uapi linux/filter.h, linux/bpf_common.h)
BPF_LD_W_ABS = 0x20
BPF_LD_B_ABS = 0x30
BPF_LD_B_IND = 0x50
BPF_LDX_B_MSH = 0xB1
BPF_ALU_AND_K = 0x54
BPF_JEQ_K = 0x15
BPF_JA = 0x05
BPF_RET_K = 0x06

ACCEPT = 0xFFFFFFFF
REJECT = 0

Insn = tuple[int, int, int, int]


def _checked_vrids(vrids: Iterable[int]) -> list[int]:
    """The distinct VRIDs, sorted; ValueError for one outside 1..255."""
    ids = sorted(set(vrids))
    for v in ids:
        if not 1 <= v <= 255:
            raise ValueError(f"VRID {v} out of range 1..255")
    return ids


def _vrid_chain(vrids: list[int], load: Insn) -> list[Insn]:
    """``load`` the VRID, then jeq each; falls through to REJECT, jumps to ACCEPT on a match.

    The caller appends ``ret ACCEPT`` / ``ret REJECT`` ... the chain ends with ``ja`` to REJECT.
    Layout after the chain: ``[ret REJECT, ret ACCEPT]``.
    """
    n = len(vrids)
    out: list[Insn] = [load]
    for i, v in enumerate(vrids):
        # distance from the next instruction to ACCEPT: remaining jeqs + the REJECT ret
        out.append((BPF_JEQ_K, (n - 1 - i) + 1, 0, v))
    return out


def build_ipv4(vrids: Iterable[int]) -> list[Insn]:
    """The program for an IPv4 raw socket (packet starts at the IP header)."""
    ids = _checked_vrids(vrids)
    if not ids:
        return [(BPF_RET_K, 0, 0, REJECT)]
    filter_vrids = len(ids) <= MAX_FILTERED_VRIDS
    # tail: [vrid chain...] REJECT ACCEPT  (or just ACCEPT-ish when VRIDs are not filtered)
    tail: list[Insn]
    if filter_vrids:
        tail = _vrid_chain(ids, (BPF_LD_B_IND, 0, 0, 1))
        tail += [(BPF_RET_K, 0, 0, REJECT), (BPF_RET_K, 0, 0, ACCEPT)]
    else:
        tail = [(BPF_RET_K, 0, 0, ACCEPT), (BPF_RET_K, 0, 0, REJECT)]
    reject_at_end = len(tail) - 1 if not filter_vrids else len(tail) - 2
    head: list[Insn] = [
        (BPF_LD_W_ABS, 0, 0, 16),  # 0: A = daddr
        (BPF_ALU_AND_K, 0, 0, 0xF0000000),  # 1
        (BPF_JEQ_K, 0, 2, 0xE0000000),  # 2: multicast? else skip the TTL check
        (BPF_LD_B_ABS, 0, 0, 8),  # 3: A = TTL
        (BPF_JEQ_K, 0, 0, 255),  # 4: jf -> REJECT (patched below)
        (BPF_LDX_B_MSH, 0, 0, 0),  # 5: X = IP header length
        (BPF_LD_B_IND, 0, 0, 0),  # 6: A = version/type
        (BPF_JEQ_K, 1, 0, 0x31),  # 7: v3 advert -> 9
        (BPF_JEQ_K, 0, 0, 0x21),  # 8: v2 advert -> 9, else REJECT (patched)
    ]
    n_head = len(head)
    reject_idx = n_head + reject_at_end

    def patch(i: int) -> None:
        code, jt, _jf, k = head[i]
        head[i] = (code, jt, reject_idx - (i + 1), k)

    patch(4)
    patch(8)
    return head + tail


def build_ipv6(vrids: Iterable[int]) -> list[Insn]:
    """The program for an IPv6 raw socket (packet starts at the VRRP header)."""
    ids = _checked_vrids(vrids)
    if not ids:
        return [(BPF_RET_K, 0, 0, REJECT)]
    if len(ids) > MAX_FILTERED_VRIDS:
        return [
            (BPF_LD_B_ABS, 0, 0, 0),
            (BPF_JEQ_K, 0, 1, 0x31),
            (BPF_RET_K, 0, 0, ACCEPT),
            (BPF_RET_K, 0, 0, REJECT),
        ]
    chain = _vrid_chain(ids, (BPF_LD_B_ABS, 0, 0, 1))
    head: list[Insn] = [
        (BPF_LD_B_ABS, 0, 0, 0),  # A = version/type
        (BPF_JEQ_K, 0, len(chain), 0x31),  # not a v3 advert -> REJECT
    ]
    return head + chain + [(BPF_RET_K, 0, 0, REJECT), (BPF_RET_K, 0, 0, ACCEPT)]


def build(family: int, vrids: Iterable[int]) -> list[Insn]:
    """The program for a raw VRRP socket of ``family`` accepting ``vrids``."""
    if family == socket.AF_INET:
        return build_ipv4(vrids)
    if family == socket.AF_INET6:
        return build_ipv6(vrids)
    raise ValueError(f"unsupported address family {family}")


def pack(prog: list[Insn]) -> bytes:
    """Serialise instructions as an array of ``struct sock_filter``."""
    return b"".join(struct.pack("=HBBI", *insn) for insn in prog)


def attach(sock: socket.socket, family: int, vrids: Iterable[int]) -> list[Insn]:
    """Attach (or atomically replace) the filter on ``sock``; returns the program."""
    prog = build(family, vrids)
    buf = ctypes.create_string_buffer(pack(prog))
    # struct sock_fprog { unsigned short len; struct sock_filter *filter; } (kernel copies it)
    fprog = struct.pack("HL", len(prog), ctypes.addressof(buf))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)
    return prog


def detach(sock: socket.socket) -> None:
    """Remove the filter from ``sock`` (no error if none)."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, SO_DETACH_FILTER, 0)
