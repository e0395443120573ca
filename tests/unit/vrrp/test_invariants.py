"""Property test: random event sequences keep the router's invariants.

* VIPs are installed exactly while MASTER (AddVips on entry, DelVips on exit, never twice);
* MASTER always has an Adver_Timer; BACKUP has a Master_Down_Timer (unless a sync group holds
  it); INIT/FAULT/STOP have no timer;
* priority-0 adverts are sent only when leaving MASTER; every other advert carries the
  effective priority;
* time never runs backwards in get_timer(): a deadline is never in the past after handling.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hadaemon.vrrp import actions as act
from hadaemon.vrrp import events as ev
from hadaemon.vrrp.fsm import State
from hadaemon.vrrp.packet import Advert, encode
from hadaemon.vrrp.router import RouterParams, TrackedInterface, VirtualRouter

SRCS = ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.250"]

step = st.one_of(
    st.tuples(
        st.just("adv"), st.integers(0, 255), st.sampled_from(SRCS), st.sampled_from([5, 10, 20])
    ),
    st.tuples(st.just("wait"), st.floats(0.0, 1.0)),
    st.tuples(st.just("timer")),
    st.tuples(st.just("ifdown"), st.sampled_from(["eth1", "eth2", "eth3"])),
    st.tuples(st.just("ifup"), st.sampled_from(["eth1", "eth2", "eth3"])),
    st.tuples(st.just("track"), st.integers(-100, 100), st.booleans()),
    st.tuples(st.just("shutdown")),
    st.tuples(st.just("startup")),
)

params_st = st.builds(
    RouterParams,
    name=st.just("VI_1"),
    vrid=st.just(51),
    interface=st.just("eth1"),
    version=st.just(3),
    priority=st.sampled_from([1, 50, 100, 254, 255]),
    advert_int_cs=st.sampled_from([5, 10, 100]),
    preempt=st.booleans(),
    preempt_delay_s=st.sampled_from([0.0, 0.3]),
    initial_state=st.sampled_from(["", "BACKUP", "MASTER"]),
    addresses=st.just(("192.168.1.1/24",)),
    primary_address=st.just("10.0.0.2"),
    lower_prio_no_advert=st.booleans(),
    track_interfaces=st.just((TrackedInterface("eth2", -30), TrackedInterface("eth3", 0))),
    garp_lower_prio_repeat=st.sampled_from([0, 1]),
    higher_prio_send_advert=st.booleans(),
)


def _check(r: VirtualRouter, actions: list[act.Action], holding: list[bool], now: float) -> None:
    for a in actions:
        if isinstance(a, act.AddVips):
            assert not holding[0], "VIPs added twice"
            holding[0] = True
        elif isinstance(a, act.DelVips):
            assert holding[0], "VIPs removed while not held"
            holding[0] = False
        elif isinstance(a, act.SendAdvert) and a.advert.priority == 0:
            assert r.state != State.MASTER
    assert holding[0] == (r.state == State.MASTER)
    t = r.get_timer()
    if r.state == State.MASTER:
        assert t is not None and t > now - 1e-9
    elif r.state == State.BACKUP:
        assert (t is not None) or r.wants_master
    else:
        assert t is None
    if r.state in (State.MASTER, State.BACKUP):
        assert not r.in_fault


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(p=params_st, steps=st.lists(step, max_size=60))
def test_random_sequences_keep_invariants(p: RouterParams, steps: list[Any]) -> None:
    r = VirtualRouter(p)
    now = 0.0
    holding = [False]
    r.handle(ev.Startup(), now)
    _check(r, r.actions(), holding, now)
    for s in steps:
        kind = s[0]
        if kind == "adv":
            _, prio, src, ival = s
            a = Advert(3, 51, prio, 1, 0, ival, 0, ("192.168.1.1",))
            r.receive(
                encode(a, src=src, dst="224.0.0.18"), src=src, dst="224.0.0.18", ttl=255, now=now
            )
        elif kind == "wait":
            now += s[1]
            while (t := r.get_timer()) is not None and t <= now:
                r.handle_timer(t)
                _check(r, r.actions(), holding, t)
        elif kind == "timer":
            t = r.get_timer()
            if t is not None:
                now = max(now, t)
                r.handle_timer(now)
        elif kind == "ifdown":
            r.handle(ev.InterfaceDown(s[1]), now)
        elif kind == "ifup":
            r.handle(ev.InterfaceUp(s[1]), now)
        elif kind == "track":
            r.handle(ev.TrackerChanged("script:x", s[1], s[2]), now)
        elif kind == "shutdown":
            r.handle(ev.Shutdown(), now)
        else:
            r.handle(ev.Startup(), now)
        _check(r, r.actions(), holding, now)
        if r.state not in (State.INIT, State.STOP):
            base = p.priority if p.priority == 255 else None
            assert 1 <= r.effective_priority <= 255
            if base is None:
                assert r.effective_priority <= 254
