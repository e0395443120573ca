"""IPv6 virtual servers on the nftables data path, end to end.

NAT (``table ip6 hadaemon``) and DR (``map svc6`` of the netdev table, ``fwd ip6 to``).

```
client   eth0 fd77:1::2/64 (+ fd77:1::100-102), default via fd77:1::1
director eth0 fd77:1::1/64 + VIP fd77:100::1/128 | eth1 fd77:2::1/64, ipv6 forwarding=1
rs1, rs2 eth0 fd77:2::11-12/64, default via fd77:2::1, answering their name on [::]:80 and 8080,
         DR VIP fd77:100::2/128 on lo
```
All addresses are ``nodad`` (usable at once). The LVS objects (LvsService + NftBackend) run in
the director through tests/helpers/lvs_driver.py; the checker's verdicts are sent the way the
supervisor routes them. ``wrr`` uses ``numgen inc`` over the smooth WRR slots, so the
distribution is exact (3:1 of 400 → 300/100).
"""

from __future__ import annotations

import subprocess
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from helpers.lvs_net import HERE, PY, Driver, LvsLab
from helpers.netns import Topology, wait_for

from hadaemon.config.model import Config, IpAddress, RealServer, VirtualServer, VrrpInstance

pytestmark = [pytest.mark.netns, pytest.mark.nft]

VIP6 = "fd77:100::1"
DR_VIP6 = "fd77:100::2"
RS6 = {"rs1": "fd77:2::11", "rs2": "fd77:2::12"}
SRCS6 = [f"fd77:1::{i:x}" for i in range(0x100, 0x103)]


class Lab6:
    """Client, director and two IPv6 real servers in fresh namespaces."""

    def __init__(self) -> None:
        self.topo = t = Topology("l6")
        try:
            self.client = t.ns("cl")
            self.director = t.ns("dir")
            self.rs = {name: t.ns(name) for name in RS6}
            t.lan([(self.client, "eth0", []), (self.director, "eth0", [])], name="cli")
            t.lan(
                [(self.director, "eth1", []), *[(ns, "eth0", []) for ns in self.rs.values()]],
                name="srv",
            )

            def addr(ns: str, a: str, dev: str = "eth0") -> None:
                t.exec(ns, "ip", "-6", "addr", "add", a, "dev", dev, "nodad")

            addr(self.client, "fd77:1::2/64")
            for a in SRCS6:
                addr(self.client, f"{a}/64")
            t.exec(self.client, "ip", "-6", "route", "add", "default", "via", "fd77:1::1")
            addr(self.director, "fd77:1::1/64")
            addr(self.director, f"{VIP6}/128")  # as VRRP would add it
            addr(self.director, "fd77:2::1/64", "eth1")
            t.exec(self.director, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1")
            # the link-local addresses still run DAD; until they are usable, neighbour discovery
            # and the first connections' SYNs get lost (retransmitted a second later)
            for ns in (self.client, self.director, *self.rs.values()):
                wait_for(
                    lambda ns=ns: "tentative" not in t.exec(ns, "ip", "-6", "addr").stdout,
                    10,
                    what=f"DAD of the link-local addresses in {ns}",
                )
            self.servers: list[subprocess.Popen[str]] = []
            for name, ns in self.rs.items():
                addr(ns, f"{RS6[name]}/64")
                addr(ns, f"{DR_VIP6}/128", "lo")  # DR: the VIP on the real servers' loopback
                t.exec(ns, "ip", "-6", "route", "add", "default", "via", "fd77:2::1")
                p = t.popen(
                    ns,
                    [PY, str(HERE / "lvs_rs_server.py"), name, "--ipv6", "80", "8080"],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                )
                assert p.stdout is not None
                line = p.stdout.readline()
                assert line.strip() == "ready", line
                self.servers.append(p)
        except BaseException:
            t.close()
            raise

    def client_run(
        self, count: int, srcs: list[str] | None = None, vip: str = VIP6
    ) -> dict[str, Any]:
        args = [PY, str(HERE / "lvs_client.py"), vip, "80", str(count)]
        if srcs:
            args += ["--src", ",".join(srcs)]
        p = self.topo.popen(
            self.client, args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        return LvsLab.client_result(p)

    def close(self) -> None:
        self.topo.close()


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab6]:
    lab = Lab6()
    try:
        yield lab
    finally:
        lab.close()


@pytest.fixture
def drv(lab: Lab6) -> Iterator[Driver]:
    d = Driver(lab.topo, lab.director)
    try:
        yield d
    finally:
        d("stop")
        d.close()


def vs6(
    sched: str = "wrr",
    weights: tuple[int, ...] = (3, 1),
    method: str = "NAT",
    vip: str = VIP6,
    rs_port: int = 8080,
    **kw: Any,
) -> VirtualServer:
    reals = tuple(
        RealServer(address=a, port=rs_port, weight=w, lvs_method=method)
        for a, w in zip(RS6.values(), weights, strict=True)
    )
    return VirtualServer(
        address=vip, port=80, lvs_sched=sched, lvs_method=method, real_servers=reals, **kw
    )


#: the VRRP instance that carries the DR VIP on the director's eth0 (the DR ingress device)
VI_DR6 = VrrpInstance(
    name="VI_DR6",
    interface="eth0",
    virtual_router_id=61,
    virtual_ipaddress=(IpAddress(address=DR_VIP6, prefixlen=128),),
)


def conf(v: VirtualServer) -> dict[str, Any]:
    return Config(vrrp_instances=(VI_DR6,), virtual_servers=(v,)).to_dict(with_location=False)


def test_ipv6_nat_wrr_and_down_server(lab: Lab6, drv: Driver) -> None:
    v = vs6()
    r = drv.ok("start", config=conf(v))
    assert not [p for p in r["problems"] if "error" in p], r["problems"]
    res = lab.client_run(400)
    assert res["failed"] == 0, res["errors"]
    assert res["counts"] == {"rs1": 300, "rs2": 100}
    # NAT: each real server saw its own IPv6 address as destination
    assert set(res["dsts"]) == set(RS6.values())
    # the rules live in the ip6 table, and the per-server counters are read back
    st = drv.ok("status")["status"]
    reals = {x["address"]: x for x in st["services"][0]["reals"]}
    assert reals[RS6["rs1"]]["conns"] == 300 and reals[RS6["rs2"]]["conns"] == 100, reals
    assert reals[RS6["rs2"]]["inpkts"] >= 200 and reals[RS6["rs2"]]["outpkts"] >= 200, reals
    listing = lab.topo.exec(lab.director, "nft", "list", "table", "ip6", "hadaemon").stdout
    assert "dnat ip6 to numgen inc mod 4" in listing
    assert drv.ok("resync")["ops"] == []  # read back exactly as written: nothing to redo
    # the checker marks rs2 down: no new connection goes to it
    drv.ok("rs", vs=v.key, rs=[RS6["rs2"], 8080], up=False)
    res = lab.client_run(100)
    assert res["failed"] == 0, res["errors"]
    assert res["counts"] == {"rs1": 100}
    # and back up: it takes its share again
    drv.ok("rs", vs=v.key, rs=[RS6["rs2"], 8080], up=True)
    res = lab.client_run(40)
    assert res["failed"] == 0 and res["counts"] == {"rs1": 30, "rs2": 10}, res


def test_ipv6_persistence_keeps_each_client(lab: Lab6, drv: Driver) -> None:
    drv.ok("start", config=conf(vs6(sched="rr", weights=(1, 1), persistence_timeout=60)))
    res = lab.client_run(30, srcs=SRCS6)
    assert res["failed"] == 0, res["errors"]
    for src, names in res["by_src"].items():
        assert len(set(names)) == 1, (src, Counter(names))
    # /64 granularity: every source of the client's /64 goes to one server
    drv.ok(
        "config",
        config=conf(
            vs6(sched="rr", weights=(1, 1), persistence_timeout=60, persistence_granularity="64")
        ),
    )
    res = lab.client_run(30, srcs=SRCS6)
    assert res["failed"] == 0, res["errors"]
    assert len(res["counts"]) == 1, res["counts"]


def test_ipv6_dr_carries_traffic(lab: Lab6, drv: Driver) -> None:
    v = vs6(method="DR", vip=DR_VIP6, rs_port=80, weights=(2, 1))
    r = drv.ok("start", config=conf(v))
    assert not [p for p in r["problems"] if "error" in p], r["problems"]
    res = lab.client_run(150, srcs=SRCS6, vip=DR_VIP6)
    assert res["failed"] == 0, res["errors"]
    # DR: the real server received the packet still addressed to the VIP (on its lo)
    assert res["dsts"] == [DR_VIP6]
    assert set(res["counts"]) == {"rs1", "rs2"}, res["counts"]
    listing = lab.topo.exec(lab.director, "nft", "list", "table", "netdev", "hadaemon").stdout
    assert "fwd ip6 to fd77:2::11" in listing
    # stateless DR hashes the flow: the netdev counters saw every client packet of every
    # connection (SYN, ACK, data/FIN...), not just the first
    c = drv.ok("status")["status"]["services"][0]["reals"]
    assert sum(x["packets"] for x in c) >= 3 * 150, c
    assert drv.ok("resync")["ops"] == []
