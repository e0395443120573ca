"""Interop with the real keepalived 2.2.7 as the peer, in network namespaces.

keepalived runs with unique pid files under tmp_path (``-p/-r/-c``) inside the test's
namespaces; hadaemon runs its single-process VRRP runner. VRRPv3 at 0.1 s adverts, except the
PASS-authentication tests (VRRPv2, 1 s adverts).
"""

from __future__ import annotations

import re

import pytest
from helpers.netns import wait_for
from helpers.vrrp_lab import Capture, Lab, hd_config, hd_instance, ka_config

pytestmark = [pytest.mark.root, pytest.mark.netns, pytest.mark.keepalived]

VIP = "10.0.0.200"
MASTER = r"\(VI_1\) Entering MASTER STATE"
BACKUP = r"\(VI_1\) Entering BACKUP STATE"


def test_keepalived_master_hadaemon_backup(lab: Lab) -> None:
    lab.start_keepalived("r1", ka_config(priority=150))
    # the same keepalived.conf syntax drives hadaemon
    lab.start_hadaemon("r2", ka_config(priority=100), "--no-bpf")
    lab.wait_holder(VIP, "r1")
    lab.wait_log("r2", BACKUP)
    # hadaemon accepts keepalived's adverts: it stays BACKUP while keepalived is alive
    since = lab.mark("r2")
    with pytest.raises(AssertionError):
        lab.wait_log("r2", MASTER, timeout_s=1.0, since=since)
    assert lab.client_sees(VIP) == lab.mac("r1")

    # kill -9 keepalived (VIPs stay behind on a crashed node: take its link down)
    arp = Capture(lab.topo, lab.ns["client"], 2.0, "arp")
    lab.kill9("r1")
    lab.topo.exec(lab.ns["r1"], "ip", "link", "set", "eth1", "down")
    lab.wait_log("r2", MASTER)
    wait_for(lambda: lab.has_addr("r2", VIP), 10, what="VIP on r2")
    assert lab.client_sees(VIP) == lab.mac("r2")
    assert any(f["eth_src"] == lab.mac("r2") and f["spa"] == VIP for f in arp.result())

    # keepalived comes back with the higher priority and preempts hadaemon
    lab.topo.exec(lab.ns["r1"], "ip", "link", "set", "eth1", "up")
    mark = len(lab.log("r2"))
    lab.start_keepalived("r1", ka_config(priority=150))
    lab.wait_holder(VIP, "r1")
    assert re.search(BACKUP, lab.log("r2")[mark:])
    assert "with higher priority 150" in lab.log("r2")[mark:]


def test_hadaemon_master_keepalived_backup_sigterm_and_preempt(lab: Lab) -> None:
    lab.start_hadaemon("r1", hd_config(hd_instance(priority=150)), "--no-bpf")
    lab.wait_holder(VIP, "r1")
    lab.start_keepalived("r2", ka_config(priority=100))
    lab.wait_log("r2", BACKUP)
    # keepalived accepts hadaemon's adverts (v3 checksum with keepalived's pseudo-header)
    since = lab.mark("r2")
    with pytest.raises(AssertionError):
        lab.wait_log("r2", MASTER, timeout_s=1.0, since=since)
    assert lab.holders(VIP) == ["r1"]

    cap = Capture(lab.topo, lab.ns["client"], 2.0, "vrrp")
    assert lab.stop("r1") == 0
    lab.wait_holder(VIP, "r2")
    assert lab.client_sees(VIP) == lab.mac("r2")
    frames = cap.result()
    assert any(f["src"] == "10.0.0.1" and f["prio"] == 0 for f in frames)
    assert "priority 0" in lab.log("r2").lower() or "prio 0" in lab.log("r2").lower()

    lab.start_hadaemon("r1", hd_config(hd_instance(priority=150)), "--no-bpf")
    lab.wait_holder(VIP, "r1")
    lab.wait_log("r2", BACKUP + r"[\s\S]*" + MASTER + r"[\s\S]*" + BACKUP)


def test_hadaemon_master_killed_keepalived_takes_over(lab: Lab) -> None:
    lab.start_hadaemon("r1", hd_config(hd_instance(priority=150)), "--no-bpf")
    lab.start_keepalived("r2", ka_config(priority=100))
    lab.wait_holder(VIP, "r1")
    lab.wait_log("r2", BACKUP)
    lab.kill9("r1")
    lab.topo.exec(lab.ns["r1"], "ip", "link", "set", "eth1", "down")
    lab.wait_log("r2", MASTER)
    wait_for(lambda: lab.has_addr("r2", VIP), 10, what="VIP on keepalived")
    assert lab.client_sees(VIP) == lab.mac("r2")


def test_equal_priority_tie_break_with_keepalived(lab: Lab) -> None:
    """Split brain healed: hadaemon (10.0.0.1) yields to keepalived (10.0.0.2) at equal prio."""
    lab.isolate("r1")
    lab.start_hadaemon("r1", hd_config(hd_instance(priority=100)), "--no-bpf")
    lab.start_keepalived("r2", ka_config(priority=100))
    lab.wait_log("r1", MASTER)
    lab.wait_log("r2", MASTER)
    lab.rejoin("r1")
    lab.wait_holder(VIP, "r2")
    assert lab.log("r1").rstrip().endswith("(VI_1) Entering BACKUP STATE")


def test_ipv6_with_keepalived(lab: Lab) -> None:
    vip6 = "fd00::200"
    lab.start_keepalived("r1", ka_config(priority=150, vrid=52, vips=(f"{vip6}/64",)))
    lab.start_hadaemon(
        "r2", hd_config(hd_instance(priority=100, vrid=52, vips=(f"{vip6}/64",))), "--no-bpf"
    )
    lab.wait_holder(vip6, "r1")
    lab.wait_log("r2", BACKUP)
    since = lab.mark("r2")
    with pytest.raises(AssertionError):
        lab.wait_log("r2", MASTER, timeout_s=1.0, since=since)
    lab.stop("r1")
    lab.wait_holder(vip6, "r2")


def test_unicast_with_keepalived(lab: Lab) -> None:
    ka_uc = "    unicast_src_ip 10.0.0.1\n    unicast_peer {\n        10.0.0.2\n    }\n"
    lab.start_keepalived("r1", ka_config(priority=150, extra=ka_uc))
    lab.start_hadaemon(
        "r2",
        hd_config(
            hd_instance(
                priority=100, unicast_src_ip="10.0.0.2", unicast_peer=[{"address": "10.0.0.1"}]
            )
        ),
        "--no-bpf",
    )
    lab.wait_holder(VIP, "r1")
    lab.wait_log("r2", BACKUP)
    since = lab.mark("r2")
    with pytest.raises(AssertionError):
        lab.wait_log("r2", MASTER, timeout_s=1.0, since=since)
    lab.stop("r1")
    lab.wait_holder(VIP, "r2")


def _v2_auth(password: str) -> dict[str, object]:
    return {"authentication": {"auth_type": "PASS", "auth_pass": password}}


KA_AUTH = "    authentication {\n        auth_type PASS\n        auth_pass %s\n    }\n"


def test_v2_pass_auth_match(lab: Lab) -> None:
    lab.start_hadaemon(
        "r1",
        ka_config(priority=150, state="MASTER", version=2, advert_int=1, extra=KA_AUTH % "s3cret"),
        "--no-bpf",
    )
    lab.start_keepalived(
        "r2", ka_config(priority=100, version=2, advert_int=1, extra=KA_AUTH % "s3cret")
    )
    lab.wait_holder(VIP, "r1")
    lab.wait_log("r2", BACKUP)
    # keepalived's Master_Down_Interval is 3.6 s: it must still be BACKUP well after that
    since = lab.mark("r2")
    with pytest.raises(AssertionError):
        lab.wait_log("r2", MASTER, timeout_s=4.5, since=since)


def test_v2_pass_auth_mismatch(lab: Lab) -> None:
    lab.start_keepalived(
        "r1",
        ka_config(priority=150, state="MASTER", version=2, advert_int=1, extra=KA_AUTH % "right"),
    )
    lab.start_hadaemon(
        "r2",
        hd_config(hd_instance(priority=100, version=2, advert_int=1, **_v2_auth("wrong"))),
        "--no-bpf",
    )
    lab.wait_holder(VIP, "r1")
    # hadaemon drops keepalived's adverts (wrong password) and takes the VIP too
    wait_for(lambda: lab.has_addr("r2", VIP), 10, what="VIP on hadaemon despite keepalived")
    assert re.search(r"from 10\.0\.0\.1: .*(password|auth)", lab.log("r2"))


def test_full_daemon_cli_with_keepalived_peer(lab: Lab) -> None:
    """``hadaemon -n -l -D -f keepalived.conf`` (supervisor + vrrp worker) against keepalived."""
    lab.start_keepalived("r2", ka_config(priority=100))
    lab.start_hadaemon("r1", ka_config(priority=150), "--no-bpf", cli=True)
    lab.wait_holder(VIP, "r1", timeout_s=20)
    lab.wait_log("r2", BACKUP)
    assert lab.stop("r1", timeout_s=20) == 0  # SIGTERM: prio 0, VIP removed
    lab.wait_holder(VIP, "r2")


def test_ipv6_hadaemon_master_keepalived_backup(lab: Lab) -> None:
    vip6 = "fd00::200"
    lab.start_hadaemon(
        "r1", hd_config(hd_instance(priority=150, vrid=52, vips=(f"{vip6}/64",))), "--no-bpf"
    )
    lab.wait_holder(vip6, "r1")
    lab.start_keepalived("r2", ka_config(priority=100, vrid=52, vips=(f"{vip6}/64",)))
    lab.wait_log("r2", BACKUP)
    since = lab.mark("r2")
    with pytest.raises(AssertionError):  # keepalived accepts hadaemon's IPv6 adverts
        lab.wait_log("r2", MASTER, timeout_s=1.0, since=since)
    lab.stop("r1")
    lab.wait_holder(vip6, "r2")


def test_unicast_hadaemon_master_keepalived_backup(lab: Lab) -> None:
    ka_uc = "    unicast_src_ip 10.0.0.2\n    unicast_peer {\n        10.0.0.1\n    }\n"
    lab.start_hadaemon(
        "r1",
        hd_config(
            hd_instance(
                priority=150, unicast_src_ip="10.0.0.1", unicast_peer=[{"address": "10.0.0.2"}]
            )
        ),
        "--no-bpf",
    )
    lab.wait_holder(VIP, "r1")
    lab.start_keepalived("r2", ka_config(priority=100, extra=ka_uc))
    lab.wait_log("r2", BACKUP)
    since = lab.mark("r2")
    with pytest.raises(AssertionError):
        lab.wait_log("r2", MASTER, timeout_s=1.0, since=since)
    lab.stop("r1")
    lab.wait_holder(VIP, "r2")
