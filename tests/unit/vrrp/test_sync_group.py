"""Sync groups: members move together; group notifications."""

from __future__ import annotations

import pytest

from hadaemon.vrrp import actions as act
from hadaemon.vrrp import events as ev
from hadaemon.vrrp.fsm import State
from hadaemon.vrrp.packet import Advert, encode
from hadaemon.vrrp.router import RouterParams, VirtualRouter
from hadaemon.vrrp.sync_group import SyncGroup


def member(name: str, vrid: int, ifname: str, prio: int = 100) -> VirtualRouter:
    return VirtualRouter(
        RouterParams(
            name=name,
            vrid=vrid,
            interface=ifname,
            version=3,
            priority=prio,
            advert_int_cs=10,
            addresses=(f"10.{vrid}.0.100/24",),
            primary_address="10.0.0.2",
        )
    )


def group() -> SyncGroup:
    g = SyncGroup("G1", [member("VI_1", 1, "eth1"), member("VI_2", 2, "eth2", prio=90)])
    g.handle("", ev.Startup(), 0.0)
    return g


def to_master(g: SyncGroup) -> None:
    while g.state != State.MASTER:
        t = g.get_timer()
        assert t is not None
        g.handle_timer(t)


def states(g: SyncGroup) -> dict[str, State]:
    return {n: r.state for n, r in g.members.items()}


def test_one_master_takes_all_and_group_notify() -> None:
    g = group()
    assert states(g) == {"VI_1": State.BACKUP, "VI_2": State.BACKUP}
    assert act.RunNotify("G1", "BACKUP", 0, group=True) in g.actions()
    # VI_1 has the higher priority so its down timer fires first, but it waits for VI_2
    t = g.get_timer()
    assert t == g.members["VI_1"].get_timer()
    g.handle_timer(t or 0.0)
    assert states(g) == {"VI_1": State.BACKUP, "VI_2": State.BACKUP}
    assert g.members["VI_1"].wants_master
    t2 = g.get_timer()
    assert t2 == g.members["VI_2"].get_timer() and t2 is not None and t2 > (t or 0.0)
    g.handle_timer(t2)
    assert states(g) == {"VI_1": State.MASTER, "VI_2": State.MASTER}
    assert g.state == State.MASTER
    assert act.RunNotify("G1", "MASTER", 0, group=True) in g.actions()
    a2 = g.members["VI_2"].actions()
    assert act.AddVips("VI_2", "eth2", ("10.2.0.100/24",)) in a2


def test_one_fault_takes_all_and_recovers_together() -> None:
    g = group()
    to_master(g)
    g.handle("VI_2", ev.InterfaceDown("eth2"), 1.0)
    assert states(g) == {"VI_1": State.FAULT, "VI_2": State.FAULT}
    a1 = g.members["VI_1"].actions()
    assert [x.advert.priority for x in a1 if isinstance(x, act.SendAdvert)][-1] == 0
    assert act.RunNotify("G1", "FAULT", 0, group=True) in g.actions()
    g.handle("VI_2", ev.InterfaceUp("eth2"), 2.0)
    assert states(g) == {"VI_1": State.BACKUP, "VI_2": State.BACKUP}


def test_master_member_losing_election_takes_group_to_backup() -> None:
    g = group()
    to_master(g)
    higher = Advert(3, 2, 200, 1, 0, 10, 0, ("10.2.0.100",))
    wire = encode(higher, src="10.0.0.9", dst="224.0.0.18")
    assert g.receive("VI_2", wire, src="10.0.0.9", dst="224.0.0.18", ttl=255, now=1.0)
    assert states(g) == {"VI_1": State.BACKUP, "VI_2": State.BACKUP}


def test_empty_group_refused() -> None:
    with pytest.raises(ValueError):
        SyncGroup("G", [])


def test_member_held_in_backup_while_another_still_hears_its_master() -> None:
    """keepalived prefers BACKUP: VI_1's master died but VI_2's master is alive."""
    g = group()
    now = 0.0
    alive = Advert(3, 2, 200, 1, 0, 10, 0, ("10.2.0.100",))
    wire = encode(alive, src="10.0.0.9", dst="224.0.0.18")
    for _ in range(30):  # 3 s of VI_2's master advertising every 0.1 s
        now += 0.1
        g.receive("VI_2", wire, src="10.0.0.9", dst="224.0.0.18", ttl=255, now=now)
        t = g.get_timer()
        while t is not None and t <= now:
            g.handle_timer(t)
            t = g.get_timer()
    assert states(g) == {"VI_1": State.BACKUP, "VI_2": State.BACKUP}
    assert g.members["VI_1"].wants_master and not g.members["VI_2"].wants_master
    # VI_2's master goes silent: its timer fires, both members want MASTER, the group goes
    t = g.get_timer()
    assert t is not None
    g.handle_timer(t)
    assert states(g) == {"VI_1": State.MASTER, "VI_2": State.MASTER}
