"""VirtualRouter: every row of fsm.STATE_TABLE, walking time by hand (no clock, no sockets)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

import pytest

from hadaemon.vrrp import actions as act
from hadaemon.vrrp import events as ev
from hadaemon.vrrp.fsm import ROW_IDS, TRANSITIONS, State
from hadaemon.vrrp.packet import Advert, encode
from hadaemon.vrrp.router import RouterParams, TrackedInterface, VirtualRouter

COVERED: set[str] = set()
F = TypeVar("F", bound=Callable[..., Any])


def row(*ids: str) -> Callable[[F], F]:
    """Mark a test as covering state-table rows."""
    for i in ids:
        assert i in ROW_IDS, i
    COVERED.update(ids)

    def deco(f: F) -> F:
        return f

    return deco


VIP = "10.0.0.100/24"
ME = "10.0.0.2"
LOWER_ADDR = "10.0.0.1"
HIGHER_ADDR = "10.0.0.3"


def params(**kw: Any) -> RouterParams:
    base = RouterParams(
        name="VI_1",
        vrid=51,
        interface="eth1",
        version=3,
        priority=100,
        advert_int_cs=10,
        addresses=(VIP,),
        primary_address=ME,
    )
    return replace(base, **kw)


def make(**kw: Any) -> VirtualRouter:
    return VirtualRouter(params(**kw))


def adv(
    prio: int,
    *,
    version: int = 3,
    interval_cs: int = 10,
    vrid: int = 51,
    addresses: tuple[str, ...] = ("10.0.0.100",),
    auth_type: int = 0,
    auth_data: bytes = b"",
) -> Advert:
    return Advert(
        version, vrid, prio, len(addresses), auth_type, interval_cs, 0, addresses, auth_data
    )


def rx(r: VirtualRouter, a: Advert, src: str, now: float) -> Advert | None:
    """Through the real wire path: encode then receive."""
    wire = encode(a, src=src, dst="224.0.0.18")
    return r.receive(wire, src=src, dst="224.0.0.18", ttl=255, ifname="eth1", now=now)


def kinds(actions: list[act.Action]) -> list[str]:
    return [type(a).__name__ for a in actions]


def sent(actions: list[act.Action]) -> list[Advert]:
    return [a.advert for a in actions if isinstance(a, act.SendAdvert)]


def logs(actions: list[act.Action]) -> list[str]:
    return [a.msg for a in actions if isinstance(a, act.Log)]


def fire(r: VirtualRouter) -> float:
    now = r.get_timer()
    assert now is not None
    r.handle_timer(now)
    return now


def start_backup(**kw: Any) -> VirtualRouter:
    r = make(**kw)
    r.handle(ev.Startup(), 0.0)
    assert r.state == State.BACKUP
    r.actions()
    return r


def start_master(**kw: Any) -> VirtualRouter:
    r = start_backup(**kw)
    fire(r)
    assert r.state == State.MASTER
    r.actions()
    return r


# ---- Init ---------------------------------------------------------------------------------


@row("init-startup-owner")
def test_owner_becomes_master_immediately_advert_before_vips() -> None:
    r = make(priority=255)
    r.handle(ev.Startup(), 5.0)
    assert r.state == State.MASTER and r.effective_priority == 255
    a = r.actions()
    k = kinds(a)
    assert k.index("SendAdvert") < k.index("AddVips") < k.index("SendGratuitous")
    assert sent(a)[0].priority == 255
    assert "(VI_1) Entering MASTER STATE" in logs(a)
    assert r.get_timer() == pytest.approx(5.1)
    assert r.stats.become_master == 1


def test_owner_configured_backup_waits_full_interval() -> None:
    r = make(priority=255, initial_state="BACKUP")
    r.handle(ev.Startup(), 0.0)
    assert r.state == State.BACKUP
    # MDI with priority 255: 3 * 10 cs + 10/256 cs
    assert r.get_timer() == pytest.approx(0.3 + 0.1 / 256)


@row("init-startup-backup")
@pytest.mark.parametrize(
    ("version", "interval_cs", "mdi_s"), [(3, 10, 0.3 + 0.1 * 156 / 256), (2, 100, 3 + 156 / 256)]
)
def test_backup_startup_waits_master_down_interval(
    version: int, interval_cs: int, mdi_s: float
) -> None:
    r = make(version=version, advert_int_cs=interval_cs)
    r.handle(ev.Startup(), 10.0)
    assert r.state == State.BACKUP
    a = r.actions()
    assert "(VI_1) Entering BACKUP STATE" in logs(a)
    assert [x for x in a if isinstance(x, act.RunNotify)] == [act.RunNotify("VI_1", "BACKUP", 100)]
    assert r.get_timer() == pytest.approx(10.0 + mdi_s)
    assert not sent(a)


@row("init-startup-state-master")
def test_state_master_non_owner_waits_one_interval_plus_min_skew() -> None:
    r = make(initial_state="MASTER", version=2, advert_int_cs=100)
    r.handle(ev.Startup(), 0.0)
    assert r.state == State.BACKUP
    assert r.get_timer() == pytest.approx(1 + 1 / 256)
    fire(r)
    assert r.state == State.MASTER


@row("init-startup-fault")
def test_startup_with_interface_down_goes_fault() -> None:
    r = make()
    r.handle(ev.InterfaceDown("eth1"), 0.0)
    r.handle(ev.Startup(), 0.0)
    assert r.state == State.FAULT
    assert r.get_timer() is None
    assert act.RunNotify("VI_1", "FAULT", 100) in r.actions()


@row("stop-startup")
def test_restart_after_stop() -> None:
    r = start_backup()
    r.handle(ev.Shutdown(), 1.0)
    assert r.state == State.STOP
    r.handle(ev.Startup(), 2.0)
    assert r.state == State.BACKUP


# ---- Backup -------------------------------------------------------------------------------


@row("backup-shutdown")
def test_backup_shutdown_cancels_timer_sends_nothing() -> None:
    r = start_backup()
    r.handle(ev.Shutdown(), 0.1)
    assert r.state == State.STOP and r.get_timer() is None
    a = r.actions()
    assert not sent(a)
    assert act.RunNotify("VI_1", "STOP", 100) in a
    r.handle(ev.Shutdown(), 0.2)  # idempotent
    assert r.actions() == []


@row("backup-mdt")
def test_backup_master_down_timer_takes_over() -> None:
    r = start_backup()
    now = fire(r)
    assert r.state == State.MASTER
    a = r.actions()
    k = kinds(a)
    assert k.index("SendAdvert") < k.index("AddVips")
    assert a[k.index("AddVips")] == act.AddVips("VI_1", "eth1", (VIP,))
    assert act.StateChanged("VI_1", "BACKUP", "MASTER", "master down timer expired", 100) in a
    assert r.get_timer() == pytest.approx(now + 0.1)
    assert r.master_address == ME


@row("backup-rx-higher")
def test_backup_rx_higher_resets_timer_and_learns_interval() -> None:
    r = start_backup()
    assert rx(r, adv(200, interval_cs=50), HIGHER_ADDR, 0.2)
    # v3: Master_Adver_Interval = 50 cs; MDI = 3*50 + (156*50)/256 cs
    assert r.master_adver_interval_cs == 50
    assert r.get_timer() == pytest.approx(0.2 + 1.5 + 0.5 * 156 / 256)
    assert r.master_address == HIGHER_ADDR
    assert r.stats.advert_rcvd == 1
    # equal priority also keeps us backup
    assert rx(r, adv(100, interval_cs=10), LOWER_ADDR, 1.0)
    assert r.get_timer() == pytest.approx(1.0 + 0.3 + 0.1 * 156 / 256)
    assert r.state == State.BACKUP


def test_v2_interval_mismatch_is_dropped() -> None:
    r = start_backup(version=2, advert_int_cs=100)
    deadline = r.get_timer()
    assert rx(r, adv(200, version=2, interval_cs=200), HIGHER_ADDR, 1.0) is None
    assert r.stats.advert_interval_err == 1 and r.stats.rx_dropped == 1
    assert r.get_timer() == deadline


@row("backup-rx-prio0")
def test_backup_rx_priority_zero_waits_only_skew() -> None:
    r = start_backup()
    rx(r, adv(200), HIGHER_ADDR, 0.1)
    assert rx(r, adv(0), HIGHER_ADDR, 0.2)
    assert r.stats.pri_zero_rcvd == 1
    assert r.get_timer() == pytest.approx(0.2 + 0.1 * 156 / 256)
    fire(r)
    assert r.state == State.MASTER


@row("backup-rx-lower")
def test_backup_rx_lower_with_preempt_discards_and_logs() -> None:
    r = start_backup()
    deadline = r.get_timer()
    assert rx(r, adv(90), "10.0.0.9", 0.1)
    assert r.get_timer() == deadline
    assert "(VI_1) received lower priority (90) advert from 10.0.0.9 - discarding" in logs(
        r.actions()
    )
    fire(r)
    assert r.state == State.MASTER


@row("backup-rx-nopreempt")
def test_backup_nopreempt_accepts_lower_priority_master() -> None:
    r = start_backup(preempt=False)
    for i in range(1, 20):
        rx(r, adv(50), "10.0.0.9", i * 0.1)
        assert r.get_timer() == pytest.approx(i * 0.1 + 0.3 + 0.1 * 156 / 256)
    assert r.state == State.BACKUP
    assert r.master_address == "10.0.0.9"


@row("backup-rx-lower-delay")
def test_preempt_delay_postpones_takeover() -> None:
    r = start_backup(preempt_delay_s=1.0)
    t = 0.0
    while r.state == State.BACKUP and t < 5:
        t = round(t + 0.1, 6)
        deadline = r.get_timer()
        if deadline is not None and deadline <= t:
            r.handle_timer(deadline)
            break
        rx(r, adv(50), "10.0.0.9", t)
    assert r.state == State.MASTER
    # first lower advert at 0.1 s starts the 1 s delay; from 1.1 s on lower adverts are
    # discarded (keepalived: preempt_time > now still delays); takeover one MDI after the last
    # accepted one (1.0 s)
    assert r.last_transition is not None
    assert r.last_transition[0] == pytest.approx(1.0 + 0.3 + 0.1 * 156 / 256)


def test_preempt_delay_reset_by_higher_priority() -> None:
    r = start_backup(preempt_delay_s=1.0)
    rx(r, adv(50), "10.0.0.9", 0.1)
    rx(r, adv(200), HIGHER_ADDR, 0.2)
    rx(r, adv(50), "10.0.0.9", 0.3)  # delay restarts at 0.3
    rx(r, adv(50), "10.0.0.9", 1.2)
    assert r.get_timer() == pytest.approx(1.2 + 0.3 + 0.1 * 156 / 256)


# ---- Master -------------------------------------------------------------------------------


@row("master-adver-timer")
def test_master_sends_adverts_on_schedule_without_drift() -> None:
    r = start_master()
    t0 = r.get_timer()
    assert t0 is not None
    for i in range(50):
        now = r.get_timer()
        assert now == pytest.approx(t0 + i * 0.1)
        r.handle_timer(now + 0.003)  # the driver woke up 3 ms late
        [a] = sent(r.actions())
        assert (a.priority, a.adver_int_cs, a.addresses) == (100, 10, ("10.0.0.100",))
    assert r.stats.advert_sent == 51


def test_master_garp_second_burst_and_refresh() -> None:
    r = make(garp_master_delay_s=5.0, garp_master_refresh_s=60.0, garp_master_refresh_repeat=2)
    r.handle(ev.Startup(), 0.0)
    fire(r)
    a = r.actions()
    g = [x for x in a if isinstance(x, act.SendGratuitous)]
    assert g == [act.SendGratuitous("VI_1", "eth1", ("10.0.0.100",), 5, 0.0)]
    t_master = r.last_transition[0]  # type: ignore[index]
    garps = []
    while True:
        now = r.get_timer()
        assert now is not None
        if now > t_master + 61:
            break
        r.handle_timer(now)
        garps += [
            (now - t_master, x.repeat) for x in r.actions() if isinstance(x, act.SendGratuitous)
        ]
    assert [(round(t, 6), n) for t, n in garps] == [(5.0, 5), (60.0, 2)]


def test_garps_go_out_on_each_vips_own_interface() -> None:
    """A VIP configured with ``dev eth2`` is announced on eth2, the others on the instance's."""
    r = make(
        addresses=("10.0.0.100/24", "192.0.2.1/24", "192.0.2.2/24"),
        vip_devs=(("192.0.2.1/24", "eth2"), ("192.0.2.2/24", "eth2")),
    )
    r.handle(ev.Startup(), 0.0)
    fire(r)
    g = [x for x in r.actions() if isinstance(x, act.SendGratuitous)]
    assert g == [
        act.SendGratuitous("VI_1", "eth1", ("10.0.0.100",), 5, 0.0),
        act.SendGratuitous("VI_1", "eth2", ("192.0.2.1", "192.0.2.2"), 5, 0.0),
    ]


def _extra_garps(r: VirtualRouter, until_s: float) -> list[tuple[float, str, tuple[str, ...]]]:
    t_master = r.last_transition[0]  # type: ignore[index]
    out = []
    while (now := r.get_timer()) is not None and now <= t_master + until_s:
        r.handle_timer(now)
        out += [
            (round(now - t_master, 6), x.ifname, x.addresses)
            for x in r.actions()
            if isinstance(x, act.SendGratuitous) and x.repeat == 1
        ]
    return out


def test_garp_extra_if_all_sends_one_garp_per_other_interface_periodically() -> None:
    """keepalived ``garp_extra_if all 100``: first after garp_master_delay + 100 s, then every
    100 s, one GARP per interface other than the instance's (its first VIP), while MASTER."""
    r = make(
        addresses=("10.0.0.100/24", "192.0.2.1/24", "192.0.2.2/24", "198.51.100.1/24"),
        vip_devs=(("192.0.2.1/24", "eth2"), ("192.0.2.2/24", "eth2"), ("198.51.100.1/24", "eth3")),
        garp_master_delay_s=5.0,
        garp_extra_if_s=100.0,
        garp_extra_if_all=True,
    )
    r.handle(ev.Startup(), 0.0)
    fire(r)
    r.actions()
    assert _extra_garps(r, 310) == [
        (105.0, "eth2", ("192.0.2.1",)),
        (105.0, "eth3", ("198.51.100.1",)),
        (205.0, "eth2", ("192.0.2.1",)),
        (205.0, "eth3", ("198.51.100.1",)),
        (305.0, "eth2", ("192.0.2.1",)),
        (305.0, "eth3", ("198.51.100.1",)),
    ]
    # leaving MASTER stops them
    r.handle(ev.Shutdown(), r.get_timer() or 0.0)
    r.actions()
    assert r.get_timer() is None


def test_garp_extra_if_without_all_or_other_interfaces_is_off() -> None:
    # without "all" keepalived only sends on its extra VMAC interfaces (hadaemon makes none)
    r = make(vip_devs=(("192.0.2.1/24", "eth2"),), garp_extra_if_s=100.0)
    r2 = make(garp_extra_if_s=100.0, garp_extra_if_all=True)  # every VIP on the instance's
    for x in (r, r2):
        x.handle(ev.Startup(), 0.0)
        fire(x)
        x.actions()
        assert _extra_garps(x, 400) == []


@row("master-shutdown")
def test_master_shutdown_sends_priority_zero_and_removes_vips() -> None:
    r = start_master()
    r.handle(ev.Shutdown(), 3.0)
    a = r.actions()
    assert [x.priority for x in sent(a)] == [0]
    assert act.DelVips("VI_1", "eth1", (VIP,)) in a
    assert r.state == State.STOP and r.get_timer() is None
    assert r.stats.pri_zero_sent == 1 and r.stats.release_master == 1


@row("master-rx-prio0")
def test_master_rx_priority_zero_answers_and_resets_timer() -> None:
    r = start_master()
    rx(r, adv(0), HIGHER_ADDR, 2.0)
    assert [x.priority for x in sent(r.actions())] == [100]
    assert r.get_timer() == pytest.approx(2.1)
    assert r.state == State.MASTER


@row("master-rx-higher")
def test_master_rx_higher_goes_backup() -> None:
    r = start_master()
    rx(r, adv(150, interval_cs=20), "10.0.0.1", 2.0)
    assert r.state == State.BACKUP
    a = r.actions()
    assert act.DelVips("VI_1", "eth1", (VIP,)) in a
    assert (
        "(VI_1) Master received advert from 10.0.0.1 with higher priority 150, ours 100" in logs(a)
    )
    assert r.master_adver_interval_cs == 20
    assert r.get_timer() == pytest.approx(2.0 + 0.6 + 0.2 * 156 / 256)
    assert r.stats.release_master == 1 and r.master_address == "10.0.0.1"


@row("master-rx-equal-higher-addr")
def test_tie_break_higher_address_wins() -> None:
    r = start_master()
    rx(r, adv(100), HIGHER_ADDR, 2.0)
    assert r.state == State.BACKUP


@row("master-rx-equal-lower-addr")
def test_tie_break_lower_address_loses() -> None:
    r = start_master()
    rx(r, adv(100), LOWER_ADDR, 2.0)
    assert r.state == State.MASTER
    assert [x.priority for x in sent(r.actions())] == [100]


def test_tie_break_compares_addresses_as_unsigned_integers() -> None:
    r = start_master(primary_address="10.0.0.20")
    rx(r, adv(100), "10.0.0.3", 2.0)  # "10.0.0.3" > "10.0.0.20" as strings, not as numbers
    assert r.state == State.MASTER
    rx(r, adv(100), "192.168.0.1", 2.1)
    assert r.state == State.BACKUP


@row("master-rx-lower")
def test_master_answers_lower_priority_unless_disabled() -> None:
    r = start_master()
    rx(r, adv(90), "10.0.0.9", 2.0)
    a = r.actions()
    assert [x.priority for x in sent(a)] == [100]
    assert (
        "(VI_1) Received advert from 10.0.0.9 with lower priority 90, ours 100, "
        "forcing new election"
    ) in logs(a)
    r2 = start_master(lower_prio_no_advert=True)
    rx(r2, adv(90), "10.0.0.9", 2.0)
    assert sent(r2.actions()) == []
    assert r2.state == State.MASTER


# ---- Fault and priority ---------------------------------------------------------------


@row("any-fault")
def test_master_to_fault_sends_priority_zero() -> None:
    r = start_master()
    r.handle(ev.InterfaceDown("eth1"), 2.0)
    a = r.actions()
    assert r.state == State.FAULT
    assert [x.priority for x in sent(a)] == [0]
    assert act.DelVips("VI_1", "eth1", (VIP,)) in a
    assert r.get_timer() is None
    # adverts in FAULT are counted but change nothing
    rx(r, adv(200), HIGHER_ADDR, 2.1)
    assert r.state == State.FAULT and r.stats.advert_rcvd == 1


def test_backup_to_fault_sends_nothing() -> None:
    r = start_backup()
    r.handle(ev.TrackerChanged("script:chk", 0, fault=True), 0.1)
    assert r.state == State.FAULT and not sent(r.actions())


@row("fault-clear")
def test_fault_recovery_of_state_master_waits_full_interval() -> None:
    r = make(initial_state="MASTER")
    r.handle(ev.Startup(), 0.0)
    r.handle(ev.InterfaceDown("eth1"), 0.01)
    r.handle(ev.InterfaceUp("eth1"), 1.0)
    assert r.state == State.BACKUP
    assert r.get_timer() == pytest.approx(1.0 + 0.3 + 0.1 * 156 / 256)


def test_fault_clears_to_backup_or_master_for_owner() -> None:
    r = start_master()
    r.handle(ev.ForceFault("unicast peers missing"), 1.0)
    assert r.state == State.FAULT
    r.handle(ev.ClearFault("unicast peers missing"), 2.0)
    assert r.state == State.BACKUP
    assert r.get_timer() == pytest.approx(2.0 + 0.3 + 0.1 * 156 / 256)
    o = make(priority=255)
    o.handle(ev.Startup(), 0.0)
    o.handle(ev.InterfaceDown("eth1"), 1.0)
    assert o.state == State.FAULT
    o.handle(ev.InterfaceUp("eth1"), 2.0)
    assert o.state == State.MASTER


def test_dont_track_primary() -> None:
    r = start_backup(dont_track_primary=True)
    r.handle(ev.InterfaceDown("eth1"), 0.1)
    assert r.state == State.BACKUP


@row("any-priority-change")
def test_tracked_interface_weights_and_clamping() -> None:
    r = start_master(
        track_interfaces=(
            TrackedInterface("eth2", -60),
            TrackedInterface("eth3", 30),
            TrackedInterface("eth4", 0),
        )
    )
    assert r.effective_priority == 130  # eth3 up adds 30
    r.handle(ev.InterfaceDown("eth2"), 1.0)
    assert r.effective_priority == 70
    assert r.state == State.MASTER
    a = r.actions()
    assert "(VI_1) Changing effective priority from 130 to 70" in logs(a)
    assert act.PriorityChanged("VI_1", "MASTER", 130, 70) in a
    # a backup at 100 now preempts us: our next advert carries 70
    now = fire(r)
    assert sent(r.actions())[0].priority == 70
    rx(r, adv(100), "10.0.0.1", now + 0.01)
    assert r.state == State.BACKUP
    r.handle(ev.InterfaceDown("eth4"), 2.0)
    assert r.state == State.FAULT
    for i in range(5):
        r.handle(ev.TrackerChanged(f"script:s{i}", 100), 3.0)
    assert r.effective_priority == 254  # clamped below the owner priority
    for i in range(5):
        r.handle(ev.TrackerChanged(f"script:s{i}", -100), 3.0)
    assert r.effective_priority == 1


def test_owner_priority_not_changed_by_trackers() -> None:
    r = make(priority=255)
    r.handle(ev.Startup(), 0.0)
    r.handle(ev.TrackerChanged("script:x", -100), 1.0)
    assert r.effective_priority == 255 and r.state == State.MASTER


def test_reverse_tracked_interface() -> None:
    r = start_backup(track_interfaces=(TrackedInterface("eth2", -10, reverse=True),))
    assert r.effective_priority == 90
    r.handle(ev.InterfaceDown("eth2"), 1.0)
    assert r.effective_priority == 100


def test_skew_uses_effective_priority() -> None:
    r = start_backup()
    r.handle(ev.TrackerChanged("script:x", 100), 0.0)
    rx(r, adv(250), HIGHER_ADDR, 1.0)
    assert r.get_timer() == pytest.approx(1.0 + 0.3 + 0.1 * 56 / 256)


# ---- instance receive checks ------------------------------------------------------------


def test_instance_checks_count_every_drop() -> None:
    r = start_backup(version=2, advert_int_cs=100, auth_type=1, auth_pass=b"123456")
    good = adv(200, version=2, interval_cs=100, auth_type=1, auth_data=b"123456")
    assert rx(r, good, HIGHER_ADDR, 0.1)
    assert rx(r, replace(good, auth_data=b"654321"), HIGHER_ADDR, 0.2) is None
    assert rx(r, replace(good, auth_type=0, auth_data=b""), HIGHER_ADDR, 0.3) is None
    assert rx(r, replace(good, vrid=52), HIGHER_ADDR, 0.4) is None
    assert rx(r, adv(200), HIGHER_ADDR, 0.5) is None  # v3 on a v2 instance
    assert (
        r.stats.auth_failure,
        r.stats.authtype_mismatch,
        r.stats.vrid_err,
        r.stats.vers_err,
    ) == (1, 1, 1, 1)
    assert r.stats.rx_dropped == 4 and r.stats.advert_rcvd == 1
    # drop logs are rate-limited per reason
    for i in range(100):
        rx(r, replace(good, auth_data=b"bad"), HIGHER_ADDR, 1.0 + i * 0.01)
    drop_logs = [m for m in logs(r.actions()) if "auth_failure" in m]
    assert len(drop_logs) == 1
    rx(r, replace(good, auth_data=b"bad"), HIGHER_ADDR, 20.0)
    assert any("suppressed" in m for m in logs(r.actions()))


def test_address_list_mismatch_is_dropped_like_keepalived() -> None:
    r = start_backup()
    deadline = r.get_timer()
    assert rx(r, adv(200, addresses=("10.0.0.99",)), HIGHER_ADDR, 0.1) is None
    assert rx(r, adv(200, addresses=("10.0.0.100", "10.0.0.99")), HIGHER_ADDR, 0.2) is None
    assert r.stats.addr_list_err == 2 and r.stats.rx_dropped == 2
    assert r.get_timer() == deadline  # the master down timer keeps running
    assert (
        "(VI_1) ip address associated with VRID 51 not present in MASTER advert: 10.0.0.100 "
        "[addr_list_err]"
    ) in logs(r.actions())
    # priority-0 adverts carry the VIPs too and are checked the same way
    assert rx(r, adv(0, addresses=()), HIGHER_ADDR, 0.3) is None


def test_skip_check_adv_addr_only_for_the_known_master() -> None:
    r = start_backup(skip_check_adv_addr=True)
    assert rx(r, adv(200), HIGHER_ADDR, 0.1)
    assert rx(r, adv(200, addresses=("10.0.0.99",)), HIGHER_ADDR, 0.2)
    assert rx(r, adv(200, addresses=("10.0.0.99",)), "10.0.0.7", 0.3) is None


def test_multicast_unicast_expectation() -> None:
    r = start_backup(unicast_peers=(HIGHER_ADDR,))
    wire = encode(adv(200), src=HIGHER_ADDR, dst=ME)
    assert r.receive(wire, src=HIGHER_ADDR, dst=ME, ttl=64, now=0.1)  # no TTL check on unicast
    assert rx(r, adv(200), HIGHER_ADDR, 0.2) is None  # multicast on a unicast instance
    assert r.stats.addr_list_err == 1
    assert "Expected unicast packet but received multicast packet" in " ".join(logs(r.actions()))


def test_owner_conflict_steps_down_to_254() -> None:
    r = make(priority=255)
    r.handle(ev.Startup(), 0.0)
    r.actions()
    rx(r, adv(255), HIGHER_ADDR, 1.0)
    assert r.effective_priority == 254 and r.state == State.BACKUP
    assert any("both configured as address owner" in m for m in logs(r.actions()))


def test_receive_never_raises_on_garbage() -> None:
    r = start_backup()
    assert r.receive(b"", src="10.0.0.1", dst="224.0.0.18", ttl=255, now=0.1) is None
    assert r.receive(b"\x31" * 40, src="nonsense", dst="224.0.0.18", ttl=255, now=0.1) is None
    wire = encode(adv(200), src=HIGHER_ADDR, dst="224.0.0.18")
    assert r.receive(wire, src=HIGHER_ADDR, dst="224.0.0.18", ttl=64, now=0.2) is None
    assert r.stats.ip_ttl_err == 1
    assert r.stats.rx_dropped == 3


# ---- reload, misc -------------------------------------------------------------------------


def test_reload_vip_diff_while_master() -> None:
    r = start_master()
    r.handle(ev.ConfigChanged(params(addresses=(VIP, "10.0.0.101/24"))), 5.0)
    assert r.actions() == [act.AddVips("VI_1", "eth1", ("10.0.0.101/24",))]
    with pytest.raises(ValueError):
        r.handle(ev.ConfigChanged(params(vrid=52)), 6.0)


def test_unknown_event_is_a_programming_error() -> None:
    with pytest.raises(TypeError):
        make().handle(object(), 0.0)


def test_status_is_json_able() -> None:
    import json

    r = start_master()
    s = json.loads(json.dumps(r.status()))
    assert s["state"] == "MASTER" and s["stats"]["become_master"] == 1


def test_transitions_table_has_no_self_loops() -> None:
    for s, tos in TRANSITIONS.items():
        assert s not in tos


def test_every_state_table_row_is_covered() -> None:
    assert set() == ROW_IDS - COVERED


# ---- keepalived extensions ----------------------------------------------------------------


def test_master_rx_lower_notify_and_lower_prio_garps() -> None:
    r = start_master(garp_lower_prio_repeat=2, garp_lower_prio_delay_s=1.0)
    rx(r, adv(90), "10.0.0.9", 2.0)
    a = r.actions()
    assert act.MasterRxLowerPri("VI_1", "10.0.0.9", 90, 100) in a
    assert act.SendGratuitous("VI_1", "eth1", ("10.0.0.100",), 2, 0.0) in a
    later: list[act.Action] = []
    while (t := r.get_timer()) is not None and t <= 3.05:
        r.handle_timer(t)
        later += r.actions()
    assert [g.repeat for g in later if isinstance(g, act.SendGratuitous)] == [2]


def test_higher_prio_send_advert() -> None:
    r = start_master(higher_prio_send_advert=True)
    rx(r, adv(150), "10.0.0.1", 2.0)
    a = r.actions()
    assert r.state == State.BACKUP
    assert [x.priority for x in sent(a)] == [100]
    r2 = start_master()
    rx(r2, adv(150), "10.0.0.1", 2.0)
    assert sent(r2.actions()) == []


def test_owner_ignore_adverts() -> None:
    r = make(priority=255, owner_ignore_adverts=True)
    r.handle(ev.Startup(), 0.0)
    r.actions()
    rx(r, adv(255), "10.0.0.200", 1.0)
    rx(r, adv(90), "10.0.0.9", 1.1)
    assert r.state == State.MASTER and sent(r.actions()) == []
    assert r.stats.advert_rcvd == 2


@pytest.mark.parametrize(
    ("kw", "msg"),
    [
        ({"vrid": 0}, "virtual_router_id 0"),
        ({"priority": 0}, "priority 0"),
        ({"version": 4}, "version 4"),
        ({"family": 6, "version": 2, "addresses": ("fe80::1/64",)}, "IPv6 needs"),
        ({"version": 2, "advert_int_cs": 150}, "whole seconds, not 1.5"),
        ({"advert_int_cs": 0}, "0.01..40.95"),
        ({"advert_int_cs": 5000}, "0.01..40.95"),
        ({"down_timer_adverts": 0}, "down_timer_adverts"),
        ({"auth_type": 2}, "auth_type 2"),
        ({"addresses": ("10.0.0.300/24",)}, "not an IP address"),
        ({"addresses": ("fe80::1/64",)}, "not IPv4"),
        ({"primary_address": "eth0"}, "'eth0' is not an IP address"),
        ({"addresses": tuple(f"10.1.{i // 250}.{i % 250}" for i in range(256))}, "at most 255"),
    ],
)
def test_bad_params_give_clear_errors(kw: dict[str, Any], msg: str) -> None:
    with pytest.raises(ValueError, match=r"^\(VI_1\) .*") as e:
        params(**kw)
    assert msg in str(e.value)


def test_unicast_fault_no_peer() -> None:
    r = make(unicast_fault_no_peer=True)
    r.handle(ev.Startup(), 0.0)
    assert r.state == State.FAULT
    assert r.fault_reasons() == ["unicast_fault_no_peer: no unicast peers"]
    r.handle(
        ev.ConfigChanged(params(unicast_fault_no_peer=True, unicast_peers=("10.0.0.3",))), 1.0
    )
    assert r.state == State.BACKUP


def test_note_master_seen_only_extends_the_down_timer() -> None:
    r = start_backup()
    rx(r, adv(200), HIGHER_ADDR, 1.0)
    mdi_s = r.master_down_interval_cs / 100
    r.note_master_seen(1.2)
    assert r.get_timer() == pytest.approx(1.2 + mdi_s)
    r.note_master_seen(0.5)  # older stamp: no change
    assert r.get_timer() == pytest.approx(1.2 + mdi_s)
    assert r.stats.advert_rcvd == 1
    m = start_master()
    t = m.get_timer()
    m.note_master_seen(5.0)  # not BACKUP: ignored
    assert m.get_timer() == t
