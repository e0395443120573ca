"""IPVS backend against constructed generic-netlink messages (this kernel has no IPVS).

``KernelModel`` stands in for the kernel's IPVS netlink interface: every request the backend makes
through pyroute2's ``IPVSService``/``IPVSDest`` is encoded to its real wire bytes, decoded as the
kernel would, and kept; dumps return wire-decoded ``ipvsmsg`` replies built the same way. The
assertions are on the command sequence and on the attributes the kernel receives.
"""

from __future__ import annotations

import errno
import socket
import struct
from dataclasses import replace
from typing import Any

import pytest
from pyroute2.netlink.exceptions import NetlinkError
from pyroute2.netlink.generic import ipvs as g

from hadaemon.lvs.backend import BackendError
from hadaemon.lvs.ipvs import (
    IP_VS_CONN_F_DROUTE,
    IP_VS_CONN_F_MASQ,
    IP_VS_SVC_F_PERSISTENT,
    IpvsBackend,
)
from hadaemon.lvs.model import Match, Real, Service
from hadaemon.lvs.reconcile import reconcile

CMD = {
    ("service", "add"): g.IPVS_CMD_NEW_SERVICE,
    ("service", "set"): g.IPVS_CMD_SET_SERVICE,
    ("service", "del"): g.IPVS_CMD_DEL_SERVICE,
    ("dest", "add"): g.IPVS_CMD_NEW_DEST,
    ("dest", "set"): g.IPVS_CMD_SET_DEST,
    ("dest", "del"): g.IPVS_CMD_DEL_DEST,
}


#: raw bytes of every request message the backend made (newest last)
RAW: list[bytes] = []


def wire(cmd: int, attrs: list[tuple[str, Any]]) -> g.ipvsmsg:
    """Encode an IPVS genl message to bytes and decode it back (what the other side sees)."""
    msg = g.ipvsmsg()
    msg["cmd"] = cmd
    msg["version"] = 1
    msg["attrs"] = attrs
    msg.encode()
    RAW.append(bytes(msg.data))
    out = g.ipvsmsg(bytes(msg.data))
    out.decode()
    return out


def attrs_of(msg: g.ipvsmsg, nla: str) -> dict[str, Any]:
    return dict(msg.get_attr(nla)["attrs"])


class KernelModel:
    """Holds IPVS services/dests as the kernel would, fed only with wire-decoded requests."""

    def __init__(self) -> None:
        self.services: dict[tuple[Any, ...], dict[str, Any]] = {}
        self.dests: dict[tuple[Any, ...], dict[tuple[str, int], dict[str, Any]]] = {}
        self.log: list[tuple[str, str]] = []
        #: running sync threads: state (1 master, 2 backup) -> daemon attributes (raw payloads)
        self.daemons: dict[int, dict[int, bytes]] = {}

    @staticmethod
    def _key(a: dict[str, Any]) -> tuple[Any, ...]:
        if a.get("IPVS_SVC_ATTR_FWMARK"):
            if a["IPVS_SVC_ATTR_AF"] == socket.AF_INET6:  # a fwmark service per family
                return ("fwmark6", a["IPVS_SVC_ATTR_FWMARK"])
            return ("fwmark", a["IPVS_SVC_ATTR_FWMARK"])
        return (a["IPVS_SVC_ATTR_PROTOCOL"], a["IPVS_SVC_ATTR_ADDR"], a["IPVS_SVC_ATTR_PORT"])

    def service(self, command: str, service: Any = None) -> Any:
        if command == "dump":
            return [
                wire(
                    g.IPVS_CMD_NEW_SERVICE, [("IPVS_CMD_ATTR_SERVICE", {"attrs": list(a.items())})]
                )
                for a in self.services.values()
            ]
        assert command in ("add", "set", "del"), f"{command!r} (pyroute2's 'update' deletes)"
        self.log.append(("service", command))
        m = wire(CMD[("service", command)], [("IPVS_CMD_ATTR_SERVICE", service.dump_nla())])
        a = attrs_of(m, "IPVS_CMD_ATTR_SERVICE")
        k = self._key(a)
        if command == "add":
            if k in self.services:
                raise OSError(17, "File exists")
            self.services[k] = a
            self.dests[k] = {}
        elif command == "set":
            self.services[k].update(a)
        else:
            if k not in self.services:
                raise OSError(3, "No such process")
            del self.services[k], self.dests[k]
        return []

    def dest(self, command: str, service: Any, dest: Any = None) -> Any:
        attrs = [("IPVS_CMD_ATTR_SERVICE", service.dump_key())]
        k = self._key(attrs_of(wire(g.IPVS_CMD_GET_DEST, attrs), "IPVS_CMD_ATTR_SERVICE"))
        if command == "dump":
            return [
                wire(g.IPVS_CMD_NEW_DEST, [("IPVS_CMD_ATTR_DEST", {"attrs": list(d.items())})])
                for d in self.dests[k].values()
            ]
        self.log.append(("dest", command))
        m = wire(CMD[("dest", command)], [*attrs, ("IPVS_CMD_ATTR_DEST", dest.dump_nla())])
        d = attrs_of(m, "IPVS_CMD_ATTR_DEST")
        dk = (d["IPVS_DEST_ATTR_ADDR"], d["IPVS_DEST_ATTR_PORT"])
        if command == "del":
            del self.dests[k][dk]
        elif command == "add":
            self.dests[k][dk] = d
        else:
            self.dests[k][dk].update(d)
        return []

    def daemon(self, msg: Any) -> Any:
        """IPVS_CMD_NEW_DAEMON / DEL_DAEMON, as ip_vs_genl_new_daemon/del_daemon answer."""
        msg.encode()
        raw = bytes(msg.data)
        RAW.append(raw)
        cmd = raw[16]
        d = nlas(nlas(raw[20:])[CMD_ATTR_DAEMON])
        state = struct.unpack("=I", d[DAEMON_STATE])[0]
        self.log.append(("daemon", f"{'new' if cmd == g.IPVS_CMD_NEW_DAEMON else 'del'} {state}"))
        if cmd == g.IPVS_CMD_NEW_DAEMON:
            # the kernel needs state, interface and sync id to start a thread
            assert {DAEMON_STATE, DAEMON_IFN, DAEMON_SYNC_ID} <= set(d), d
            if state in self.daemons:
                raise NetlinkError(errno.EEXIST, "File exists")
            self.daemons[state] = d
        else:
            assert cmd == g.IPVS_CMD_DEL_DAEMON
            if state not in self.daemons:
                raise NetlinkError(errno.ESRCH, "No such process")
            del self.daemons[state]
        return []


def svc(weights: tuple[int, ...] = (3, 1), **kw: Any) -> Service:
    reals = tuple(Real(f"10.0.2.{11 + i}", 8080, w) for i, w in enumerate(weights))
    kw.setdefault("ipvs_scheduler", "wlc")
    return Service("a", (Match("10.0.0.1", "tcp", 80),), reals=reals, **kw)


def sync(b: IpvsBackend, desired: list[Service], fresh: bool = True) -> list[Any]:
    ops = reconcile(desired, b.read_actual() if fresh else b.cached_actual())
    b.apply(ops, desired)
    return ops


def test_add_service_sends_the_attributes_keepalived_would() -> None:
    k = KernelModel()
    b = IpvsBackend(k)
    sync(b, [svc(persistence_timeout_s=60, persistence_granularity="255.255.255.0", method="DR")])
    assert k.log == [("service", "add"), ("dest", "add"), ("dest", "add")]
    (a,) = k.services.values()
    assert a["IPVS_SVC_ATTR_ADDR"] == "10.0.0.1" and a["IPVS_SVC_ATTR_PORT"] == 80
    assert a["IPVS_SVC_ATTR_PROTOCOL"] == socket.IPPROTO_TCP
    assert a["IPVS_SVC_ATTR_SCHED_NAME"] == "wlc"  # keepalived's name, not the nft approximation
    assert a["IPVS_SVC_ATTR_TIMEOUT"] == 60
    assert a["IPVS_SVC_ATTR_FLAGS"]["flags"] & IP_VS_SVC_F_PERSISTENT
    assert a["IPVS_SVC_ATTR_NETMASK"] == "255.255.255.0"
    dests = next(iter(k.dests.values()))
    assert {d["IPVS_DEST_ATTR_WEIGHT"] for d in dests.values()} == {3, 1}
    assert {d["IPVS_DEST_ATTR_FWD_METHOD"] for d in dests.values()} == {IP_VS_CONN_F_DROUTE}
    # the read-back of those messages equals the desired state
    assert (
        reconcile(
            [svc(persistence_timeout_s=60, persistence_granularity="255.255.255.0", method="DR")],
            b.read_actual(),
        )
        == []
    )


def test_weight_change_is_one_dest_set_and_removal_one_del() -> None:
    k = KernelModel()
    b = IpvsBackend(k)
    sync(b, [svc()])
    k.log.clear()
    sync(b, [svc((3, 5))], fresh=False)
    assert k.log == [("dest", "set")]
    k.log.clear()
    sync(b, [svc((3,))], fresh=False)
    assert k.log == [("dest", "del")]
    dests = next(iter(k.dests.values()))
    assert list(dests) == [("10.0.2.11", 8080)]
    assert next(iter(dests.values()))["IPVS_DEST_ATTR_FWD_METHOD"] == IP_VS_CONN_F_MASQ


def test_drift_repaired_and_foreign_services_removed() -> None:
    k = KernelModel()
    b = IpvsBackend(k)
    sync(b, [svc()])
    # someone deletes a destination and adds a stray service behind our back
    key = next(iter(k.dests))
    k.dests[key].pop(("10.0.2.12", 8080))
    k.services[(17, "10.9.9.9", 53)] = {
        "IPVS_SVC_ATTR_AF": 2,
        "IPVS_SVC_ATTR_PROTOCOL": 17,
        "IPVS_SVC_ATTR_ADDR": "10.9.9.9",
        "IPVS_SVC_ATTR_PORT": 53,
        "IPVS_SVC_ATTR_SCHED_NAME": "rr",
    }
    k.dests[(17, "10.9.9.9", 53)] = {}
    k.log.clear()
    ops = sync(b, [svc()])
    assert {type(o).__name__ for o in ops} == {"DeleteService", "UpdateService"}
    assert ("dest", "add") in k.log and ("service", "del") in k.log
    assert reconcile([svc()], b.read_actual()) == []
    assert (17, "10.9.9.9", 53) not in k.services


def test_scheduler_change_uses_set_never_update() -> None:
    k = KernelModel()
    b = IpvsBackend(k)
    sync(b, [svc()])
    k.log.clear()
    sync(b, [svc(ipvs_scheduler="mh", hash_port=True)], fresh=False)
    assert k.log == [("service", "set")]
    a = next(iter(k.services.values()))
    assert a["IPVS_SVC_ATTR_SCHED_NAME"] == "mh"


def test_fwmark_group_and_destroy() -> None:
    k = KernelModel()
    b = IpvsBackend(k)
    grp = Service(
        "g",
        (Match("10.0.0.1", "tcp", 80), Match("10.0.0.2", "udp", 53), Match(fwmark=7)),
        reals=(Real("10.0.2.11", 0, 1),),
    )
    sync(b, [grp])
    assert set(k.services) == {(6, "10.0.0.1", 80), (17, "10.0.0.2", 53), ("fwmark", 7)}
    assert reconcile([grp], b.read_actual()) == []
    b.destroy()
    assert k.services == {}


def test_kernel_error_becomes_backend_error() -> None:
    k = KernelModel()
    b = IpvsBackend(k)
    sync(b, [svc()])
    b._kernel.clear()  # stale cache: the backend will try to add an existing service
    b._applied.clear()
    with pytest.raises(BackendError, match="File exists"):
        b.apply(reconcile([svc((1, 1))], b.cached_actual()), [svc((1, 1))])


def test_probe_and_backend_selection_work_inside_a_running_loop() -> None:
    """The LVS worker selects its backend from inside asyncio (pyroute2 sync API trap)."""
    import asyncio
    import os

    from hadaemon.lvs import ipvs

    async def probe() -> bool:
        return ipvs.available()

    have = asyncio.run(probe())
    assert isinstance(have, bool)
    if os.path.exists("/proc/net/ip_vs"):
        return
    assert have is False  # this kernel: no IPVS, and no "event loop is already running"
    pytest.importorskip("nftables")
    from hadaemon.lvs.service import select_backend

    async def pick() -> str:
        return select_backend().name

    assert asyncio.run(pick()) == "nft"


# -- IPv6 -------------------------------------------------------------------------------------
# attribute numbers from include/uapi/linux/ip_vs.h, independent of pyroute2's tables
SVC_AF, SVC_PROTOCOL, SVC_ADDR, SVC_PORT, SVC_FWMARK, SVC_SCHED, SVC_FLAGS = 1, 2, 3, 4, 5, 6, 7
SVC_TIMEOUT, SVC_NETMASK = 8, 9
DEST_ADDR, DEST_PORT, DEST_FWD, DEST_WEIGHT, DEST_AF = 1, 2, 3, 4, 11
CMD_ATTR_DAEMON = 3  # IPVS_CMD_ATTR_DAEMON
DAEMON_STATE, DAEMON_IFN, DAEMON_SYNC_ID, DAEMON_MAXLEN, DAEMON_GROUP = 1, 2, 3, 4, 5
DAEMON_GROUP6, DAEMON_PORT, DAEMON_TTL = 6, 7, 8


def nlas(data: bytes) -> dict[int, bytes]:
    """Netlink attributes of ``data`` as ``{type: payload}`` (a parser of our own)."""
    out: dict[int, bytes] = {}
    i = 0
    while i + 4 <= len(data):
        ln, typ = struct.unpack_from("=HH", data, i)
        out[typ & 0x3FFF] = data[i + 4 : i + ln]
        i += (ln + 3) & ~3
    return out


def requests(cmd: int) -> list[dict[int, dict[int, bytes]]]:
    """Raw requests with generic-netlink command ``cmd``: ``{top attr: {attr: payload}}``."""
    out = []
    for raw in RAW:
        if raw[16] != cmd:  # after nlmsghdr (16 bytes): genlmsghdr.cmd
            continue
        out.append({t: nlas(p) for t, p in nlas(raw[20:]).items()})
    return out


def v6(weights: tuple[int, ...] = (3, 1), **kw: Any) -> Service:
    reals = tuple(Real(f"fd00:2::{11 + i}", 8080, w) for i, w in enumerate(weights))
    kw.setdefault("ipvs_scheduler", "wrr")
    return Service("v6", (Match("fd00:0:0::1", "tcp", 80),), reals=reals, family=6, **kw)


def test_ipv6_service_and_dests_on_the_wire() -> None:
    RAW.clear()
    k = KernelModel()
    b = IpvsBackend(k)
    desired = [v6(persistence_timeout_s=300, persistence_granularity="/64")]
    assert b.check(desired[0]) == []
    sync(b, desired)
    (svc_msg,) = requests(g.IPVS_CMD_NEW_SERVICE)
    a = svc_msg[1]  # IPVS_CMD_ATTR_SERVICE
    assert a[SVC_AF] == struct.pack("=H", socket.AF_INET6)
    assert a[SVC_ADDR] == socket.inet_pton(socket.AF_INET6, "fd00::1")  # 16 bytes
    assert a[SVC_PORT] == struct.pack("!H", 80)
    assert a[SVC_PROTOCOL] == struct.pack("=H", socket.IPPROTO_TCP)
    assert a[SVC_SCHED] == b"wrr\0"
    assert a[SVC_TIMEOUT] == struct.pack("=I", 300)
    assert struct.unpack("=II", a[SVC_FLAGS])[0] & IP_VS_SVC_F_PERSISTENT
    # IPv6: the prefix length as a host-order u32 (ipvsadm/keepalived nla_put_u32), not a mask
    assert a[SVC_NETMASK] == struct.pack("=I", 64)
    dests = requests(g.IPVS_CMD_NEW_DEST)
    assert len(dests) == 2
    for d, addr, w in zip(dests, ("fd00:2::11", "fd00:2::12"), (3, 1), strict=True):
        assert d[1][SVC_AF] == struct.pack("=H", socket.AF_INET6)  # the service key
        assert d[1][SVC_ADDR] == socket.inet_pton(socket.AF_INET6, "fd00::1")
        assert d[2][DEST_AF] == struct.pack("=H", socket.AF_INET6)
        assert d[2][DEST_ADDR] == socket.inet_pton(socket.AF_INET6, addr)
        assert d[2][DEST_PORT] == struct.pack("!H", 8080)
        assert d[2][DEST_WEIGHT] == struct.pack("=I", w)
        assert d[2][DEST_FWD] == struct.pack("=I", IP_VS_CONN_F_MASQ)
    # the kernel's view read back (compressed addresses, prefix length) equals the desired one
    assert reconcile(desired, b.read_actual()) == []
    # one weight change is one IPVS_CMD_SET_DEST
    k.log.clear()
    sync(b, [v6((3, 7), persistence_timeout_s=300, persistence_granularity="/64")], fresh=False)
    assert k.log == [("dest", "set")]


def test_ipv6_default_netmask_is_128() -> None:
    RAW.clear()
    b = IpvsBackend(KernelModel())
    sync(b, [v6()])  # keepalived's default granularity 255.255.255.255: one client address
    (svc_msg,) = requests(g.IPVS_CMD_NEW_SERVICE)
    assert svc_msg[1][SVC_NETMASK] == struct.pack("=I", 128)
    assert reconcile([v6()], b.read_actual()) == []


def test_fwmark_services_per_family() -> None:
    RAW.clear()
    k = KernelModel()
    b = IpvsBackend(k)
    four = Service("m4", (Match(fwmark=7),), reals=(Real("10.0.2.11", 0, 1),), family=4)
    six = Service("m6", (Match(fwmark=7),), reals=(Real("fd00:2::11", 0, 1),), family=6)
    sync(b, [four, six])
    assert set(k.services) == {("fwmark", 7), ("fwmark6", 7)}
    fams = sorted(m[1][SVC_AF] for m in requests(g.IPVS_CMD_NEW_SERVICE))
    assert fams == sorted(struct.pack("=H", f) for f in (socket.AF_INET, socket.AF_INET6))
    for m in requests(g.IPVS_CMD_NEW_SERVICE):
        assert m[1][SVC_FWMARK] == struct.pack("=I", 7) and SVC_ADDR not in m[1]
    assert reconcile([four, six], b.read_actual()) == []
    # removing the IPv6 one leaves the IPv4 one
    sync(b, [four], fresh=False)
    assert set(k.services) == {("fwmark", 7)}


def test_foreign_ipv6_service_is_removed() -> None:
    k = KernelModel()
    b = IpvsBackend(k)
    sync(b, [v6()])
    stray = {
        "IPVS_SVC_ATTR_AF": socket.AF_INET6,
        "IPVS_SVC_ATTR_PROTOCOL": 17,
        "IPVS_SVC_ATTR_ADDR": "fd00:9::9",
        "IPVS_SVC_ATTR_PORT": 53,
        "IPVS_SVC_ATTR_SCHED_NAME": "rr",
        "IPVS_SVC_ATTR_NETMASK": "128.0.0.0",
    }
    k.services[(17, "fd00:9::9", 53)] = stray
    k.dests[(17, "fd00:9::9", 53)] = {}
    ops = sync(b, [v6()])
    assert [type(o).__name__ for o in ops] == ["DeleteService"]
    assert (17, "fd00:9::9", 53) not in k.services
    assert reconcile([v6()], b.read_actual()) == []


def test_mixed_families_only_with_tun() -> None:
    b = IpvsBackend(KernelModel())
    mixed = Service("x", (Match("10.0.0.1", "tcp", 80),), reals=(Real("fd00:2::11", 80, 1),))
    (why,) = b.check(mixed)
    assert "mixes IPv4 and IPv6" in why and "TUN" in why
    assert b.check(replace(mixed, method="TUN")) == []
    assert b.check(v6()) == []


# -- lvs_sync_daemon --------------------------------------------------------------------------
SYNC_CONF = """
global_defs {{
    {sync}
}}
vrrp_instance VI_1 {{
    interface eth0
    virtual_router_id 51
    priority 100
    virtual_ipaddress {{ 10.0.0.1/32 }}
}}
vrrp_instance VI_2 {{
    interface eth0
    virtual_router_id 52
    priority 100
    virtual_ipaddress {{ 10.0.0.2/32 }}
}}
virtual_server 10.0.0.1 80 {{
    lb_algo wrr
    real_server 10.0.2.11 8080 {{ weight 1 }}
}}
"""


def sync_service(k: KernelModel, sync: str) -> Any:
    from hadaemon.config import loads
    from hadaemon.lvs.service import LvsService, NullResolver

    config = loads(SYNC_CONF.format(sync=sync), filename="t.conf").config
    events: list[tuple[str, Any]] = []
    svc = LvsService(
        config,
        lambda kind, body: events.append((kind, body)),
        backend=IpvsBackend(k),
        resolver=NullResolver(),
        resync_interval_s=0,
    )
    svc.events = events
    return svc


def test_sync_daemon_follows_the_vrrp_instance() -> None:
    """keepalived: backup thread at start, master while the instance is MASTER, none at stop."""
    import asyncio

    RAW.clear()
    k = KernelModel()
    svc = sync_service(k, "lvs_sync_daemon eth1 VI_1")

    async def scenario() -> None:
        await svc.start()
        # a new worker does not know what a previous one left running: stop both, then start
        assert [e for e in k.log if e[0] == "daemon"] == [
            ("daemon", "del 1"),
            ("daemon", "del 2"),
            ("daemon", "new 2"),
        ]
        assert set(k.daemons) == {2}  # backup
        d = k.daemons[2]
        assert d[DAEMON_IFN] == b"eth1\0"
        assert d[DAEMON_SYNC_ID] == struct.pack("=I", 51)  # default: the instance's VRID
        assert d[DAEMON_PORT] == struct.pack("=H", 8848)  # host order, as nla_get_u16
        assert svc.status()["sync_daemon"]["state"] == "backup"
        k.log.clear()
        svc.set_instance_state("VI_2", True)  # another instance: nothing
        assert k.log == []
        svc.set_instance_state("VI_1", True)
        assert k.log == [("daemon", "del 2"), ("daemon", "new 1")]
        assert set(k.daemons) == {1}
        assert svc.status()["sync_daemon"]["state"] == "master"
        svc.set_instance_state("VI_1", True)  # repeated: nothing
        assert k.log == [("daemon", "del 2"), ("daemon", "new 1")]
        k.log.clear()
        svc.set_instance_state("VI_1", False)  # BACKUP or FAULT after MASTER
        assert k.log == [("daemon", "del 1"), ("daemon", "new 2")]
        assert set(k.daemons) == {2}
        await svc.stop()
        assert k.daemons == {}
        assert not svc.events  # no errors on the way

    asyncio.run(scenario())


def test_sync_daemon_options_on_the_wire_and_reload() -> None:
    import asyncio

    from hadaemon.config import loads

    RAW.clear()
    k = KernelModel()
    svc = sync_service(
        k, "lvs_sync_daemon eth1 VI_1 id 7 maxlen 1400 port 8849 ttl 3 group 224.0.0.82"
    )

    async def scenario() -> None:
        await svc.start()
        svc.set_instance_state("VI_1", True)
        new = [r for r in RAW if r[16] == g.IPVS_CMD_NEW_DAEMON]
        d = nlas(nlas(new[-1][20:])[CMD_ATTR_DAEMON])
        assert d == {
            DAEMON_STATE: struct.pack("=I", 1),
            DAEMON_IFN: b"eth1\0",
            DAEMON_SYNC_ID: struct.pack("=I", 7),
            DAEMON_MAXLEN: struct.pack("=H", 1400),
            DAEMON_PORT: struct.pack("=H", 8849),
            DAEMON_TTL: b"\x03",
            DAEMON_GROUP: socket.inet_aton("224.0.0.82"),  # network order (nla_get_in_addr)
        }
        # stop requests carry only state, interface and sync id (as libipvs)
        dels = [r for r in RAW if r[16] == g.IPVS_CMD_DEL_DAEMON]
        assert set(nlas(nlas(dels[-1][20:])[CMD_ATTR_DAEMON])) == {
            DAEMON_STATE,
            DAEMON_IFN,
            DAEMON_SYNC_ID,
        }
        # reload with another id: the master thread is restarted with it
        k.log.clear()
        text = SYNC_CONF.format(sync="lvs_sync_daemon eth1 VI_1 id 8 group ff02::81")
        await svc.apply_config(loads(text, filename="t.conf").config)
        assert k.log == [("daemon", "del 1"), ("daemon", "new 1")]
        assert k.daemons[1][DAEMON_SYNC_ID] == struct.pack("=I", 8)
        assert k.daemons[1][DAEMON_GROUP6] == socket.inet_pton(socket.AF_INET6, "ff02::81")
        # reload without lvs_sync_daemon: stopped
        k.log.clear()
        await svc.apply_config(loads(SYNC_CONF.format(sync=""), filename="t.conf").config)
        assert k.log == [("daemon", "del 1")] and k.daemons == {}
        assert svc.status()["sync_daemon"] is None
        await svc.stop()

    asyncio.run(scenario())


def test_sync_daemon_kernel_error_is_reported_not_raised() -> None:
    import asyncio

    k = KernelModel()
    k.daemons[2] = {}  # someone else runs a backup thread that our stop does not remove
    original = k.daemon

    def refuse_del(msg: Any) -> Any:
        msg.encode()
        if bytes(msg.data)[16] == g.IPVS_CMD_DEL_DAEMON:
            raise NetlinkError(errno.EPERM, "Operation not permitted")
        return original(msg)

    k.daemon = refuse_del  # type: ignore[method-assign]
    svc = sync_service(k, "lvs_sync_daemon eth1 VI_1")

    async def scenario() -> None:
        await svc.start()  # must not raise: the worker keeps running, the error is reported
        assert svc.status()["sync_daemon"]["state"] == "unknown"
        assert [kind for kind, _ in svc.events] == ["lvs_error"]
        assert "sync daemon" in svc.events[0][1]["error"]
        await svc.stop()

    asyncio.run(scenario())


def test_sync_daemon_on_nftables_is_a_located_warning() -> None:
    from hadaemon.config import loads
    from hadaemon.lvs.service import check_config

    config = loads(SYNC_CONF.format(sync="lvs_sync_daemon eth1 VI_1"), filename="t.conf").config
    (p,) = [p for p in check_config(config) if "lvs_sync_daemon" in p.message]
    assert p.severity == "warning" and "needs IPVS" in p.message
    assert str(p).startswith("t.conf:3:")
