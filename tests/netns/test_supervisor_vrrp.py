"""The whole daemon (supervisor + real vrrp worker) against a real keepalived backup.

kill -9 of the vrrp worker, 20 times in a row: the supervisor respawns it with the states
handed back, it is advertising again before keepalived's Master_Down_Interval (1 s adverts:
3 × 1 s + (256 − 100)/256 s ≈ 3.61 s), and keepalived never becomes master.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers.netns import wait_for
from helpers.vrrp_lab import AdvertRecorder, Lab, ka_config

from hadaemon.supervisor.status_cli import query

pytestmark = [pytest.mark.root, pytest.mark.netns, pytest.mark.keepalived]

VIP = "10.0.0.200"
KILLS = 20
#: keepalived's Master_Down_Interval for priority 100 at 1 s adverts (VRRPv3 skew)
MASTER_DOWN_S = 3 * 1.0 + (256 - 100) / 256 * 1.0


def _status(run_dir: Path) -> dict[str, Any] | None:
    try:
        return query(str(run_dir / "status.sock"))
    except (OSError, ValueError):
        return None


def test_vrrp_worker_killed_20_times_keepalived_backup_never_takes_over(
    lab: Lab, tmp_path: Path
) -> None:
    lab.start_keepalived("r2", ka_config(priority=100, advert_int=1))
    lab.start_hadaemon("r1", ka_config(priority=150, advert_int=1), "--no-bpf", cli=True)
    lab.wait_holder(VIP, "r1", timeout_s=20)
    lab.wait_log("r2", r"\(VI_1\) Entering BACKUP STATE", timeout_s=10)
    run_dir = tmp_path / "run-r1"

    def running(min_s: float) -> dict[str, Any] | None:
        d = _status(run_dir)
        if not d or "vrrp" not in d["workers"]:
            return None
        w = d["workers"]["vrrp"]
        inst = {i["name"]: i["state"] for i in d["instances"]}
        ok = w["state"] == "RUNNING" and (w["running_s"] or 0) >= min_s
        return d if ok and inst.get("VI_1") == "MASTER" else None

    doc = wait_for(lambda: running(1.1), 20, 0.05, "vrrp worker running")
    assert set(doc["workers"]) == {"vrrp"}  # no virtual servers: no checker/lvs
    r2_log_before = len(lab.log("r2"))
    adverts = tmp_path / "adverts.txt"
    rec = AdvertRecorder(lab.topo, lab.ns["client"], adverts)
    try:
        for round_ in range(KILLS):
            old = doc["workers"]["vrrp"]["pid"]
            os.kill(old, signal.SIGKILL)
            doc = wait_for(
                lambda old=old: (d := running(1.1)) and d["workers"]["vrrp"]["pid"] != old and d,
                20,
                0.05,
                f"vrrp worker respawned (round {round_})",
            )
    finally:
        rec.close()
    assert doc["workers"]["vrrp"]["restarts"] == KILLS
    assert doc["vrrp_states"] == {"VI_1": "MASTER"}
    rows = [line.split() for line in adverts.read_text().splitlines()]
    ours = [float(t) for t, src, vrid, prio in rows if src == "10.0.0.1" and vrid == "51"]
    theirs = [r for r in rows if r[1] == "10.0.0.2"]
    gaps = [b - a for a, b in zip(ours, ours[1:], strict=False)]
    assert len(ours) >= KILLS, rows[:5]
    # the backup never sent an advert, never entered MASTER; our adverts never paused long
    # enough for its Master_Down_Interval to expire
    assert theirs == []
    assert "Entering MASTER STATE" not in lab.log("r2")[r2_log_before:]
    assert max(gaps) < MASTER_DOWN_S, json.dumps(sorted(gaps)[-5:])
    assert lab.holders(VIP) == ["r1"]
    # orderly stop: priority-0 advert, VIP handed to keepalived, no process left
    assert lab.stop("r1", timeout_s=30) == 0
    lab.wait_holder(VIP, "r2", timeout_s=10)
    pid = doc["workers"]["vrrp"]["pid"]
    wait_for(lambda: not os.path.exists(f"/proc/{pid}"), 10, 0.05, "vrrp worker gone")


def _two_instances(*, prio1: int = 150, third: bool = False, broken: bool = False) -> str:
    def inst(name: str, vrid: int, prio: int, vip: str) -> str:
        vrid_text = "abc" if broken and vrid == 51 else str(vrid)
        return f"""
vrrp_instance {name} {{
    state MASTER
    interface eth1
    virtual_router_id {vrid_text}
    priority {prio}
    advert_int 0.1
    virtual_ipaddress {{
        {vip}/24 dev eth1
    }}
}}
"""

    text = """global_defs {
    router_id r1
    vrrp_version 3
    vrrp_garp_master_delay 0
    metrics_listen 127.0.0.1:9650
}
"""
    text += inst("VI_1", 51, prio1, "10.0.0.200") + inst("VI_2", 52, 150, "10.0.0.201")
    if third:
        text += inst("VI_3", 53, 120, "10.0.0.202")
    return text


def test_reload_broken_then_priority_change_and_new_instance_metrics_and_term(
    lab: Lab, tmp_path: Path
) -> None:
    """HUP with a broken file keeps running (error with file:line:col); HUP changing VI_1's
    priority and adding VI_3 never removes VI_2's VIP nor pauses its adverts; /metrics shows
    the instances; TERM sends priority-0 adverts, removes the VIPs and leaves no process."""
    conf = tmp_path / "r1.conf"
    lab.start_hadaemon("r1", _two_instances(), "--no-bpf", cli=True)
    lab.wait_holder("10.0.0.200", "r1", timeout_s=20)
    lab.wait_holder("10.0.0.201", "r1", timeout_s=10)
    run_dir = tmp_path / "run-r1"
    doc = wait_for(lambda: _status(run_dir), 10, 0.05, "status socket")
    vrrp_pid = doc["workers"]["vrrp"]["pid"]
    adverts = tmp_path / "adverts.txt"
    rec = AdvertRecorder(lab.topo, lab.ns["client"], adverts)
    vip2_missing = []
    try:
        # 1. a broken file: logged with its location, the running config stays
        conf.write_text(_two_instances(broken=True))
        lab.signal("r1", signal.SIGHUP)
        lab.wait_log("r1", r"reload failed.*r1\.conf:\d+:\d+: error: 'virtual_router_id'")
        assert re.search(rf"{re.escape(str(conf))}:11:23: error", lab.log("r1")), lab.log("r1")[
            -2000:
        ]
        d = _status(run_dir)
        assert d is not None and d["hadaemon"]["last_reload"]["ok"] is False
        # 2. priority change + a new instance; watch VI_2's VIP meanwhile
        conf.write_text(_two_instances(prio1=200, third=True))
        lab.signal("r1", signal.SIGHUP)

        def applied() -> bool:
            if not lab.has_addr("r1", "10.0.0.201"):
                vip2_missing.append(1)
            return lab.has_addr("r1", "10.0.0.202")

        wait_for(applied, 15, 0.02, "VI_3's VIP on r1")
        for _ in range(20):  # and a while after
            applied()
        d = wait_for(
            lambda: (x := _status(run_dir)) and len(x["instances"]) == 3 and x,
            10,
            0.05,
            "three instances",
        )
        inst = {i["name"]: i for i in d["instances"]}
        assert inst["VI_1"]["base_priority"] == 200 and inst["VI_3"]["state"] == "MASTER"
        assert d["hadaemon"]["generation"] == 1 and d["workers"]["vrrp"]["pid"] == vrrp_pid
        # 3. metrics (inside r1's namespace)
        fetch = (
            "import urllib.request;print(urllib.request.urlopen("
            "'http://127.0.0.1:9650/metrics', timeout=5).read().decode())"
        )
        text = lab.topo.exec(lab.ns["r1"], sys.executable, "-c", fetch).stdout
        assert (
            'keepalived_vrrp_state{iname="VI_2",intf="eth1",ip_address="10.0.0.201",vrid="52"} 2.0'
        ) in text
        assert "keepalived_up 1.0" in text
        sent = re.search(
            r'keepalived_advert_sent_total\{iname="VI_2",intf="eth1",vrid="52"\} '
            r"(\S+)",
            text,
        )
        assert sent and float(sent.group(1)) > 0
        # 4. TERM
        assert lab.stop("r1", timeout_s=30) == 0
        wait_for(
            lambda: (
                not lab.holders("10.0.0.200")
                and not lab.holders("10.0.0.201")
                and not lab.holders("10.0.0.202")
            ),
            10,
            0.05,
            "VIPs removed",
        )
        wait_for(lambda: not os.path.exists(f"/proc/{vrrp_pid}"), 10, 0.05, "worker gone")
        import time

        time.sleep(0.3)  # let the recorder see the last frames
    finally:
        rec.close()
    assert vip2_missing == []
    rows = [line.split() for line in adverts.read_text().splitlines()]
    vi2 = [(float(t), int(p)) for t, src, vrid, p in rows if src == "10.0.0.1" and vrid == "52"]
    live = [t for t, p in vi2 if p > 0]
    gaps = [b - a for a, b in zip(live, live[1:], strict=False)]
    # VI_2's Master_Down_Interval for a priority-150 peer at 0.1 s: 3 × 0.1 + 106/256 × 0.1
    assert max(gaps) < 0.3 + (256 - 150) / 256 * 0.1, sorted(gaps)[-5:]
    prio0 = {vrid for t, src, vrid, p in rows if src == "10.0.0.1" and p == "0"}
    assert prio0 == {"51", "52", "53"}
