"""Tracker state machines: rise/fall, weights, reverse, FAULT, and their effect on a router."""

from __future__ import annotations

import pytest

from hadaemon.vrrp import events as ev
from hadaemon.vrrp.fsm import State
from hadaemon.vrrp.router import RouterParams, VirtualRouter
from hadaemon.vrrp.trackers import FileTracker, ProcessTracker, ScriptTracker


def test_script_rise_fall_hysteresis() -> None:
    t = ScriptTracker("chk", weight=-20, rise=2, fall=3)
    assert t.up and t.contribution() == ev.TrackerChanged("script:chk", 0)
    assert [t.result(False) for _ in range(3)] == [False, False, True]
    assert not t.up and t.contribution().weight_delta == -20
    # a success in between resets the streak
    assert not t.result(True)
    assert not t.result(False)
    assert not t.result(True)
    assert t.result(True)
    assert t.up


def test_script_weights_reverse_and_init_fail() -> None:
    pos = ScriptTracker("p", weight=15)
    assert pos.contribution().weight_delta == 15
    pos.result(False)
    assert pos.contribution().weight_delta == 0
    zero = ScriptTracker("z", weight=0, init_fail=True)
    assert zero.contribution().fault
    zero.result(True)
    assert not zero.contribution().fault
    rev = ScriptTracker("r", weight=-10, reverse=True)
    assert rev.contribution().weight_delta == -10  # up, reversed => counts as down
    with pytest.raises(ValueError):
        ScriptTracker("bad", rise=0)


def test_file_tracker() -> None:
    f = FileTracker("f", weight=10)
    assert f.set_text("3\n") and f.contribution().weight_delta == 30
    assert not f.set_text("3")
    f.set_text("garbage")
    assert f.value == 0
    f.set_text("-30")
    assert f.contribution().fault  # -300 < -253
    f0 = FileTracker("g", weight=0)
    f0.set_text("1")
    assert f0.contribution().fault
    fr = FileTracker("h", weight=5, reverse=True)
    fr.set_text("2")
    assert fr.contribution().weight_delta == -10


def test_process_tracker_quorum() -> None:
    p = ProcessTracker("nginx", weight=0, quorum=2, quorum_max=3)
    assert p.contribution().fault
    assert p.set_count(2) and not p.contribution().fault
    assert not p.set_count(3)
    assert p.set_count(4) and p.contribution().fault


def test_script_failure_moves_master_to_backup_peer() -> None:
    """A master whose check fails drops below the peer; the peer's takeover follows."""
    chk = ScriptTracker("chk", weight=-60, fall=2)
    r = VirtualRouter(
        RouterParams(
            name="VI_1",
            vrid=1,
            interface="eth1",
            version=3,
            priority=150,
            advert_int_cs=10,
            primary_address="10.0.0.2",
        )
    )
    r.handle(ev.Startup(), 0.0)
    r.handle(ev.TrackerChanged("x", 0), 0.0)
    r.handle_timer(r.get_timer() or 0.0)
    assert r.state == State.MASTER
    for ok in (False, False):
        if chk.result(ok):
            r.handle(chk.contribution(), 1.0)
    assert r.effective_priority == 90
    adverts = []
    r.handle_timer(r.get_timer() or 0.0)
    adverts = [a for a in r.actions() if type(a).__name__ == "SendAdvert"]
    assert adverts[-1].advert.priority == 90  # type: ignore[union-attr]
