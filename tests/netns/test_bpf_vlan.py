"""VLAN-tagged VRRP frames through the real hooks (XDP generic and tc ingress) on a veth.

What a router with ``eth0.100`` looks like to the filter on ``eth0``: 802.1Q (and QinQ) frames
arrive on the lower device and must be judged and stamped under (ifindex(eth0), VLAN 100).
This kernel has no ``vlan`` link type, so the frames are crafted and injected with AF_PACKET
from the peer namespace; the program is attached in the receiving namespace and its maps read
back there. At tc ingress the stack has already moved the outer tag into ``skb->vlan_tci``
before the program runs, which the XDP hook never sees: both hooks must key the same way.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.netns import Topology

pytestmark = [pytest.mark.root, pytest.mark.netns, pytest.mark.bpf]

TESTS = Path(__file__).resolve().parent.parent
PY = sys.executable

# In the receiving namespace: load, attach to eth1, install the bitmaps of an untagged
# instance (VRID 51) and of one on VLAN 100 (VRID 70), answer "dump" with the maps.
_RECEIVER = """
import json, socket, sys
from hadaemon.io.bpf import VrrpFilter
mode = sys.argv[1]
f = VrrpFilter()
hook = f.attach("eth1", mode)
idx = socket.if_nametoindex("eth1")
f.set_vrids(idx, socket.AF_INET, [51])
f.set_vrids(idx, socket.AF_INET, [70], vlan=100)
f.set_vrids(idx, socket.AF_INET6, [52], vlan=100)
print(json.dumps({"hook": hook, "ifindex": idx}), flush=True)
for line in sys.stdin:
    seen = {
        "%d/%d/%d/%d" % k: {"ktime_ns": s.ktime_ns, "count": s.count, "priority": s.priority,
                            "hook": s.hook}
        for k, s in f.last_seen_all().items()
    }
    print(json.dumps({"counters": f.counters(), "seen": seen}), flush=True)
    break
f.close()
"""

# In the sending namespace: write the frames (hex, one per argument) to eth1.
_SENDER = """
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("eth1", 0))
for h in sys.argv[1:]:
    s.send(bytes.fromhex(h))
"""


@pytest.fixture(scope="module")
def topo() -> Iterator[tuple[Topology, str, str]]:
    t = Topology("vl")
    try:
        a, b = t.ns("a"), t.ns("b")
        subprocess.run(
            ["ip", "link", "add", "eth1", "netns", a, "type", "veth", "peer", "eth1", "netns", b],
            check=True,
        )
        for ns in (a, b):
            t.exec(ns, "ip", "link", "set", "eth1", "up")
        yield t, a, b
    finally:
        t.close()


def _frames() -> list[tuple[str, bytes]]:
    sys.path.insert(0, str(TESTS))
    from helpers.bpf_packets import frame4, frame6

    return [
        ("untagged 51", frame4(vrid=51, priority=110)),
        ("vlan 100 vrid 70", frame4(vrid=70, priority=120, vlans=(100,))),
        ("vlan 100 vrid 70 again", frame4(vrid=70, priority=121, vlans=(100,))),
        ("QinQ 300/100 vrid 70", frame4(vrid=70, priority=122, vlans=(300, 100))),
        ("vlan 100 foreign vrid 51", frame4(vrid=51, vlans=(100,))),
        ("vlan 100 ttl 64", frame4(vrid=70, ttl=64, vlans=(100,))),
        ("vlan 200: no instance there", frame4(vrid=70, vlans=(200,))),
        ("untagged vrid 70: not on VLAN 0", frame4(vrid=70)),
        ("ipv6 vlan 100 vrid 52", frame6(vrid=52, priority=130, vlans=(100,))),
    ]


@pytest.mark.parametrize("mode", ["xdp", "tc"])
def test_tagged_adverts_are_judged_and_stamped_per_vlan(
    topo: tuple[Topology, str, str], mode: str
) -> None:
    t, a, b = topo
    rx = t.popen(
        b,
        [PY, "-c", _RECEIVER, mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=str(TESTS.parent),
    )
    try:
        assert rx.stdout is not None and rx.stdin is not None
        head = json.loads(rx.stdout.readline() or "{}")
        assert head.get("hook") == mode, rx.stderr.read() if rx.stderr else head
        idx = head["ifindex"]
        before = time.monotonic_ns()
        frames = _frames()
        t.exec(a, PY, "-c", _SENDER, *(f.hex() for _, f in frames))
        # the frames are normally processed before the sender's send() returns (softirq on
        # the veth xmit); a loaded host may defer that to ksoftirqd: leave it time
        time.sleep(0.5)
        after_send = time.monotonic_ns()
        rx.stdin.write("dump\n")
        rx.stdin.flush()
        out = json.loads(rx.stdout.readline())
    finally:
        if rx.stdin is not None:
            rx.stdin.close()
        rx.wait(timeout=30)
    c = out["counters"]
    assert c["pass"] == 5, c  # untagged 51, two on VLAN 100, QinQ inner 100, IPv6 VLAN 100
    assert c["drop_vrid"] == 2, c  # VRID 51 on VLAN 100; VRID 70 untagged
    assert c["drop_ttl"] == 1, c
    assert c["pass_unfiltered"] == 1, c  # VLAN 200 has no bitmap
    seen = out["seen"]
    assert set(seen) == {f"{idx}/0/2/51", f"{idx}/100/2/70", f"{idx}/100/10/52"}, seen
    v100 = seen[f"{idx}/100/2/70"]
    assert v100["count"] == 3 and v100["priority"] == 122  # 802.1Q twice, then QinQ
    assert seen[f"{idx}/0/2/51"]["priority"] == 110
    assert seen[f"{idx}/100/10/52"]["priority"] == 130
    for s in seen.values():
        assert s["hook"] == (1 if mode == "xdp" else 2)
        assert before <= s["ktime_ns"] <= after_send  # CLOCK_MONOTONIC, stamped on arrival


# The receive path end to end on the kernel side: its socket is on eth1, which it is told is
# "VLAN 100 on eth1" (no vlan link type here), eth1 being a physical NIC (link kind "") or what
# it is, a veth. It must pick the hook from that and the NIC's real offload setting (set first;
# veth: on by default), install the (eth1, 100) bitmap, and read the tagged adverts' kernel
# stamps back for the socket's interface.
_PATH = """
import json, socket, sys
from hadaemon.io.receive import Binding, EbpfReceivePath
from hadaemon.io.vlan import HookTarget, rx_vlan_offload
from pyroute2.ethtool import Ethtool
eth = Ethtool()
feats = eth.get_features("eth1")
for name in ("rx-vlan-hw-parse", "rx-vlan-stag-hw-parse"):
    feats.features[name].enable = sys.argv[1] == "on"
eth.set_features("eth1", feats)
eth.close()
idx = socket.if_nametoindex("eth1")
path = EbpfReceivePath(
    [Binding("eth1", socket.AF_INET, frozenset({70}))],
    resolve=lambda name, ifindex: HookTarget("eth1", ifindex, 100, sys.argv[2]),
)
print(json.dumps({"offload": rx_vlan_offload("eth1"), "hooks": path.hooks(), "ifindex": idx}),
      flush=True)
for line in sys.stdin:
    print(json.dumps({
        "seen70": path.last_seen(idx, socket.AF_INET, 70),
        "seen51": path.last_seen(idx, socket.AF_INET, 51),
        "vlan_hooks": path.status()["vlan_hooks"],
        "counters": path.counters(),
    }), flush=True)
    break
path.close()
"""


@pytest.mark.parametrize(
    ("offload", "kind", "hook"),
    [
        ("on", "", "tc"),  # a NIC that strips tags: only tc sees them (skb->vlan_tci)
        ("off", "", "xdp"),  # a NIC that leaves them in the frame: XDP
        ("off", "veth", "tc"),  # not a NIC: tags may come in the metadata whatever the flag
    ],
)
def test_receive_path_keys_a_vlan_interface_on_its_lower_device(
    topo: tuple[Topology, str, str], offload: str, kind: str, hook: str
) -> None:
    t, a, b = topo
    rx = t.popen(
        b,
        [PY, "-c", _PATH, offload, kind],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=str(TESTS.parent),
    )
    try:
        assert rx.stdout is not None and rx.stdin is not None
        head = json.loads(rx.stdout.readline() or "{}")
        assert head.get("offload") is (offload == "on"), rx.stderr.read() if rx.stderr else head
        assert head["hooks"] == {"eth1": hook}
        before = time.monotonic_ns()
        sys.path.insert(0, str(TESTS))
        from helpers.bpf_packets import frame4

        frames = [frame4(vrid=70, priority=140, vlans=(100,)), frame4(vrid=51, vlans=(100,))]
        t.exec(a, PY, "-c", _SENDER, *(f.hex() for f in frames))
        time.sleep(0.5)
        after_send = time.monotonic_ns()
        rx.stdin.write("dump\n")
        rx.stdin.flush()
        out = json.loads(rx.stdout.readline())
    finally:
        if rx.stdin is not None:
            rx.stdin.close()
        rx.wait(timeout=30)
    stamp, prio, src = out["seen70"]
    assert before <= stamp <= after_send and prio == 140 and src == "10.0.0.1"
    assert out["seen51"] is None  # VRID 51 is not configured on VLAN 100: dropped in the kernel
    assert out["counters"]["kernel_drop_vrid"] == 1
    assert out["vlan_hooks"] == {
        "eth1": {"hook": "eth1", "hook_ifindex": head["ifindex"], "vlan": 100}
    }
