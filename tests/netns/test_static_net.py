"""static_ipaddress / static_routes / static_rules: set at start whatever the VRRP state, the
reload's difference applied, removed at stop (keepalived's VRRP process does the same)."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
from helpers.netns import wait_for
from helpers.vrrp_lab import Lab, hd_config, hd_instance, run_py

pytestmark = [pytest.mark.root, pytest.mark.netns]

STATIC = """
import asyncio, json, subprocess
from hadaemon.config import loads
from hadaemon.io.netlink import Netlink
from hadaemon.io.static_net import StaticNet, StaticSet

def sh(*a):
    return subprocess.run(a, capture_output=True, text=True, check=True).stdout

def state():
    return {"addr": sh("ip", "-o", "addr", "show", "dev", "eth1"),
            "route": sh("ip", "route", "show", "table", "all"),
            "rule": sh("ip", "rule", "show")}

A = '''
static_ipaddress {
    192.0.2.10/24 dev eth1 label eth1:st
    fd00::10/64 dev eth1
}
static_routes {
    198.51.100.0/24 via 10.0.0.254 dev eth1 table 77
    203.0.113.0/24 via 10.0.0.254 dev eth1
}
static_rules {
    from 192.0.2.10/32 table 77 priority 900
}
'''
B = '''
static_ipaddress {
    192.0.2.10/24 dev eth1 label eth1:st
}
static_routes {
    198.51.100.0/24 via 10.0.0.254 dev eth1 table 77
}
'''

async def main():
    nl = Netlink()
    st = StaticNet(nl)
    res = {}
    await st.apply(StaticSet.from_config(loads(A).config))
    res["a"] = state()
    await st.apply(StaticSet.from_config(loads(B).config))
    res["b"] = state()
    await st.clear()
    res["clear"] = state()
    await nl.close()
    print(json.dumps(res))

asyncio.run(main())
"""


def test_static_objects_applied_diffed_and_cleared(tmp_path: Path) -> None:
    lab = Lab(tmp_path, routers=1, client=False)
    try:
        res = json.loads(run_py(lab.topo, lab.ns["r1"], STATIC).strip().splitlines()[-1])
        a, b, c = res["a"], res["b"], res["clear"]
        assert "192.0.2.10/24" in a["addr"] and "eth1:st" in a["addr"] and "fd00::10" in a["addr"]
        assert "198.51.100.0/24 via 10.0.0.254 dev eth1 table 77" in a["route"]
        assert "203.0.113.0/24 via 10.0.0.254 dev eth1" in a["route"]
        assert "900:\tfrom 192.0.2.10 lookup 77" in a["rule"]
        # the reload's difference: the IPv6 address, one route and the rule are gone
        assert "192.0.2.10/24" in b["addr"] and "fd00::10" not in b["addr"]
        assert "198.51.100.0/24" in b["route"] and "203.0.113.0/24" not in b["route"]
        assert "lookup 77" not in b["rule"]
        assert "192.0.2.10" not in c["addr"] and "198.51.100.0/24" not in c["route"]
    finally:
        lab.close()


DAEMON_CONF = """
global_defs {{
    router_id r1
    vrrp_bpf off
}}
static_ipaddress {{
    192.0.2.10/24 dev eth1
}}
static_routes {{
    {route}
}}
vrrp_instance VI_1 {{
    state BACKUP
    interface eth1
    virtual_router_id 51
    priority 100
    advert_int 0.1
    version 3
    virtual_ipaddress {{
        10.0.0.200/24
    }}
}}
"""


def test_daemon_sets_static_objects_while_backup_applies_reload_and_removes_at_stop(
    tmp_path: Path,
) -> None:
    """Static objects are there in BACKUP too (not tied to VRRP), follow a reload, and go at
    SIGTERM — with the whole daemon (supervisor + vrrp worker)."""
    lab = Lab(tmp_path, routers=2, client=False)
    try:
        # r2 is a higher-priority master, so r1 stays BACKUP
        lab.start_hadaemon("r2", hd_config(hd_instance(priority=200)), "--no-bpf")
        lab.wait_holder("10.0.0.200", "r2")
        conf = DAEMON_CONF.format(route="198.51.100.0/24 via 10.0.0.254 dev eth1")
        lab.start_hadaemon("r1", conf, cli=True)

        def routes() -> str:
            return lab.topo.exec(lab.ns["r1"], "ip", "route", "show").stdout

        wait_for(lambda: lab.has_addr("r1", "192.0.2.10"), 20, what="static address on r1")
        wait_for(lambda: "198.51.100.0/24" in routes(), 20, what="static route on r1")
        lab.wait_log("r1", r"\(VI_1\) Entering BACKUP STATE", 20)
        assert not lab.has_addr("r1", "10.0.0.200")  # the VIP is the master's
        # reload: the route is replaced
        (lab.tmp / "r1.conf").write_text(
            DAEMON_CONF.format(route="203.0.113.0/24 via 10.0.0.254 dev eth1")
        )
        lab.signal("r1", signal.SIGHUP)
        wait_for(lambda: "203.0.113.0/24" in routes(), 20, what="new static route after reload")
        assert "198.51.100.0/24" not in routes()
        assert lab.has_addr("r1", "192.0.2.10")
        assert lab.stop("r1", 30) == 0
        assert not lab.has_addr("r1", "192.0.2.10") and "203.0.113.0/24" not in routes()
    finally:
        lab.close()
