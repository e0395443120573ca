"""hadaemon <-> hadaemon VRRP in network namespaces: election, failover, preemption, GARP/NA,
unicast, trackers, notify scripts and FIFO. VRRPv3 at 0.1 s adverts unless stated."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import time
from pathlib import Path

import pytest
from helpers.netns import wait_for
from helpers.vrrp_lab import Capture, Lab, hd_config, hd_instance

from hadaemon.vrrp.timing import cs_to_s, master_down_interval_cs

pytestmark = [pytest.mark.root, pytest.mark.netns]

VIP = "10.0.0.200"
MASTER = r"\(VI_1\) Entering MASTER STATE"
BACKUP = r"\(VI_1\) Entering BACKUP STATE"


def crash(lab: Lab, name: str) -> None:
    """kill -9 the daemon and take the node off the segment (a dead host answers no ARP)."""
    lab.kill9(name)
    lab.topo.exec(lab.ns[name], "ip", "link", "set", "eth1", "down")


def revive(lab: Lab, name: str) -> None:
    lab.topo.exec(lab.ns[name], "ip", "link", "set", "eth1", "up")


def test_election_kill9_failover_and_preempt_back(lab: Lab) -> None:
    lab.start_hadaemon("r1", hd_config(hd_instance(priority=150)))  # eBPF path if available
    lab.start_hadaemon("r2", hd_config(hd_instance(priority=100)), "--no-bpf")
    lab.wait_holder(VIP, "r1")
    lab.wait_log("r2", BACKUP)
    assert lab.client_sees(VIP) == lab.mac("r1")

    arp = Capture(lab.topo, lab.ns["client"], 3.0, "arp")
    crash(lab, "r1")
    lab.wait_log("r2", MASTER)
    wait_for(lambda: lab.has_addr("r2", VIP), 10, what="VIP on r2")
    assert lab.client_sees(VIP) == lab.mac("r2")
    garps = [
        f
        for f in arp.result()
        if f["eth_src"] == lab.mac("r2") and f["op"] == 1 and f["spa"] == VIP == f["tpa"]
    ]
    assert len(garps) >= 5  # garp_master_repeat 5 (the delayed second burst is off here)

    # r1 comes back with the higher priority: it preempts; r2 returns to BACKUP
    mark = len(lab.log("r2"))
    revive(lab, "r1")
    lab.start_hadaemon("r1", hd_config(hd_instance(priority=150)), "--no-bpf")
    lab.wait_holder(VIP, "r1")
    assert re.search(BACKUP, lab.log("r2")[mark:])
    assert lab.client_sees(VIP) == lab.mac("r1")


def test_sigterm_sends_priority_zero_and_backup_takes_over_after_skew(lab: Lab) -> None:
    adv = 1.0  # Skew_Time 0.61 s vs Master_Down_Interval 3.61 s: a clear margin under load
    lab.start_hadaemon("r1", hd_config(hd_instance(priority=150, advert_int=adv)), "--no-bpf")
    lab.start_hadaemon("r2", hd_config(hd_instance(priority=100, advert_int=adv)), "--no-bpf")
    lab.wait_holder(VIP, "r1")
    lab.wait_log("r2", BACKUP)
    cap = Capture(lab.topo, lab.ns["client"], 4.0, "vrrp")
    assert lab.stop("r1") == 0
    assert lab.holders(VIP) in ([], ["r2"])  # r1 removed its VIP on the way out
    lab.wait_holder(VIP, "r2")
    frames = cap.result()
    zero = [f for f in frames if f["src"] == "10.0.0.1" and f["prio"] == 0]
    assert len(zero) == 1 and zero[0]["ttl"] == 255 and zero[0]["dst"] == "224.0.0.18"
    first_r2 = next(f for f in frames if f["src"] == "10.0.0.2" and f["t"] > zero[0]["t"])
    # after Skew_Time (0.61 s at prio 100), well before Master_Down_Interval (3.61 s)
    assert first_r2["t"] - zero[0]["t"] < 3 * adv
    assert "Backup received priority 0 advertisement" in lab.log("r2")


def test_nopreempt_keeps_the_current_master(lab: Lab) -> None:
    lab.start_hadaemon("r2", hd_config(hd_instance(priority=100)), "--no-bpf")
    lab.wait_holder(VIP, "r2")
    lab.start_hadaemon("r1", hd_config(hd_instance(priority=150, nopreempt=True)), "--no-bpf")
    lab.wait_log("r1", BACKUP)
    # a higher-priority nopreempt router sees adverts from r2 and stays BACKUP
    since = lab.mark("r1")
    with pytest.raises(AssertionError):
        lab.wait_log("r1", MASTER, timeout_s=1.5, since=since)
    assert lab.holders(VIP) == ["r2"]
    # ... until the master goes away
    lab.stop("r2")
    lab.wait_holder(VIP, "r1")


def test_equal_priority_higher_address_wins(lab: Lab) -> None:
    """Two masters at equal priority meet: the lower primary address yields (RFC 5798 §6.4.3)."""
    lab.isolate("r1")
    lab.start_hadaemon("r1", hd_config(hd_instance(priority=100)), "--no-bpf")
    lab.start_hadaemon("r2", hd_config(hd_instance(priority=100)), "--no-bpf")
    lab.wait_log("r1", MASTER)
    lab.wait_log("r2", MASTER)
    lab.rejoin("r1")
    lab.wait_holder(VIP, "r2")  # 10.0.0.2 > 10.0.0.1
    lab.wait_log("r1", BACKUP + r"[\s\S]*" + MASTER + r"[\s\S]*" + BACKUP)
    assert "Entering BACKUP STATE" not in lab.log("r2").split("Entering MASTER STATE", 1)[1]


def test_ipv6_election_failover_and_unsolicited_na(lab: Lab) -> None:
    vip6 = "fd00::200"
    inst = dict(vips=(f"{vip6}/64",), vrid=52)
    lab.start_hadaemon("r1", hd_config(hd_instance(priority=150, **inst)), "--no-bpf")
    lab.start_hadaemon("r2", hd_config(hd_instance(priority=100, **inst)), "--no-bpf")
    lab.wait_holder(vip6, "r1")
    lab.wait_log("r2", BACKUP)
    na = Capture(lab.topo, lab.ns["client"], 2.5, "na")
    lab.stop("r1")
    lab.wait_holder(vip6, "r2")
    nas = [f for f in na.result() if f["eth_src"] == lab.mac("r2") and f["target"] == vip6]
    assert nas and all(f["hlim"] == 255 and f["dst"] == "ff02::1" for f in nas)


def test_unicast_peers(lab: Lab) -> None:
    def uc(me: int, peer: int, prio: int) -> str:
        return hd_config(
            hd_instance(
                priority=prio,
                unicast_src_ip=f"10.0.0.{me}",
                unicast_peer=[{"address": f"10.0.0.{peer}"}],
            )
        )

    lab.start_hadaemon("r1", uc(1, 2, 150), "--no-bpf")
    lab.start_hadaemon("r2", uc(2, 1, 100), "--no-bpf")
    lab.wait_holder(VIP, "r1")
    cap = Capture(lab.topo, lab.ns["r2"], 1.0, "vrrp")
    frames = [f for f in cap.result() if f["src"] == "10.0.0.1"]
    assert frames and all(f["dst"] == "10.0.0.2" for f in frames)
    lab.stop("r1")
    lab.wait_holder(VIP, "r2")


def test_track_script_lowers_priority_and_fails_over(lab: Lab, tmp_path: Path) -> None:
    flag = tmp_path / "down"
    script = {
        "name": "chk",
        "script": {"args": ["/bin/sh", "-c", f"test ! -e {flag}"]},
        "interval": 0.2,
        "weight": -60,
        "rise": 1,
        "fall": 1,
    }
    r1 = hd_config(
        hd_instance(priority=150, track_script=[{"name": "chk"}]),
        vrrp_scripts=[script],
        enable_script_security=True,
    )
    lab.start_hadaemon("r1", r1, "--no-bpf")
    lab.start_hadaemon("r2", hd_config(hd_instance(priority=100)), "--no-bpf")
    lab.wait_holder(VIP, "r1")
    flag.touch()  # the check fails: 150 - 60 = 90 < 100
    lab.wait_holder(VIP, "r2")
    lab.wait_log("r1", r"Changing effective priority from 150 to 90")
    flag.unlink()  # back to 150: r1 preempts
    lab.wait_holder(VIP, "r1")


def test_notify_scripts(lab: Lab, tmp_path: Path) -> None:
    out = tmp_path / "notify.out"
    script = tmp_path / "notify.sh"
    script.write_text(f'#!/bin/sh\necho "$*" >> {out}\n')
    script.chmod(0o755)
    conf = hd_config(
        hd_instance(
            priority=150,
            notify={"args": [str(script)]},
            notify_master={"args": [str(script), "became-master"]},
        ),
        enable_script_security=True,
    )
    lab.start_hadaemon("r1", conf, "--no-bpf")
    lab.wait_holder(VIP, "r1")
    wait_for(
        lambda: out.exists() and "INSTANCE VI_1 MASTER 150" in out.read_text(),
        5,
        what="generic notify",
    )
    wait_for(lambda: "became-master" in out.read_text(), 5, what="notify_master")
    assert out.read_text().splitlines()[0] == "INSTANCE VI_1 BACKUP 150"
    lab.stop("r1")
    wait_for(lambda: "INSTANCE VI_1 STOP 150" in out.read_text(), 5, what="notify STOP")


def test_notify_fifo_lines_while_running(lab: Lab, tmp_path: Path) -> None:
    fifo = tmp_path / "vrrp.fifo"
    os.mkfifo(fifo)
    rfd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        lab.start_hadaemon(
            "r1", hd_config(hd_instance(priority=150), vrrp_notify_fifo=str(fifo)), "--no-bpf"
        )
        lab.wait_holder(VIP, "r1")
        buf = b""

        def lines() -> list[str]:
            nonlocal buf
            with contextlib.suppress(BlockingIOError):
                buf += os.read(rfd, 65536)
            return buf.decode().splitlines()

        wait_for(lambda: 'INSTANCE "VI_1" MASTER 150' in lines(), 5, what="FIFO MASTER line")
        assert lines()[:2] == ['INSTANCE "VI_1" BACKUP 150', 'INSTANCE "VI_1" MASTER 150']
        lab.stop("r1")
        wait_for(lambda: 'INSTANCE "VI_1" STOP 150' in lines(), 5, what="FIFO STOP line")
    finally:
        os.close(rfd)


def test_sync_group_members_move_together(lab: Lab) -> None:
    def conf(prio: int) -> str:
        return hd_config(
            hd_instance("VI_1", priority=prio),
            hd_instance("VI_2", vrid=61, priority=prio, vips=("10.0.0.210/24",)),
            vrrp_sync_groups=[{"name": "G1", "group": ["VI_1", "VI_2"]}],
        )

    lab.start_hadaemon("r1", conf(150), "--no-bpf")
    lab.start_hadaemon("r2", conf(100), "--no-bpf")
    lab.wait_holder(VIP, "r1")
    lab.wait_holder("10.0.0.210", "r1")
    # r1 dies: both instances move to r2 together
    crash(lab, "r1")
    wait_for(
        lambda: lab.has_addr("r2", VIP) and lab.has_addr("r2", "10.0.0.210"),
        10,
        what="both VIPs on r2",
    )
    assert "(G1) Sync group entering MASTER STATE" in lab.log("r2")


def test_bad_config_is_a_clear_error(lab: Lab, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    p = lab.topo.popen(lab.ns["r1"], [*_runner(), "-n", "-l", "-f", str(bad)], text=True)
    out, _ = p.communicate(timeout=20)
    assert p.returncode == 3
    assert "invalid JSON configuration" in out and "Traceback" not in out


def _runner() -> list[str]:
    from helpers.vrrp_lab import PYTHON

    return [PYTHON, "-m", "hadaemon.workers.vrrp"]


def test_track_interface_down_fails_over(lab: Lab) -> None:
    # a second link in r1 to track: a veth pair whose far end we can take down
    lab.topo.exec(
        lab.ns["r1"], "ip", "link", "add", "eth2", "type", "veth", "peer", "name", "eth2p"
    )
    for dev in ("eth2", "eth2p"):
        lab.topo.exec(lab.ns["r1"], "ip", "link", "set", dev, "up")
    lab.start_hadaemon(
        "r1",
        hd_config(hd_instance(priority=150, track_interface=[{"name": "eth2", "weight": -60}])),
        "--no-bpf",
    )
    lab.start_hadaemon("r2", hd_config(hd_instance(priority=100)), "--no-bpf")
    lab.wait_holder(VIP, "r1")
    lab.topo.exec(lab.ns["r1"], "ip", "link", "set", "eth2p", "down")  # eth2 loses carrier
    lab.wait_holder(VIP, "r2")
    lab.wait_log("r1", r"Changing effective priority from 150 to 90")
    lab.topo.exec(lab.ns["r1"], "ip", "link", "set", "eth2p", "up")
    lab.wait_holder(VIP, "r1")


def test_track_interface_weight_zero_means_fault(lab: Lab) -> None:
    lab.topo.exec(
        lab.ns["r1"], "ip", "link", "add", "eth2", "type", "veth", "peer", "name", "eth2p"
    )
    for dev in ("eth2", "eth2p"):
        lab.topo.exec(lab.ns["r1"], "ip", "link", "set", dev, "up")
    lab.start_hadaemon(
        "r1", hd_config(hd_instance(priority=150, track_interface=[{"name": "eth2"}])), "--no-bpf"
    )
    lab.start_hadaemon("r2", hd_config(hd_instance(priority=100)), "--no-bpf")
    lab.wait_holder(VIP, "r1")
    cap = Capture(lab.topo, lab.ns["client"], 1.5, "vrrp")
    lab.topo.exec(lab.ns["r1"], "ip", "link", "set", "eth2p", "down")
    lab.wait_log("r1", r"Entering FAULT STATE")
    lab.wait_holder(VIP, "r2")
    # MASTER -> FAULT sends a priority-0 advert (keepalived), so r2 waits only Skew_Time
    assert any(f["src"] == "10.0.0.1" and f["prio"] == 0 for f in cap.result())


def test_hanging_notify_script_does_not_disturb_adverts(lab: Lab, tmp_path: Path) -> None:
    hang = tmp_path / "hang.sh"
    hang.write_text("#!/bin/sh\nsleep 60\n")
    hang.chmod(0o755)
    lab.start_hadaemon(
        "r1",
        hd_config(
            hd_instance(
                priority=150, notify_master={"args": [str(hang)]}, notify={"args": [str(hang)]}
            ),
            child_wait_time=1.0,
        ),
        "--no-bpf",
    )
    lab.start_hadaemon("r2", hd_config(hd_instance(priority=100)), "--no-bpf")
    lab.wait_holder(VIP, "r1")
    lab.wait_log("r2", BACKUP)
    # adverts keep flowing while two notify scripts hang: the backup never takes over
    since = lab.mark("r2")
    with pytest.raises(AssertionError):
        lab.wait_log("r2", MASTER, timeout_s=2.0, since=since)
    assert lab.stop("r1") == 0  # stopping waits child_wait_time for them, then kills them
    lab.wait_holder(VIP, "r2")


def test_preempt_delay(lab: Lab) -> None:
    lab.start_hadaemon("r2", hd_config(hd_instance(priority=100)), "--no-bpf")
    lab.wait_holder(VIP, "r2")
    lab.start_hadaemon("r1", hd_config(hd_instance(priority=150, preempt_delay=1.5)), "--no-bpf")
    lab.wait_log("r1", BACKUP)
    since = lab.mark("r1")
    with pytest.raises(AssertionError):  # not before preempt_delay
        lab.wait_log("r1", MASTER, timeout_s=1.0, since=since)
    lab.wait_holder(VIP, "r1", timeout_s=10)


def test_virtual_routes_and_rules_follow_mastership(lab: Lab) -> None:
    inst = dict(
        virtual_routes=[
            {"dst": "10.77.0.0/16", "via": "10.0.0.254", "dev": "eth1", "table": "100"}
        ],
        virtual_rules=[{"from_": "10.0.0.200/32", "table": "100", "priority": 1000}],
    )
    lab.start_hadaemon("r1", hd_config(hd_instance(priority=150, **inst)), "--no-bpf")
    lab.wait_holder(VIP, "r1")

    def routes() -> str:
        return lab.topo.exec(lab.ns["r1"], "ip", "route", "show", "table", "100").stdout

    def rules() -> str:
        return lab.topo.exec(lab.ns["r1"], "ip", "rule", "show").stdout

    wait_for(lambda: "10.77.0.0/16 via 10.0.0.254" in routes(), 5, what="virtual route")
    assert "from 10.0.0.200 lookup 100" in rules()
    assert lab.stop("r1") == 0
    assert routes() == "" and "10.0.0.200" not in rules()


def test_vrrpv3_10ms_adverts(lab: Lab) -> None:
    """VRRPv3 at the smallest interval (1 cs) with SCHED_FIFO: election and failover."""
    rt = {"vrrp_rt_priority": 50}
    lab.start_hadaemon(
        "r1", hd_config(hd_instance(priority=150, advert_int=0.01), **rt), "--no-bpf"
    )
    lab.start_hadaemon(
        "r2", hd_config(hd_instance(priority=100, advert_int=0.01), **rt), "--no-bpf"
    )
    lab.wait_holder(VIP, "r1")
    cap = Capture(lab.topo, lab.ns["client"], 1.0, "vrrp")
    frames = [f for f in cap.result() if f["src"] == "10.0.0.1"]
    assert len(frames) > 20  # about 100 in 1 s
    lab.stop("r1")
    lab.wait_holder(VIP, "r2")


def test_garp_pacing_two_bursts(lab: Lab) -> None:
    """garp_master_repeat GARPs on becoming MASTER, the same again garp_master_delay later."""
    arp = Capture(lab.topo, lab.ns["client"], 6.0, "arp")
    vrrp = Capture(lab.topo, lab.ns["client"], 6.0, "vrrp")
    lab.start_hadaemon(
        "r1",
        hd_config(hd_instance(priority=150, garp_master_repeat=2, garp_master_delay=1.0)),
        "--no-bpf",
    )
    mac = lab.mac("r1")
    got = arp.result()
    frames = [f for f in got if f["eth_src"] == mac and f["spa"] == VIP]
    assert len(frames) == 4, got
    # garp_master_delay counts from the transition to MASTER (keepalived), which is when the
    # first advert leaves; both captures stamp with the same monotonic clock.
    became_master = min(f["t"] for f in vrrp.result() if f["src"] == "10.0.0.1")
    first, second = frames[:2], frames[2:]
    assert first[0]["t"] - became_master < 0.5  # the first burst comes with the transition
    assert second[0]["t"] - became_master >= 0.9  # the delayed second burst
    assert second[0]["t"] - first[-1]["t"] > 0.5  # two separate bursts
    assert first[-1]["t"] - first[0]["t"] < 0.5 and second[-1]["t"] - second[0]["t"] < 0.5


def test_use_vmac_client_sees_the_virtual_router_mac(lab: Lab) -> None:
    """use_vmac: VIPs on a macvlan with 00:00:5e:00:01:<vrid>; the MAC follows the master."""
    vrmac = "00:00:5e:00:01:33"  # VRID 51
    lab.start_hadaemon("r1", hd_config(hd_instance(priority=150, use_vmac=True)), "--no-bpf")
    lab.start_hadaemon("r2", hd_config(hd_instance(priority=100, use_vmac=True)), "--no-bpf")
    wait_for(lambda: lab.has_addr("r1", VIP, dev="vrrp.51"), 10, what="VIP on r1's VMAC")
    assert lab.mac("r1", "vrrp.51") == vrmac
    assert lab.client_sees(VIP) == vrmac
    arp = Capture(lab.topo, lab.ns["client"], 3.0, "arp")
    assert lab.stop("r1") == 0
    wait_for(lambda: lab.has_addr("r2", VIP, dev="vrrp.51"), 10, what="VIP on r2's VMAC")
    assert lab.client_sees(VIP) == vrmac
    # the new master's GARPs come from the virtual MAC (and move the bridge's FDB entry)
    assert any(f["eth_src"] == vrmac and f["spa"] == VIP for f in arp.result())
    # r1 removed its VMAC on the way out
    assert lab.topo.exec(lab.ns["r1"], "ip", "link", "show", "vrrp.51", check=False).returncode


def test_track_process_quorum_lost_means_fault(lab: Lab) -> None:
    arg = f"{os.getpid() % 1000 + 1000}.{lab.topo.prefix[-4:].encode().hex()}"  # unique argv
    sleeper = lab.topo.popen(lab.ns["r1"], ["sleep", arg])
    tp = {"name": "daemon", "process": ["sleep", arg], "weight": 0, "quorum": 1}
    conf = hd_config(
        hd_instance(priority=150, track_process=[{"name": "daemon"}]), vrrp_track_processes=[tp]
    )
    lab.start_hadaemon("r1", conf, "--no-bpf")
    lab.start_hadaemon("r2", hd_config(hd_instance(priority=100)), "--no-bpf")
    lab.wait_holder(VIP, "r1")
    os.killpg(sleeper.pid, 9)
    sleeper.wait()
    lab.wait_log("r1", r"Entering FAULT STATE")
    lab.wait_holder(VIP, "r2")
    lab.topo.popen(lab.ns["r1"], ["sleep", arg])  # the process is back: r1 recovers, preempts
    lab.wait_holder(VIP, "r1")


def test_sighup_reload_changes_vips_without_flapping(lab: Lab, tmp_path: Path) -> None:
    lab.start_hadaemon("r1", hd_config(hd_instance(priority=150)), "--no-bpf")
    lab.wait_holder(VIP, "r1")
    conf = tmp_path / "r1.json"
    # a broken file: the running configuration is kept
    conf.write_text("{broken")
    lab.signal("r1", signal.SIGHUP)
    lab.wait_log("r1", r"Reload failed, keeping the running configuration")
    assert lab.has_addr("r1", VIP)
    # a good one: VIP .200 replaced by .201, the instance stays MASTER throughout
    since = lab.mark("r1")
    conf.write_text(hd_config(hd_instance(priority=150, vips=("10.0.0.201/24",))))
    lab.signal("r1", signal.SIGHUP)
    wait_for(
        lambda: lab.has_addr("r1", "10.0.0.201") and not lab.has_addr("r1", VIP),
        10,
        what="VIP swapped by reload",
    )
    assert "Entering" not in lab.log("r1")[since:]
    assert lab.client_sees("10.0.0.201") == lab.mac("r1")


def test_notify_fifo_script_reads_the_fifo(lab: Lab, tmp_path: Path) -> None:
    out = tmp_path / "fifo.out"
    reader = tmp_path / "reader.sh"
    reader.write_text(f'#!/bin/sh\nwhile read -r line; do echo "$line" >> {out}; done < "$1"\n')
    reader.chmod(0o755)
    conf = hd_config(
        hd_instance(priority=150),
        notify_fifo=str(tmp_path / "n.fifo"),
        notify_fifo_script={"args": [str(reader)]},
        child_wait_time=0.5,
        enable_script_security=True,
    )
    lab.start_hadaemon("r1", conf, "--no-bpf")
    lab.wait_holder(VIP, "r1")
    wait_for(
        lambda: out.exists() and 'INSTANCE "VI_1" MASTER 150' in out.read_text(),
        5,
        what="FIFO line read by notify_fifo_script",
    )
    assert out.read_text().splitlines()[0] == 'INSTANCE "VI_1" BACKUP 150'
    assert lab.stop("r1") == 0


@pytest.mark.nft
def test_no_accept_master_drops_traffic_to_the_vip(lab: Lab) -> None:
    lab.start_hadaemon("r1", hd_config(hd_instance(priority=150, accept=False)), "--no-bpf")
    lab.wait_holder(VIP, "r1")
    wait_for(
        lambda: "hadaemon_vrrp" in lab.topo.exec(lab.ns["r1"], "nft", "list", "tables").stdout,
        5,
        what="no_accept table",
    )
    # ARP is answered (the VIP is configured), but packets to it are dropped
    assert lab.client_sees(VIP) is None
    neigh = lab.topo.exec(lab.ns["client"], "ip", "neigh", "show", VIP).stdout
    assert lab.mac("r1") in neigh
    assert lab.client_sees("10.0.0.1") == lab.mac("r1")  # the router's own address still works
    assert lab.stop("r1") == 0
    assert "hadaemon_vrrp" not in lab.topo.exec(lab.ns["r1"], "nft", "list", "tables").stdout


def test_notify_priority_changes_fifo_line(lab: Lab, tmp_path: Path) -> None:
    flag = tmp_path / "down"
    fifo = tmp_path / "prio.fifo"
    os.mkfifo(fifo)
    rfd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    script = {
        "name": "chk",
        "script": {"args": ["/bin/sh", "-c", f"test ! -e {flag}"]},
        "interval": 0.2,
        "weight": -60,
    }
    conf = hd_config(
        hd_instance(priority=150, track_script=[{"name": "chk"}], notify_priority_changes=True),
        vrrp_scripts=[script],
        vrrp_notify_fifo=str(fifo),
    )
    try:
        lab.start_hadaemon("r1", conf, "--no-bpf")
        lab.wait_holder(VIP, "r1")
        flag.touch()
        buf = b""

        def text() -> str:
            nonlocal buf
            with contextlib.suppress(BlockingIOError):
                buf += os.read(rfd, 65536)
            return buf.decode()

        wait_for(lambda: 'INSTANCE "VI_1" MASTER_PRIORITY 90' in text(), 10, what="FIFO line")
    finally:
        os.close(rfd)


def test_vrrp_startup_delay(lab: Lab) -> None:
    lab.start_hadaemon(
        "r1", hd_config(hd_instance(priority=150), vrrp_startup_delay=3.0), "--no-bpf"
    )
    lab.wait_log("r1", r"Delaying VRRP startup for 3 seconds")
    since = lab.mark("r1")
    with pytest.raises(AssertionError):  # nothing happens before the delay is over
        lab.wait_log("r1", r"Entering", timeout_s=1.0, since=since)
    lab.wait_holder(VIP, "r1")


@pytest.mark.parametrize("path", [pytest.param("ebpf", marks=pytest.mark.bpf), "classic"])
def test_takeover_never_before_master_down_interval(lab: Lab, path: str) -> None:
    """The backup's first advert follows the master's last one by at least Master_Down_Interval
    (RFC 5798 6.4.2), on both receive paths, over two kill -9 / preempt-back rounds. The
    backup does its reads ahead of the deadline (driver.MASTER_DOWN_LEAD_S); this checks that
    the early wake-up never turns into an early takeover. Gaps from the client's kernel stamps."""
    mdi_s = cs_to_s(master_down_interval_cs(100, 10, 3))  # prio 100, 0.1 s adverts: 0.3609
    extra = () if path == "ebpf" else ("--no-bpf",)
    lab.start_hadaemon("r2", hd_config(hd_instance(priority=100)), *extra)
    for _round in range(2):
        lab.start_hadaemon("r1", hd_config(hd_instance(priority=150)), "--no-bpf")
        lab.wait_holder(VIP, "r1")
        if path == "ebpf":
            lab.wait_log("r2", "VRRP receive path: eBPF", 60)
        mark = len(lab.log("r2"))
        cap = Capture(lab.topo, lab.ns["client"], 3.0, "vrrp")
        time.sleep(0.5)  # the capture sees a few of r1's adverts first
        lab.kill9("r1")
        lab.wait_log("r2", MASTER, since=mark)
        frames = [f for f in cap.result() if f["vrid"] == 51]
        last_r1 = max(f["kt"] for f in frames if f["src"] == "10.0.0.1")
        first_r2 = min(f["kt"] for f in frames if f["src"] == "10.0.0.2")
        gap_s = first_r2 - last_r1
        assert gap_s >= mdi_s - 0.0005, (gap_s, mdi_s)  # never early (0.5 ms stamp slack)
        assert gap_s < mdi_s + 2.0, (gap_s, mdi_s)  # and it did take over on its own timer


def test_vip_on_another_interface_garp_there_and_garp_extra_if(tmp_path: Path) -> None:
    """A VIP with ``dev eth2`` is announced on eth2 (from eth2's MAC) when the router becomes
    MASTER, and ``garp_extra_if all 1`` repeats one GARP there every second while MASTER."""
    lab = Lab(tmp_path, routers=1)
    try:
        r1, client = lab.ns["r1"], lab.ns["client"]
        lab.topo.lan([(r1, "eth2", ["192.0.2.254/24"]), (client, "eth2", ["192.0.2.9/24"])], "ext")
        inst = hd_instance(priority=150, garp_master_repeat=1, garp_extra_if=1.0)
        inst["garp_extra_if_all"] = True
        inst["virtual_ipaddress"].append({"address": "192.0.2.1", "prefixlen": 24, "dev": "eth2"})
        on_eth2 = Capture(lab.topo, client, 6.0, "arp", ifname="eth2")
        lab.start_hadaemon("r1", hd_config(inst), "--no-bpf")
        lab.wait_holder(VIP, "r1")
        assert lab.has_addr("r1", "192.0.2.1", dev="eth2")
        mac2 = lab.mac("r1", "eth2")
        frames = [f for f in on_eth2.result() if f["eth_src"] == mac2 and f["op"] == 1]
        assert frames and {f["spa"] for f in frames} == {"192.0.2.1"}, frames  # never eth1's VIP
        # the transition's GARP plus periodic ones, about a second apart (not one burst)
        assert len(frames) >= 3, frames
        gaps = [b["t"] - a["t"] for a, b in zip(frames[1:], frames[2:], strict=False)]
        assert all(g > 0.5 for g in gaps), gaps
    finally:
        lab.close()
