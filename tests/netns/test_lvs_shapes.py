"""Every ruleset shape the nft backend can generate is listed back by nft without crashing.

nftables 1.0.6 has listing crashes for some shapes (datapath.md §1 caveats: ``typeof jhash`` maps,
named maps with concatenated data). The backend is designed around them; this test makes sure no
shape we generate reaches a user's ``nft list ruleset`` as a segfault: it applies every combination
of method × scheduler × persistence × hash-port × server list (plus fwmark, groups, sorry server,
weight 0, port 0), lists it with the ``nft`` binary in text and JSON, and checks that the backend
reads back exactly what it wrote (no pending operations).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import pytest
from helpers.lvs_net import Driver
from helpers.netns import Topology

pytestmark = [pytest.mark.netns, pytest.mark.nft]

SCHEDULERS = ("rr", "wrr", "sh", "mh", "random", "fo")


def shapes() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    reals_shapes: dict[str, list[list[Any]]] = {
        "none": [],
        "one": [["10.9.2.11", 80, 1, "eth1"]],
        "mixed": [
            ["10.9.2.11", 80, 3, "eth1"],
            ["10.9.2.12", 8080, 1, "eth1"],
            ["10.9.2.13", 80, 0, "eth1"],
        ],
    }
    combos = itertools.product(("NAT", "DR"), SCHEDULERS, (0, 60), reals_shapes, (False, True))
    for n, (method, sched, persist, rshape, hash_port) in enumerate(combos, 1):
        out.append(
            {
                "name": f"s{n}",
                "matches": [[f"10.9.{100 + n // 200}.{n % 200 + 1}", "tcp", 80, 0]],
                "method": method,
                "scheduler": sched,
                "reals": reals_shapes[rshape],
                "hash_port": hash_port,
                "persistence_timeout_s": persist,
                "persistence_granularity": "255.255.255.0" if persist else "255.255.255.255",
                "ingress_devices": ["eth0"] if method == "DR" else [],
            }
        )
    # fwmark (NAT: dnat without port), a group with several protocols, udp/sctp, sorry server
    out.append(
        {
            "name": "fwm7",
            "matches": [["", "tcp", 0, 7]],
            "scheduler": "wrr",
            "reals": [["10.9.2.11", 0, 1, ""], ["10.9.2.12", 0, 2, ""]],
            "persistence_timeout_s": 30,
        }
    )
    out.append(
        {
            "name": "grp",
            "matches": [
                ["10.9.50.1", "tcp", 443, 0],
                ["10.9.50.2", "tcp", 443, 0],
                ["10.9.50.1", "udp", 443, 0],
                ["", "tcp", 0, 9],
            ],
            "scheduler": "mh",
            "reals": [["10.9.2.11", 443, 1, ""], ["10.9.2.12", 443, 1, ""]],
        }
    )
    for proto in ("udp", "sctp"):
        for method in ("NAT", "DR"):
            out.append(
                {
                    "name": f"{proto}{method}",
                    "matches": [[f"10.9.60.{len(out) % 250}", proto, 53, 0]],
                    "method": method,
                    "scheduler": "sh",
                    "reals": [["10.9.2.11", 53, 1, "eth1"], ["10.9.2.12", 5353, 1, "eth1"]],
                    "ingress_devices": ["eth0", "eth1"] if method == "DR" else [],
                }
            )
    out.append(
        {
            "name": "sorry",
            "matches": [["10.9.70.1", "tcp", 80, 0]],
            "scheduler": "wrr",
            "sorry": True,
            "reals": [["10.9.2.50", 80, 1, ""]],
        }
    )
    # IPv6 (NAT: table ip6 hadaemon; DR: map svc6 of the netdev table): every scheduler ×
    # persistence × servers × hash-port
    reals6: dict[str, list[list[Any]]] = {
        "none": [],
        "one": [["fd09:2::11", 80, 1, ""]],
        "mixed": [
            ["fd09:2::11", 80, 3, ""],
            ["fd09:2::12", 8080, 1, ""],
            ["fd09:2::13", 80, 0, ""],
        ],
    }
    combos6 = itertools.product(
        ("NAT", "DR"), SCHEDULERS, (0, 60), reals6, (False, True), ("128", "64")
    )
    for n, (method, sched, persist, rshape, hash_port, gran) in enumerate(combos6, 1):
        if gran == "64" and not persist:
            continue
        out.append(
            {
                "name": f"v6s{n}",
                "matches": [[f"fd09:100::{n:x}", "tcp", 80, 0]],
                "method": method,
                "scheduler": sched,
                "reals": [[a, p, w, "eth1"] for a, p, w, _ in reals6[rshape]],
                "hash_port": hash_port,
                "persistence_timeout_s": persist,
                "persistence_granularity": gran,
                "ingress_devices": ["eth0"] if method == "DR" else [],
                "family": 6,
            }
        )
    out.append(
        {
            "name": "v6fwm8",
            "matches": [["", "tcp", 0, 8]],
            "scheduler": "wrr",
            "reals": [["fd09:2::11", 0, 1, ""], ["fd09:2::12", 0, 2, ""]],
            "persistence_timeout_s": 30,
            "family": 6,
        }
    )
    out.append(
        {
            "name": "v6grp",
            "matches": [
                ["fd09:50::1", "tcp", 443, 0],
                ["fd09:50::2", "udp", 443, 0],
                ["fd09:50::3", "sctp", 443, 0],
            ],
            "scheduler": "mh",
            "reals": [["fd09:2::11", 443, 1, ""], ["fd09:2::12", 443, 1, ""]],
            "family": 6,
        }
    )
    out.append(
        {
            "name": "v6udpDR",
            "matches": [["fd09:60::1", "udp", 53, 0], ["fd09:60::2", "sctp", 53, 0]],
            "method": "DR",
            "scheduler": "mh",
            "reals": [["fd09:2::11", 53, 1, "eth1"], ["fd09:2::12", 53, 1, "eth1"]],
            "ingress_devices": ["eth0", "eth1"],
            "family": 6,
        }
    )
    out.append(
        {
            "name": "v6sorry",
            "matches": [["fd09:0070:0::1", "udp", 53, 0]],  # listed back compressed
            "scheduler": "sh",
            "sorry": True,
            "reals": [["fd09:2::50", 5353, 1, ""]],
            "family": 6,
        }
    )
    return out


@pytest.fixture
def director() -> Iterator[tuple[Topology, str]]:
    topo = Topology("ls")
    try:
        ns = topo.ns("dir")
        topo.exec(ns, "ip", "link", "add", "eth0", "type", "veth", "peer", "name", "eth1")
        for dev in ("eth0", "eth1"):
            topo.exec(ns, "ip", "link", "set", dev, "up")
        yield topo, ns
    finally:
        topo.close()


def list_back(topo: Topology, ns: str) -> dict[str, Any]:
    text = topo.exec(ns, "nft", "list", "ruleset", check=False)
    assert text.returncode == 0, (text.returncode, text.stderr)
    js = topo.exec(ns, "nft", "-j", "list", "ruleset", check=False)
    assert js.returncode == 0, (js.returncode, js.stderr)
    return json.loads(js.stdout)


def test_every_shape_lists_back(director: tuple[Topology, str]) -> None:
    topo, ns = director
    d = Driver(topo, ns)
    try:
        every = shapes()
        # all at once, in one transaction
        r = d.ok("services", services=every)
        assert r["ops"].count("AddService") == len(every)
        listing = list_back(topo, ns)
        chains = {o["chain"]["name"] for o in listing["nftables"] if "chain" in o}
        assert {f"vs_{s['name']}" for s in every} <= chains
        assert d.ok("pending")["ops"] == []
        # every shape alone, as a sequence of updates of one service (each transition)
        for s in every[::3]:
            one = dict(s, name="walk")
            d.ok("services", services=[one])
            list_back(topo, ns)
            assert d.ok("pending")["ops"] == [], s
        # and everything removed again: only the base objects stay
        d.ok("services", services=[])
        listing = list_back(topo, ns)
        assert not [
            o
            for o in listing["nftables"]
            if "chain" in o and o["chain"]["name"].startswith(("vs_", "rs_"))
        ]
        tables = {
            (o["table"]["family"], o["table"]["name"]) for o in listing["nftables"] if "table" in o
        }
        assert {("ip", "hadaemon"), ("ip6", "hadaemon"), ("netdev", "hadaemon")} <= tables
        d.ok("stop")
        assert not [o for o in list_back(topo, ns)["nftables"] if "table" in o]
    finally:
        d.close()
