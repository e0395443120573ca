"""IPVS backend through pyroute2's generic-netlink ``IPVS`` socket (kernels that have IPVS).

Chosen automatically by :func:`hadaemon.lvs.service.select_backend` when :func:`available` finds
the IPVS generic-netlink family. Unlike nftables, IPVS has no transactions: a batch is applied
command by command; on an error the batch stops, :class:`BackendError` is raised and the next
resync (which re-reads the kernel) completes or repairs it.

A virtual_server_group becomes one IPVS service per address/fwmark (as keepalived does without
``nftables_ipvs``). Scheduler names go to the kernel unchanged (``Service.ipvs_scheduler``).

IPv6: services and destinations carry ``AF_INET6`` and 16-byte addresses; a fwmark service
belongs to one family (``IPVS_SVC_ATTR_AF``), so mark 7 for IPv4 and mark 7 for IPv6 are two
services. ``IPVS_SVC_ATTR_NETMASK`` is a 32-bit attribute: for IPv4 the netmask in network byte
order, for IPv6 the persistence prefix length (1-128) as a host-order integer (what ipvsadm and
keepalived send; the kernel rejects other values). pyroute2 declares the attribute ``ip4addr``,
so the IPv6 prefix length travels as the dotted quad whose four bytes are that integer
(:func:`netmask_to_wire`).

``lvs_sync_daemon``: :meth:`IpvsBackend.set_sync_daemon` runs the kernel's connection-sync thread
as master while the configured VRRP instance is MASTER and as backup otherwise, as keepalived
does (``IPVS_CMD_NEW_DAEMON`` / ``IPVS_CMD_DEL_DAEMON``; pyroute2 leaves the daemon attribute
undecoded, :class:`ipvs_daemon_msg` declares it from ``include/uapi/linux/ip_vs.h``).
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import socket
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from hadaemon.lvs.backend import BackendError
from hadaemon.lvs.model import Match, Service, v6_granularity_mask
from hadaemon.lvs.reconcile import (
    ActualState,
    AddService,
    DeleteService,
    EnsureBase,
    Op,
    UpdateService,
)

log = logging.getLogger("hadaemon.lvs.ipvs")

#: include/uapi/linux/ip_vs.h
IP_VS_CONN_F_MASQ = 0
IP_VS_CONN_F_TUNNEL = 2
IP_VS_CONN_F_DROUTE = 3
IP_VS_SVC_F_PERSISTENT = 0x0001
IP_VS_SVC_F_SCHED1 = 0x0008  # sh-fallback / mh-fallback
IP_VS_SVC_F_SCHED2 = 0x0010  # sh-port / mh-port
IP_VS_STATE_NONE = 0
IP_VS_STATE_MASTER = 1
IP_VS_STATE_BACKUP = 2
#: generic-netlink commands (include/uapi/linux/ip_vs.h)
IPVS_CMD_NEW_DAEMON = 9
IPVS_CMD_DEL_DAEMON = 10
FWD = {"NAT": IP_VS_CONN_F_MASQ, "DR": IP_VS_CONN_F_DROUTE, "TUN": IP_VS_CONN_F_TUNNEL}
PROTO = {"tcp": socket.IPPROTO_TCP, "udp": socket.IPPROTO_UDP, "sctp": 132}
PROTO_NAME = {v: k for k, v in PROTO.items()}


class IpvsSocket(Protocol):
    """The part of ``pyroute2.IPVS`` this backend uses."""

    def service(self, command: str, service: Any = None) -> Any: ...

    def dest(self, command: str, service: Any, dest: Any = None) -> Any: ...

    def daemon(self, msg: Any) -> Any:
        """Send one ``IPVS_CMD_NEW_DAEMON``/``IPVS_CMD_DEL_DAEMON`` message (an ack request)."""
        ...


def available() -> bool:
    """True when the kernel has IPVS (its generic-netlink family resolves).

    Safe to call from inside a running asyncio loop (pyroute2's sync sockets run their own loop,
    so the probe runs on a helper thread).
    """
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ipvs-probe") as pool:
        return pool.submit(_probe).result(timeout=10)


def _probe() -> bool:
    try:
        from pyroute2 import IPVS
        from pyroute2.netlink.exceptions import NetlinkError
    except ImportError:
        return False
    try:
        s = IPVS()
    except NetlinkError as e:
        if e.code != errno.ENOENT:
            log.warning("IPVS probe failed: %s", e)
        return False
    except OSError:
        return False
    s.close()
    return True


@dataclass(frozen=True, order=True)
class SvcKey:
    """IPVS service identity."""

    af: int
    protocol: int
    addr: str
    port: int
    fwmark: int


@dataclass(frozen=True)
class SvcRec:
    """One IPVS service with its destinations, in comparable form."""

    sched: str
    flags: int
    timeout: int
    netmask: str
    #: (addr, port) -> (weight, fwd_method)
    dests: tuple[tuple[tuple[str, int], tuple[int, int]], ...]


def ipvs_scheduler(svc: Service) -> str:
    """The kernel scheduler for ``svc``."""
    if svc.ipvs_scheduler:
        return svc.ipvs_scheduler
    return {"random": "wrr", "fo": "fo"}.get(svc.scheduler, svc.scheduler)


def _af(address: str) -> int:
    return socket.AF_INET6 if ":" in address else socket.AF_INET


def _norm(address: str) -> str:
    """An address as the kernel's dump gives it back (IPv6 compressed)."""
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return address


def _key(m: Match, family: int = 4) -> SvcKey:
    if m.fwmark:
        return SvcKey(socket.AF_INET6 if family == 6 else socket.AF_INET, 0, "", 0, m.fwmark)
    return SvcKey(_af(m.address), PROTO[m.protocol], _norm(m.address), m.port, 0)


def netmask_of(svc: Service) -> str:
    """The persistence netmask in :class:`SvcRec` form: IPv4 dotted quad, IPv6 prefix length."""
    if svc.family != 6:
        return svc.persistence_granularity
    mask = v6_granularity_mask(svc.persistence_granularity) or "::"  # "::": refused by check
    return str(bin(int(ipaddress.IPv6Address(mask))).count("1"))


def netmask_to_wire(af: int, netmask: str) -> str:
    """``IPVS_SVC_ATTR_NETMASK`` for pyroute2's ``ip4addr`` codec.

    IPv4: the netmask itself. IPv6: the prefix length as a host-order u32, spelled as the dotted
    quad of those four bytes (``128`` → ``128.0.0.0`` on little-endian hosts), which is exactly
    the ``nla_put_u32(…, NETMASK, plen)`` of ipvsadm and keepalived.
    """
    if af != socket.AF_INET6:
        return netmask
    return socket.inet_ntoa(struct.pack("=I", int(netmask)))


def netmask_from_wire(af: int, text: str) -> str:
    """Inverse of :func:`netmask_to_wire` (for the dump)."""
    if af != socket.AF_INET6:
        return text
    return str(struct.unpack("=I", socket.inet_aton(text))[0])


def records(svc: Service) -> dict[SvcKey, SvcRec]:
    """The IPVS services and destinations that implement ``svc``."""
    flags = IP_VS_SVC_F_PERSISTENT if svc.persistence_timeout_s else 0
    if svc.hash_port:
        flags |= IP_VS_SVC_F_SCHED2
    fwd = FWD[svc.method]
    out: dict[SvcKey, SvcRec] = {}
    for m in svc.matches:
        k = _key(m, svc.family)
        dests = tuple(
            sorted(((_norm(r.address), r.port or m.port), (r.weight, fwd)) for r in svc.reals)
        )
        out[k] = SvcRec(
            ipvs_scheduler(svc),
            flags,
            svc.persistence_timeout_s,
            netmask_of(svc),
            dests,
        )
    return out


def service_obj(k: SvcKey, rec: SvcRec | None = None) -> Any:
    """A ``pyroute2.IPVSService`` for ``k`` (key fields only when ``rec`` is None)."""
    from pyroute2 import IPVSService

    kw: dict[str, Any] = {}
    if k.fwmark:
        kw.update(fwmark=k.fwmark, af=k.af)
    else:
        kw.update(addr=k.addr, port=k.port, protocol=k.protocol, af=k.af)
    if rec is not None:
        kw.update(
            sched_name=rec.sched,
            timeout=rec.timeout,
            flags={"flags": rec.flags, "mask": 0xFFFF},
            netmask=netmask_to_wire(k.af, rec.netmask),
        )
    return IPVSService(**kw)


def dest_obj(addr: str, port: int, weight: int, fwd: int) -> Any:
    """A ``pyroute2.IPVSDest``."""
    from pyroute2 import IPVSDest

    return IPVSDest(addr=addr, port=port, weight=weight, fwd_method=fwd, addr_family=_af(addr))


def _attrs(msg: Any, nla: str) -> dict[str, Any]:
    inner = msg.get_attr(nla)
    return {k: v for k, v in inner["attrs"]} if inner is not None else {}


def parse_dump(sock: IpvsSocket) -> dict[SvcKey, SvcRec]:
    """Read every service and destination from the kernel."""
    out: dict[SvcKey, SvcRec] = {}
    for smsg in sock.service("dump"):
        a = _attrs(smsg, "IPVS_CMD_ATTR_SERVICE")
        k = SvcKey(
            int(a.get("IPVS_SVC_ATTR_AF", socket.AF_INET)),
            int(a.get("IPVS_SVC_ATTR_PROTOCOL", 0)),
            _norm(str(a.get("IPVS_SVC_ATTR_ADDR", "")))
            if not a.get("IPVS_SVC_ATTR_FWMARK")
            else "",
            int(a.get("IPVS_SVC_ATTR_PORT", 0)) if not a.get("IPVS_SVC_ATTR_FWMARK") else 0,
            int(a.get("IPVS_SVC_ATTR_FWMARK", 0)),
        )
        if k.fwmark:
            k = SvcKey(k.af, 0, "", 0, k.fwmark)
        flags = a.get("IPVS_SVC_ATTR_FLAGS", {"flags": 0})
        dests = []
        for dmsg in sock.dest("dump", service=service_obj(k)):
            d = _attrs(dmsg, "IPVS_CMD_ATTR_DEST")
            dests.append(
                (
                    (_norm(str(d["IPVS_DEST_ATTR_ADDR"])), int(d.get("IPVS_DEST_ATTR_PORT", 0))),
                    (
                        int(d.get("IPVS_DEST_ATTR_WEIGHT", 0)),
                        int(d.get("IPVS_DEST_ATTR_FWD_METHOD", 0)) & 0x7,
                    ),
                )
            )
        default_mask = "128.0.0.0" if k.af == socket.AF_INET6 else "255.255.255.255"
        out[k] = SvcRec(
            str(a.get("IPVS_SVC_ATTR_SCHED_NAME", "")),
            int(flags.get("flags", 0)) & (IP_VS_SVC_F_PERSISTENT | IP_VS_SVC_F_SCHED2),
            int(a.get("IPVS_SVC_ATTR_TIMEOUT", 0)),
            netmask_from_wire(k.af, str(a.get("IPVS_SVC_ATTR_NETMASK", default_mask))),
            tuple(sorted(dests)),
        )
    return out


def _daemon_msg_class() -> Any:
    from pyroute2.netlink import nla
    from pyroute2.netlink.generic import ipvs as g

    class daemon(nla):  # type: ignore[misc]  # noqa: N801 - pyroute2's naming
        """``IPVS_CMD_ATTR_DAEMON``: enum ipvs_daemon_attrs (include/uapi/linux/ip_vs.h)."""

        prefix = "IPVS_DAEMON_ATTR_"
        nla_map = (
            ("IPVS_DAEMON_ATTR_UNSPEC", "none"),
            ("IPVS_DAEMON_ATTR_STATE", "uint32"),
            ("IPVS_DAEMON_ATTR_MCAST_IFN", "asciiz"),
            ("IPVS_DAEMON_ATTR_SYNC_ID", "uint32"),
            ("IPVS_DAEMON_ATTR_SYNC_MAXLEN", "uint16"),
            ("IPVS_DAEMON_ATTR_MCAST_GROUP", "ip4addr"),
            ("IPVS_DAEMON_ATTR_MCAST_GROUP6", "ip6addr"),
            ("IPVS_DAEMON_ATTR_MCAST_PORT", "uint16"),
            ("IPVS_DAEMON_ATTR_MCAST_TTL", "uint8"),
        )

    class ipvs_daemon_msg(g.ipvsmsg):  # type: ignore[misc]  # noqa: N801
        """pyroute2's ``ipvsmsg`` with the daemon attribute decoded (it declares it ``hex``)."""

        nla_map = tuple(
            (n, "daemon" if n == "IPVS_CMD_ATTR_DAEMON" else t) for n, t in g.ipvsmsg.nla_map
        )
        # pyroute2 marks a class's table compiled in a class attribute, which a subclass
        # inherits: without this, once ipvsmsg has been used, ours would keep its "hex" entry
        _nlmsg_base__compiled_nla = False

    ipvs_daemon_msg.daemon = daemon
    return ipvs_daemon_msg


_DAEMON_MSG: Any = None


def ipvs_daemon_msg() -> Any:
    """A new, empty daemon message (pyroute2 imported on first use: only the LVS worker)."""
    global _DAEMON_MSG
    if _DAEMON_MSG is None:
        _DAEMON_MSG = _daemon_msg_class()
    return _DAEMON_MSG()


@dataclass(frozen=True)
class SyncDaemon:
    """keepalived's ``lvs_sync_daemon`` in the kernel's terms.

    ``sync_id`` defaults (in :func:`hadaemon.lvs.service.sync_daemon_from_config`) to the VRRP
    instance's VRID, as keepalived does; ``None`` fields are left to the kernel's defaults
    (maxlen from the interface MTU, port 8848, TTL 1, group 224.0.0.81).
    """

    interface: str
    sync_id: int
    maxlen: int | None = None
    port: int | None = None
    ttl: int | None = None
    group: str | None = None

    def message(self, cmd: int, state: int) -> Any:
        """The generic-netlink message starting (NEW) or stopping (DEL) the ``state`` thread.

        As libipvs: STATE, MCAST_IFN and SYNC_ID always; the optional attributes on start only.
        """
        attrs: list[tuple[str, Any]] = [
            ("IPVS_DAEMON_ATTR_STATE", state),
            ("IPVS_DAEMON_ATTR_MCAST_IFN", self.interface),
            ("IPVS_DAEMON_ATTR_SYNC_ID", self.sync_id),
        ]
        if cmd == IPVS_CMD_NEW_DAEMON:
            if self.maxlen:
                attrs.append(("IPVS_DAEMON_ATTR_SYNC_MAXLEN", self.maxlen))
            if self.port:
                attrs.append(("IPVS_DAEMON_ATTR_MCAST_PORT", self.port))
            if self.ttl:
                attrs.append(("IPVS_DAEMON_ATTR_MCAST_TTL", self.ttl))
            if self.group and ":" in self.group:
                attrs.append(("IPVS_DAEMON_ATTR_MCAST_GROUP6", self.group))
            elif self.group:
                attrs.append(("IPVS_DAEMON_ATTR_MCAST_GROUP", self.group))
        msg = ipvs_daemon_msg()
        msg["cmd"] = cmd
        msg["version"] = 1
        msg["attrs"] = [("IPVS_CMD_ATTR_DAEMON", {"attrs": attrs})]
        return msg


def sync_daemon_steps(have: int | None, want: int) -> list[tuple[int, int]]:
    """``[(IPVS_CMD_NEW_DAEMON | IPVS_CMD_DEL_DAEMON, state), ...]`` from ``have`` to ``want``.

    ``have`` None means unknown (a new or respawned worker: a thread may be left running, maybe
    with another config), so both are stopped first; "not running" answers are ignored.
    """
    if have == want:
        return []
    steps: list[tuple[int, int]] = []
    if have is None:
        steps += [
            (IPVS_CMD_DEL_DAEMON, IP_VS_STATE_MASTER),
            (IPVS_CMD_DEL_DAEMON, IP_VS_STATE_BACKUP),
        ]
    elif have != IP_VS_STATE_NONE:
        steps.append((IPVS_CMD_DEL_DAEMON, have))
    if want != IP_VS_STATE_NONE:
        steps.append((IPVS_CMD_NEW_DAEMON, want))
    return steps


class ThreadedIpvs:
    """``pyroute2.IPVS`` on a helper thread: its sync API cannot run inside an asyncio loop."""

    def __init__(self) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ipvs")
        self._sock: Any = self._pool.submit(self._open).result(timeout=10)

    @staticmethod
    def _open() -> Any:
        from pyroute2 import IPVS

        return IPVS()

    def service(self, command: str, service: Any = None) -> Any:
        return self._pool.submit(
            lambda: list(self._sock.service(command, service=service) or [])
        ).result(timeout=10)

    def dest(self, command: str, service: Any, dest: Any = None) -> Any:
        return self._pool.submit(
            lambda: list(self._sock.dest(command, service=service, dest=dest) or [])
        ).result(timeout=10)

    def daemon(self, msg: Any) -> Any:
        s = self._sock
        return self._pool.submit(
            lambda: list(s._run_with_cleanup(s.asyncore._do_request, msg) or [])
        ).result(timeout=10)


class IpvsBackend:
    """IPVS data path. ``sock`` defaults to ``pyroute2.IPVS()`` on a helper thread."""

    name = "ipvs"

    def __init__(self, sock: IpvsSocket | None = None) -> None:
        if sock is None:
            sock = ThreadedIpvs()
        self.sock: IpvsSocket = sock
        self._applied: dict[str, Service] = {}
        self._kernel: dict[SvcKey, SvcRec] = {}
        #: the sync daemon as last started (None: not configured) and its state (None: unknown)
        self._syncd: SyncDaemon | None = None
        self._syncd_state: int | None = None

    def _actual_from(self, kernel: dict[SvcKey, SvcRec]) -> ActualState:
        services: dict[str, str] = {}
        claimed: set[SvcKey] = set()
        for name, svc in self._applied.items():
            want = records(svc)
            claimed |= set(want)
            have = {k: kernel[k] for k in want if k in kernel}
            services[name] = svc.fingerprint() if have == want else ""
        for k in kernel:
            if k not in claimed:  # foreign or left over: owned by nobody we know → delete it
                services[f"ipvs:{k.af}:{k.protocol}:{k.port}:{k.fwmark}:{k.addr}"] = ""
        return ActualState(services, True, ())

    def cached_actual(self) -> ActualState:
        return self._actual_from(self._kernel)

    def read_actual(self) -> ActualState:
        self._kernel = parse_dump(self.sock)
        return self._actual_from(self._kernel)

    def _apply_records(self, want: dict[SvcKey, SvcRec], have: dict[SvcKey, SvcRec]) -> None:
        for k in sorted(set(have) - set(want)):
            self.sock.service("del", service=service_obj(k))
            self._kernel.pop(k, None)
        for k in sorted(want):
            w, h = want[k], have.get(k)
            so = service_obj(k, w)
            if h is None:
                self.sock.service("add", service=so)
                h = SvcRec(w.sched, w.flags, w.timeout, w.netmask, ())
            elif (w.sched, w.flags, w.timeout, w.netmask) != (
                h.sched,
                h.flags,
                h.timeout,
                h.netmask,
            ):
                self.sock.service("set", service=so)  # never "update": it deletes (pyroute2)
            wd, hd = dict(w.dests), dict(h.dests)
            for addr, port in sorted(set(hd) - set(wd)):
                self.sock.dest("del", service=so, dest=dest_obj(addr, port, 0, 0))
            for (addr, port), (weight, fwd) in sorted(wd.items()):
                if (addr, port) not in hd:
                    self.sock.dest("add", service=so, dest=dest_obj(addr, port, weight, fwd))
                elif hd[(addr, port)] != (weight, fwd):
                    self.sock.dest("set", service=so, dest=dest_obj(addr, port, weight, fwd))
            self._kernel[k] = w

    def apply(self, ops: Sequence[Op], desired: Sequence[Service]) -> None:
        try:
            for op in ops:
                if isinstance(op, EnsureBase):
                    continue
                if isinstance(op, DeleteService):
                    old = self._applied.pop(op.name, None)
                    keys = set(records(old)) if old is not None else set()
                    if op.name.startswith("ipvs:"):  # the address last: IPv6 has colons
                        _, af, proto, port, fwmark, addr = op.name.split(":", 5)
                        keys.add(SvcKey(int(af), int(proto), addr, int(port), int(fwmark)))
                    have = {k: v for k, v in self._kernel.items() if k in keys}
                    self._apply_records({}, have)
                elif isinstance(op, AddService | UpdateService):
                    svc = op.service
                    old = self._applied.get(svc.name)
                    keys = set(records(svc)) | (set(records(old)) if old else set())
                    have = {k: v for k, v in self._kernel.items() if k in keys}
                    self._apply_records(records(svc), have)
                    self._applied[svc.name] = svc
        except BackendError:
            raise
        except Exception as e:  # noqa: BLE001 - netlink errors carry the kernel's reason
            raise BackendError(f"IPVS: {e}") from e

    def set_sync_daemon(self, cfg: SyncDaemon | None, master: bool) -> list[tuple[int, int]]:
        """Run the connection-sync thread as master (``master``) or backup; ``cfg`` None stops it.

        Idempotent; a changed ``cfg`` restarts the thread. Returns the steps sent. A "not
        running" reply to a stop (ESRCH) is expected and ignored; other errors raise
        :class:`BackendError` (the state is then unknown, so the next call stops both first).
        """
        if cfg is None and self._syncd is None:
            self._syncd_state = IP_VS_STATE_NONE  # never configured: nothing of ours runs
            return []
        want = IP_VS_STATE_NONE
        if cfg is not None:
            want = IP_VS_STATE_MASTER if master else IP_VS_STATE_BACKUP
        have = self._syncd_state
        if cfg != self._syncd and self._syncd is not None and have != IP_VS_STATE_NONE:
            self._stop_syncd(self._syncd, have)  # config changed: stop the old thread(s)
            have = IP_VS_STATE_NONE
        steps = sync_daemon_steps(have, want)
        target = cfg or self._syncd
        self._syncd_state = None
        try:
            for cmd, state in steps:
                assert target is not None
                self._send_daemon(target, cmd, state)
        except Exception as e:
            raise BackendError(f"IPVS sync daemon: {e}") from e
        self._syncd, self._syncd_state = cfg, want
        return steps

    def _stop_syncd(self, cfg: SyncDaemon, have: int | None) -> None:
        for cmd, state in sync_daemon_steps(have, IP_VS_STATE_NONE):
            try:
                self._send_daemon(cfg, cmd, state)
            except Exception as e:  # noqa: BLE001 - stopping is best effort
                log.warning("IPVS: stopping the sync daemon failed: %s", e)

    def _send_daemon(self, cfg: SyncDaemon, cmd: int, state: int) -> None:
        what = "master" if state == IP_VS_STATE_MASTER else "backup"
        try:
            self.sock.daemon(cfg.message(cmd, state))
        except Exception as e:
            if cmd == IPVS_CMD_DEL_DAEMON and getattr(e, "code", None) == errno.ESRCH:
                return  # was not running
            raise
        log.info(
            "IPVS: %s %s sync daemon on %s (syncid %d)",
            "started" if cmd == IPVS_CMD_NEW_DAEMON else "stopped",
            what,
            cfg.interface,
            cfg.sync_id,
        )

    def counters(self) -> dict[str, dict[str, dict[str, int]]]:
        return {}

    def destroy(self) -> None:
        if self._syncd is not None:
            self._stop_syncd(self._syncd, self._syncd_state)
            self._syncd, self._syncd_state = None, IP_VS_STATE_NONE
        mine = {k for svc in self._applied.values() for k in records(svc)}
        for k in sorted(mine & set(self._kernel)):
            try:
                self.sock.service("del", service=service_obj(k))
            except Exception as e:  # noqa: BLE001
                log.warning("IPVS: deleting %s failed: %s", k, e)
        self._kernel.clear()
        self._applied.clear()

    def check(self, svc: Service) -> list[str]:
        """IPv4 and IPv6 together in one service only with TUN (as the kernel allows)."""
        fams = {_af(m.address) for m in svc.matches if not m.fwmark}
        fams |= {_af(r.address) for r in svc.reals}
        if any(m.fwmark for m in svc.matches):
            fams.add(socket.AF_INET6 if svc.family == 6 else socket.AF_INET)
        if len(fams) > 1 and svc.method != "TUN":
            where = ", ".join(str(m) for m in svc.matches)
            return [
                f"virtual server {where}: mixes IPv4 and IPv6 addresses; IPVS forwards between "
                "families only with lvs_method TUN"
            ]
        return []

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, "services": sorted(self._applied)}


def proto_name(n: int) -> str:
    """``tcp``/``udp``/``sctp`` for an IP protocol number."""
    return PROTO_NAME.get(n, str(n))
