"""IPVS backend against constructed generic-netlink messages (this kernel has no IPVS).

``KernelModel`` stands in for the kernel's IPVS netlink interface: every request the backend makes
through pyroute2's ``IPVSService``/``IPVSDest`` is encoded to its real wire bytes, decoded as the
kernel would, and kept; dumps return wire-decoded ``ipvsmsg`` replies built the same way. The
assertions are on the command sequence and on the attributes the kernel receives.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest
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


def wire(cmd: int, attrs: list[tuple[str, Any]]) -> g.ipvsmsg:
    """Encode an IPVS genl message to bytes and decode it back (what the other side sees)."""
    msg = g.ipvsmsg()
    msg["cmd"] = cmd
    msg["version"] = 1
    msg["attrs"] = attrs
    msg.encode()
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

    @staticmethod
    def _key(a: dict[str, Any]) -> tuple[Any, ...]:
        if a.get("IPVS_SVC_ATTR_FWMARK"):
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
