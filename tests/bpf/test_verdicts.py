"""Verdict tables for bpf/vrrp_filter.bpf.c through BPF_PROG_TEST_RUN (Katran/Cilium style).

Each row is a crafted frame and the expected verdict, the counter that must move, and whether
``last_seen`` must record it. Both entry points (XDP and tc) run every row. BPF_PROG_TEST_RUN
runs a program as if on the loopback device of the calling namespace, so the bitmap is set for
ifindex 1.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from helpers.bpf_packets import ether, frame4, frame6, ipv4, ipv6, vrrp_payload

pytestmark = [pytest.mark.bpf, pytest.mark.xdist_group("bpf_verdicts")]  # one compile

LO = 1
V4 = socket.AF_INET
V6 = socket.AF_INET6
HOOKS = ("xdp", "tc")


@pytest.fixture(scope="module")
def filt() -> Iterator[object]:
    from hadaemon.io.bpf import VrrpFilter

    f = VrrpFilter()
    try:
        yield f
    finally:
        f.close()


@pytest.fixture()
def vf(filt: object) -> object:
    from hadaemon.io.bpf import VrrpFilter

    assert isinstance(filt, VrrpFilter)
    filt.reset_counters()
    filt.clear_last_seen()
    for k in list(filt.vrids()):
        filt.clear_vrids(k[0], k[2], vlan=k[1])
    filt.set_vrids(LO, V4, [51, 60])
    filt.set_vrids(LO, V6, [52])
    filt.set_vrids(LO, V4, [70], vlan=10)
    return filt


@dataclass(frozen=True)
class Row:
    name: str
    packet: bytes
    passes: bool
    counter: str | None  # counter that must be exactly 1 (None: none moves)
    seen: tuple[int, int, int] | None = None  # (vlan, family, vrid) recorded in last_seen
    priority: int = 100
    hooks: tuple[str, ...] = HOOKS  # BPF_PROG_TEST_RUN refuses some frames for tc (no IP hdr)


def _trunc(b: bytes, n: int) -> bytes:
    return b[: len(b) - n]


ROWS = [
    Row("v3 ipv4", frame4(vrid=51, priority=150), True, "pass", (0, V4, 51), 150),
    Row("v2 ipv4", frame4(vrid=60, version=2, priority=200), True, "pass", (0, V4, 60), 200),
    Row("v3 ipv6", frame6(vrid=52), True, "pass", (0, V6, 52)),
    Row("802.1Q vlan 10 vrid 70", frame4(vrid=70, vlans=(10,)), True, "pass", (10, V4, 70)),
    Row("QinQ inner vlan 10", frame4(vrid=70, vlans=(300, 10)), True, "pass", (10, V4, 70)),
    Row("vlan 10 foreign vrid", frame4(vrid=51, vlans=(10,)), False, "drop_vrid"),
    Row("vlan 11 unconfigured", frame4(vrid=51, vlans=(11,)), True, "pass_unfiltered"),
    Row("ttl 64 multicast", frame4(vrid=51, ttl=64), False, "drop_ttl"),
    Row("hop limit 1 multicast", frame6(vrid=52, hlim=1), False, "drop_ttl"),
    Row("ttl 64 unicast", frame4(vrid=51, ttl=64, dst="10.0.0.2"), True, "pass", (0, V4, 51)),
    Row("wrong vrid v4", frame4(vrid=52), False, "drop_vrid"),
    Row("wrong vrid v6", frame6(vrid=51), False, "drop_vrid"),
    Row("version 4", frame4(vrid=51, version=4), False, "drop_version"),
    Row("v2 over ipv6", frame6(vrid=52, version=2), False, "drop_version"),
    Row("type 2", frame4(vrid=51, type_=2), False, "drop_type"),
    Row("truncated header", _trunc(frame4(vrid=51), 8), False, "drop_truncated"),
    Row("truncated v2 auth", _trunc(frame4(vrid=60, version=2), 4), False, "drop_truncated"),
    Row("count says 3 addrs", frame4(vrid=51, count=3), False, "drop_truncated"),
    Row(
        "ip tot_len short",
        ether(ipv4(vrrp_payload(vrid=51), tot_len=24)),
        False,
        "drop_truncated",
    ),
    Row(
        "ipv6 payload_len short",
        ether(
            ipv6(vrrp_payload(vrid=52, family=V6, src="fe80::1", dst="ff02::12"), plen=12),
            ethertype=0x86DD,
        ),
        False,
        "drop_truncated",
    ),
    Row("fragment", ether(ipv4(vrrp_payload(vrid=51), frag=0x2000)), True, "pass_fragment"),
    Row("udp", ether(ipv4(b"\0" * 16, proto=17)), True, None),
    Row("arp", ether(b"\0" * 28, ethertype=0x0806), True, None),
    Row("ipv4 ethertype, no ip header", ether(b""), True, None, hooks=("xdp",)),
    Row(
        "ipv6 ethertype, short header",
        ether(b"\x60" * 20, ethertype=0x86DD),
        True,
        None,
        hooks=("xdp",),
    ),
]


CASES = [(r, h) for r in ROWS for h in r.hooks]


@pytest.mark.parametrize(("row", "hook"), CASES, ids=[f"{r.name}-{h}" for r, h in CASES])
def test_verdict(vf: object, hook: str, row: Row) -> None:
    from hadaemon.io.bpf import TC_ACT_OK, TC_ACT_SHOT, XDP_DROP, XDP_PASS

    before = time.monotonic_ns()
    rv = vf.test_run(hook, row.packet)  # type: ignore[attr-defined]
    after = time.monotonic_ns()
    want = {
        ("xdp", True): XDP_PASS,
        ("xdp", False): XDP_DROP,
        ("tc", True): TC_ACT_OK,
        ("tc", False): TC_ACT_SHOT,
    }[(hook, row.passes)]
    assert rv == want
    counters = vf.counters()  # type: ignore[attr-defined]
    moved = {k: v for k, v in counters.items() if v}
    assert moved == ({row.counter: 1} if row.counter else {})
    seen_all = vf.last_seen_all()  # type: ignore[attr-defined]
    if row.seen is None:
        assert seen_all == {}
    else:
        vlan, fam, vrid = row.seen
        assert list(seen_all) == [(LO, vlan, fam, vrid)]
        s = seen_all[(LO, vlan, fam, vrid)]
        # the stamp is CLOCK_MONOTONIC: between our two monotonic_ns() reads
        assert before <= s.ktime_ns <= after
        assert s.count == 1
        assert s.hook == (1 if hook == "xdp" else 2)
        assert s.src == ("10.0.0.1" if fam == V4 else "fe80::1")
        assert s.priority == row.priority


def test_last_seen_fields_and_ringbuf(vf: object) -> None:
    events: list[object] = []
    vf.open_events(events.append)  # type: ignore[attr-defined]
    vf.consume_events()  # type: ignore[attr-defined]
    events.clear()
    vf.test_run("xdp", frame4(vrid=51, priority=150, interval_cs=25))  # type: ignore[attr-defined]
    vf.test_run("xdp", frame4(vrid=60, version=2, priority=200))  # type: ignore[attr-defined]
    vf.test_run("tc", frame4(vrid=51, priority=140, src="10.0.0.9"))  # type: ignore[attr-defined]
    vf.test_run("xdp", frame4(vrid=51, ttl=1))  # type: ignore[attr-defined]
    s = vf.last_seen(LO, V4, 51)  # type: ignore[attr-defined]
    assert (s.count, s.priority, s.src, s.version, s.hook) == (2, 140, "10.0.0.9", 3, 2)
    s2 = vf.last_seen(LO, V4, 60)  # type: ignore[attr-defined]
    assert (s2.priority, s2.version, s2.adver_int_cs) == (200, 2, 100)
    assert vf.last_seen(LO, V6, 52) is None  # type: ignore[attr-defined]
    vf.consume_events()  # type: ignore[attr-defined]
    got = [(e.vrid, e.priority, e.src, e.hook, e.adver_int_cs, e.ttl) for e in events]  # type: ignore[attr-defined]
    assert got == [
        (51, 150, "10.0.0.1", 1, 25, 255),
        (60, 200, "10.0.0.1", 1, 100, 255),
        (51, 140, "10.0.0.9", 2, 100, 255),
    ]
    stamps = [e.ktime_ns for e in events]  # type: ignore[attr-defined]
    assert stamps == sorted(stamps)


def test_bitmap_update_takes_effect(vf: object) -> None:
    from hadaemon.io.bpf import XDP_DROP, XDP_PASS

    pkt = frame4(vrid=99)
    assert vf.test_run("xdp", pkt) == XDP_DROP  # type: ignore[attr-defined]
    vf.set_vrids(LO, V4, [51, 99])  # type: ignore[attr-defined]
    assert vf.test_run("xdp", pkt) == XDP_PASS  # type: ignore[attr-defined]
    assert vf.test_run("xdp", frame4(vrid=60)) == XDP_DROP  # type: ignore[attr-defined]
    vf.clear_vrids(LO, V4)  # type: ignore[attr-defined]
    assert vf.test_run("xdp", frame4(vrid=60)) == XDP_PASS  # type: ignore[attr-defined]
    assert vf.counters()["pass_unfiltered"] == 1  # type: ignore[attr-defined]
    vf.set_vrids(LO, V4, [])  # type: ignore[attr-defined]
    assert vf.test_run("xdp", pkt) == XDP_DROP  # type: ignore[attr-defined]


def test_count_only_mode_passes_but_counts() -> None:
    from hadaemon.io.bpf import XDP_PASS, VrrpFilter

    with VrrpFilter(enforce=False) as f:
        f.set_vrids(LO, V4, [51])
        assert f.test_run("xdp", frame4(vrid=52)) == XDP_PASS
        assert f.test_run("xdp", frame4(vrid=51, ttl=3)) == XDP_PASS
        c = f.counters()
        assert (c["drop_vrid"], c["drop_ttl"], c["pass"]) == (1, 1, 0)
        assert f.last_seen(LO, V4, 52) is None
