"""An instance whose interface does not exist when the daemon starts (keepalived's
``global_defs { dynamic_interfaces }``).

With the option the instance starts in FAULT, and when the interface is created (a veth pair
to a second namespace, added after start-up) it runs the election like any other: MASTER, the
VIP on the new device, adverts on the wire from its address. Deleting the interface puts it
back in FAULT; creating it again brings it back. Without the option the instance is not
started, with a located error (``hadaemon -t`` exits 4 as well) and a log line; the instance
on eth1 runs. A reload once the interface exists starts it.
"""

from __future__ import annotations

import re
import secrets
import signal
import subprocess
import time
from typing import Any

import pytest
from helpers.netns import sh, wait_for
from helpers.vrrp_lab import PYTHON, Capture, Lab

pytestmark = [pytest.mark.root, pytest.mark.netns, pytest.mark.lab_shape(routers=2, client=False)]

VIP1 = "10.0.0.200"
VIP2 = "10.0.2.200"
ADVERT_INT_S = 0.1


def _entering(name: str, state: str) -> str:
    return rf"\({name}\) Entering {state} STATE"


def _conf(*, dynamic: bool) -> str:
    """VI_1 on eth1 (there from the start), VI_2 on eth2 (created by the test)."""
    return f"""
global_defs {{
    router_id dynif
    vrrp_version 3
    vrrp_garp_master_delay 0
{"    dynamic_interfaces" if dynamic else ""}
}}
vrrp_instance VI_1 {{
    state BACKUP
    interface eth1
    virtual_router_id 51
    priority 150
    advert_int {ADVERT_INT_S}
    virtual_ipaddress {{
        {VIP1}/24 dev eth1
    }}
}}
vrrp_instance VI_2 {{
    state BACKUP
    interface eth2
    virtual_router_id 52
    priority 150
    advert_int {ADVERT_INT_S}
    virtual_ipaddress {{
        {VIP2}/24
    }}
}}
"""


def _create_eth2(lab: Lab, ifname: str = "eth2", net: str = "10.0.2") -> None:
    """A veth pair r1:eth2 <-> r2:eth2 (10.0.2.1 and 10.0.2.2), as a hot-plugged NIC."""
    r1, r2 = lab.ns["r1"], lab.ns["r2"]
    # a temporary peer name: both ends are created in one call, named apart until moved
    tmp = f"dyn{secrets.token_hex(4)}"
    sh("ip", "link", "add", ifname, "netns", r1, "type", "veth", "peer", tmp, "netns", r2)
    lab.topo.exec(r2, "ip", "link", "set", tmp, "name", ifname)
    lab.topo.exec(r2, "ip", "addr", "add", f"{net}.2/24", "dev", ifname)
    lab.topo.exec(r2, "ip", "link", "set", ifname, "up")
    lab.topo.exec(r1, "ip", "addr", "add", f"{net}.1/24", "dev", ifname)
    lab.topo.exec(r1, "ip", "link", "set", ifname, "up")


def _state(st: dict[str, Any], name: str) -> str | None:
    return next((str(i["state"]) for i in st["instances"] if i["name"] == name), None)


def _config_test(lab: Lab, conf: str) -> subprocess.CompletedProcess[str]:
    path = lab.tmp / "check.conf"
    path.write_text(conf)
    return lab.topo.exec(
        lab.ns["r1"], PYTHON, "-m", "hadaemon", "-t", "-f", str(path), check=False
    )


def _adverts_from_r1(lab: Lab) -> list[dict[str, Any]]:
    cap = Capture(lab.topo, lab.ns["r2"], 10 * ADVERT_INT_S, proto="vrrp", ifname="eth2")
    return [f for f in cap.result() if f["vrid"] == 52 and f["src"] == "10.0.2.1"]


def test_instance_waits_in_fault_for_its_interface(lab: Lab) -> None:
    conf = _conf(dynamic=True)
    r = _config_test(lab, conf)
    assert r.returncode == 0, r.stderr
    assert "(VI_2) interface eth2 doesn't exist yet" in r.stderr

    lab.start_hadaemon("r1", conf, "--no-bpf", cli=True)
    lab.wait_log("r1", _entering("VI_2", "FAULT"), timeout_s=30)
    lab.wait_holder(VIP1, "r1", timeout_s=30)  # the other instance runs meanwhile
    st = lab.status("r1")
    assert _state(st, "VI_1") == "MASTER" and _state(st, "VI_2") == "FAULT"
    assert not re.search(_entering("VI_2", "(BACKUP|MASTER)"), lab.log("r1"))

    # the interface appears: the election runs on it (no peer there: MASTER)
    mark = lab.mark("r1")
    _create_eth2(lab)
    lab.wait_log("r1", _entering("VI_2", "MASTER"), timeout_s=20, since=mark)
    wait_for(lambda: lab.has_addr("r1", VIP2, dev="eth2"), 20, what="VIP2 on r1's eth2")
    assert re.search(r"eth2 was created \(ifindex \d+\): VRRP IPv4 socket opened", lab.log("r1"))
    adverts = _adverts_from_r1(lab)
    assert len(adverts) >= 3, adverts  # ~10 expected; generous for a loaded host
    assert all(f["prio"] == 150 and f["ttl"] == 255 and f["dst"] == "224.0.0.18" for f in adverts)
    assert _state(lab.status("r1"), "VI_2") == "MASTER"

    # deleted: FAULT (VI_1 untouched)
    mark = lab.mark("r1")
    lab.topo.exec(lab.ns["r1"], "ip", "link", "del", "eth2")
    lab.wait_log("r1", _entering("VI_2", "FAULT"), timeout_s=20, since=mark)
    assert _state(lab.status("r1"), "VI_2") == "FAULT"
    assert _state(lab.status("r1"), "VI_1") == "MASTER"

    # created again: back to MASTER, advertising through the new device
    mark = lab.mark("r1")
    _create_eth2(lab)
    lab.wait_log("r1", _entering("VI_2", "MASTER"), timeout_s=20, since=mark)
    wait_for(lambda: lab.has_addr("r1", VIP2, dev="eth2"), 20, what="VIP2 on the new eth2")
    assert len(_adverts_from_r1(lab)) >= 3
    time.sleep(3 * ADVERT_INT_S)
    assert "cannot send VRRP advert" not in lab.log("r1")[mark:]
    # VI_1 went BACKUP -> MASTER once at start-up and never left
    assert len(re.findall(_entering("VI_1", "(?:BACKUP|MASTER|FAULT)"), lab.log("r1"))) == 2


def test_without_dynamic_interfaces_the_instance_is_disabled(lab: Lab) -> None:
    conf = _conf(dynamic=False)
    r = _config_test(lab, conf)
    assert r.returncode == 4, r.stderr
    assert re.search(
        r"check\.conf:\d+:5: error: \(VI_2\) interface eth2 doesn't exist; "
        r"the instance is not started",
        r.stderr,
    ), r.stderr
    assert "hint: add 'dynamic_interfaces' to global_defs" in r.stderr

    lab.start_hadaemon("r1", conf, "--no-bpf", cli=True)
    # the daemon runs the rest: VI_1 on eth1 takes the VIP
    lab.wait_holder(VIP1, "r1", timeout_s=30)
    lab.wait_log("r1", r"\(VI_2\) interface eth2 doesn't exist: instance disabled", 20)
    log = lab.log("r1")
    assert re.search(r"r1\.conf:\d+:5: error: \(VI_2\) interface eth2 doesn't exist", log), log
    st = lab.status("r1")
    assert _state(st, "VI_1") == "MASTER" and _state(st, "VI_2") is None
    vrrp = st["services"]["vrrp"]
    assert vrrp["disabled_instances"] == {"VI_2": "interface eth2 doesn't exist"}
    text = lab.topo.exec(
        lab.ns["r1"], PYTHON, "-m", "hadaemon", "status", "--run-dir", str(lab.tmp / "run-r1")
    ).stdout
    assert "(VI_2) not started: interface eth2 doesn't exist" in text, text
    assert not re.search(_entering("VI_2", ""), log)

    # creating the interface alone does not start it (as keepalived); a reload does
    _create_eth2(lab)
    time.sleep(10 * ADVERT_INT_S)
    assert not re.search(_entering("VI_2", ""), lab.log("r1"))
    mark = lab.mark("r1")
    lab.signal("r1", signal.SIGHUP)
    lab.wait_log("r1", _entering("VI_2", "MASTER"), timeout_s=30, since=mark)
    wait_for(lambda: lab.has_addr("r1", VIP2, dev="eth2"), 20, what="VIP2 on r1's eth2")
    assert lab.status("r1")["services"]["vrrp"]["disabled_instances"] == {}


def test_address_on_an_interface_created_later(lab: Lab) -> None:
    """A MASTER's address with ``dev eth3``, eth3 created after start-up (and again after it
    was deleted): the address is added on it when it comes up and announced with gratuitous
    ARPs (the neighbour, accepting them, learns the address at eth3's MAC)."""
    vip3 = "10.0.3.200"
    conf = _conf(dynamic=True).split("vrrp_instance VI_2")[0]
    conf = conf.replace(
        f"{VIP1}/24 dev eth1\n", f"{VIP1}/24 dev eth1\n        {vip3}/24 dev eth3\n"
    )
    r2 = lab.ns["r2"]
    lab.topo.exec(r2, "sysctl", "-qw", "net.ipv4.conf.all.arp_accept=1")
    lab.start_hadaemon("r1", conf, "--no-bpf")
    lab.wait_holder(VIP1, "r1", timeout_s=30)

    def learned() -> str | None:
        out = lab.topo.exec(r2, "ip", "neigh", "show", vip3, "dev", "eth3").stdout
        m = re.search(r"lladdr (\S+)", out)
        return m.group(1) if m else None

    for _ in range(2):  # created, then deleted and created again
        mark = lab.mark("r1")
        _create_eth2(lab, "eth3", "10.0.3")
        lab.wait_log("r1", r"\(VI_1\) eth3 is up: adding its addresses", timeout_s=20, since=mark)
        wait_for(lambda: lab.has_addr("r1", vip3, dev="eth3"), 20, what="VIP on eth3")
        assert wait_for(learned, 20, what="r2 learning the VIP by GARP") == lab.mac("r1", "eth3")
        lab.topo.exec(lab.ns["r1"], "ip", "link", "del", "eth3")
    # VI_1 never left MASTER
    assert len(re.findall(_entering("VI_1", "(?:BACKUP|MASTER|FAULT)"), lab.log("r1"))) == 2
