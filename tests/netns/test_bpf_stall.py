"""The reason hadaemon exists: a backup that is slow or flooded must not take over.

Master (hadaemon, or keepalived 2.2.7) advertises every 1 s. Two hadaemon backups, one on the
eBPF receive path and one on the classic path (``--no-bpf``), are SIGSTOPped together for
2 × Master_Down_Interval and then continued. When they wake up their master-down timers are
long overdue, but the adverts that arrived meanwhile carry kernel stamps (eBPF ``last_seen`` /
``SO_TIMESTAMPNS``): both must stay backup, and a capture on the segment must show no advert
from either of them.

Flood: a third router floods the segment with proto-112 packets of a foreign VRID and then of
TTL 64 while the master advertises every 100 ms; the eBPF backup never takes over and its
kernel counters (read with bpftool from the attached program's map) show the drops.

Fallback: with bcc unimportable the daemon logs why, runs the classic path, and fails over
when the master dies as it would with eBPF.
"""

from __future__ import annotations

import json
import re
import signal
import time
from pathlib import Path

import pytest
from helpers.netns import wait_for
from helpers.vrrp_lab import PYTHON, Capture, Lab, hd_config, hd_instance, ka_config

pytestmark = [
    pytest.mark.root,
    pytest.mark.netns,
    pytest.mark.bpf,
    pytest.mark.lab_shape(routers=3),
]

VIP = "10.0.0.200"
R2_KEEPALIVED_CONF = """
global_defs {
    vrrp_version 3
}
vrrp_instance VI_1 {
    state BACKUP
    interface eth1
    virtual_router_id 51
    priority 100
    advert_int 0.1
    virtual_ipaddress {
        10.0.0.200/24
    }
}
"""
ADVERT_INT_S = 1.0
MASTER_STATE = r"\(VI_1\) Entering MASTER STATE"
BACKUP_STATE = r"\(VI_1\) Entering BACKUP STATE"


def master_down_interval_s(priority: int) -> float:
    """RFC 5798 §6.1: 3 × Master_Adver_Interval + Skew_Time."""
    return 3 * ADVERT_INT_S + (256 - priority) * ADVERT_INT_S / 256


@pytest.mark.parametrize(
    "master", ["hadaemon", pytest.param("keepalived", marks=pytest.mark.keepalived)]
)
def test_sigstopped_backups_stay_backup_on_both_paths(lab: Lab, master: str) -> None:
    if master == "hadaemon":
        lab.start_hadaemon(
            "r1",
            hd_config(hd_instance(priority=150, state="MASTER", advert_int=ADVERT_INT_S)),
            "--no-bpf",
        )
    else:
        lab.start_keepalived("r1", ka_config(priority=150, state="MASTER", advert_int=1))
    lab.start_hadaemon("r2", hd_config(hd_instance(priority=100, advert_int=ADVERT_INT_S)))
    lab.start_hadaemon(
        "r3", hd_config(hd_instance(priority=90, advert_int=ADVERT_INT_S)), "--no-bpf"
    )
    lab.wait_holder(VIP, "r1", timeout_s=30)
    lab.wait_log("r2", r"receive path: eBPF", timeout_s=90)
    lab.wait_log("r2", BACKUP_STATE)
    lab.wait_log("r3", BACKUP_STATE)
    assert "receive path: eBPF" not in lab.log("r3")
    lab.wait_holder(VIP, "r1", timeout_s=30)  # a backup that started first has given way
    marks = {n: len(lab.log(n)) for n in ("r2", "r3")}

    stall_s = 2 * master_down_interval_s(90)
    cap = Capture(lab.topo, lab.ns["client"], stall_s + 4.0, "vrrp")
    t0 = time.monotonic()
    lab.signal("r2", signal.SIGSTOP)
    lab.signal("r3", signal.SIGSTOP)
    try:
        time.sleep(max(0.0, stall_s - (time.monotonic() - t0)))
    finally:
        lab.signal("r2", signal.SIGCONT)
        lab.signal("r3", signal.SIGCONT)
    frames = cap.result()

    from_backups = [f for f in frames if f["src"] in ("10.0.0.2", "10.0.0.3")]
    assert from_backups == [], "a stalled backup advertised (it believed the master was down)"
    from_master = [f for f in frames if f["src"] == "10.0.0.1" and f["prio"] == 150]
    assert len(from_master) >= int(stall_s), "the master kept advertising"
    for name in ("r2", "r3"):
        assert not re.search(MASTER_STATE, lab.log(name)[marks[name] :]), lab.log(name)[-3000:]
        assert lab.procs[name].poll() is None
    assert lab.holders(VIP) == ["r1"]


def _kernel_counters(lab: Lab, name: str) -> dict[str, int]:
    """Sum the per-CPU ``counters`` map of the XDP program on ``name``'s eth1 (bpftool)."""

    from hadaemon.io.bpf import COUNTER_NAMES

    ns = lab.ns[name]
    link = json.loads(lab.topo.exec(ns, "ip", "-j", "-d", "link", "show", "eth1").stdout)[0]
    prog_id = link["xdp"]["prog"]["id"]
    prog = json.loads(
        lab.topo.exec(ns, "bpftool", "-j", "prog", "show", "id", str(prog_id)).stdout
    )
    for map_id in prog.get("map_ids", []):
        info = json.loads(
            lab.topo.exec(ns, "bpftool", "-j", "map", "show", "id", str(map_id)).stdout
        )
        if info.get("name") != "counters":
            continue
        dump = json.loads(
            lab.topo.exec(ns, "bpftool", "-j", "map", "dump", "id", str(map_id)).stdout
        )
        out: dict[str, int] = {}
        for entry in dump:
            key = entry.get("key")
            idx = (
                int(key)
                if isinstance(key, int)
                else int.from_bytes(bytes(int(b, 16) for b in key), "little")
            )
            vals = entry.get("values") or []
            total = 0
            for v in vals:
                val = v.get("value")
                total += (
                    int(val)
                    if isinstance(val, int)
                    else int.from_bytes(bytes(int(b, 16) for b in val), "little")
                )
            out[COUNTER_NAMES[idx]] = total
        return out
    raise AssertionError(f"no counters map on program {prog_id}")


def test_flooded_backup_never_becomes_master(lab: Lab) -> None:
    """r3 floods the segment (foreign VRID, then TTL 64; 2 s each) while r1 advertises every
    100 ms: r2 (hadaemon, eBPF) never takes over, and the drops are in its kernel counters."""
    from helpers.bpf_sender import __file__ as sender

    lab.start_hadaemon("r1", hd_config(hd_instance(priority=150, state="MASTER")), "--no-bpf")
    # r2 runs as the whole daemon (supervisor + vrrp worker) so its status socket is checked too
    lab.start_hadaemon("r2", R2_KEEPALIVED_CONF, cli=True)
    lab.wait_holder(VIP, "r1", timeout_s=30)
    lab.wait_log("r2", r"receive path: eBPF", timeout_s=90)
    lab.wait_log("r2", BACKUP_STATE)
    lab.wait_holder(VIP, "r1", timeout_s=30)  # r2 is BACKUP behind r1 from here on
    mark = len(lab.log("r2"))
    before = _kernel_counters(lab, "r2")
    cap = Capture(lab.topo, lab.ns["client"], 5.5, "vrrp")
    for args in (["--vrid", "99"], ["--vrid", "51", "--ttl", "64"]):
        lab.topo.exec(
            lab.ns["r3"], PYTHON, sender, "eth1", "--src", "10.0.0.3", "--flood", "2.0", *args
        )
    frames = cap.result()
    after = _kernel_counters(lab, "r2")
    assert after["drop_vrid"] - before["drop_vrid"] > 1000, (before, after)
    assert after["drop_ttl"] - before["drop_ttl"] > 1000, (before, after)
    assert after["pass"] > before["pass"]  # r1's adverts kept passing
    assert not re.search(MASTER_STATE, lab.log("r2")[mark:]), lab.log("r2")[-3000:]
    assert [f for f in frames if f["src"] == "10.0.0.2"] == []
    assert lab.holders(VIP) == ["r1"]
    # the same kernel drops reach the status socket (and so hadaemon_bpf_drops_total)
    vrrp = lab.status("r2")["services"]["vrrp"]
    assert vrrp["receive_path"]["kind"] == "ebpf", vrrp["receive_path"]
    assert vrrp["bpf_drops"]["vrid"] >= after["drop_vrid"] - before["drop_vrid"], vrrp["bpf_drops"]
    assert vrrp["bpf_drops"]["ttl"] >= after["drop_ttl"] - before["drop_ttl"], vrrp["bpf_drops"]


def test_without_bcc_the_daemon_falls_back_and_still_fails_over(lab: Lab, tmp_path: Path) -> None:
    """bcc made unimportable (a shadowing ``bcc`` package on PYTHONPATH): the backup says why it
    stays on the classic path, stays backup while the master lives and takes over when the
    master dies."""
    import os
    import subprocess

    from helpers.vrrp_lab import ROOT

    fake = tmp_path / "nobcc" / "bcc"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('bcc hidden by the test')\n")
    conf = tmp_path / "r2.json"
    conf.write_text(hd_config(hd_instance(priority=100)))
    logp = tmp_path / "r2.log"
    lab.logs["r2"] = logp
    env = dict(os.environ, PYTHONPATH=str(fake.parent))
    with open(logp, "ab") as fh:
        lab.procs["r2"] = lab.topo.popen(
            lab.ns["r2"],
            [PYTHON, "-m", "hadaemon.workers.vrrp", "-n", "-l", "-D", "-f", str(conf)],
            stdout=fh,
            stderr=subprocess.STDOUT,
            cwd=str(ROOT),
            env=env,
        )
    lab.start_hadaemon("r1", hd_config(hd_instance(priority=150, state="MASTER")), "--no-bpf")
    lab.wait_holder(VIP, "r1", timeout_s=30)
    lab.wait_log(
        "r2", r"staying on classic BPF: bcc cannot be imported: bcc hidden by the test", 30
    )
    lab.wait_log("r2", BACKUP_STATE, 30)
    # r2 started first: on a slow start it may have been master until r1's first advert; the
    # VIP held only by r1 means r2 is BACKUP behind it now
    lab.wait_holder(VIP, "r1", timeout_s=30)
    mark = len(lab.log("r2"))
    time.sleep(1.0)  # 10 adverts: still backup
    assert not re.search(MASTER_STATE, lab.log("r2")[mark:])
    lab.kill9("r1")
    lab.topo.exec(lab.ns["r1"], "ip", "link", "set", "eth1", "down")
    lab.wait_log("r2", MASTER_STATE, timeout_s=10, since=mark)
    wait_for(lambda: lab.has_addr("r2", VIP), 10, what="VIP on r2")
