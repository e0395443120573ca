"""Pure parts of ``hadaemon lab``: RFC timer formulas, the timeline checks on synthetic event
streams, and the adaptation of the seed configs."""

from __future__ import annotations

import difflib
from typing import Any

import pytest

from hadaemon.lab import seedconf
from hadaemon.lab.timeline import (
    LabParams,
    RouterInfo,
    StepRecord,
    analyse,
    checks_lines,
    master_down_interval_s,
    skew_time_s,
    step_table,
    timeline_lines,
)

R1, R2 = "192.168.10.18", "192.168.10.23"
ADV = 0.1
P = LabParams(
    ADV,
    3,
    0.25,
    0.25,
    (
        RouterInfo("r1", R1, "aa:aa:aa:aa:aa:01", 100),
        RouterInfo("r2", R2, "aa:aa:aa:aa:aa:02", 90),
    ),
)


def test_rfc_timer_formulas() -> None:
    # RFC 3768 §6.1: Skew_Time = (256 - Priority) / 256 s
    assert skew_time_s(90, 1.0, 2) == pytest.approx(166 / 256)
    assert master_down_interval_s(90, 1.0, 2) == pytest.approx(3 + 166 / 256)
    assert skew_time_s(90, 5.0, 2) == pytest.approx(166 / 256)  # v2: independent of advert_int
    # RFC 5798 §6.1: Skew_Time = ((256 - Priority) * Master_Adver_Interval) / 256
    assert skew_time_s(90, 0.1, 3) == pytest.approx(16.6 / 256)
    assert master_down_interval_s(100, 0.1, 3) == pytest.approx(0.3 + 15.6 / 256)


def adverts(src: str, t0: float, t1: float, prio: int = 100) -> list[dict[str, Any]]:
    n = round((t1 - t0) / ADV)
    return [{"ev": "adv", "t": t0 + i * ADV, "src": src, "prio": prio} for i in range(n + 1)]


def conns(t0: float, t1: float, rs: str, ok: bool = True) -> list[dict[str, Any]]:
    out = []
    t = t0
    while t < t1:
        c = {"ev": "conn", "t": t, "t_end": t + 0.01, "ok": ok}
        c.update({"rs": rs} if ok else {"err": "timeout"})
        out.append(c)
        t += 0.05
    return out


def sigterm_run(takeover_after_s: float = 0.0648) -> tuple[list[dict[str, Any]], list[StepRecord]]:
    """r1 master 0..3 s, SIGTERM at 3.0 (priority 0), r2 takes over after ``takeover_after_s``."""
    t_new = 3.0 + takeover_after_s
    ev = adverts(R1, 0.0, 2.9) + [{"ev": "adv", "t": 3.0, "src": R1, "prio": 0}]
    ev += adverts(R2, t_new, 6.0, 90)
    ev += conns(0.5, 3.0, "rs1") + conns(t_new + 0.3, 6.0, "rs2")
    ev += [{"ev": "notify_run", "t": 4.0, "router": "r1"}]
    steps = [
        StepRecord(1, "up", "start", "start", 0.0, None, "r1", "rs1", 2.99, True),
        StepRecord(2, "stop", "kill -TERM", "sigterm", 3.0, "r1", "r2", "rs2", 6.0, True),
    ]
    return sorted(ev, key=lambda e: e["t"]), steps


def test_clean_sigterm_failover_passes() -> None:
    ev, steps = sigterm_run()
    rep = analyse(ev, steps, P, 0.5, 6.0)
    assert rep.checks == {
        "all_steps_settled": True,
        "exactly_one_master": True,
        "failover_within_rfc": True,
        "no_failed_connections_outside_windows": True,
        "notify_down_ran_once": True,
    }
    s2 = rep.steps[1]
    assert s2.failover_s == pytest.approx(0.0648)
    assert s2.expected_s == pytest.approx(skew_time_s(90, ADV, 3))
    assert s2.master == "r2" and s2.answered == {"rs2": len(conns(3.3648, 6.0, "rs2"))}
    # the rendering works on it
    assert any("priority-0 advert" in line for line in timeline_lines(ev, P, 0.0))
    assert "Skew_Time" in "\n".join(step_table(rep, 0.0))
    assert "PASS" in "\n".join(checks_lines(rep))


def test_late_takeover_fails_the_rfc_check() -> None:
    ev, steps = sigterm_run(takeover_after_s=0.0648 + 0.3)  # beyond the 0.25 s tolerance
    rep = analyse(ev, steps, P, 0.5, 6.0)
    assert rep.steps[1].failover_ok is False
    assert rep.checks["failover_within_rfc"] is False
    assert not rep.ok


def test_kill9_measured_from_the_last_advert_against_master_down_interval() -> None:
    ev = adverts(R1, 0.0, 2.9)  # killed at 2.95: last advert 2.9
    mdi = master_down_interval_s(90, ADV, 3)
    ev += adverts(R2, 2.9 + mdi, 6.0, 90) + conns(0.5, 2.9, "rs1") + conns(3.6, 6.0, "rs2")
    steps = [
        StepRecord(1, "up", "start", "start", 0.0, None, "r1", "rs1", 2.9, True),
        StepRecord(2, "kill", "kill -9", "kill9", 2.95, "r1", "r2", "rs2", 6.0, True),
    ]
    rep = analyse(sorted(ev, key=lambda e: e["t"]), steps, P, 0.5, 6.0)
    assert rep.steps[1].failover_s == pytest.approx(mdi)
    assert rep.steps[1].failover_ok is True
    # a backup that takes over long before Master_Down_Interval breaks the RFC too
    early = adverts(R1, 0.0, 2.9) + adverts(R2, 3.0, 6.0, 90)
    rep = analyse(sorted(early, key=lambda e: e["t"]), steps, P, 0.5, 6.0)
    assert rep.steps[1].failover_ok is False


def test_two_masters_outside_a_handover_fail() -> None:
    ev, steps = sigterm_run()
    ev = sorted(ev + adverts(R2, 1.0, 2.0, 90), key=lambda e: e["t"])  # r2 master too, 1 s
    rep = analyse(ev, steps, P, 0.5, 6.0)
    assert rep.checks["exactly_one_master"] is False
    assert rep.overlaps and rep.overlaps[0][:2] == ("r1", "r2")


def test_no_master_outside_a_window_fails() -> None:
    ev, steps = sigterm_run()
    ev = [e for e in ev if not (e["ev"] == "adv" and 1.0 < e["t"] < 2.0)]  # r1 silent 1 s
    rep = analyse(ev, steps, P, 0.5, 6.0)
    assert rep.checks["exactly_one_master"] is False
    assert rep.masterless_gaps


def test_failed_connections_count_only_outside_windows() -> None:
    ev, steps = sigterm_run()
    in_window = conns(3.0, 3.3, "", ok=False)  # during the failover: allowed
    outside = conns(5.0, 5.1, "", ok=False)  # 2 s after the takeover: not allowed
    rep = analyse(sorted(ev + in_window, key=lambda e: e["t"]), steps, P, 0.5, 6.0)
    assert rep.checks["no_failed_connections_outside_windows"] is True
    assert rep.steps[1].failed_in_window == len(in_window)
    rep = analyse(sorted(ev + outside, key=lambda e: e["t"]), steps, P, 0.5, 6.0)
    assert rep.checks["no_failed_connections_outside_windows"] is False
    assert rep.steps[1].failed_outside == len(outside)
    # connections after the end of the walkthrough (the lab stops the routers) do not count
    rep = analyse(
        sorted(ev + conns(6.0, 6.5, "", ok=False), key=lambda e: e["t"]), steps, P, 0.5, 6.0
    )
    assert rep.checks["no_failed_connections_outside_windows"] is True


@pytest.mark.parametrize("runs", [0, 2])
def test_notify_must_run_exactly_once(runs: int) -> None:
    ev, steps = sigterm_run()
    ev = [e for e in ev if e["ev"] != "notify_run"]
    ev += [{"ev": "notify_run", "t": 4.0 + i, "router": "r1"} for i in range(runs)]
    rep = analyse(sorted(ev, key=lambda e: e["t"]), steps, P, 0.5, 6.0)
    assert rep.checks["notify_down_ran_once"] is False


def test_unsettled_step_fails() -> None:
    ev, steps = sigterm_run()
    steps[1].settled = False
    assert analyse(ev, steps, P, 0.5, 6.0).checks["all_steps_settled"] is False


def test_adapt_changes_only_addresses_script_and_timers() -> None:
    out = seedconf.adapt(
        seedconf.SEED_MASTER,
        real_server="10.0.0.31",
        notify_down="/x/n.sh",
        timers=seedconf.DEFAULT_TIMERS,
        seed_real_server="192.168.10.18",
    )
    diff = [
        line
        for line in difflib.unified_diff(
            seedconf.SEED_MASTER.splitlines(), out.splitlines(), lineterm="", n=0
        )
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    assert diff == [
        "-    advert_int 5",
        "+    advert_int 1",
        "-    real_server 192.168.10.18 3306 {",
        "+    real_server 10.0.0.31 3306 {",
        "-        notify_down /data/sh/mysql.sh",
        "+        notify_down /x/n.sh",
    ]


def test_adapt_short_mode_is_vrrpv3_with_fast_timers() -> None:
    out = seedconf.adapt(
        seedconf.SEED_BACKUP,
        real_server="10.0.0.32",
        notify_down="/x/n.sh",
        timers=seedconf.SHORT_TIMERS,
        seed_real_server="192.168.10.23",
    )
    assert "   vrrp_version 3\n" in out
    assert "advert_int 0.1\n" in out and "delay_loop 0.5\n" in out
    assert "nb_get_retry 1 " in out and "delay_before_retry 0.2\n" in out
    assert "priority 90\n" in out and "state BACKUP\n" in out  # untouched
    assert "lvs_sync_daemon_inteface eth1" in out  # the seed's typo is kept on purpose


def test_plot_writes_a_png(tmp_path: Any) -> None:
    """--plot draws the JSON document (only where matplotlib is installed)."""
    pytest.importorskip("matplotlib")
    from hadaemon.lab.plot import plot

    ev, steps = sigterm_run()
    rep = analyse(ev, steps, P, 0.5, 6.0)
    doc = {"t0": 0.0, "report": rep.to_json(), "events": ev}
    out = tmp_path / "lab.png"
    plot(doc, str(out))
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
