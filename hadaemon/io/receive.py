"""The VRRP receive path: raw sockets + an in-kernel filter + kernel arrival stamps.

DESIGN §3 "Timestamp model". Two implementations share one interface (:class:`ReceivePath`):

``ClassicReceivePath`` (kind ``"classic"``)
    Raw proto-112 sockets with a classic BPF filter (:mod:`hadaemon.io.cbpf`: TTL 255 on
    multicast + version + VRIDs) and ``SO_TIMESTAMPNS`` stamps converted from CLOCK_REALTIME to
    CLOCK_MONOTONIC. Needs nothing but the kernel. ``last_seen`` is kept in user space from the
    packets read, so callers must :meth:`~ReceivePath.read` (drain) before they consult it.

``EbpfReceivePath`` (kind ``"ebpf"``)
    The same sockets (so nothing is lost or read twice when switching), plus
    ``bpf/vrrp_filter.bpf.c`` on each interface (:class:`hadaemon.io.bpf.VrrpFilter`): invalid
    packets are dropped before they reach any socket, and ``last_seen`` comes from the kernel
    map, which is current even when the process has not been scheduled to read its socket.
    Each packet read is matched with its ring-buffer record and stamped with the hook's
    ``bpf_ktime_get_ns()``; a packet without a record (e.g. it arrived before the attach) keeps
    its socket stamp.

``AutoReceivePath`` starts on the classic path at once and switches to eBPF when the program
has compiled and attached (bcc needs 0.3–0.7 s; :meth:`AutoReceivePath.upgrade` runs that in a
thread), so bcc never delays the first adverts. When eBPF is unavailable it stays classic and
says why in :meth:`status`.

All stamps are ``int`` nanoseconds on CLOCK_MONOTONIC, comparable with ``time.monotonic_ns()``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import errno
import logging
import os
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from hadaemon.io import cbpf
from hadaemon.io.received import Received
from hadaemon.io.vlan import HookTarget, hook_mode, resolve_target, rx_vlan_offload_safe

log = logging.getLogger("hadaemon.bpf")

IPPROTO_VRRP = 112
VRRP_GROUP4 = "224.0.0.18"
VRRP_GROUP6 = "ff02::12"
VRRP_TTL = 255

SO_BINDTODEVICE = 25
SO_TIMESTAMPNS = 35
IP_MULTICAST_ALL = 49
IPV6_MULTICAST_ALL = 29
IPV6_RECVPKTINFO = 49
IPV6_PKTINFO = 50
IPV6_RECVHOPLIMIT = 51
IPV6_HOPLIMIT = 52

_ANC_SIZE = socket.CMSG_SPACE(16) + socket.CMSG_SPACE(20) + socket.CMSG_SPACE(4) + 64
_RECV_SIZE = 65535
#: a ring-buffer record matches a socket packet whose socket stamp is within this window
#: (the socket stamp is taken at netif_rx, 2–30 µs *before* the hooks; a softirq deferred to
#: ksoftirqd adds milliseconds). Within one drained batch the window also ends at the next
#: packet's socket stamp, so a packet whose record is missing (it arrived before the attach)
#: never takes the next advert's; without a match the socket stamp is kept.
_MATCH_BEFORE_NS = 1_000_000
_MATCH_AFTER_NS = 100_000_000
#: ring-buffer records older than this are forgotten (their packet never reached a socket)
_EVENT_TTL_NS = 5_000_000_000
_EVENTS_PER_KEY = 256
_EVENT_KEYS_MAX = 4096

#: nice value of the thread that compiles the eBPF program (see AutoReceivePath.upgrade)
UPGRADE_NICE = 10

SeenTuple = tuple[int, int, str]
"""(stamp_ns, priority, src) of the latest valid advert for one (ifindex, family, vrid)."""


@dataclass(frozen=True, slots=True)
class Binding:
    """One interface and family to receive VRRP on, and the VRIDs configured there.

    ``sock``: an already open raw VRRP socket to read from (e.g. the sending socket of
    :mod:`hadaemon.io.vrrp_socket`, so that no second socket queues copies nobody reads).
    The path then sets its filter and options on it but never closes it. None: the path opens
    its own receive-only socket.
    """

    ifname: str
    family: int
    vrids: frozenset[int]
    sock: socket.socket | None = None


class ReceivePath(Protocol):
    """What the VRRP driver uses, whichever path is active."""

    @property
    def kind(self) -> str:
        """``"ebpf"`` or ``"classic"``."""
        ...

    def filenos(self) -> list[int]:
        """Socket descriptors to watch for readability (``loop.add_reader``)."""
        ...

    def read(self, fd: int | None = None) -> list[Received]:
        """Drain ``fd`` (or every socket) without blocking; valid packets in arrival order."""
        ...

    def last_seen(self, ifindex: int, family: int, vrid: int) -> SeenTuple | None:
        """Latest valid advert for (interface, family, VRID) the kernel saw, or None."""
        ...

    def counters(self) -> dict[str, int]:
        """Drop/pass counters (kernel ones prefixed ``kernel_`` on the eBPF path)."""
        ...

    def drop_counters(self) -> dict[str, int]:
        """Drops by reason (``ttl``, ``vrid``, ...), kernel and user space added up: the
        ``hadaemon_bpf_drops_total{reason}`` metric (``services.vrrp.bpf_drops``)."""
        ...

    def update_vrids(self, ifname: str, family: int, vrids: Iterable[int]) -> None:
        """Change the VRIDs configured on (interface, family) (reload)."""
        ...

    def remove(self, fd: int) -> None:
        """Stop receiving on socket ``fd`` (its interface is gone or was re-created)."""
        ...

    def status(self) -> dict[str, Any]:
        """JSON-able summary for the status socket: kind, interfaces, counters, last-seen ages."""
        ...

    def close(self) -> None:
        """Detach filters, close the sockets it opened. Idempotent."""
        ...


class ReceivePathError(Exception):
    """A receive socket could not be opened or configured (the message says which and why)."""


@dataclass
class _Sock:
    binding: Binding
    sock: socket.socket
    ifindex: int
    owned: bool

    @property
    def family(self) -> int:
        return self.binding.family

    @property
    def ifname(self) -> str:
        return self.binding.ifname


def _open_socket(ifname: str, family: int, ifindex: int) -> socket.socket:
    s = socket.socket(family, socket.SOCK_RAW, IPPROTO_VRRP)
    try:
        s.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, ifname.encode())
        if family == socket.AF_INET:
            s.setsockopt(socket.IPPROTO_IP, IP_MULTICAST_ALL, 0)
            mreqn = struct.pack("4s4si", socket.inet_aton(VRRP_GROUP4), b"\0" * 4, ifindex)
            s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreqn)
        else:
            s.setsockopt(socket.IPPROTO_IPV6, IPV6_MULTICAST_ALL, 0)
            mreq = socket.inet_pton(socket.AF_INET6, VRRP_GROUP6) + struct.pack("@I", ifindex)
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, mreq)
    except OSError:
        s.close()
        raise
    return s


def _prepare_socket(s: socket.socket, family: int, vrids: Iterable[int]) -> None:
    # the filter first; what was queued before it is re-checked in user space (TTL, VRID)
    cbpf.attach(s, family, vrids)
    s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    if family == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1)
        s.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVPKTINFO, 1)
    s.setblocking(False)


def realtime_offset_ns() -> int:
    """CLOCK_REALTIME − CLOCK_MONOTONIC now, bracketed by two monotonic reads."""
    m0 = time.monotonic_ns()
    r = time.time_ns()
    m1 = time.monotonic_ns()
    return r - (m0 + m1) // 2


class ClassicReceivePath:
    """Raw sockets + classic BPF + ``SO_TIMESTAMPNS`` (see the module docstring)."""

    def __init__(self, bindings: Iterable[Binding] = ()) -> None:
        self._socks: dict[int, _Sock] = {}
        self._seen: dict[tuple[int, int, int], SeenTuple] = {}
        self._counts: collections.Counter[str] = collections.Counter()
        self._closed = False
        self.open(bindings)

    @property
    def kind(self) -> str:
        """``"classic"``."""
        return "classic"

    # -- sockets -------------------------------------------------------------------------------
    def open(self, bindings: Iterable[Binding]) -> None:
        """Start receiving on more (interface, family) bindings."""
        for b in bindings:
            self._add(b)

    def _add(self, b: Binding) -> _Sock:
        if b.family not in (socket.AF_INET, socket.AF_INET6):
            raise ReceivePathError(f"{b.ifname}: unsupported address family {b.family}")
        for v in b.vrids:
            if not 1 <= v <= 255:
                raise ReceivePathError(f"{b.ifname}: VRID {v} out of range 1..255")
        try:
            ifindex = socket.if_nametoindex(b.ifname)
        except OSError:
            raise ReceivePathError(f"interface {b.ifname!r} not found") from None
        fam = "IPv4" if b.family == socket.AF_INET else "IPv6"
        try:
            s = b.sock if b.sock is not None else _open_socket(b.ifname, b.family, ifindex)
        except OSError as exc:
            raise ReceivePathError(f"{b.ifname} ({fam}): cannot open raw socket: {exc}") from None
        try:
            _prepare_socket(s, b.family, b.vrids)
        except OSError as exc:
            if b.sock is None:
                s.close()
            raise ReceivePathError(
                f"{b.ifname} ({fam}): cannot set socket filter: {exc}"
            ) from None
        entry = _Sock(b, s, ifindex, owned=b.sock is None)
        self._socks[s.fileno()] = entry
        return entry

    def filenos(self) -> list[int]:
        """Socket descriptors to watch for readability."""
        return list(self._socks)

    def bindings(self) -> list[tuple[str, int, int, frozenset[int]]]:
        """(ifname, ifindex, family, vrids) for each socket."""
        return [(e.ifname, e.ifindex, e.family, e.binding.vrids) for e in self._socks.values()]

    def update_vrids(self, ifname: str, family: int, vrids: Iterable[int]) -> None:
        """Replace the VRID set of (interface, family); the filter is swapped atomically."""
        ids = frozenset(vrids)
        for e in self._socks.values():
            if e.ifname == ifname and e.family == family:
                cbpf.attach(e.sock, family, ids)
                e.binding = Binding(ifname, family, ids, e.binding.sock)
                return
        raise ReceivePathError(f"no receive socket on {ifname} for family {family}")

    def remove(self, fd: int) -> None:
        """Stop receiving on socket ``fd``: closed if this path opened it, else its filter is
        taken off (the owner closes it). Its user-space last-seen entries go with it."""
        e = self._socks.pop(fd, None)
        if e is None:
            return
        if e.owned:
            e.sock.close()
        else:
            with contextlib.suppress(OSError):
                cbpf.detach(e.sock)
        if not any(x.ifindex == e.ifindex and x.family == e.family for x in self._socks.values()):
            for k in [k for k in self._seen if k[0] == e.ifindex and k[1] == e.family]:
                del self._seen[k]

    # -- reading -------------------------------------------------------------------------------
    def read(self, fd: int | None = None) -> list[Received]:
        """Drain one socket (or all) without blocking; returns valid packets, stamped."""
        out: list[Received] = []
        entries = (
            [self._socks[fd]] if fd is not None and fd in self._socks else self._socks.values()
        )
        for e in list(entries):
            self._drain(e, out)
        return out

    def _drain(self, e: _Sock, out: list[Received]) -> None:
        offset: int | None = None
        batch: list[Received] = []
        while True:
            try:
                data, anc, _flags, addr = e.sock.recvmsg(_RECV_SIZE, _ANC_SIZE)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.ENETDOWN):
                    log.warning("receive on %s failed: %s", e.ifname, exc)
                    self._counts["recv_error"] += 1
                break
            if offset is None:
                offset = realtime_offset_ns()
            r = self._parse(e, data, anc, addr, offset)
            if r is not None:
                batch.append(r)
        if batch:
            self._accept_batch(e, batch, out)

    def _accept_batch(self, e: _Sock, batch: list[Received], out: list[Received]) -> None:
        out.extend(self._accept(e, r) for r in batch)

    def _parse(
        self, e: _Sock, data: bytes, anc: list[tuple[int, int, bytes]], addr: Any, offset: int
    ) -> Received | None:
        stamp_ns = 0
        hlim = -1
        dst6 = ""
        for level, ctype, cdata in anc:
            if level == socket.SOL_SOCKET and ctype == SO_TIMESTAMPNS and len(cdata) >= 16:
                sec, nsec = struct.unpack("=qq", cdata[:16])
                stamp_ns = sec * 1_000_000_000 + nsec - offset
            elif level == socket.IPPROTO_IPV6 and ctype == IPV6_HOPLIMIT and len(cdata) >= 4:
                hlim = struct.unpack("=i", cdata[:4])[0]
            elif level == socket.IPPROTO_IPV6 and ctype == IPV6_PKTINFO and len(cdata) >= 16:
                dst6 = socket.inet_ntop(socket.AF_INET6, cdata[:16])
        if stamp_ns == 0:
            stamp_ns = time.monotonic_ns()
            self._counts["stamp_missing"] += 1
        if e.family == socket.AF_INET:
            if len(data) < 20:
                self._counts["user_drop_truncated"] += 1
                return None
            ihl = (data[0] & 0x0F) * 4
            if ihl < 20 or len(data) < ihl + 8:
                self._counts["user_drop_truncated"] += 1
                return None
            ttl = data[8]
            src = socket.inet_ntop(socket.AF_INET, data[12:16])
            dst = socket.inet_ntop(socket.AF_INET, data[16:20])
            payload = data[ihl:]
            multicast = data[16] & 0xF0 == 0xE0
        else:
            if len(data) < 8:
                self._counts["user_drop_truncated"] += 1
                return None
            src = str(addr[0]).split("%", 1)[0]
            dst = dst6
            ttl = hlim
            payload = data
            multicast = dst.startswith("ff")
        if multicast and ttl != VRRP_TTL:
            self._counts["user_drop_ttl"] += 1
            return None
        if payload[1] not in e.binding.vrids:
            # queued before the filter was (re)attached
            self._counts["user_drop_vrid"] += 1
            return None
        return Received(payload, src, dst, ttl, e.ifindex, e.ifname, stamp_ns, e.family)

    def _accept(self, e: _Sock, r: Received) -> Received:
        self._counts["rx"] += 1
        key = (r.ifindex, r.family, r.data[1])
        old = self._seen.get(key)
        if old is None or r.stamp_ns >= old[0]:
            self._seen[key] = (r.stamp_ns, r.data[2], r.src)
        return r

    # -- state ---------------------------------------------------------------------------------
    def last_seen(self, ifindex: int, family: int, vrid: int) -> SeenTuple | None:
        """Latest valid advert read for (interface, family, VRID); drain with read() first."""
        return self._seen.get((ifindex, family, vrid))

    def counters(self) -> dict[str, int]:
        """User-space counters (a classic filter's kernel drops are not countable)."""
        return dict(self._counts)

    def drop_counters(self) -> dict[str, int]:
        """Drops by reason: ``kernel_drop_X`` and ``user_drop_X`` both count as ``X``."""
        out: dict[str, int] = {}
        for k, v in self.counters().items():
            for prefix in ("kernel_drop_", "user_drop_"):
                if k.startswith(prefix):
                    reason = k.removeprefix(prefix)
                    out[reason] = out.get(reason, 0) + v
        return out

    def status(self) -> dict[str, Any]:
        """JSON-able summary: kind, interfaces, counters, last-seen ages in seconds."""
        now = time.monotonic_ns()
        return {
            "kind": self.kind,
            "interfaces": [
                {
                    "ifname": n,
                    "ifindex": i,
                    "family": 4 if f == socket.AF_INET else 6,
                    "vrids": sorted(v),
                }
                for n, i, f, v in self.bindings()
            ],
            "counters": self.counters(),
            "last_seen": [
                {
                    "ifindex": k[0],
                    "family": 4 if k[1] == socket.AF_INET else 6,
                    "vrid": k[2],
                    "age_s": round((now - s[0]) / 1e9, 6),
                    "priority": s[1],
                    "src": s[2],
                }
                for k in sorted(self._last_seen_keys())
                if (s := self.last_seen(*k)) is not None
            ],
        }

    def _last_seen_keys(self) -> set[tuple[int, int, int]]:
        return set(self._seen)

    def close(self) -> None:
        """Close the sockets this path opened; adopted sockets lose the filter only."""
        if self._closed:
            return
        self._closed = True
        for e in self._socks.values():
            if e.owned:
                e.sock.close()
            else:
                cbpf.detach(e.sock)
        self._socks.clear()

    # -- hand-over ----------------------------------------------------------------------------
    def _hand_over(
        self,
    ) -> tuple[dict[int, _Sock], dict[tuple[int, int, int], SeenTuple], collections.Counter[str]]:
        """Give sockets and state to a successor; this object is then closed (sockets open)."""
        state = (self._socks, self._seen, self._counts)
        self._socks, self._seen, self._counts = {}, {}, collections.Counter()
        self._closed = True
        return state


@dataclass
class _PendingEvents:
    by_key: dict[tuple[int, int, int, str], collections.deque[int]] = field(default_factory=dict)

    def add(self, key: tuple[int, int, int, str], ktime_ns: int) -> None:
        dq = self.by_key.get(key)
        if dq is None:
            if len(self.by_key) >= _EVENT_KEYS_MAX:
                # many sources (spoofed?) whose packets are not read: forget; unmatched
                # packets then keep their socket stamp, which is only microseconds earlier
                self.by_key.clear()
            dq = self.by_key[key] = collections.deque(maxlen=_EVENTS_PER_KEY)
        dq.append(ktime_ns)

    def match(
        self, key: tuple[int, int, int, str], sock_stamp_ns: int, before_ns: int | None = None
    ) -> int | None:
        """The record of the packet with socket stamp ``sock_stamp_ns``, if present.

        ``before_ns``: socket stamp of the next packet with the same key, when known (the
        record must be older, or it is that packet's).
        """
        dq = self.by_key.get(key)
        if not dq:
            return None
        lo = sock_stamp_ns - _MATCH_BEFORE_NS
        hi = sock_stamp_ns + _MATCH_AFTER_NS
        if before_ns is not None:
            hi = min(hi, before_ns - 1)
        while dq and dq[0] < lo:
            dq.popleft()  # stale: its packet was read before the switch, or never delivered
        if dq and dq[0] <= hi:
            return dq.popleft()
        return None

    def prune(self, now_ns: int) -> None:
        for key in list(self.by_key):
            dq = self.by_key[key]
            while dq and dq[0] < now_ns - _EVENT_TTL_NS:
                dq.popleft()
            if not dq:
                del self.by_key[key]


Resolver = Callable[[str, int], HookTarget]
"""(ifname, ifindex) -> where the filter sits for it (:func:`hadaemon.io.vlan.resolve_target`)."""
OffloadProbe = Callable[[str], "bool | None"]
"""ifname -> whether it strips VLAN tags in hardware (:func:`hadaemon.io.vlan.rx_vlan_offload`)."""


def hook_plan(
    ifnames: Iterable[str],
    attach_mode: str = "auto",
    *,
    resolve: Resolver = resolve_target,
    offload: OffloadProbe = rx_vlan_offload_safe,
) -> dict[str, str]:
    """{hook device: attach mode} for receiving on ``ifnames``: an instance on a VLAN device
    is filtered on the lowest device of its stack (:mod:`hadaemon.io.vlan`), with tc there
    unless it is a physical NIC that leaves tags in the frame (:func:`hook_mode`). Interfaces
    that no longer exist are left out."""
    vlans: dict[str, bool] = {}
    kinds: dict[str, str] = {}
    for name in ifnames:
        try:
            ifindex = socket.if_nametoindex(name)
        except OSError:
            continue
        t = resolve(name, ifindex)
        vlans[t.ifname] = vlans.get(t.ifname, False) or t.vlan != 0
        kinds[t.ifname] = t.kind
    return {dev: _mode(attach_mode, v, kinds[dev], offload, dev) for dev, v in vlans.items()}


def _mode(attach_mode: str, vlans: bool, kind: str, offload: OffloadProbe, dev: str) -> str:
    # the NIC's offload only matters (and is only asked) for a physical NIC with VLANs
    probe = vlans and not kind and attach_mode == "auto"
    return hook_mode(attach_mode, vlans, offload(dev) if probe else False, kind)


class EbpfReceivePath(ClassicReceivePath):
    """The classic sockets plus the in-kernel eBPF filter, kernel stamps and kernel last_seen.

    Each socket's interface maps to a :class:`~hadaemon.io.vlan.HookTarget`: the device the
    program is attached to and the (ifindex, VLAN) key its adverts get in the maps. For an
    untagged interface that is the interface itself with VLAN 0; for ``eth0.100`` it is
    ``eth0`` with VLAN 100. Ring-buffer records and ``last_seen`` are translated back to the
    socket's ifindex, so callers only ever see the interface the instance is configured on.
    """

    def __init__(
        self,
        bindings: Iterable[Binding] = (),
        *,
        vrrp_filter: Any = None,
        attach_mode: str = "auto",
        resolve: Resolver | None = None,
        offload: OffloadProbe | None = None,
    ) -> None:
        from hadaemon.io.bpf import VrrpFilter

        self._filter = vrrp_filter if vrrp_filter is not None else VrrpFilter()
        self._attach_mode = attach_mode
        self._resolve: Resolver = resolve or resolve_target
        self._offload: OffloadProbe = offload or rx_vlan_offload_safe
        # devices the filter was already attached to (e.g. in AutoReceivePath's thread):
        # hook ifindex -> (ifname, "xdp"|"tc")
        self._hooks: dict[int, tuple[str, str]] = dict(self._filter.attached())
        self._targets: dict[int, HookTarget] = {}
        """socket ifindex -> where its adverts are filtered and under which key"""
        self._by_key: dict[tuple[int, int], int] = {}
        """(hook ifindex, vlan) -> socket ifindex (the reverse of ``_targets``)"""
        self._pending = _PendingEvents()
        self._filter.open_events(self._on_event)
        super().__init__(())
        try:
            self.open(bindings)
        except Exception:
            self.close()
            raise

    @classmethod
    def adopt(
        cls, classic: ClassicReceivePath, vrrp_filter: Any, attach_mode: str = "auto"
    ) -> EbpfReceivePath:
        """Take over ``classic``'s open sockets and state (no packet lost or read twice)."""
        path = cls((), vrrp_filter=vrrp_filter, attach_mode=attach_mode)
        socks, seen, counts = classic._hand_over()
        path._socks, path._seen, path._counts = socks, seen, counts
        for e in socks.values():
            path._attach(e)
        return path

    @property
    def kind(self) -> str:
        """``"ebpf"``."""
        return "ebpf"

    @property
    def vrrp_filter(self) -> Any:
        """The :class:`hadaemon.io.bpf.VrrpFilter` in use."""
        return self._filter

    def hooks(self) -> dict[str, str]:
        """{ifname: "xdp"|"tc"} of the devices the program is attached to."""
        return {name: hook for name, hook in self._hooks.values()}

    def targets(self) -> dict[int, HookTarget]:
        """{socket ifindex: HookTarget}."""
        return dict(self._targets)

    def _add(self, b: Binding) -> _Sock:
        e = super()._add(b)
        try:
            self._attach(e)
        except Exception:
            del self._socks[e.sock.fileno()]
            if e.owned:
                e.sock.close()
            raise
        return e

    def _target(self, e: _Sock) -> HookTarget:
        t = self._targets.get(e.ifindex)
        if t is None:
            t = self._resolve(e.ifname, e.ifindex)
        return t

    def _mode_for(self, t: HookTarget) -> str:
        vlans = t.vlan != 0 or any(
            x.vlan for x in self._targets.values() if x.ifindex == t.ifindex
        )
        return _mode(self._attach_mode, vlans, t.kind, self._offload, t.ifname)

    def _attach(self, e: _Sock) -> None:
        from hadaemon.io.bpf import BpfUnavailable

        t = self._target(e)
        mode = self._mode_for(t)
        have = self._hooks.get(t.ifindex)
        try:
            if have is None:
                self._hooks[t.ifindex] = (t.ifname, self._filter.attach(t.ifname, mode))
            elif have[1] == "xdp" and mode == "tc":
                # a VLAN instance joined an XDP-hooked device where tags may arrive outside
                # the frame (hook_mode): move the device to tc, and set its bitmaps again
                log.info("eBPF VRRP filter on %s moves to tc for VLAN %d", t.ifname, t.vlan)
                self._filter.detach_index(t.ifindex)
                del self._hooks[t.ifindex]
                self._hooks[t.ifindex] = (t.ifname, self._filter.attach(t.ifname, mode))
                for x in self._socks.values():
                    xt = self._targets.get(x.ifindex)
                    if xt is not None and xt.ifindex == t.ifindex and x is not e:
                        self._filter.set_vrids(xt.ifindex, x.family, x.binding.vrids, vlan=xt.vlan)
        except BpfUnavailable as exc:
            raise ReceivePathError(str(exc)) from None
        self._targets[e.ifindex] = t
        self._by_key[t.key] = e.ifindex
        self._filter.set_vrids(t.ifindex, e.family, e.binding.vrids, vlan=t.vlan)
        if t.vlan:
            log.info(
                "eBPF VRRP filter for %s (%s): on %s, VLAN %d",
                e.ifname,
                "IPv4" if e.family == socket.AF_INET else "IPv6",
                t.ifname,
                t.vlan,
            )

    def update_vrids(self, ifname: str, family: int, vrids: Iterable[int]) -> None:
        """Replace the VRID set: kernel bitmap and socket filter."""
        ids = frozenset(vrids)
        super().update_vrids(ifname, family, ids)
        for e in self._socks.values():
            if e.ifname == ifname and e.family == family:
                t = self._target(e)
                self._filter.set_vrids(t.ifindex, family, ids, vlan=t.vlan)

    def remove(self, fd: int) -> None:
        """Stop receiving on ``fd``; its bitmap goes, and the program leaves the hook device
        when no other socket needs it (a device that is gone took the program with it)."""
        e = self._socks.get(fd)
        super().remove(fd)
        if e is None:
            return
        t = self._targets.get(e.ifindex)
        if t is None:
            return
        with contextlib.suppress(Exception):
            self._filter.clear_vrids(t.ifindex, e.family, vlan=t.vlan)
        if any(x.ifindex == e.ifindex for x in self._socks.values()):
            return  # the other family still receives there
        del self._targets[e.ifindex]
        self._by_key.pop(t.key, None)
        if not any(x.ifindex == t.ifindex for x in self._targets.values()):
            self._hooks.pop(t.ifindex, None)
            self._filter.detach_index(t.ifindex)

    def _on_event(self, ev: Any) -> None:
        ifindex = self._by_key.get((ev.ifindex, ev.vlan))
        if ifindex is None:
            if ev.vlan:
                return  # a VLAN no socket of ours receives: no packet will claim it
            ifindex = ev.ifindex
        self._pending.add((ifindex, ev.family, ev.vrid, ev.src), ev.ktime_ns)

    def read(self, fd: int | None = None) -> list[Received]:
        """Drain sockets; each packet carries its eBPF stamp when its record is found."""
        out = super().read(fd)
        if out:
            self._pending.prune(time.monotonic_ns())
        return out

    def _accept_batch(self, e: _Sock, batch: list[Received], out: list[Received]) -> None:
        # The hook writes its record before the stack queues the packet on the socket, so
        # after draining the socket every packet of the batch has its record in the ring.
        self._filter.consume_events()
        nxt: dict[tuple[int, int, int, str], int] = {}
        limits: list[int | None] = []
        for r in reversed(batch):  # a packet's record is older than the next packet's stamp
            key = (r.ifindex, r.family, r.data[1], r.src)
            limits.append(nxt.get(key))
            nxt[key] = r.stamp_ns
        limits.reverse()
        for r, limit in zip(batch, limits, strict=True):
            out.append(self._accept_stamped(e, r, limit))

    def _accept_stamped(self, e: _Sock, r: Received, before_ns: int | None) -> Received:
        k = self._pending.match((r.ifindex, r.family, r.data[1], r.src), r.stamp_ns, before_ns)
        if k is not None:
            r = Received(r.data, r.src, r.dst, r.ttl, r.ifindex, r.ifname, k, r.family)
            self._counts["stamp_ebpf"] += 1
        else:
            self._counts["stamp_socket"] += 1
        return super()._accept(e, r)

    def last_seen(self, ifindex: int, family: int, vrid: int) -> SeenTuple | None:
        """The kernel map's entry (under the interface's hook key), or the latest packet read
        if that is newer. ``ifindex`` is the socket's interface (e.g. ``eth0.100``'s)."""
        user = self._seen.get((ifindex, family, vrid))
        t = self._targets.get(ifindex)
        hook_ifindex, vlan = t.key if t is not None else (ifindex, 0)
        k = self._filter.last_seen(hook_ifindex, family, vrid, vlan=vlan)
        if k is None:
            return user
        kern = (k.ktime_ns, k.priority, k.src)
        return user if user is not None and user[0] > kern[0] else kern

    def _last_seen_keys(self) -> set[tuple[int, int, int]]:
        keys = set(self._seen)
        for k in self._filter.last_seen_all():
            ifindex = self._by_key.get((k[0], k[1]))
            if ifindex is None and k[1] == 0:
                ifindex = k[0]
            if ifindex is not None:
                keys.add((ifindex, k[2], k[3]))
        return keys

    def counters(self) -> dict[str, int]:
        """Kernel per-reason counters (``kernel_*``) and the user-space ones."""
        out = {f"kernel_{k}": v for k, v in self._filter.counters().items()}
        out.update(self._counts)
        return out

    def status(self) -> dict[str, Any]:
        """As the classic path, plus the hook used on each interface."""
        st = super().status()
        st["hooks"] = self.hooks()
        st["vlan_hooks"] = {
            e.ifname: {"hook": t.ifname, "hook_ifindex": t.ifindex, "vlan": t.vlan}
            for e in self._socks.values()
            if (t := self._targets.get(e.ifindex)) is not None and t.vlan
        }
        return st

    def close(self) -> None:
        """Detach the eBPF program everywhere, then close sockets as the classic path does."""
        try:
            self._filter.close()
        finally:
            super().close()


class AutoReceivePath:
    """Starts classic, switches to eBPF once loaded; one object for the driver to hold.

    ``use_bpf=False`` (``--no-bpf``, ``vrrp_bpf off``) never tries eBPF.
    """

    def __init__(
        self,
        bindings: Iterable[Binding] = (),
        *,
        use_bpf: bool = True,
        attach_mode: str = "auto",
        enforce: bool = True,
    ) -> None:
        self._impl: ClassicReceivePath = ClassicReceivePath(bindings)
        self.use_bpf = use_bpf
        self.attach_mode = attach_mode
        self.enforce = enforce
        self.ebpf_error: str | None = None if use_bpf else "disabled by configuration"
        log.info("VRRP receive path: classic BPF%s", "" if use_bpf else " (eBPF disabled)")

    @property
    def kind(self) -> str:
        """``"ebpf"`` or ``"classic"``, whichever is active now."""
        return self._impl.kind

    @property
    def impl(self) -> ClassicReceivePath:
        """The active implementation."""
        return self._impl

    def load_filter(self, ifnames: Iterable[str] = ()) -> Any:
        """Compile and load the eBPF program and attach it to ``ifnames``.

        Slow (compile 0.3–0.7 s, tc attach via netlink) and meant for a worker thread: it
        touches none of this object's state. Attaching before the VRID bitmaps exist is
        harmless: without a bitmap an interface's adverts pass unfiltered.
        """
        from hadaemon.io.bpf import BpfUnavailable, VrrpFilter, release_compiler_memory

        f = VrrpFilter(enforce=self.enforce)
        release_compiler_memory()
        try:
            for dev, mode in hook_plan(ifnames, self.attach_mode).items():
                f.attach(dev, mode)
        except BpfUnavailable:
            f.close()
            raise
        return f

    def _load_filter_demoted(self, ifnames: Iterable[str]) -> Any:
        """:meth:`load_filter` at background priority (in the worker thread only).

        The compile keeps a CPU busy for 0.3–0.7 s (much longer on a loaded host). It must not
        compete with the VRRP thread, which may be SCHED_FIFO (hadaemon sets it with
        SCHED_RESET_ON_FORK, but a policy set from outside, e.g. ``chrt``, is inherited): this
        thread goes to SCHED_OTHER at nice ``UPGRADE_NICE`` (Linux schedules threads
        individually).
        """
        tid = threading.get_native_id()
        try:
            os.sched_setscheduler(tid, os.SCHED_OTHER, os.sched_param(0))
            os.setpriority(os.PRIO_PROCESS, tid, UPGRADE_NICE)
        except OSError as exc:  # pragma: no cover - not permitted: compile at normal priority
            log.debug("cannot lower the eBPF compile thread's priority: %s", exc)
        return self.load_filter(ifnames)

    def _ifnames(self) -> list[str]:
        return sorted({b[0] for b in self._impl.bindings()})

    def switch_to(self, vrrp_filter: Any) -> bool:
        """Attach ``vrrp_filter`` and make the eBPF path active; False (classic kept) on error."""
        classic = self._impl
        if classic.kind == "ebpf":
            vrrp_filter.close()
            return True
        try:
            probe = EbpfReceivePath((), vrrp_filter=vrrp_filter, attach_mode=self.attach_mode)
            for e in classic._socks.values():
                probe._attach(e)
        except Exception as exc:
            self.ebpf_error = str(exc)
            log.warning("eBPF receive path unavailable, staying on classic BPF: %s", exc)
            vrrp_filter.close()
            return False
        socks, seen, counts = classic._hand_over()
        probe._socks, probe._seen, probe._counts = socks, seen, counts
        self._impl = probe
        self.ebpf_error = None
        log.info(
            "VRRP receive path: eBPF (%s)",
            ", ".join(f"{k} {v}" for k, v in probe.hooks().items()) or "no interface",
        )
        return True

    def upgrade_sync(self) -> bool:
        """Load and switch in the calling thread (tools, tests)."""
        if not self.use_bpf:
            return False
        try:
            f = self.load_filter(self._ifnames())
        except Exception as exc:
            self.ebpf_error = str(exc)
            log.warning("eBPF receive path unavailable, staying on classic BPF: %s", exc)
            return False
        return self.switch_to(f)

    async def upgrade(self) -> bool:
        """Compile in a thread while the classic path keeps receiving, then switch."""
        if not self.use_bpf:
            return False
        try:
            f = await asyncio.to_thread(self._load_filter_demoted, self._ifnames())
        except Exception as exc:
            self.ebpf_error = str(exc)
            log.warning("eBPF receive path unavailable, staying on classic BPF: %s", exc)
            return False
        return self.switch_to(f)

    # -- ReceivePath ------------------------------------------------------------------------
    def open(self, bindings: Iterable[Binding]) -> None:
        """Start receiving on more bindings."""
        self._impl.open(bindings)

    def filenos(self) -> list[int]:
        """Socket descriptors (unchanged by the switch)."""
        return self._impl.filenos()

    def read(self, fd: int | None = None) -> list[Received]:
        """Drain sockets (see :meth:`ClassicReceivePath.read`)."""
        return self._impl.read(fd)

    def last_seen(self, ifindex: int, family: int, vrid: int) -> SeenTuple | None:
        """Latest valid advert for (interface, family, VRID)."""
        return self._impl.last_seen(ifindex, family, vrid)

    def counters(self) -> dict[str, int]:
        """Counters of the active path."""
        return self._impl.counters()

    def drop_counters(self) -> dict[str, int]:
        """Drops by reason of the active path (see :meth:`ClassicReceivePath.drop_counters`)."""
        return self._impl.drop_counters()

    def update_vrids(self, ifname: str, family: int, vrids: Iterable[int]) -> None:
        """Change the VRIDs of (interface, family)."""
        self._impl.update_vrids(ifname, family, vrids)

    def remove(self, fd: int) -> None:
        """Stop receiving on socket ``fd`` (see :meth:`ClassicReceivePath.remove`)."""
        self._impl.remove(fd)

    def status(self) -> dict[str, Any]:
        """Status of the active path, plus why eBPF is not in use."""
        st = self._impl.status()
        if self.ebpf_error:
            st["ebpf_error"] = self.ebpf_error
        return st

    def close(self) -> None:
        """Close the active path."""
        self._impl.close()
