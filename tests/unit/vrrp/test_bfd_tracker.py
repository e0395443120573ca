"""``track_bfd``: the BFD tracker's contribution and what it does to a router (sans-IO)."""

from __future__ import annotations

from hadaemon.vrrp import events as ev
from hadaemon.vrrp.fsm import State
from hadaemon.vrrp.router import RouterParams, VirtualRouter
from hadaemon.vrrp.trackers import BfdTracker


def _router(priority: int = 150) -> VirtualRouter:
    return VirtualRouter(
        RouterParams(
            name="VI_1",
            vrid=1,
            interface="eth1",
            version=3,
            priority=priority,
            advert_int_cs=10,
            primary_address="10.0.0.2",
        )
    )


def test_unweighted_starts_down_and_faults() -> None:
    t = BfdTracker("peer")
    assert t.key == "bfd:peer"
    assert t.contribution() == ev.TrackerChanged("bfd:peer", 0, fault=True)
    assert t.set_state(True) and not t.contribution().fault
    assert not t.set_state(True)
    assert t.set_state(False) and t.contribution().fault


def test_weights_and_reverse() -> None:
    plus = BfdTracker("p", weight=20, up=True)
    assert plus.contribution().weight_delta == 20
    plus.set_state(False)
    assert plus.contribution().weight_delta == 0
    minus = BfdTracker("m", weight=-30)
    assert minus.contribution().weight_delta == -30
    minus.set_state(True)
    assert minus.contribution().weight_delta == 0
    # 'weight 0 reverse': down while the session is Up
    rev = BfdTracker("r", weight=0, reverse=True, up=True)
    assert rev.contribution().fault
    rev.set_state(False)
    assert not rev.contribution().fault


def test_group_entry_has_its_own_key() -> None:
    assert BfdTracker("peer", group="SG").key == "bfd:SG:peer"


def test_master_goes_fault_when_its_bfd_dies_and_back() -> None:
    t = BfdTracker("peer", up=True)
    r = _router()
    r.handle(t.contribution(), 0.0)
    r.handle(ev.Startup(), 0.0)
    r.handle_timer(r.get_timer() or 0.0)
    assert r.state == State.MASTER
    t.set_state(False)
    r.handle(t.contribution(), 1.0)
    assert r.state == State.FAULT
    t.set_state(True)
    r.handle(t.contribution(), 2.0)
    assert r.state == State.BACKUP
    r.handle_timer(r.get_timer() or 0.0)
    assert r.state == State.MASTER


def test_down_before_startup_starts_in_fault() -> None:
    r = _router()
    r.handle(BfdTracker("peer").contribution(), 0.0)
    r.handle(ev.Startup(), 0.0)
    assert r.state == State.FAULT


def test_negative_weight_lowers_the_priority() -> None:
    t = BfdTracker("peer", weight=-60, up=True)
    r = _router()
    r.handle(t.contribution(), 0.0)
    r.handle(ev.Startup(), 0.0)
    assert r.effective_priority == 150
    t.set_state(False)
    r.handle(t.contribution(), 1.0)
    assert r.effective_priority == 90
