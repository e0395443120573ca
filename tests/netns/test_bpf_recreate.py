"""An interface carrying the eBPF filter is deleted and created again under a running daemon.

A veth re-created, a NIC driver reloaded: same name, new ifindex. The kernel drops the XDP
program, the sockets' device binding and their group memberships with the old device. The
VRRP worker must notice (netlink), go FAULT while the link is gone, then reopen its sockets,
attach the filter to the new device, key its maps by the new ifindex and carry on: BACKUP
behind the live master (never a second master), the eBPF path active again in
``hadaemon status`` with the kernel stamping the master's adverts under the new ifindex, and
it still takes over (sends) when the master goes away.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from typing import Any

import pytest
from helpers.netns import sh, wait_for
from helpers.vrrp_lab import Lab

pytestmark = [
    pytest.mark.root,
    pytest.mark.netns,
    pytest.mark.bpf,
    pytest.mark.lab_shape(routers=2, client=False),
]

VIP = "10.0.0.200"
VIP6 = "fd00::200"
ADVERT_INT_S = 0.5
INSTANCES = {"VI_1": (4, 51), "VI_6": (6, 52)}  # name: (family, VRID)


def _entering(name: str, state: str) -> str:
    return rf"\({name}\) Entering {state} STATE"


def _conf(priority: int, state: str) -> str:
    """keepalived.conf text (read by keepalived and hadaemon alike): an IPv4 and an IPv6
    instance on eth1."""
    return f"""
global_defs {{
    router_id recreate_{priority}
    vrrp_version 3
    vrrp_garp_master_delay 0
}}
vrrp_instance VI_1 {{
    state {state}
    interface eth1
    virtual_router_id 51
    priority {priority}
    advert_int {ADVERT_INT_S}
    virtual_ipaddress {{
        {VIP}/24 dev eth1
    }}
}}
vrrp_instance VI_6 {{
    state {state}
    interface eth1
    virtual_router_id 52
    priority {priority}
    advert_int {ADVERT_INT_S}
    virtual_ipaddress {{
        {VIP6}/64 dev eth1
    }}
}}
"""


def _ifindex(lab: Lab, name: str) -> int:
    return int(lab.topo.exec(lab.ns[name], "cat", "/sys/class/net/eth1/ifindex").stdout)


def _xdp_prog(lab: Lab, name: str) -> str | None:
    out = lab.topo.exec(lab.ns[name], "ip", "-j", "-d", "link", "show", "eth1").stdout
    link = json.loads(out)[0]
    xdp = link.get("xdp") or {}
    return (xdp.get("prog") or {}).get("name")


def _recreate_eth1(lab: Lab, name: str) -> None:
    """Delete ``name``'s eth1 (its veth pair goes with it) and build a new one on the bridge,
    with the same addresses, as an operator or a driver reload would."""
    ns = lab.ns[name]
    br = lab.topo.bridge_ns
    assert br is not None
    lab.topo.exec(ns, "ip", "link", "del", "eth1")
    outer = f"vrc{secrets.token_hex(4)}"
    sh("ip", "link", "add", "eth1", "netns", ns, "type", "veth", "peer", outer, "netns", br)
    lab.topo.exec(br, "ip", "link", "set", outer, "master", "br-lan", "up")
    i = name.removeprefix("r")
    lab.topo.exec(ns, "ip", "addr", "add", f"10.0.0.{i}/24", "dev", "eth1")
    lab.topo.exec(ns, "ip", "addr", "add", f"fd00::{i}/64", "dev", "eth1")
    lab.topo.exec(ns, "ip", "link", "set", "eth1", "up")


def _rx(st: dict[str, Any]) -> dict[str, Any]:
    return st["services"]["vrrp"]["receive_path"]  # type: ignore[no-any-return]


def _state(st: dict[str, Any], name: str) -> str:
    (inst,) = [i for i in st["instances"] if i["name"] == name]
    return str(inst["state"])


@pytest.mark.parametrize(
    "master", ["hadaemon", pytest.param("keepalived", marks=pytest.mark.keepalived)]
)
def test_recreated_interface_gets_the_filter_back(lab: Lab, master: str) -> None:
    if master == "hadaemon":
        lab.start_hadaemon("r1", _conf(150, "MASTER"), "--no-bpf")
    else:
        lab.start_keepalived("r1", _conf(150, "MASTER"))
    # the whole daemon (supervisor + VRRP worker), for `hadaemon status`
    lab.start_hadaemon("r2", _conf(100, "BACKUP"), cli=True)
    lab.wait_holder(VIP, "r1", timeout_s=30)
    lab.wait_holder(VIP6, "r1", timeout_s=30)
    lab.wait_log("r2", r"receive path: eBPF", timeout_s=90)
    for name in INSTANCES:
        lab.wait_log("r2", _entering(name, "BACKUP"), timeout_s=30)
    old_idx = _ifindex(lab, "r2")
    rx = _rx(lab.status("r2"))
    assert rx["kind"] == "ebpf" and rx["hooks"] == {"eth1": "xdp"}, rx
    assert {i["ifindex"] for i in rx["interfaces"]} == {old_idx}

    mark = lab.mark("r2")
    _recreate_eth1(lab, "r2")
    new_idx = _ifindex(lab, "r2")
    assert new_idx != old_idx
    for name in INSTANCES:
        lab.wait_log("r2", _entering(name, "FAULT"), timeout_s=20, since=mark)
        lab.wait_log("r2", _entering(name, "BACKUP"), timeout_s=20, since=mark)

    # the filter is on the new device, the maps keyed by its ifindex, the kernel stamping
    wait_for(lambda: _xdp_prog(lab, "r2") == "xdp_vrrp", 20, what="XDP program on new eth1")

    def fresh_kernel_stamps() -> bool:
        rx = _rx(lab.status("r2"))
        fresh = {
            (e["family"], e["vrid"])
            for e in rx["last_seen"]
            if e["ifindex"] == new_idx and e["age_s"] < 3 * ADVERT_INT_S
        }
        return set(INSTANCES.values()) <= fresh

    wait_for(fresh_kernel_stamps, 20, what="fresh last_seen entries under the new ifindex")
    rx1 = _rx(lab.status("r2"))
    assert rx1["kind"] == "ebpf" and rx1["hooks"] == {"eth1": "xdp"}, rx1
    assert {i["ifindex"] for i in rx1["interfaces"]} == {new_idx}
    assert all(e["ifindex"] != old_idx for e in rx1["last_seen"]), rx1["last_seen"]
    time.sleep(4 * ADVERT_INT_S)
    rx2 = _rx(lab.status("r2"))
    # the master's adverts pass the new hook and are stamped there, not just read by a socket
    assert rx2["counters"]["kernel_pass"] > rx1["counters"]["kernel_pass"], rx2["counters"]
    assert rx2["counters"].get("stamp_ebpf", 0) > rx1["counters"].get("stamp_ebpf", 0)

    # it hears the master through the new sockets: never a second master meanwhile
    st = lab.status("r2")
    for name in INSTANCES:
        assert _state(st, name) == "BACKUP"
        assert not re.search(_entering(name, "MASTER"), lab.log("r2")[mark:])
    assert lab.holders(VIP) == ["r1"] and lab.holders(VIP6) == ["r1"]
    assert re.search(rf"eth1 was re-created \(ifindex {old_idx} -> {new_idx}\)", lab.log("r2"))

    # and it sends through them: the master leaves, r2 takes over on the new device, from its
    # new addresses (the IPv6 link-local changed with the device)
    mark = lab.mark("r2")
    lab.stop("r1")
    for name in INSTANCES:
        lab.wait_log("r2", _entering(name, "MASTER"), timeout_s=20, since=mark)
    lab.wait_holder(VIP, "r2", timeout_s=20)
    lab.wait_holder(VIP6, "r2", timeout_s=20)
    st = lab.status("r2")
    assert all(_state(st, name) == "MASTER" for name in INSTANCES)
    time.sleep(4 * ADVERT_INT_S)
    assert "cannot send VRRP advert" not in lab.log("r2")[mark:], lab.log("r2")[mark:]


def test_recreated_base_interface_gets_its_vmac_back(lab: Lab) -> None:
    """use_vmac: the macvlan ``vrrp.51`` dies with its base device; after the base is re-created
    the backup builds it again, and takes over on it with the virtual router MAC."""
    vrmac = "00:00:5e:00:01:33"  # VRID 51
    conf = (
        _conf(150, "MASTER")
        .replace("    virtual_router_id 51\n", "    virtual_router_id 51\n    use_vmac\n")
        .split("vrrp_instance VI_6")[0]
    )
    lab.start_hadaemon("r1", conf, "--no-bpf")
    lab.start_hadaemon("r2", conf.replace("150", "100").replace("MASTER", "BACKUP"))
    wait_for(lambda: lab.has_addr("r1", VIP, dev="vrrp.51"), 30, what="VIP on r1's VMAC")
    lab.wait_log("r2", _entering("VI_1", "BACKUP"), timeout_s=30)
    assert lab.mac("r2", "vrrp.51") == vrmac

    mark = lab.mark("r2")
    _recreate_eth1(lab, "r2")
    lab.wait_log("r2", _entering("VI_1", "FAULT"), timeout_s=20, since=mark)
    lab.wait_log("r2", _entering("VI_1", "BACKUP"), timeout_s=20, since=mark)

    def vmac_link() -> Any:
        r = lab.topo.exec(lab.ns["r2"], "ip", "-j", "link", "show", "vrrp.51", check=False)
        return r if r.returncode == 0 else None

    link = wait_for(vmac_link, 20, what="vrrp.51 back in r2")
    assert json.loads(link.stdout)[0]["link"] == "eth1"  # on the new base device
    assert lab.mac("r2", "vrrp.51") == vrmac

    lab.stop("r1")
    wait_for(lambda: lab.has_addr("r2", VIP, dev="vrrp.51"), 20, what="VIP on r2's new VMAC")
