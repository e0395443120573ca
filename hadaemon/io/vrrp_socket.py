"""Raw IPPROTO 112 (VRRP) sockets, one per interface and address family.

Receive side (RFC 3768 §7.1, RFC 5798 §7.1 need the TTL / Hop Limit of every advert):

- IPv4: ``SOCK_RAW``/112 hands us the IP header, so TTL, source and destination come from the
  header itself (``IP_RECVTTL`` is set as well, for symmetry and for tools that read the cmsg).
- IPv6: the kernel strips the header; the hop limit arrives as an ``IPV6_HOPLIMIT`` cmsg
  (``IPV6_RECVHOPLIMIT``) and the destination as ``IPV6_PKTINFO`` (``IPV6_RECVPKTINFO``).
  ``IPV6_CHECKSUM`` at offset 6 makes the kernel fill and verify the pseudo-header checksum
  (keepalived ``vrrp_if.c`` does the same).
- ``SO_TIMESTAMPNS`` gives the kernel arrival time (CLOCK_REALTIME); it is converted to
  CLOCK_MONOTONIC nanoseconds with an offset measured at read time, so the router is fed the
  time the advert *arrived*, not the time user space got round to reading it (DESIGN §3).

Send side: ``IP_MULTICAST_TTL``/``IPV6_MULTICAST_HOPS`` 255 (multicast) and ``IP_TTL``/
``IPV6_UNICAST_HOPS`` = ``unicast_ttl`` (unicast), ``IP_MULTICAST_LOOP``=0, ``IP_MULTICAST_ALL``=0
(else a raw socket receives every group joined on the host), ``SO_BINDTODEVICE``, a group join on
the interface, and ``IP_MULTICAST_IF`` / a bind to ``mcast_src_ip``/``unicast_src_ip``.

Python 3.11's ``socket`` lacks several of the Linux constants; they are defined here
(keepalived-features.md §4.7).
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import socket
import struct
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from hadaemon.io.received import Received

__all__ = ["Received", "VrrpSocket", "VrrpSocketError", "open_sockets"]

log = logging.getLogger("hadaemon.vrrp.sock")

IPPROTO_VRRP = 112
VRRP_GROUP4 = "224.0.0.18"
VRRP_GROUP6 = "ff02::12"

# Linux constants missing from Python 3.11's socket module (include/uapi/linux/in.h, in6.h,
# asm-generic/socket.h).
IP_PKTINFO = 8
IP_RECVTTL = 12
IP_MULTICAST_ALL = 49
IPV6_MULTICAST_ALL = 29
SO_TIMESTAMPNS = 35
SCM_TIMESTAMPNS = SO_TIMESTAMPNS
IPV6_RECVHOPLIMIT = 51
IPV6_HOPLIMIT = 52
IPV6_RECVPKTINFO = 49
IPV6_PKTINFO = 50
IPV6_CHECKSUM = 7
SO_BINDTODEVICE = 25

_CMSG_SPACE = socket.CMSG_SPACE(16) + socket.CMSG_SPACE(4) + socket.CMSG_SPACE(20) + 64
_RECV_SIZE = 65535


class VrrpSocketError(Exception):
    """A VRRP socket could not be opened or configured (clear message, no traceback needed)."""


def realtime_to_monotonic_ns(realtime_ns: int) -> int:
    """Convert a CLOCK_REALTIME stamp to CLOCK_MONOTONIC using an offset measured now.

    The offset is bracketed by two monotonic reads and the tighter estimate is used; the error
    is the duration of one ``clock_gettime`` call (tens of ns).
    """
    m0 = time.monotonic_ns()
    r = time.time_ns()
    m1 = time.monotonic_ns()
    offset = r - (m0 + m1) // 2
    return realtime_ns - offset


@dataclass
class VrrpSocket:
    """A raw VRRP socket bound to one interface for one family.

    Several virtual routers on the same interface and family share one socket; the driver
    demultiplexes by VRID.
    """

    ifname: str
    family: int = socket.AF_INET
    src: str | None = None
    """Source address for adverts (``mcast_src_ip``/``unicast_src_ip``); None = kernel's pick."""
    multicast_group: str | None = None
    """Group to join; None = the VRRP group of the family; "" = join none (unicast only)."""
    unicast_ttl: int = 255
    ifindex: int = 0
    sock: socket.socket = field(init=False, repr=False)
    _dest_cache: dict[
        tuple[str, str | None, int | None],
        tuple[tuple[str, int] | tuple[str, int, int, int], list[tuple[int, int, bytes]]],
    ] = field(init=False, repr=False, default_factory=dict)

    def __post_init__(self) -> None:
        try:
            self.ifindex = socket.if_nametoindex(self.ifname)
        except OSError as exc:
            raise VrrpSocketError(f"interface {self.ifname!r} not found: {exc}") from None
        if self.multicast_group is None:
            self.multicast_group = VRRP_GROUP4 if self.family == socket.AF_INET else VRRP_GROUP6
        try:
            self.sock = socket.socket(self.family, socket.SOCK_RAW, IPPROTO_VRRP)
        except OSError as exc:
            raise VrrpSocketError(f"cannot open raw VRRP socket: {exc}") from None
        try:
            self._configure()
        except OSError as exc:
            self.sock.close()
            raise VrrpSocketError(
                f"cannot configure VRRP socket on {self.ifname} "
                f"({'IPv4' if self.family == socket.AF_INET else 'IPv6'}): {exc}"
            ) from None

    # -- setup -------------------------------------------------------------------------------
    def _configure(self) -> None:
        s = self.sock
        s.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, self.ifname.encode())
        s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        s.setblocking(False)
        if self.family == socket.AF_INET:
            s.setsockopt(socket.IPPROTO_IP, IP_MULTICAST_ALL, 0)
            s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
            s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255)
            s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, self.unicast_ttl)
            s.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, 0xC0)  # CS6, as keepalived
            s.setsockopt(socket.IPPROTO_IP, IP_RECVTTL, 1)
            # struct ip_mreqn { in_addr multiaddr; in_addr address; int ifindex }
            src = socket.inet_aton(self.src) if self.src else b"\0\0\0\0"
            s.setsockopt(
                socket.IPPROTO_IP,
                socket.IP_MULTICAST_IF,
                struct.pack("4s4si", b"\0\0\0\0", src, self.ifindex),
            )
            # No bind(): a bound raw socket only receives packets addressed to that address
            # (raw_v4_match), which would lose the group. The source goes in per packet.
            if self.multicast_group:
                mreqn = struct.pack(
                    "4s4si", socket.inet_aton(self.multicast_group), b"\0\0\0\0", self.ifindex
                )
                s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreqn)
        else:
            s.setsockopt(socket.IPPROTO_IPV6, IPV6_CHECKSUM, 6)
            s.setsockopt(socket.IPPROTO_IPV6, IPV6_MULTICAST_ALL, 0)
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 0)
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, self.unicast_ttl)
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, self.ifindex)
            s.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1)
            s.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVPKTINFO, 1)
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_TCLASS, 0xC0)
            if self.multicast_group:
                mreq = socket.inet_pton(socket.AF_INET6, self.multicast_group) + struct.pack(
                    "@I", self.ifindex
                )
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, mreq)

    def fileno(self) -> int:
        """The socket's file descriptor (for ``loop.add_reader``)."""
        return self.sock.fileno()

    def close(self) -> None:
        """Close the socket (the kernel drops the group membership)."""
        self.sock.close()

    # -- send --------------------------------------------------------------------------------
    def send(
        self,
        data: bytes,
        dst: str | None = None,
        *,
        src: str | None = None,
        ttl: int | None = None,
    ) -> bool:
        """Send one VRRP message (payload after the IP header) to ``dst`` (default: the group).

        ``src`` (default: the socket's ``src``, else the kernel's choice) is set per packet
        with an ``IP_PKTINFO``/``IPV6_PKTINFO`` cmsg, ``ttl`` with ``IP_TTL``/``IPV6_HOPLIMIT``
        (multicast always leaves with 255). Returns False (and logs) instead of raising on
        transient errors such as ENOBUFS or a link that is down.
        """
        if dst is None:
            dst = self.multicast_group or (
                VRRP_GROUP4 if self.family == socket.AF_INET else VRRP_GROUP6
            )
        src = src or self.src
        key = (dst, src, ttl)
        dest = self._dest_cache.get(key)
        if dest is None:
            if len(self._dest_cache) >= 1024:  # unicast peers come and go with reloads
                self._dest_cache.clear()
            dest = self._dest_cache[key] = self._destination(dst, src, ttl)
        addr, cmsgs = dest
        try:
            self.sock.sendmsg([data], cmsgs, 0, addr)
        except OSError as exc:
            log.warning("%s: cannot send VRRP advert to %s: %s", self.ifname, dst, exc)
            return False
        return True

    def _destination(
        self, dst: str, src: str | None, ttl: int | None
    ) -> tuple[tuple[str, int] | tuple[str, int, int, int], list[tuple[int, int, bytes]]]:
        """``sendmsg`` address and control messages for (dst, src, ttl); cached by :meth:`send`
        (parsing the addresses and packing the cmsgs was a third of the cost of an advert)."""
        cmsgs: list[tuple[int, int, bytes]] = []
        addr: tuple[str, int] | tuple[str, int, int, int]
        if self.family == socket.AF_INET:
            addr = (dst, 0)
            if src:
                # struct in_pktinfo { int ifindex; in_addr spec_dst; in_addr addr }
                cmsgs.append(
                    (
                        socket.IPPROTO_IP,
                        IP_PKTINFO,
                        struct.pack("@i4s4s", self.ifindex, socket.inet_aton(src), b"\0\0\0\0"),
                    )
                )
            if ttl is not None and not ipaddress.IPv4Address(dst).is_multicast:
                cmsgs.append((socket.IPPROTO_IP, socket.IP_TTL, struct.pack("@i", ttl)))
        else:
            ip6 = ipaddress.IPv6Address(dst)
            scope = self.ifindex if (ip6.is_link_local or ip6.is_multicast) else 0
            addr = (dst, 0, 0, scope)
            if src:
                # struct in6_pktinfo { in6_addr addr; int ifindex }
                cmsgs.append(
                    (
                        socket.IPPROTO_IPV6,
                        IPV6_PKTINFO,
                        socket.inet_pton(socket.AF_INET6, src) + struct.pack("@i", self.ifindex),
                    )
                )
            if ttl is not None and not ip6.is_multicast:
                cmsgs.append((socket.IPPROTO_IPV6, IPV6_HOPLIMIT, struct.pack("@i", ttl)))
        return addr, cmsgs

    # -- receive -----------------------------------------------------------------------------
    def recv(self) -> Received | None:
        """Read one packet without blocking; None when the socket is drained.

        IPv4 packets whose IP header is unreadable are skipped (returned as None only when the
        queue is empty; a garbage packet is logged at debug and the next one read).
        """
        while True:
            try:
                data, ancdata, _flags, addr = self.sock.recvmsg(_RECV_SIZE, _CMSG_SPACE)
            except (BlockingIOError, InterruptedError):
                return None
            except OSError as exc:
                if exc.errno in (errno.EAGAIN, errno.ENETDOWN):
                    return None
                log.warning("%s: VRRP receive error: %s", self.ifname, exc)
                return None
            stamp_ns = 0
            hops = -1
            dst = ""
            for level, ctype, cdata in ancdata:
                if level == socket.SOL_SOCKET and ctype == SCM_TIMESTAMPNS and len(cdata) >= 16:
                    sec, nsec = struct.unpack("@qq", cdata[:16])
                    stamp_ns = realtime_to_monotonic_ns(sec * 1_000_000_000 + nsec)
                elif level == socket.IPPROTO_IPV6 and ctype == IPV6_HOPLIMIT and len(cdata) >= 4:
                    (hops,) = struct.unpack("@i", cdata[:4])
                elif level == socket.IPPROTO_IPV6 and ctype == IPV6_PKTINFO and len(cdata) >= 16:
                    dst = socket.inet_ntop(socket.AF_INET6, cdata[:16])
            if not stamp_ns:
                stamp_ns = time.monotonic_ns()
            if self.family == socket.AF_INET:
                if len(data) < 20 or data[0] >> 4 != 4:
                    log.debug("%s: dropping packet with a bad IPv4 header", self.ifname)
                    continue
                ihl = (data[0] & 0x0F) * 4
                if ihl < 20 or len(data) < ihl:
                    log.debug("%s: dropping packet with a bad IPv4 header length", self.ifname)
                    continue
                total = struct.unpack("!H", data[2:4])[0]
                payload_end = min(len(data), total) if total >= ihl else len(data)
                return Received(
                    data=bytes(data[ihl:payload_end]),
                    src=socket.inet_ntoa(data[12:16]),
                    dst=socket.inet_ntoa(data[16:20]),
                    ttl=data[8],
                    ifindex=self.ifindex,
                    ifname=self.ifname,
                    stamp_ns=stamp_ns,
                    family=socket.AF_INET,
                )
            src = str(addr[0]).split("%", 1)[0]
            return Received(
                data=bytes(data),
                src=src,
                dst=dst,
                ttl=hops,
                ifindex=self.ifindex,
                ifname=self.ifname,
                stamp_ns=stamp_ns,
                family=socket.AF_INET6,
            )

    def drain(self) -> list[Received]:
        """Read everything queued on the socket."""
        out: list[Received] = []
        while (r := self.recv()) is not None:
            out.append(r)
        return out


def open_sockets(
    specs: Iterable[tuple[str, int, str | None]],
) -> dict[tuple[str, int], VrrpSocket]:
    """Open one socket per distinct (ifname, family) in ``specs`` of (ifname, family, src)."""
    out: dict[tuple[str, int], VrrpSocket] = {}
    for ifname, family, src in specs:
        if (ifname, family) not in out:
            out[(ifname, family)] = VrrpSocket(ifname, family, src=src)
    return out
