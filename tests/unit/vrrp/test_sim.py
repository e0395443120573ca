"""Two or three VirtualRouters on a simulated segment (pure: adverts go through encode/receive).

The seed scenario (master + backup sharing a VIP) with time walked by hand: initial election,
master killed (silence) -> takeover exactly Master_Down_Interval after its last advert, master
stopped (priority 0) -> takeover after Skew_Time, preempt back, nopreempt, and the config model
mapping (``RouterParams.from_instance``).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from hadaemon.config.model import Authentication, IpAddress, Track, UnicastPeer, VrrpInstance
from hadaemon.vrrp import actions as act
from hadaemon.vrrp import events as ev
from hadaemon.vrrp.fsm import State
from hadaemon.vrrp.packet import encode
from hadaemon.vrrp.router import RouterParams, TrackedInterface, VirtualRouter


class Segment:
    """A lossless L2 segment with a fixed one-way delay; walks time event by event."""

    def __init__(self, routers: dict[str, VirtualRouter], delay_s: float = 0.0005) -> None:
        self.routers = routers
        self.delay_s = delay_s
        self.now = 0.0
        self.up = dict.fromkeys(routers, True)
        self.inflight: list[tuple[float, str, bytes, str]] = []  # (arrival, to, wire, src)
        self.events: list[tuple[float, str, str]] = []  # (time, router, new state)
        self.owner: str | None = None  # who holds the VIP

    def _collect(self, name: str) -> None:
        r = self.routers[name]
        for a in r.actions():
            if isinstance(a, act.SendAdvert) and self.up[name]:
                src = r.params.primary_address
                wire = encode(a.advert, src=src, dst="224.0.0.18")
                for other in self.routers:
                    if other != name:
                        self.inflight.append((self.now + self.delay_s, other, wire, src))
            elif isinstance(a, act.StateChanged):
                self.events.append((self.now, name, a.new))
            elif isinstance(a, act.AddVips):
                self.owner = name
            elif isinstance(a, act.DelVips) and self.owner == name:
                self.owner = None

    def start(self, name: str) -> None:
        self.up[name] = True
        self.routers[name].handle(ev.Startup(), self.now)
        self._collect(name)

    def stop(self, name: str) -> None:
        """SIGTERM: the router releases (priority 0) and stops."""
        self.routers[name].handle(ev.Shutdown(), self.now)
        self._collect(name)
        self.up[name] = False

    def kill(self, name: str) -> None:
        """kill -9: silence, nothing sent."""
        self.up[name] = False
        self.routers[name] = VirtualRouter(self.routers[name].params)
        if self.owner == name:
            self.owner = None

    def run_until(self, t_end: float) -> None:
        while True:
            timers = [
                (t, n)
                for n, r in self.routers.items()
                if self.up[n] and (t := r.get_timer()) is not None
            ]
            nxt_timer = min(timers) if timers else None
            nxt_pkt = min(self.inflight) if self.inflight else None
            cands = [c for c in (nxt_timer, nxt_pkt) if c is not None]
            if not cands:
                self.now = t_end
                return
            t = min(c[0] for c in cands)
            if t > t_end:
                self.now = t_end
                return
            self.now = t
            if nxt_pkt is not None and nxt_pkt[0] == t:
                self.inflight.remove(nxt_pkt)
                _, to, wire, src = nxt_pkt
                if self.up[to]:
                    self.routers[to].receive(
                        wire, src=src, dst="224.0.0.18", ttl=255, ifname="eth1", now=t
                    )
                    self._collect(to)
            else:
                assert nxt_timer is not None
                self.routers[nxt_timer[1]].handle_timer(t)
                self._collect(nxt_timer[1])

    def became(self, name: str, state: str, after: float = -1.0) -> float:
        for t, n, s in self.events:
            if n == name and s == state and t > after:
                return t
        raise AssertionError(f"{name} never became {state} after {after}: {self.events}")


def pair(version: int = 3, interval_cs: int = 10, **backup_kw: object) -> Segment:
    base = RouterParams(
        name="VI_1",
        vrid=51,
        interface="eth1",
        version=version,
        advert_int_cs=interval_cs,
        addresses=("192.168.100.100/32",),
    )
    m = replace(base, priority=150, primary_address="10.0.0.1", initial_state="MASTER")
    b = replace(
        base, priority=100, primary_address="10.0.0.2", initial_state="BACKUP", **backup_kw
    )  # type: ignore[arg-type]
    return Segment({"m": VirtualRouter(m), "b": VirtualRouter(b)})


@pytest.mark.parametrize(("version", "interval_cs"), [(3, 10), (2, 100)])
def test_election_kill_stop_preempt(version: int, interval_cs: int) -> None:
    seg = pair(version, interval_cs)
    seg.start("m")
    seg.start("b")
    seg.run_until(5 * interval_cs / 100)
    assert seg.routers["m"].state == State.MASTER and seg.routers["b"].state == State.BACKUP
    assert seg.owner == "m"
    # state MASTER non-owner: master after one interval + minimum skew
    assert seg.became("m", "MASTER") == pytest.approx(
        interval_cs / 100 + interval_cs / 100 / 256
        if version == 3
        else interval_cs / 100 + 1 / 256
    )

    # kill -9 the master right after an advert: backup takes over one MDI after that advert
    t_adv = seg.routers["m"].get_timer()
    assert t_adv is not None
    seg.run_until(t_adv)  # the advert is sent at t_adv, arrives t_adv + delay
    seg.kill("m")
    seg.run_until(t_adv + 10 * interval_cs / 100)
    mdi_s = seg.routers["b"].master_down_interval_cs / 100
    t_take = seg.became("b", "MASTER")
    assert t_take == pytest.approx(t_adv + seg.delay_s + mdi_s)
    assert seg.owner == "b"

    # master returns (state MASTER, higher priority) and preempts
    seg.start("m")
    t0 = seg.now
    seg.run_until(t0 + 5 * interval_cs / 100)
    assert seg.routers["m"].state == State.MASTER and seg.routers["b"].state == State.BACKUP
    assert seg.owner == "m"
    assert seg.became("b", "BACKUP", after=t_take) < t0 + 2 * interval_cs / 100

    # SIGTERM: priority 0, backup takes over after Skew_Time only
    seg.stop("m")
    t_stop = seg.now
    seg.run_until(t_stop + 5 * interval_cs / 100)
    skew_s = seg.routers["b"].skew_time_cs / 100
    assert seg.became("b", "MASTER", after=t_stop) == pytest.approx(t_stop + seg.delay_s + skew_s)
    assert seg.routers["b"].stats.pri_zero_rcvd == 1


def test_nopreempt_backup_keeps_mastership() -> None:
    seg = pair(preempt=False)
    seg.start("b")
    seg.run_until(1.0)
    assert seg.routers["b"].state == State.MASTER
    # the higher-priority router comes back as BACKUP (nopreempt needs state BACKUP)
    seg.routers["m"] = VirtualRouter(
        replace(seg.routers["m"].params, initial_state="BACKUP", preempt=False)
    )
    seg.start("m")
    seg.run_until(3.0)
    # the lower-priority master keeps answering; the higher one stays backup
    assert seg.routers["b"].state == State.MASTER
    assert seg.routers["m"].state == State.BACKUP


def test_equal_priority_tie_break_by_address() -> None:
    base = RouterParams(
        name="VI_1",
        vrid=7,
        interface="eth1",
        version=3,
        advert_int_cs=10,
        addresses=("192.168.100.100/32",),
        priority=100,
    )
    seg = Segment(
        {
            "low": VirtualRouter(replace(base, primary_address="10.0.0.1")),
            "high": VirtualRouter(replace(base, primary_address="10.0.0.200")),
        }
    )
    seg.start("low")
    seg.start("high")
    seg.run_until(3.0)
    assert seg.routers["high"].state == State.MASTER
    assert seg.routers["low"].state == State.BACKUP


def test_track_interface_failover() -> None:
    seg = pair()
    seg.routers["m"] = VirtualRouter(
        replace(seg.routers["m"].params, track_interfaces=(TrackedInterface("eth2", -60),))
    )
    seg.start("m")
    seg.start("b")
    seg.run_until(1.0)
    assert seg.owner == "m"
    seg.routers["m"].handle(ev.InterfaceDown("eth2"), seg.now)
    seg._collect("m")
    seg.run_until(3.0)
    assert seg.owner == "b"
    assert seg.routers["m"].state == State.BACKUP


def test_from_instance_maps_the_config_model() -> None:
    inst = VrrpInstance(
        name="VI_1",
        state="MASTER",
        interface="eth1",
        virtual_router_id=151,
        priority=100,
        advert_int=5.0,
        version=2,
        authentication=Authentication(auth_type="PASS", auth_pass="123456"),
        virtual_ipaddress=(IpAddress(address="192.168.100.100", prefixlen=32, dev="eth1"),),
        track_interface=(Track(name="eth2", weight=-20), Track(name="eth3")),
        unicast_src_ip="10.0.0.1",
        unicast_peer=(UnicastPeer(address="10.0.0.2"),),
        nopreempt=False,
        preempt_delay=3.0,
        garp_master_repeat=2,
    )
    p = RouterParams.from_instance(inst, garp_master_delay_s=1.0)
    assert (p.name, p.vrid, p.version, p.family, p.priority, p.advert_int_cs) == (
        "VI_1",
        151,
        2,
        4,
        100,
        500,
    )
    assert p.initial_state == "MASTER" and p.preempt and p.preempt_delay_s == 3.0
    assert (p.auth_type, p.auth_pass) == (1, b"123456")
    assert p.addresses == ("192.168.100.100/32",)
    assert p.primary_address == "10.0.0.1" and p.unicast_peers == ("10.0.0.2",)
    assert p.track_interfaces == (TrackedInterface("eth2", -20), TrackedInterface("eth3", 0))
    assert (p.garp_master_repeat, p.garp_master_delay_s) == (2, 1.0)
    assert p.vip_devs == () and p.garp_extra_if_s == 0.0  # dev eth1 is the instance's own
    other = replace(
        inst,
        virtual_ipaddress=(
            *inst.virtual_ipaddress,
            IpAddress(address="192.0.2.1", prefixlen=24, dev="eth2"),
        ),
        garp_extra_if=100.0,
        garp_extra_if_all=True,
    )
    po = RouterParams.from_instance(other)
    assert po.vip_devs == (("192.0.2.1/24", "eth2"),)
    assert (po.garp_extra_if_s, po.garp_extra_if_all) == (100.0, True)
    v6 = VrrpInstance(
        name="V6",
        interface="eth1",
        virtual_router_id=9,
        family=6,
        version=3,
        advert_int=0.1,
        virtual_ipaddress=(IpAddress(address="fe80::9", prefixlen=64),),
    )
    p6 = RouterParams.from_instance(v6)
    assert (p6.family, p6.version, p6.advert_int_cs) == (6, 3, 10)
    with pytest.raises(ValueError, match="AH"):
        RouterParams.from_instance(
            replace(inst, authentication=Authentication(auth_type="AH", auth_pass="x"))
        )
    with pytest.raises(ValueError, match="virtual_router_id"):
        RouterParams.from_instance(replace(inst, virtual_router_id=0))
