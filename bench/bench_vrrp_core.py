#!/usr/bin/env python3
"""CPU cost of the pure VRRP core (no sockets): codec and router work per advert.

    .venv/bin/python bench/bench_vrrp_core.py

Prints a table: encode / decode / VirtualRouter.receive per packet, and the core's share of
one CPU for N instances at 1 s adverts (masters sending + backups receiving), simulated by
walking time by hand. The I/O cost (syscalls, asyncio) comes on top; see the driver's bench.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hadaemon.vrrp import events as ev  # noqa: E402
from hadaemon.vrrp.actions import SendAdvert  # noqa: E402
from hadaemon.vrrp.packet import Advert, decode, encode  # noqa: E402
from hadaemon.vrrp.router import RouterParams, VirtualRouter  # noqa: E402


def per_call_us(fn, n: int) -> float:  # type: ignore[no-untyped-def]
    t0 = time.process_time()
    for _ in range(n):
        fn()
    return (time.process_time() - t0) / n * 1e6


def fleet_cpu_share(n_inst: int, seconds: int = 30) -> float:
    """Core CPU per wall second for n masters + n backups exchanging 1 s adverts."""

    def params(i: int, prio: int, src: str) -> RouterParams:
        return RouterParams(
            name=f"VI_{i}",
            vrid=i % 255 + 1,
            interface=f"eth{i // 255}",
            version=3,
            priority=prio,
            advert_int_cs=100,
            addresses=(f"10.{i // 250}.{i % 250}.1/24",),
            primary_address=src,
            initial_state="MASTER" if prio > 100 else "BACKUP",
        )

    masters = [VirtualRouter(params(i, 200, "10.255.0.1")) for i in range(n_inst)]
    backups = [VirtualRouter(params(i, 100, "10.255.0.2")) for i in range(n_inst)]
    for r in masters + backups:
        r.handle(ev.Startup(), 0.0)
    # let every pair settle (masters claim after one interval), then measure event by event:
    # each master's Adver_Timer fires once per second and its advert reaches its backup
    for m, b in zip(masters, backups, strict=True):
        while m.state.value != "MASTER" and (t := m.get_timer()) is not None:
            m.handle_timer(t)
        m.actions()
        b.actions()
    t_cpu = time.process_time()
    for _ in range(seconds):
        for m, b in zip(masters, backups, strict=True):
            t = m.get_timer()
            assert t is not None
            m.handle_timer(t)
            for a in m.actions():
                if isinstance(a, SendAdvert):
                    wire = encode(a.advert, src="10.255.0.1", dst="224.0.0.18")
                    b.receive(wire, src="10.255.0.1", dst="224.0.0.18", ttl=255, now=t)
            b.actions()
    assert all(b.state.value == "BACKUP" for b in backups)
    assert all(m.state.value == "MASTER" for m in masters)
    return (time.process_time() - t_cpu) / seconds * 100


def main() -> None:
    adv = Advert(3, 51, 100, 1, 0, 100, 0, ("10.0.0.100",))
    wire = encode(adv, src="10.0.0.1", dst="224.0.0.18")
    r = VirtualRouter(
        RouterParams(
            name="VI_1",
            vrid=51,
            version=3,
            priority=50,
            addresses=("10.0.0.100/24",),
            primary_address="10.0.0.2",
        )
    )
    r.handle(ev.Startup(), 0.0)
    rows = [
        (
            "encode v3/IPv4 (pseudo-header)",
            per_call_us(lambda: encode(adv, src="10.0.0.1", dst="224.0.0.18"), 50_000),
            "µs/packet",
        ),
        (
            "decode v3/IPv4",
            per_call_us(
                lambda: decode(wire, family=4, src="10.0.0.1", dst="224.0.0.18", ttl=255), 50_000
            ),
            "µs/packet",
        ),
        (
            "VirtualRouter.receive (backup)",
            per_call_us(
                lambda: (
                    r.receive(wire, src="10.0.0.1", dst="224.0.0.18", ttl=255, now=1.0),
                    r.actions(),
                ),
                50_000,
            ),
            "µs/packet",
        ),
    ]
    for n in (1, 100, 1000):
        rows.append((f"{n} master+backup pairs, 1 s adverts", fleet_cpu_share(n), "% of one CPU"))
    print(f"{'measurement':45} {'value':>10}  unit")
    for name, value, unit in rows:
        print(f"{name:45} {value:10.3f}  {unit}")


if __name__ == "__main__":
    main()
