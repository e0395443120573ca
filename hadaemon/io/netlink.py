"""Addresses, routes, rules and link events through rtnetlink (pyroute2's asyncio API).

The VRRP worker calls this when a router becomes MASTER (add VIPs, ``virtual_routes``,
``virtual_rules``) or leaves MASTER (remove them), and for ``track_interface`` link state. The
text forms are keepalived's (``ip addr``/``ip route``/``ip rule`` syntax, keepalived.conf(5)):

- VIP: ``<IP>[/<len>] [brd <IP>] [dev <IF>] [scope <SCOPE>] [label <LABEL>] [peer <IP>[/len]]
  [home] [-nodad] [noprefixroute] [autojoin] [no_track] [preferred_lft <N>]``; IPv4 default
  prefix /32, IPv6 /128 (keepalived's defaults).
- route: ``[src <IP>] [to] <DST>|default [via|gw <GW>] [dev <IF>] [scope S] [table T]
  [metric|preference N] [proto P] [onlink] [no_track]``, or ``blackhole|unreachable|prohibit
  <DST>``.
- rule: ``[from <P>] [to <P>] [table T] [priority|preference|prio N] [iif IF] [oif IF]
  [fwmark N[/M]] [no_track]``.

All operations are idempotent: adding what exists or removing what is gone is not an error
(a restarted worker re-asserts its state). Parse errors raise :class:`NetlinkSpecError` with
the offending word.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import logging
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pyroute2 import AsyncIPRoute
from pyroute2.netlink.exceptions import NetlinkError
from pyroute2.netlink.rtnl import RTMGRP_LINK

__all__ = [
    "Netlink",
    "NetlinkSpecError",
    "RouteSpec",
    "RuleSpec",
    "VipSpec",
    "LinkEvent",
    "NoAcceptFilter",
    "route_from_model",
    "rule_from_model",
    "vip_from_model",
]

log = logging.getLogger("hadaemon.netlink")

SCOPES = {"global": 0, "universe": 0, "site": 200, "link": 253, "host": 254, "nowhere": 255}
IFA_F_NODAD = 0x02
IFA_F_HOMEADDRESS = 0x10
IFA_F_NOPREFIXROUTE = 0x200
IFA_F_MCAUTOJOIN = 0x400
RT_TABLES = {"main": 254, "local": 255, "default": 253}
RT_TYPES = {"blackhole": 6, "unreachable": 7, "prohibit": 8}
RT_PROTOS = {"kernel": 2, "boot": 3, "static": 4}


class NetlinkSpecError(ValueError):
    """A VIP/route/rule text that cannot be understood."""


def _ip(word: str, what: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        return ipaddress.ip_address(word)
    except ValueError:
        raise NetlinkSpecError(f"invalid {what} {word!r}") from None


def _int(word: str, what: str) -> int:
    try:
        return int(word, 0)
    except ValueError:
        raise NetlinkSpecError(f"invalid {what} {word!r}") from None


def _table(word: str) -> int:
    return RT_TABLES[word] if word in RT_TABLES else _int(word, "table")


def _take(words: list[str], i: int, kw: str) -> str:
    if i + 1 >= len(words):
        raise NetlinkSpecError(f"{kw!r} needs a value")
    return words[i + 1]


@dataclass(frozen=True)
class VipSpec:
    """One virtual address with its ``ip addr`` options."""

    address: str
    prefixlen: int
    dev: str
    family: int
    broadcast: str | None = None
    scope: int | None = None
    label: str | None = None
    peer: str | None = None
    flags: int = 0
    no_track: bool = False
    preferred_lft: int | None = None

    @classmethod
    def parse(cls, text: str, default_dev: str) -> VipSpec:
        """Parse keepalived's VIP syntax; ``default_dev`` is the instance's interface."""
        words = text.split()
        if not words:
            raise NetlinkSpecError("empty virtual address")
        addr, _, plen = words[0].partition("/")
        ip = _ip(addr, "address")
        family = socket.AF_INET if ip.version == 4 else socket.AF_INET6
        maxlen = 32 if ip.version == 4 else 128
        prefixlen = _int(plen, "prefix length") if plen else maxlen
        if not 0 <= prefixlen <= maxlen:
            raise NetlinkSpecError(f"invalid prefix length /{prefixlen} for {addr}")
        kw: dict[str, Any] = {}
        flags = 0
        i = 1
        while i < len(words):
            w = words[i]
            if w in ("brd", "broadcast"):
                v = _take(words, i, w)
                kw["broadcast"] = v if v in ("+", "-") else str(_ip(v, "broadcast"))
                i += 2
            elif w == "dev":
                kw["dev"] = _take(words, i, w)
                i += 2
            elif w == "scope":
                v = _take(words, i, w)
                kw["scope"] = SCOPES[v] if v in SCOPES else _int(v, "scope")
                i += 2
            elif w == "label":
                kw["label"] = _take(words, i, w)
                i += 2
            elif w == "peer":
                kw["peer"] = _take(words, i, w)
                i += 2
            elif w == "preferred_lft":
                v = _take(words, i, w)
                kw["preferred_lft"] = 0xFFFFFFFF if v == "forever" else _int(v, "preferred_lft")
                i += 2
            elif w == "home":
                flags |= IFA_F_HOMEADDRESS
                i += 1
            elif w == "-nodad":
                flags |= IFA_F_NODAD
                i += 1
            elif w == "noprefixroute":
                flags |= IFA_F_NOPREFIXROUTE
                i += 1
            elif w == "autojoin":
                flags |= IFA_F_MCAUTOJOIN
                i += 1
            elif w == "no_track":
                kw["no_track"] = True
                i += 1
            else:
                raise NetlinkSpecError(f"unknown virtual address option {w!r} in {text!r}")
        dev = kw.pop("dev", default_dev)
        return cls(address=str(ip), prefixlen=prefixlen, dev=dev, family=family, flags=flags, **kw)

    def __str__(self) -> str:
        return f"{self.address}/{self.prefixlen} dev {self.dev}"


@dataclass(frozen=True)
class RouteSpec:
    """One ``virtual_routes`` entry."""

    dst: str
    family: int
    gateway: str | None = None
    dev: str | None = None
    src: str | None = None
    scope: int | None = None
    table: int = 254
    metric: int | None = None
    type: int = 1
    proto: int | None = None
    onlink: bool = False
    no_track: bool = False

    @classmethod
    def parse(cls, text: str) -> RouteSpec:
        """Parse keepalived's route syntax (a subset of ``ip route``)."""
        words = text.split()
        kw: dict[str, Any] = {}
        dst: str | None = None
        rtype = 1
        i = 0
        while i < len(words):
            w = words[i]
            if w in RT_TYPES and dst is None:
                rtype = RT_TYPES[w]
                i += 1
            elif w == "src":
                kw["src"] = str(_ip(_take(words, i, w), "source"))
                i += 2
            elif w == "to":
                dst = _take(words, i, w)
                i += 2
            elif w in ("via", "gw"):
                kw["gateway"] = str(_ip(_take(words, i, w), "gateway"))
                i += 2
            elif w == "dev" or w == "oif":
                kw["dev"] = _take(words, i, w)
                i += 2
            elif w == "scope":
                v = _take(words, i, w)
                kw["scope"] = SCOPES[v] if v in SCOPES else _int(v, "scope")
                i += 2
            elif w == "table":
                kw["table"] = _table(_take(words, i, w))
                i += 2
            elif w in ("metric", "preference", "priority"):
                kw["metric"] = _int(_take(words, i, w), "metric")
                i += 2
            elif w in ("proto", "protocol"):
                v = _take(words, i, w)
                kw["proto"] = RT_PROTOS[v] if v in RT_PROTOS else _int(v, "protocol")
                i += 2
            elif w == "onlink":
                kw["onlink"] = True
                i += 1
            elif w == "no_track":
                kw["no_track"] = True
                i += 1
            elif dst is None:
                dst = w
                i += 1
            else:
                raise NetlinkSpecError(f"unknown route option {w!r} in {text!r}")
        if dst is None:
            raise NetlinkSpecError(f"route without destination: {text!r}")
        if dst == "default":
            family = socket.AF_INET6 if ":" in (kw.get("gateway") or "") else socket.AF_INET
            dst = "0.0.0.0/0" if family == socket.AF_INET else "::/0"
        try:
            net = ipaddress.ip_network(dst, strict=False)
        except ValueError:
            raise NetlinkSpecError(f"invalid route destination {dst!r}") from None
        family = socket.AF_INET if net.version == 4 else socket.AF_INET6
        return cls(dst=str(net), family=family, type=rtype, **kw)

    def __str__(self) -> str:
        via = f" via {self.gateway}" if self.gateway else ""
        dev = f" dev {self.dev}" if self.dev else ""
        return f"{self.dst}{via}{dev} table {self.table}"


@dataclass(frozen=True)
class RuleSpec:
    """One ``virtual_rules`` entry."""

    family: int
    src: str | None = None
    dst: str | None = None
    table: int = 254
    priority: int | None = None
    iifname: str | None = None
    oifname: str | None = None
    fwmark: int | None = None
    fwmask: int | None = None
    no_track: bool = False

    @classmethod
    def parse(cls, text: str) -> RuleSpec:
        """Parse keepalived's rule syntax (a subset of ``ip rule``)."""
        words = text.split()
        kw: dict[str, Any] = {}
        family: int | None = None
        i = 0
        while i < len(words):
            w = words[i]
            if w in ("from", "to"):
                v = _take(words, i, w)
                if v != "all":
                    try:
                        net = ipaddress.ip_network(v, strict=False)
                    except ValueError:
                        raise NetlinkSpecError(f"invalid rule prefix {v!r}") from None
                    family = socket.AF_INET if net.version == 4 else socket.AF_INET6
                    kw["src" if w == "from" else "dst"] = str(net)
                i += 2
            elif w in ("table", "lookup"):
                kw["table"] = _table(_take(words, i, w))
                i += 2
            elif w in ("priority", "preference", "prio", "pref"):
                kw["priority"] = _int(_take(words, i, w), "priority")
                i += 2
            elif w in ("iif", "dev"):
                kw["iifname"] = _take(words, i, w)
                i += 2
            elif w == "oif":
                kw["oifname"] = _take(words, i, w)
                i += 2
            elif w == "fwmark":
                mark, _, mask = _take(words, i, w).partition("/")
                kw["fwmark"] = _int(mark, "fwmark")
                if mask:
                    kw["fwmask"] = _int(mask, "fwmark mask")
                i += 2
            elif w == "no_track":
                kw["no_track"] = True
                i += 1
            elif w in ("inet", "-4"):
                family = socket.AF_INET
                i += 1
            elif w in ("inet6", "-6"):
                family = socket.AF_INET6
                i += 1
            else:
                raise NetlinkSpecError(f"unknown rule option {w!r} in {text!r}")
        return cls(family=family or socket.AF_INET, **kw)

    def __str__(self) -> str:
        return f"from {self.src or 'all'} to {self.dst or 'all'} table {self.table}"


@dataclass(frozen=True)
class LinkEvent:
    """A link changed state: ``up`` is IFF_UP and carrier (operstate UP/UNKNOWN)."""

    ifname: str
    ifindex: int
    up: bool


async def _request(
    method: Callable[..., Awaitable[Any]], command: str, kw: dict[str, Any], *benign: int
) -> bool:
    """``await method(command, **kw)``: True if it was done, False if the kernel answered one
    of the ``benign`` errnos (already there / already gone); other errors are raised."""
    try:
        await method(command, **kw)
    except NetlinkError as exc:
        if exc.code in benign:
            return False
        raise
    return True


class Netlink:
    """An rtnetlink connection for the VRRP worker (one per process; the calls are async)."""

    def __init__(self) -> None:
        self._ipr: AsyncIPRoute | None = None
        self._ifindex: dict[str, int] = {}
        self._lock = asyncio.Lock()

    async def _conn(self) -> AsyncIPRoute:
        if self._ipr is None:
            self._ipr = AsyncIPRoute()
        return self._ipr

    async def close(self) -> None:
        """Close the netlink socket."""
        if self._ipr is not None:
            self._ipr.close()
            self._ipr = None

    async def ifindex(self, ifname: str) -> int:
        """Index of ``ifname`` (raises NetlinkSpecError if it does not exist)."""
        try:
            return socket.if_nametoindex(ifname)
        except OSError:
            raise NetlinkSpecError(f"interface {ifname!r} not found") from None

    # -- addresses ------------------------------------------------------------------------------
    async def add_vip(self, vip: VipSpec) -> bool:
        """Add a virtual address; True if it was added, False if it was already there."""
        ipr = await self._conn()
        kw: dict[str, Any] = {
            "index": await self.ifindex(vip.dev),
            "address": vip.address,
            "prefixlen": vip.prefixlen,
            "family": vip.family,
        }
        if vip.family == socket.AF_INET:
            brd = vip.broadcast
            if brd == "+":
                net = ipaddress.ip_network(f"{vip.address}/{vip.prefixlen}", strict=False)
                brd = str(net.broadcast_address)
            if brd and brd != "-":
                kw["broadcast"] = brd
            if vip.label:
                kw["label"] = vip.label
        if vip.scope is not None:
            kw["scope"] = vip.scope
        if vip.peer:
            kw["local"] = vip.address
            kw["address"] = vip.peer.split("/")[0]
        flags = vip.flags
        if vip.family == socket.AF_INET6:
            flags |= IFA_F_NODAD  # a VIP must be usable at once; DAD would block the takeover
        if flags:
            kw["flags"] = flags
        if vip.preferred_lft is not None:
            kw["IFA_CACHEINFO"] = {
                "ifa_preferred": vip.preferred_lft,
                "ifa_valid": 0xFFFFFFFF,
            }
        return await _request(ipr.addr, "add", kw, errno.EEXIST)

    async def del_vip(self, vip: VipSpec) -> bool:
        """Remove a virtual address; True if it was removed, False if it was not there."""
        ipr = await self._conn()
        try:
            index = await self.ifindex(vip.dev)
        except NetlinkSpecError:
            return False  # the interface is gone, and the address with it
        kw = {
            "index": index,
            "address": vip.address,
            "prefixlen": vip.prefixlen,
            "family": vip.family,
        }
        return await _request(ipr.addr, "del", kw, errno.EADDRNOTAVAIL, errno.ENODEV, errno.ENOENT)

    async def addresses(self, ifname: str, family: int) -> list[str]:
        """Addresses on ``ifname`` of ``family`` in kernel order (primary first)."""
        ipr = await self._conn()
        index = await self.ifindex(ifname)
        out = []
        async for msg in await ipr.addr("dump", index=index, family=family):
            a = msg.get("address")
            if a:
                out.append(a)
        return out

    async def primary_address(self, ifname: str, family: int) -> str | None:
        """The interface's primary IPv4 address, or its IPv6 link-local (RFC 5798 §5.1.2.1)."""
        addrs = await self.addresses(ifname, family)
        if family == socket.AF_INET6:
            addrs = [a for a in addrs if ipaddress.IPv6Address(a).is_link_local]
        return addrs[0] if addrs else None

    # -- routes and rules -----------------------------------------------------------------------
    async def _route_kw(self, r: RouteSpec) -> dict[str, Any]:
        kw: dict[str, Any] = {"dst": r.dst, "family": r.family, "table": r.table, "type": r.type}
        if r.gateway:
            kw["gateway"] = r.gateway
        if r.dev:
            kw["oif"] = await self.ifindex(r.dev)
        if r.src:
            kw["prefsrc"] = r.src
        if r.scope is not None:
            kw["scope"] = r.scope
        if r.metric is not None:
            kw["priority"] = r.metric
        if r.proto is not None:
            kw["proto"] = r.proto
        if r.onlink:
            kw["flags"] = 4  # RTNH_F_ONLINK
        return kw

    async def add_route(self, route: RouteSpec) -> bool:
        """Install a route; False if it already exists."""
        ipr = await self._conn()
        return await _request(ipr.route, "add", await self._route_kw(route), errno.EEXIST)

    async def del_route(self, route: RouteSpec) -> bool:
        """Remove a route; False if it was not there."""
        ipr = await self._conn()
        try:
            kw = await self._route_kw(route)
        except NetlinkSpecError:
            return False  # the interface is gone, and the route with it
        return await _request(ipr.route, "del", kw, errno.ESRCH, errno.ENOENT, errno.ENODEV)

    def _rule_kw(self, r: RuleSpec) -> dict[str, Any]:
        kw: dict[str, Any] = {"family": r.family, "table": r.table, "action": "FR_ACT_TO_TBL"}
        if r.table > 255:
            kw["FRA_TABLE"] = r.table
        for name, value in (("src", r.src), ("dst", r.dst)):
            if value:
                addr, _, plen = value.partition("/")
                kw[name] = addr
                kw[f"{name}_len"] = int(plen)
        if r.priority is not None:
            kw["priority"] = r.priority
        if r.iifname:
            kw["iifname"] = r.iifname
        if r.oifname:
            kw["oifname"] = r.oifname
        if r.fwmark is not None:
            kw["fwmark"] = r.fwmark
        if r.fwmask is not None:
            kw["fwmask"] = r.fwmask
        return kw

    async def add_rule(self, rule: RuleSpec) -> bool:
        """Install a policy rule; False if it already exists."""
        ipr = await self._conn()
        return await _request(ipr.rule, "add", self._rule_kw(rule), errno.EEXIST)

    async def del_rule(self, rule: RuleSpec) -> bool:
        """Remove a policy rule; False if it was not there."""
        ipr = await self._conn()
        return await _request(ipr.rule, "del", self._rule_kw(rule), errno.ENOENT, errno.ESRCH)

    # -- VMAC (use_vmac) -------------------------------------------------------------------------
    async def ensure_macvlan(self, name: str, base: str, mac: str) -> bool:
        """Create (if missing) and bring up macvlan ``name`` on ``base`` with ``mac`` (mode
        private, as keepalived's ``use_vmac``). True if it was created now."""
        ipr = await self._conn()
        kw = {
            "ifname": name,
            "kind": "macvlan",
            "link": await self.ifindex(base),
            "macvlan_mode": "private",
            "address": mac,
        }
        created = await _request(ipr.link, "add", kw, errno.EEXIST)
        await ipr.link("set", index=await self.ifindex(name), state="up")
        return created

    async def del_link(self, name: str) -> bool:
        """Delete interface ``name``; False if it does not exist."""
        ipr = await self._conn()
        try:
            index = await self.ifindex(name)
        except NetlinkSpecError:
            return False
        return await _request(ipr.link, "del", {"index": index}, errno.ENODEV, errno.ENOENT)

    @staticmethod
    def set_sysctl(path: str, value: str | int) -> bool:
        """Write ``/proc/sys/<path>`` (e.g. ``net/ipv4/conf/eth1/arp_ignore``); False on error."""
        try:
            with open(f"/proc/sys/{path}", "w") as fh:
                fh.write(str(value))
        except OSError as exc:
            log.warning("cannot set %s = %s: %s", path.replace("/", "."), value, exc.strerror)
            return False
        return True

    # -- links ----------------------------------------------------------------------------------
    async def link_up(self, ifname: str) -> bool:
        """Whether ``ifname`` is administratively up with carrier (False if it is missing)."""
        try:
            with open(f"/sys/class/net/{ifname}/operstate") as fh:
                oper = fh.read().strip()
            with open(f"/sys/class/net/{ifname}/flags") as fh:
                flags = int(fh.read().strip(), 16)
        except OSError:
            return False
        return bool(flags & 1) and oper in ("up", "unknown")

    async def watch_links(self, callback: Callable[[LinkEvent], Awaitable[None] | None]) -> None:
        """Call ``callback`` for every link state change until cancelled (own netlink socket)."""
        ipr = AsyncIPRoute()
        try:
            await ipr.bind(groups=RTMGRP_LINK)
            while True:  # ipr.get() yields one receive batch; keep reading
                async for msg in ipr.get():
                    name = msg.get("ifname")
                    if not name:
                        continue
                    if msg.get("event") == "RTM_DELLINK":
                        up = False
                    else:
                        up = bool(msg.get("flags", 0) & 1) and msg.get("operstate") in (
                            "UP",
                            "UNKNOWN",
                        )
                    res = callback(LinkEvent(name, msg.get("index", 0), up))
                    if asyncio.iscoroutine(res):
                        await res
        finally:
            ipr.close()


# -- config model adapters (hadaemon.config.model.IpAddress / IpRoute / IpRule) ----------------
def vip_from_model(a: Any, default_dev: str) -> VipSpec:
    """A :class:`VipSpec` from a ``config.model.IpAddress`` (or keepalived text)."""
    if isinstance(a, str):
        return VipSpec.parse(a, default_dev)
    ip = ipaddress.ip_address(a.address)
    scope = a.scope
    flags = (
        (IFA_F_HOMEADDRESS if a.home else 0)
        | (IFA_F_NODAD if a.nodad else 0)
        | (IFA_F_NOPREFIXROUTE if a.noprefixroute else 0)
        | (IFA_F_MCAUTOJOIN if a.autojoin else 0)
    )
    return VipSpec(
        address=str(ip),
        prefixlen=int(a.prefixlen),
        dev=a.dev or default_dev,
        family=socket.AF_INET if ip.version == 4 else socket.AF_INET6,
        broadcast=a.brd,
        scope=(SCOPES[scope] if scope in SCOPES else _int(scope, "scope")) if scope else None,
        label=a.label,
        peer=a.peer,
        flags=flags,
        no_track=bool(a.no_track),
        preferred_lft=a.preferred_lft,
    )


def _set_options(*pairs: tuple[str, Any]) -> list[str]:
    """``KEYWORD VALUE`` words for the pairs whose value is set (not None), in order."""
    return [w for kw, v in pairs if v is not None for w in (kw, str(v))]


def _tail_words(r: Any) -> list[str]:
    """The words every ``virtual_routes``/``virtual_rules`` entry ends with: ``no_track`` and
    the options kept verbatim."""
    return (["no_track"] if r.no_track else []) + list(r.options)


def route_from_model(r: Any) -> RouteSpec:
    """A :class:`RouteSpec` from a ``config.model.IpRoute`` (or keepalived text)."""
    if isinstance(r, str):
        return RouteSpec.parse(r)
    words: list[str] = []
    if r.type and r.type != "unicast":
        words.append(r.type)
    if r.src:
        words += ["src", r.src]
    words.append(r.dst)
    words += _set_options(
        ("via", r.via),
        ("dev", r.dev),
        ("scope", r.scope),
        ("table", r.table),
        ("metric", r.metric),
        ("proto", r.protocol),
    )
    if r.onlink:
        words.append("onlink")
    return RouteSpec.parse(" ".join(words + _tail_words(r)))


def rule_from_model(r: Any) -> RuleSpec:
    """A :class:`RuleSpec` from a ``config.model.IpRule`` (or keepalived text)."""
    if isinstance(r, str):
        return RuleSpec.parse(r)
    words: list[str] = []
    if r.family == 6:
        words.append("inet6")
    words += _set_options(
        ("from", r.from_),
        ("to", r.to),
        ("table", r.table),
        ("priority", r.priority),
        ("fwmark", r.fwmark),
        ("iif", r.iif),
        ("oif", r.oif),
    )
    return RuleSpec.parse(" ".join(words + _tail_words(r)))


class NoAcceptFilter:
    """``no_accept`` (Accept_Mode off, RFC 5798 §6.4.3): a master drops packets sent to the
    VIPs it does not own, as keepalived does with its nftables table.

    One table ``inet hadaemon_vrrp`` with sets of dropped addresses, driven through the
    ``nft`` command (libnftables stays out of the VRRP process, DESIGN §2). Created on first
    use, deleted by :meth:`close`. Errors are logged, never raised.
    """

    TABLE = "hadaemon_vrrp"

    def __init__(self) -> None:
        self._ready = False

    async def _nft(self, script: str, *, quiet: bool = False) -> bool:
        try:
            proc = await asyncio.create_subprocess_exec(
                "nft",
                "-f",
                "-",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as exc:
            log.error("no_accept: cannot run nft: %s", exc.strerror)
            return False
        _out, err = await proc.communicate(script.encode())
        if proc.returncode != 0:
            if not quiet:
                log.error("no_accept: nft failed: %s", err.decode(errors="replace").strip())
            return False
        return True

    async def _ensure(self) -> bool:
        if self._ready:
            return True
        t = self.TABLE
        self._ready = await self._nft(
            f"add table inet {t}\ndelete table inet {t}\n"
            f"table inet {t} {{\n"
            "  set vips4 { type ipv4_addr; }\n"
            "  set vips6 { type ipv6_addr; }\n"
            "  chain input { type filter hook input priority -1; policy accept;\n"
            "    ip daddr @vips4 drop\n    ip6 daddr @vips6 drop\n  }\n}\n"
        )
        return self._ready

    async def _elements(self, verb: str, vips: list[VipSpec]) -> None:
        for fam, name in ((socket.AF_INET, "vips4"), (socket.AF_INET6, "vips6")):
            addrs = sorted({v.address for v in vips if v.family == fam})
            if addrs:
                await self._nft(
                    f"{verb} element inet {self.TABLE} {name} {{ {', '.join(addrs)} }}\n",
                    quiet=verb == "delete",
                )

    async def drop(self, vips: list[VipSpec]) -> None:
        """Start dropping traffic to ``vips``."""
        if vips and await self._ensure():
            await self._elements("add", vips)

    async def accept(self, vips: list[VipSpec]) -> None:
        """Stop dropping traffic to ``vips``."""
        if vips and self._ready:
            for v in vips:  # one by one: a missing element must not keep the others
                await self._elements("delete", [v])

    async def close(self) -> None:
        """Remove the table (if this process created it)."""
        if self._ready:
            await self._nft(f"delete table inet {self.TABLE}\n", quiet=True)
            self._ready = False
