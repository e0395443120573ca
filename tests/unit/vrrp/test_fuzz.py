"""Fuzz: >= 100,000 random and mutated packets into decode and VirtualRouter.receive.

No exception may escape, and every packet is either accepted (``advert_rcvd``) or counted in
exactly one drop counter (``rx_dropped`` == sum of the drop counters).
"""

from __future__ import annotations

import ipaddress
import random
import struct
from dataclasses import replace
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hadaemon.vrrp import events as ev
from hadaemon.vrrp.packet import Advert, MalformedAdvert, decode, encode, inet_checksum
from hadaemon.vrrp.router import RouterParams, VirtualRouter
from hadaemon.vrrp.stats import DROP_COUNTERS

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "packets"
SEED = 20261127
N_MUTATED = 110_000

SRCS4 = ["10.0.0.1", "10.0.0.3", "192.168.100.7", "0.0.0.0", "255.255.255.255"]
SRCS6 = ["fe80::1", "fe80::3", "2001:db8::9", "::"]
DSTS4 = ["224.0.0.18", "10.0.0.2"]
DSTS6 = ["ff02::12", "fe80::2"]
BAD = ["", "nonsense", "10.0.0", "fe80::zz"]


def _routers() -> list[VirtualRouter]:
    v2 = RouterParams(
        name="F2",
        vrid=10,
        interface="eth1",
        version=2,
        advert_int_cs=100,
        addresses=("192.168.100.100/24", "192.168.100.101/24"),
        primary_address="10.0.0.2",
        auth_type=1,
        auth_pass=b"123456",
    )
    v3 = RouterParams(
        name="F3",
        vrid=12,
        interface="eth1",
        version=3,
        advert_int_cs=10,
        priority=200,
        addresses=("192.168.100.120/24",),
        primary_address="10.0.0.2",
        preempt_delay_s=0.5,
    )
    v6 = RouterParams(
        name="F6",
        vrid=15,
        interface="eth1",
        version=3,
        family=6,
        advert_int_cs=100,
        addresses=("fe80::15/64", "2001:db8::15/64"),
        primary_address="fe80::2",
    )
    out = [VirtualRouter(p) for p in (v2, v3, v6, replace(v3, name="F3o", priority=255))]
    for r in out:
        r.handle(ev.Startup(), 0.0)
    return out


def _seeds() -> list[bytes]:
    seeds = [bytes.fromhex(p.read_text().strip()) for p in sorted(GOLDEN.glob("*.hex"))]
    for prio in (0, 1, 100, 199, 200, 201, 255):
        seeds.append(
            encode(
                Advert(3, 12, prio, 1, 0, 10, 0, ("192.168.100.120",)),
                src="10.0.0.3",
                dst="224.0.0.18",
            )
        )
        seeds.append(
            encode(
                Advert(
                    2, 10, prio, 2, 1, 100, 0, ("192.168.100.100", "192.168.100.101"), b"123456"
                ),
                src="10.0.0.3",
                dst="224.0.0.18",
            )
        )
    return seeds


def _fix_checksum(b: bytearray, rng: random.Random, family: int, src: str, dst: str) -> None:
    """Make the checksum right (in some form) so deeper checks get exercised."""
    if len(b) < 8:
        return
    b[6:8] = b"\0\0"
    if rng.random() < 0.5 or (b[0] >> 4) == 2:
        c = inet_checksum(bytes(b))
    else:
        try:
            if family == 4:
                ph = (
                    ipaddress.IPv4Address(src).packed
                    + ipaddress.IPv4Address(dst).packed
                    + struct.pack("!BBH", 0, 112, len(b))
                )
            else:
                ph = (
                    ipaddress.IPv6Address(src).packed
                    + ipaddress.IPv6Address(dst).packed
                    + struct.pack("!I3xB", len(b), 112)
                )
        except ValueError:
            return
        c = inet_checksum(ph + bytes(b))
    b[6:8] = struct.pack("!H", c)


def _mutate(data: bytes, rng: random.Random) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(7)
        if op == 0 and b:
            i = rng.randrange(len(b))
            b[i] ^= 1 << rng.randrange(8)
        elif op == 1 and b:
            b[rng.randrange(len(b))] = rng.randrange(256)
        elif op == 2:
            del b[rng.randrange(len(b) + 1) :]
        elif op == 3:
            b += rng.randbytes(rng.randrange(1, 40))
        elif op == 4 and len(b) > 3:
            b[3] = rng.randrange(256)  # count
        elif op == 5 and len(b) > 5:
            b[rng.choice((0, 1, 2, 4, 5))] = rng.choice((0, 1, 2, 0x21, 0x31, 0x41, 255))
        else:
            b = bytearray(rng.randbytes(rng.randrange(0, 80)))
    return bytes(b)


def _check_invariant(r: VirtualRouter, before: int) -> None:
    s = r.stats
    assert s.advert_rcvd + s.rx_dropped == before + 1
    assert s.rx_dropped == sum(getattr(s, c) for c in DROP_COUNTERS)


def test_fuzz_mutated_packets_into_decode_and_routers() -> None:
    rng = random.Random(SEED)
    routers = _routers()
    seeds = _seeds()
    now = 0.0
    accepted = 0
    for i in range(N_MUTATED):
        now += 0.001
        r = routers[i % len(routers)]
        fam = r.params.family
        if rng.random() < 0.03:
            src = rng.choice(BAD)
        else:
            src = rng.choice(SRCS4 if fam == 4 else SRCS6)
        dsts = DSTS4 if fam == 4 else DSTS6
        dst = dsts[0] if rng.random() < 0.9 else rng.choice(dsts)
        ttl = 255 if rng.random() < 0.9 else rng.randrange(256)
        data = _mutate(rng.choice(seeds), rng)
        if rng.random() < 0.6:
            b = bytearray(data)
            _fix_checksum(b, rng, fam, src, dst)
            data = bytes(b)
        try:
            decode(data, family=fam, src=src, dst=dst, ttl=ttl)
        except MalformedAdvert as e:
            assert e.counter in DROP_COUNTERS
        before = r.stats.advert_rcvd + r.stats.rx_dropped
        if r.receive(data, src=src, dst=dst, ttl=ttl, ifname="eth1", now=now) is not None:
            accepted += 1
        _check_invariant(r, before)
        for rr in routers:
            t = rr.get_timer()
            if t is not None and t <= now:
                rr.handle_timer(now)
            rr.actions()
    # the mutator must reach deep enough for some packets to be accepted and others dropped
    assert accepted > 1000
    assert all(r.stats.rx_dropped > 1000 for r in routers)
    reasons = {c for r in routers for c in DROP_COUNTERS if getattr(r.stats, c)}
    assert {
        "packet_len_err",
        "chk_err",
        "ip_ttl_err",
        "vers_err",
        "invalid_type_rcvd",
        "vrid_err",
        "auth_failure",
        "advert_interval_err",
    } <= reasons


@settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    data=st.binary(max_size=120),
    family=st.sampled_from([4, 6]),
    ttl=st.integers(0, 255),
    src=st.sampled_from(SRCS4 + SRCS6 + BAD),
    dst=st.sampled_from(DSTS4 + DSTS6 + BAD),
)
def test_hypothesis_random_bytes(data: bytes, family: int, ttl: int, src: str, dst: str) -> None:
    try:
        a = decode(data, family=family, src=src, dst=dst, ttl=ttl)
    except MalformedAdvert as e:
        assert e.counter in DROP_COUNTERS
    else:
        assert a.version in (2, 3) and 1 <= a.vrid <= 255
    r = VirtualRouter(
        RouterParams(
            name="H", vrid=data[1] if len(data) > 1 and data[1] else 1, version=3, family=family
        )
    )
    r.handle(ev.Startup(), 0.0)
    before = r.stats.advert_rcvd + r.stats.rx_dropped
    r.receive(data, src=src, dst=dst, ttl=ttl, now=1.0)
    _check_invariant(r, before)
