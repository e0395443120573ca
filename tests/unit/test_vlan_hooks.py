"""Where the eBPF filter sits for a VLAN interface, and how the receive path keys its maps.

Pure parts of :mod:`hadaemon.io.vlan` (hook device and (ifindex, VLAN) key from a link table,
hook mode from the NIC's tag offload) and the translation :class:`EbpfReceivePath` does
between a socket's interface (``eth0.100``) and the program's key (``eth0``, VLAN 100), with a
recording stand-in for :class:`hadaemon.io.bpf.VrrpFilter`. This kernel has no ``vlan`` link
type; the kernel side (tagged frames on a veth) is in tests/netns/test_bpf_vlan.py.
"""

from __future__ import annotations

import socket
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from hadaemon.io.bpf import Event, Seen
from hadaemon.io.receive import Binding, EbpfReceivePath, hook_plan
from hadaemon.io.vlan import (
    MAX_VLAN_DEPTH,
    HookTarget,
    LinkInfo,
    hook_mode,
    hook_target,
    link_info,
)

V4 = socket.AF_INET
V6 = socket.AF_INET6

LINKS = {
    i.ifindex: i
    for i in (
        LinkInfo(1, "lo"),
        LinkInfo(2, "eth0"),
        LinkInfo(3, "eth0.100", "vlan", lower_ifindex=2, vlan_id=100),
        LinkInfo(4, "eth0.100.200", "vlan", lower_ifindex=3, vlan_id=200),
        LinkInfo(5, "eth0.100.200.300", "vlan", lower_ifindex=4, vlan_id=300),
        LinkInfo(6, "vl7", "vlan", lower_ifindex=0, vlan_id=7),
        LinkInfo(7, "vl8", "vlan", lower_ifindex=2, vlan_id=8, lower_elsewhere=True),
        LinkInfo(8, "vl9", "vlan", lower_ifindex=99, vlan_id=9),
        LinkInfo(9, "loopa", "vlan", lower_ifindex=10, vlan_id=11),
        LinkInfo(10, "loopb", "vlan", lower_ifindex=9, vlan_id=12),
        LinkInfo(11, "mv0", "macvlan", lower_ifindex=2),
        LinkInfo(12, "bad0", "vlan", lower_ifindex=2, vlan_id=0),
        LinkInfo(13, "bond0.5", "vlan", lower_ifindex=14, vlan_id=5),
        LinkInfo(14, "bond0", "bond"),
    )
}


@pytest.mark.parametrize(
    ("ifindex", "want"),
    [
        (2, HookTarget("eth0", 2, 0)),  # untagged: the interface itself
        (3, HookTarget("eth0", 2, 100)),  # eth0.100: on eth0, VLAN 100
        (4, HookTarget("eth0", 2, 200)),  # QinQ: the innermost tag names it
        (5, HookTarget("eth0.100.200.300", 5, 0, "vlan")),  # deeper than the program parses
        (6, HookTarget("vl7", 6, 0, "vlan")),  # no lower device
        (7, HookTarget("vl8", 7, 0, "vlan")),  # lower device in another namespace
        (8, HookTarget("vl9", 8, 0, "vlan")),  # lower device not in the table
        (9, HookTarget("loopa", 9, 0, "vlan")),  # a (corrupt) loop never hangs
        (11, HookTarget("mv0", 11, 0, "macvlan")),  # macvlan: not a tag, its own device
        (12, HookTarget("bad0", 12, 0, "vlan")),  # VLAN id 0 is not a VLAN
        (13, HookTarget("bond0", 14, 5, "bond")),  # any lower device kind
    ],
)
def test_hook_target(ifindex: int, want: HookTarget) -> None:
    assert hook_target(ifindex, LINKS) == want


def test_hook_target_depth_matches_the_program() -> None:
    from hadaemon.io.bpf import bpf_dir

    header = (bpf_dir() / "vrrp_filter.h").read_text()
    assert f"#define VRRP_MAX_VLAN_DEPTH {MAX_VLAN_DEPTH} " in header


def test_hook_target_unknown_interface() -> None:
    with pytest.raises(KeyError):
        hook_target(42, LINKS)


@pytest.mark.parametrize(
    ("requested", "vlans", "offload", "kind", "want"),
    [
        ("auto", False, True, "", "auto"),  # untagged only: XDP sees what it needs
        ("auto", False, None, "bridge", "auto"),
        ("auto", True, False, "", "auto"),  # a NIC leaving tags in the frame: XDP
        ("auto", True, True, "", "tc"),  # the NIC strips the tag: only tc sees it (vlan_tci)
        ("auto", True, None, "", "tc"),  # unknown: the safe choice
        ("auto", True, False, "bridge", "tc"),  # came through a port: tag already moved
        ("auto", True, False, "bond", "tc"),
        ("auto", True, False, "veth", "tc"),  # the peer may have sent from a VLAN device
        ("xdp", True, True, "bridge", "xdp"),  # an explicit mode is obeyed
        ("tc", False, False, "", "tc"),
    ],
)
def test_hook_mode(
    requested: str, vlans: bool, offload: bool | None, kind: str, want: str
) -> None:
    assert hook_mode(requested, vlans, offload, kind) == want


class _Attr:
    def __init__(self, attrs: dict[str, Any], fields: dict[str, Any] | None = None) -> None:
        self.attrs = attrs
        self.fields = fields or {}

    def get_attr(self, name: str) -> Any:
        return self.attrs.get(name)

    def __getitem__(self, name: str) -> Any:
        return self.fields[name]


def test_link_info_from_netlink() -> None:
    msg = _Attr(
        {
            "IFLA_IFNAME": "eth0.100",
            "IFLA_LINK": 2,
            "IFLA_LINKINFO": _Attr(
                {"IFLA_INFO_KIND": "vlan", "IFLA_INFO_DATA": _Attr({"IFLA_VLAN_ID": 100})}
            ),
        },
        {"index": 3},
    )
    assert link_info(msg) == LinkInfo(3, "eth0.100", "vlan", lower_ifindex=2, vlan_id=100)
    plain = _Attr({"IFLA_IFNAME": "eth0"}, {"index": 2})
    assert link_info(plain) == LinkInfo(2, "eth0")
    other_ns = _Attr({"IFLA_IFNAME": "e1", "IFLA_LINK": 9, "IFLA_LINK_NETNSID": 0}, {"index": 5})
    assert link_info(other_ns).lower_elsewhere


def test_read_links_sees_loopback() -> None:
    from hadaemon.io.vlan import read_links

    links = read_links()
    lo = socket.if_nametoindex("lo")
    assert links[lo].ifname == "lo"
    assert hook_target(lo, links) == HookTarget("lo", lo, 0, "")


# -- the receive path's translation -------------------------------------------------------------
@dataclass
class FakeFilter:
    """Records what :class:`EbpfReceivePath` asks of a VrrpFilter."""

    calls: list[tuple[Any, ...]] = field(default_factory=list)
    seen: dict[tuple[int, int, int, int], Seen] = field(default_factory=dict)
    callback: Callable[[Event], None] | None = None
    hooks: dict[int, tuple[str, str]] = field(default_factory=dict)

    def attached(self) -> dict[int, tuple[str, str]]:
        return dict(self.hooks)

    def open_events(self, cb: Callable[[Event], None]) -> None:
        self.callback = cb

    def attach(self, ifname: str, mode: str = "auto") -> str:
        self.calls.append(("attach", ifname, mode))
        hook = "tc" if mode == "tc" else "xdp"
        self.hooks[{"eth0": 2, "eth1": 9}[ifname]] = (ifname, hook)
        return hook

    def detach_index(self, ifindex: int) -> None:
        self.calls.append(("detach_index", ifindex))
        self.hooks.pop(ifindex, None)

    def set_vrids(self, ifindex: int, family: int, vrids: Any, *, vlan: int = 0) -> None:
        self.calls.append(("set_vrids", ifindex, family, sorted(vrids), vlan))

    def clear_vrids(self, ifindex: int, family: int, *, vlan: int = 0) -> None:
        self.calls.append(("clear_vrids", ifindex, family, vlan))

    def last_seen(self, ifindex: int, family: int, vrid: int, *, vlan: int = 0) -> Seen | None:
        return self.seen.get((ifindex, vlan, family, vrid))

    def last_seen_all(self) -> dict[tuple[int, int, int, int], Seen]:
        return dict(self.seen)

    def consume_events(self) -> None:
        pass

    def counters(self) -> dict[str, int]:
        return {}

    def close(self) -> None:
        self.calls.append(("close",))


def _seen(ktime_ns: int, priority: int = 150, src: str = "10.0.0.1") -> Seen:
    return Seen(ktime_ns, 1, priority, 3, 100, src, 1)


@pytest.fixture
def udp() -> Iterator[list[socket.socket]]:
    """Plain UDP sockets stand in for the raw VRRP sockets (no root needed)."""
    socks: list[socket.socket] = []
    yield socks
    for s in socks:
        s.close()


def _path(
    udp: list[socket.socket],
    targets: dict[str, HookTarget],
    *,
    offload: bool | None = True,
    families: tuple[int, ...] = (V4,),
    filt: FakeFilter | None = None,
) -> tuple[EbpfReceivePath, FakeFilter]:
    f = filt or FakeFilter()
    binds = []
    for fam in families:
        s = socket.socket(fam, socket.SOCK_DGRAM)
        udp.append(s)
        binds.append(Binding("lo", fam, frozenset({51}), sock=s))
    path = EbpfReceivePath(
        binds,
        vrrp_filter=f,
        resolve=lambda name, idx: targets[name],
        offload=lambda name: offload,
    )
    return path, f


LO = socket.if_nametoindex("lo")
VLAN_TARGET = {"lo": HookTarget("eth0", 2, 100)}


def test_vlan_interface_is_filtered_on_the_lower_device(udp: list[socket.socket]) -> None:
    path, f = _path(udp, VLAN_TARGET)
    # tags stripped by the NIC: tc; the bitmap is keyed (eth0, VLAN 100)
    assert f.calls == [("attach", "eth0", "tc"), ("set_vrids", 2, V4, [51], 100)]
    assert path.hooks() == {"eth0": "tc"}
    assert path.targets() == {LO: HookTarget("eth0", 2, 100)}
    assert path.status()["vlan_hooks"] == {"lo": {"hook": "eth0", "hook_ifindex": 2, "vlan": 100}}
    path.close()


def test_vlan_without_offload_keeps_xdp(udp: list[socket.socket]) -> None:
    path, f = _path(udp, VLAN_TARGET, offload=False)
    assert f.calls[0] == ("attach", "eth0", "auto")
    assert path.hooks() == {"eth0": "xdp"}
    path.close()


def test_last_seen_reads_the_vlan_key(udp: list[socket.socket]) -> None:
    path, f = _path(udp, VLAN_TARGET)
    f.seen[(2, 100, V4, 51)] = _seen(5_000)
    f.seen[(2, 0, V4, 51)] = _seen(9_000, priority=10)  # untagged on eth0: another instance
    assert path.last_seen(LO, V4, 51) == (5_000, 150, "10.0.0.1")
    assert path.last_seen(LO, V4, 52) is None
    ages = path.status()["last_seen"]
    assert [(e["ifindex"], e["vrid"], e["priority"]) for e in ages] == [
        (LO, 51, 150),
        (2, 51, 10),
    ]
    path.close()


def test_ring_buffer_records_map_back_to_the_socket(udp: list[socket.socket]) -> None:
    path, f = _path(udp, VLAN_TARGET)
    assert f.callback is not None

    def ev(ifindex: int, vlan: int, ktime_ns: int) -> Event:
        return Event(ktime_ns, ifindex, vlan, V4, 51, 150, 3, 255, 100, "10.0.0.1", 2)

    f.callback(ev(2, 100, 1_000))
    f.callback(ev(2, 300, 2_000))  # a VLAN no socket receives: not kept
    f.callback(ev(2, 0, 3_000))  # untagged on the hook device: kept under its own ifindex
    assert dict(path._pending.by_key) == {
        (LO, V4, 51, "10.0.0.1"): deque([1_000], maxlen=256),
        (2, V4, 51, "10.0.0.1"): deque([3_000], maxlen=256),
    }
    path.close()


def test_reload_and_remove_use_the_vlan_key(udp: list[socket.socket]) -> None:
    path, f = _path(udp, VLAN_TARGET, families=(V4, V6))
    f.calls.clear()
    path.update_vrids("lo", V4, [51, 52])
    assert f.calls == [("set_vrids", 2, V4, [51, 52], 100)]
    fd4, fd6 = path.filenos()
    f.calls.clear()
    path.remove(fd4)
    # IPv6 still receives there: the bitmap of IPv4 goes, the program stays
    assert f.calls == [("clear_vrids", 2, V4, 100)]
    path.remove(fd6)
    assert f.calls[1:] == [("clear_vrids", 2, V6, 100), ("detach_index", 2)]
    assert path.hooks() == {} and path.targets() == {}
    assert path.filenos() == []
    path.close()


def test_untagged_device_moves_to_tc_when_a_vlan_joins(udp: list[socket.socket]) -> None:
    """eth0 hooked with XDP for an untagged instance; then eth0.100 (NIC strips tags) joins:
    the device moves to tc and the untagged bitmap is set again."""
    from hadaemon.io.receive import _Sock

    f = FakeFilter()
    path, _ = _path(udp, {"lo": HookTarget("eth0", 2, 0)}, filt=f)
    assert path.hooks() == {"eth0": "xdp"}
    s = socket.socket(V6, socket.SOCK_DGRAM)
    udp.append(s)
    # a second interface (ifindex 3, "eth0.100"): only lo exists here, so it is wired by hand
    e = _Sock(Binding("eth0.100", V6, frozenset({52}), sock=s), s, 3, owned=False)
    path._socks[s.fileno()] = e
    path._resolve = lambda name, idx: HookTarget("eth0", 2, 100)
    f.calls.clear()
    path._attach(e)
    assert f.calls == [
        ("detach_index", 2),
        ("attach", "eth0", "tc"),
        ("set_vrids", 2, V4, [51], 0),  # the untagged instance's bitmap, set again
        ("set_vrids", 2, V6, [52], 100),
    ]
    assert path.hooks() == {"eth0": "tc"}
    assert path.targets()[3] == HookTarget("eth0", 2, 100)
    path.close()


def test_hook_plan_groups_interfaces_by_hook_device() -> None:
    lo = "lo"
    targets = {lo: HookTarget("eth0", 2, 100)}
    plan = hook_plan([lo, "nosuchif0"], resolve=lambda n, i: targets[n], offload=lambda n: True)
    assert plan == {"eth0": "tc"}
    plan = hook_plan([lo], resolve=lambda n, i: targets[n], offload=lambda n: False)
    assert plan == {"eth0": "auto"}
    on_bridge = {lo: HookTarget("br0", 5, 100, "bridge")}
    plan = hook_plan([lo], resolve=lambda n, i: on_bridge[n], offload=lambda n: False)
    assert plan == {"br0": "tc"}
    untagged = {lo: HookTarget("lo", LO, 0)}
    asked: list[str] = []

    def probe(name: str) -> bool:
        asked.append(name)
        return True

    assert hook_plan([lo], resolve=lambda n, i: untagged[n], offload=probe) == {"lo": "auto"}
    assert asked == []  # no VLAN: the NIC's offload does not matter
    assert hook_plan([lo], "xdp", resolve=lambda n, i: targets[n], offload=probe) == {
        "eth0": "xdp"
    }
