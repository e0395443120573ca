"""Classic BPF programs for raw VRRP sockets, run through a small cBPF interpreter (no root).

The same programs are attached to real sockets in tests/netns/test_bpf_receive.py; here every
branch is walked quickly: TTL on multicast/unicast, version/type, VRID sets of every size.
"""

from __future__ import annotations

import socket
import struct

import pytest
from helpers.bpf_packets import ipv4, vrrp_payload

from hadaemon.io import cbpf


def run(prog: list[cbpf.Insn], pkt: bytes) -> int:
    """Interpret the opcodes cbpf emits (ld/ldx/alu and/jeq/ja/ret) like the kernel would."""
    a = x = 0
    pc = 0
    for _ in range(10_000):
        code, jt, jf, k = prog[pc]
        pc += 1
        if code == cbpf.BPF_LD_W_ABS:
            if k + 4 > len(pkt):
                return 0
            a = struct.unpack("!I", pkt[k : k + 4])[0]
        elif code == cbpf.BPF_LD_B_ABS:
            if k >= len(pkt):
                return 0
            a = pkt[k]
        elif code == cbpf.BPF_LD_B_IND:
            if x + k >= len(pkt):
                return 0
            a = pkt[x + k]
        elif code == cbpf.BPF_LDX_B_MSH:
            x = 4 * (pkt[k] & 0x0F)
        elif code == cbpf.BPF_ALU_AND_K:
            a &= k
        elif code == cbpf.BPF_JEQ_K:
            pc += jt if a == k else jf
        elif code == cbpf.BPF_JA:
            pc += k
        elif code == cbpf.BPF_RET_K:
            return k
        else:  # pragma: no cover - would be a builder bug
            raise AssertionError(f"unknown opcode {code:#x}")
        assert 0 <= pc < len(prog), "jump out of the program"
    raise AssertionError("no return")


def v4(
    vrid: int = 51, ttl: int = 255, dst: str = "224.0.0.18", version: int = 3, type_: int = 1
) -> bytes:
    return ipv4(vrrp_payload(vrid=vrid, version=version, type_=type_, dst=dst), ttl=ttl, dst=dst)


def v6(vrid: int = 52, version: int = 3, type_: int = 1) -> bytes:
    return vrrp_payload(
        vrid=vrid,
        version=version,
        type_=type_,
        family=socket.AF_INET6,
        src="fe80::1",
        dst="ff02::12",
    )


@pytest.mark.parametrize(
    ("pkt", "accepted"),
    [
        (v4(), True),
        (v4(version=2), True),
        (v4(vrid=60), True),
        (v4(vrid=52), False),
        (v4(ttl=64), False),
        (v4(ttl=254), False),
        (v4(ttl=64, dst="10.0.0.2"), True),  # unicast: TTL not checked (keepalived too)
        (v4(version=4), False),
        (v4(type_=2), False),
    ],
)
def test_ipv4_verdicts(pkt: bytes, accepted: bool) -> None:
    prog = cbpf.build(socket.AF_INET, [51, 60])
    assert (run(prog, pkt) != 0) is accepted


@pytest.mark.parametrize(
    ("pkt", "accepted"),
    [(v6(), True), (v6(vrid=51), False), (v6(version=2), False), (v6(type_=3), False)],
)
def test_ipv6_verdicts(pkt: bytes, accepted: bool) -> None:
    prog = cbpf.build(socket.AF_INET6, [52])
    assert (run(prog, pkt) != 0) is accepted


@pytest.mark.parametrize("n", [1, 2, 7, 64, cbpf.MAX_FILTERED_VRIDS, 255])
def test_every_set_size_keeps_jumps_in_range(n: int) -> None:
    ids = list(range(1, n + 1))
    for fam, mk in ((socket.AF_INET, v4), (socket.AF_INET6, v6)):
        prog = cbpf.build(fam, ids)
        assert all(0 <= jt <= 255 and 0 <= jf <= 255 for _c, jt, jf, _k in prog)
        assert len(prog) <= 4096
        for vrid in (1, n, 255):
            want = vrid <= n or n > cbpf.MAX_FILTERED_VRIDS
            assert (run(prog, mk(vrid=vrid)) != 0) is want, (fam, n, vrid)
        if fam == socket.AF_INET:
            assert run(prog, v4(vrid=1, ttl=1)) == 0


def test_empty_set_rejects_everything() -> None:
    assert run(cbpf.build(socket.AF_INET, []), v4()) == 0
    assert run(cbpf.build(socket.AF_INET6, []), v6()) == 0


@pytest.mark.parametrize("bad", [0, 256, -1])
def test_bad_vrid_is_a_clear_error(bad: int) -> None:
    with pytest.raises(ValueError, match="VRID"):
        cbpf.build(socket.AF_INET, [bad])


def test_pack_is_sock_filter_array() -> None:
    prog = cbpf.build(socket.AF_INET, [51])
    raw = cbpf.pack(prog)
    assert len(raw) == 8 * len(prog)
    assert struct.unpack("=HBBI", raw[:8]) == prog[0]
