"""Kernel I/O of the VRRP worker in network namespaces: raw sockets, VIPs, routes, GARP, NA."""

from __future__ import annotations

import json

import pytest
from helpers.vrrp_lab import Capture, Lab, run_py

pytestmark = [pytest.mark.root, pytest.mark.netns]


RECV = """
import json, socket, time
from hadaemon.io.vrrp_socket import VrrpSocket
s = VrrpSocket("eth1", socket.{fam})
print("ready", flush=True)
end = time.monotonic() + 5
got = []
while time.monotonic() < end and len(got) < {n}:
    r = s.recv()
    if r is None:
        time.sleep(0.01)
        continue
    got.append(dict(data=r.data.hex(), src=r.src, dst=r.dst, ttl=r.ttl, ifname=r.ifname,
                    lag_ns=time.monotonic_ns() - r.stamp_ns))
print(json.dumps(got), flush=True)
"""

SEND = """
import socket
from hadaemon.io.vrrp_socket import VrrpSocket
s = VrrpSocket("eth1", socket.{fam})
assert s.send(bytes.fromhex("{payload}"){args})
"""


def _recv_proc(lab: Lab, name: str, fam: str, n: int = 1):  # type: ignore[no-untyped-def]
    from helpers.vrrp_lab import PYTHON, ROOT

    p = lab.topo.popen(
        lab.ns[name], [PYTHON, "-c", RECV.format(fam=fam, n=n)], text=True, cwd=str(ROOT)
    )
    assert p.stdout is not None
    assert p.stdout.readline().strip() == "ready"
    return p


@pytest.mark.parametrize(
    ("fam", "src", "dst"),
    [("AF_INET", "10.0.0.1", "224.0.0.18"), ("AF_INET6", "fe80::", "ff02::12")],
)
def test_multicast_advert_between_namespaces(lab: Lab, fam: str, src: str, dst: str) -> None:
    payload = "3133640100641234" + ("0a000064" if fam == "AF_INET" else "00" * 16)
    rx = _recv_proc(lab, "r2", fam)
    run_py(lab.topo, lab.ns["r1"], SEND.format(fam=fam, payload=payload, args=""))
    out, _ = rx.communicate(timeout=20)
    got = json.loads(out.strip().splitlines()[-1])
    assert len(got) == 1
    pkt = got[0]
    assert pkt["dst"] == dst
    assert pkt["ttl"] == 255  # multicast adverts leave with TTL/hop limit 255 (RFC 5798 §5.1)
    assert pkt["src"].startswith(src)
    assert pkt["ifname"] == "eth1"
    if fam == "AF_INET":
        assert pkt["data"] == payload
    else:  # the kernel filled in the checksum (IPV6_CHECKSUM offset 6)
        assert pkt["data"][:12] == payload[:12] and pkt["data"][16:] == payload[16:]
        assert pkt["data"][12:16] != "1234"
    # kernel stamp converted to CLOCK_MONOTONIC: in the past, and not absurdly old
    assert 0 <= pkt["lag_ns"] < 5_000_000_000


def test_unicast_with_source_and_ttl(lab: Lab) -> None:
    payload = "3133640100640000" + "0a000064"
    rx = _recv_proc(lab, "r2", "AF_INET")
    run_py(
        lab.topo,
        lab.ns["r1"],
        SEND.format(fam="AF_INET", payload=payload, args=', "10.0.0.2", src="10.0.0.1", ttl=17'),
    )
    out, _ = rx.communicate(timeout=20)
    (pkt,) = json.loads(out.strip().splitlines()[-1])
    assert (pkt["src"], pkt["dst"], pkt["ttl"]) == ("10.0.0.1", "10.0.0.2", 17)


def test_no_loopback_of_own_adverts(lab: Lab) -> None:
    """IP_MULTICAST_LOOP=0: a router never reads its own advert back."""
    code = """
    import socket, time
    from hadaemon.io.vrrp_socket import VrrpSocket
    s = VrrpSocket("eth1", socket.AF_INET)
    s.send(bytes.fromhex("3133640100640000" + "0a000064"))
    time.sleep(0.3)
    print(len(s.drain()))
    """
    assert run_py(lab.topo, lab.ns["r1"], code).strip() == "0"


def test_missing_interface_is_a_clear_error(lab: Lab) -> None:
    code = """
    import socket
    from hadaemon.io.vrrp_socket import VrrpSocket, VrrpSocketError
    try:
        VrrpSocket("nosuch0", socket.AF_INET)
    except VrrpSocketError as exc:
        print("ERR", exc)
    """
    out = run_py(lab.topo, lab.ns["r1"], code)
    assert out.startswith("ERR interface 'nosuch0' not found")


NETLINK = """
import asyncio, json, subprocess
from hadaemon.io.netlink import Netlink, RouteSpec, RuleSpec, VipSpec

def sh(*a):
    return subprocess.run(a, capture_output=True, text=True, check=True).stdout

async def main():
    nl = Netlink()
    vip = VipSpec.parse("10.0.0.200/24 brd + label eth1:vip scope global", "eth1")
    vip6 = VipSpec.parse("fd00::200/64", "eth1")
    route = RouteSpec.parse("10.50.0.0/16 via 10.0.0.254 dev eth1 table 100 metric 5")
    rule = RuleSpec.parse("from 10.0.0.200/32 table 100 priority 1000")
    res = {}
    res["add"] = [await nl.add_vip(vip), await nl.add_vip(vip6), await nl.add_route(route),
                  await nl.add_rule(rule)]
    res["again"] = [await nl.add_vip(vip), await nl.add_route(route), await nl.add_rule(rule)]
    res["addr"] = sh("ip", "-o", "addr", "show", "dev", "eth1")
    res["route"] = sh("ip", "route", "show", "table", "100")
    res["rule"] = sh("ip", "rule", "show")
    res["primary"] = await nl.primary_address("eth1", 2)
    res["del"] = [await nl.del_vip(vip), await nl.del_vip(vip6), await nl.del_route(route),
                  await nl.del_rule(rule)]
    res["del_again"] = [await nl.del_vip(vip), await nl.del_route(route),
                        await nl.del_rule(rule)]
    res["addr_after"] = sh("ip", "-o", "addr", "show", "dev", "eth1")
    res["route_after"] = sh("ip", "route", "show", "table", "100")
    res["rule_after"] = sh("ip", "rule", "show")
    await nl.close()
    print(json.dumps(res))

asyncio.run(main())
"""


def test_vip_route_rule_add_remove(lab: Lab) -> None:
    res = json.loads(run_py(lab.topo, lab.ns["r1"], NETLINK).strip().splitlines()[-1])
    assert res["add"] == [True, True, True, True]
    assert res["again"] == [False, False, False]  # idempotent
    assert "inet 10.0.0.200/24 brd 10.0.0.255 scope global secondary eth1:vip" in res["addr"]
    assert "inet6 fd00::200/64" in res["addr"]
    assert "10.50.0.0/16 via 10.0.0.254 dev eth1" in res["route"]
    assert "metric 5" in res["route"]
    assert "1000:\tfrom 10.0.0.200 lookup 100" in res["rule"]
    assert res["primary"] == "10.0.0.1"
    assert res["del"] == [True, True, True, True]
    assert res["del_again"] == [False, False, False]
    assert "10.0.0.200" not in res["addr_after"] and "fd00::200" not in res["addr_after"]
    assert res["route_after"] == ""
    assert "10.0.0.200" not in res["rule_after"]


def test_bad_vip_text_is_a_clear_error() -> None:
    from hadaemon.io.netlink import NetlinkSpecError, RouteSpec, VipSpec

    for text in ("10.0.0.300", "10.0.0.1/33", "10.0.0.1 frobnicate", "10.0.0.1 dev"):
        with pytest.raises(NetlinkSpecError):
            VipSpec.parse(text, "eth1")
    with pytest.raises(NetlinkSpecError):
        RouteSpec.parse("via 10.0.0.1")


def test_gratuitous_arp_and_unsolicited_na_on_the_wire(lab: Lab) -> None:
    arp = Capture(lab.topo, lab.ns["client"], 1.5, "arp")
    na = Capture(lab.topo, lab.ns["client"], 1.5, "na")
    run_py(
        lab.topo,
        lab.ns["r1"],
        """
    from hadaemon.io.garp import GarpSender
    from hadaemon.io.ndisc import NaSender
    assert GarpSender("eth1").send(["10.0.0.200", "10.0.0.201"]) == 2
    assert NaSender("eth1").send(["fd00::200"]) == 1
    """,
    )
    mac = lab.mac("r1")
    frames = [f for f in arp.result() if f["eth_src"] == mac]
    assert [(f["op"], f["spa"], f["tpa"]) for f in frames] == [
        (1, "10.0.0.200", "10.0.0.200"),
        (1, "10.0.0.201", "10.0.0.201"),
    ]
    assert all(f["eth_dst"] == "ff:ff:ff:ff:ff:ff" and f["sha"] == mac for f in frames)
    nas = [f for f in na.result() if f["eth_src"] == mac]
    assert len(nas) == 1
    assert (nas[0]["target"], nas[0]["dst"], nas[0]["hlim"]) == ("fd00::200", "ff02::1", 255)
    assert nas[0]["flags"] & 0x20 and not nas[0]["flags"] & 0x40  # Override set, Solicited not


SERVICE = """
import asyncio, json, sys
sys.path.insert(0, "tests")
from helpers.vrrp_lab import hd_config, hd_instance
from hadaemon.config.model import Config
from hadaemon.io.driver import VrrpService

async def main():
    events = []
    cfg = Config.from_dict(json.loads(hd_config(hd_instance(priority=150))))
    svc = VrrpService(cfg, lambda kind, body: events.append([kind, body]), no_bpf=True)
    await svc.start()
    for _ in range(100):
        await asyncio.sleep(0.05)
        if svc.status()["instances"]["VI_1"]["state"] == "MASTER":
            break
    running = svc.status()
    await svc.stop()
    print(json.dumps({"running": running, "stopped": svc.status(), "events": events}))

asyncio.run(main())
"""


def test_vrrp_service_api_status_and_events(lab: Lab) -> None:
    """The VrrpService contract the supervisor relies on: emit(kind, body) and status()."""
    out = json.loads(run_py(lab.topo, lab.ns["r1"], SERVICE).strip().splitlines()[-1])
    inst = out["running"]["instances"]["VI_1"]
    assert inst["state"] == "MASTER"
    assert (inst["base_priority"], inst["effective_priority"]) == (150, 150)
    assert inst["master_address"] == "10.0.0.1"
    assert inst["stats"]["become_master"] == 1 and inst["stats"]["advert_sent"] >= 1
    assert inst["last_transition"][1]
    assert out["running"]["receive_path"]["kind"] == "classic"
    kinds = [k for k, _ in out["events"]]
    assert "ready" in kinds
    changes = [(b["prev_state"], b["state"]) for k, b in out["events"] if k == "state_changed"]
    assert changes == [("INIT", "BACKUP"), ("BACKUP", "MASTER"), ("MASTER", "STOP")]
    body = next(b for k, b in out["events"] if k == "state_changed" and b["state"] == "MASTER")
    assert (body["instance"], body["vrid"], body["interface"]) == ("VI_1", 51, "eth1")
    assert out["stopped"]["instances"]["VI_1"]["stats"]["pri_zero_sent"] == 1
