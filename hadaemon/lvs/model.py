"""Desired load-balancer state: what the data path must do, independent of the backend.

A :class:`Service` is one keepalived ``virtual_server`` (or ``virtual_server_group``) after the
checker's verdicts have been applied: only real servers that may receive traffic are listed, an
inhibited server (``inhibit_on_failure``) stays with weight 0 (no new connections, existing ones
drain through conntrack), and a lost quorum replaces the list by the ``sorry_server``.

Everything here is a frozen, hashable dataclass so that desired states can be compared and diffed
(:mod:`hadaemon.lvs.reconcile`) and fingerprinted (:meth:`Service.fingerprint`).
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import operator
import re
from dataclasses import dataclass, field, fields
from typing import Any

import msgpack

#: scheduler names the nft data path implements natively
NATIVE_SCHEDULERS = ("rr", "wrr", "sh", "mh", "random")
#: keepalived/IPVS schedulers that the nft data path approximates (name -> native, reason)
APPROXIMATED_SCHEDULERS = {
    "lc": ("random", "least-connection approximated by weighted random (equal weights)"),
    "wlc": ("random", "weighted least-connection approximated by weighted random"),
    "sed": ("random", "shortest expected delay approximated by weighted random"),
    "nq": ("random", "never-queue approximated by weighted random"),
    "twos": ("random", "weighted random twos-choice approximated by weighted random"),
    "dh": ("sh", "destination hashing approximated by source hashing"),
    "lblc": ("sh", "locality-based least-connection approximated by source hashing"),
    "lblcr": ("sh", "locality-based least-connection with replication approximated by sh"),
    "fo": ("fo", "weighted failover: all new connections to the highest-weight server"),
    "ovf": ("fo", "overflow-connection approximated by weighted failover"),
}
#: forwarding methods (keepalived ``lvs_method`` / ``lb_kind``)
METHODS = ("NAT", "DR", "TUN")
PROTOCOLS = ("tcp", "udp", "sctp")


@dataclass(frozen=True, order=True)
class Match:
    """One way traffic enters a service: VIP + protocol + port, or a firewall mark.

    ``fwmark`` non-zero means "packets carrying this mark"; then address/protocol/port are unused.
    """

    address: str = ""
    protocol: str = "tcp"
    port: int = 0
    fwmark: int = 0

    def __str__(self) -> str:
        if self.fwmark:
            return f"fwmark {self.fwmark}"
        addr = f"[{self.address}]" if ":" in self.address else self.address
        return f"{addr}:{self.protocol}:{self.port}"


@dataclass(frozen=True, order=True)
class Real:
    """A real server as the data path sees it.

    ``port`` 0 keeps the destination port of the packet (fwmark services); ``weight`` 0 means
    "no new connections" (inhibited or drained); ``device`` is the egress interface towards the
    server for DR (resolved by the service layer from the routing table).
    """

    address: str
    port: int = 0
    weight: int = 1
    device: str = ""

    @property
    def key(self) -> tuple[str, int]:
        """Identity of the real server inside its service (keepalived's ``IP PORT``)."""
        return (self.address, self.port)

    def __str__(self) -> str:
        addr = f"[{self.address}]" if ":" in self.address else self.address
        return f"{addr}:{self.port}"


@dataclass(frozen=True)
class Service:
    """One virtual service in the data path.

    ``name`` is stable across reloads (derived from the config key) and names the backend objects.
    ``scheduler`` is a native one (see :data:`NATIVE_SCHEDULERS` plus ``fo``); ``hash_port`` adds
    the source port to sh/mh hashing (keepalived ``sh-port``/``mh-port``).
    ``persistence_timeout_s`` 0 disables persistence; ``persistence_granularity`` is a netmask.
    ``ingress_devices`` are the interfaces where DR traffic for the VIP arrives.
    """

    name: str
    matches: tuple[Match, ...]
    method: str = "NAT"
    scheduler: str = "wrr"
    reals: tuple[Real, ...] = ()
    hash_port: bool = False
    persistence_timeout_s: int = 0
    persistence_granularity: str = "255.255.255.255"
    ingress_devices: tuple[str, ...] = ()
    family: int = 4
    #: True when the reals are the sorry server (quorum lost)
    sorry: bool = False
    seed: int = field(default=0x5EED)
    #: keepalived's scheduler name, passed unchanged to IPVS ("" = same as ``scheduler``)
    ipvs_scheduler: str = ""

    @functools.cached_property
    def _fingerprint(self) -> str:
        # every field (found by dataclasses.fields) as plain values packed by msgpack's C code:
        # about half the cost of the generated recursive dataclass __repr__. The digest must be
        # stable across processes (a respawned worker adopts the rules by it), so no hash().
        packed = msgpack.packb(_canonical(self))
        return hashlib.blake2b(packed, digest_size=6).hexdigest()

    def fingerprint(self) -> str:
        """A short stable digest of everything that shapes the generated rules (cached)."""
        return self._fingerprint

    @property
    def active_reals(self) -> tuple[Real, ...]:
        """Real servers that may receive new connections (weight > 0)."""
        return tuple(r for r in self.reals if r.weight > 0)


_match_values = operator.attrgetter(*(f.name for f in fields(Match)))
_real_values = operator.attrgetter(*(f.name for f in fields(Real)))
_service_values = operator.attrgetter(*(f.name for f in fields(Service)))


def _canonical(svc: Service) -> tuple[Any, ...]:
    """Every field of ``svc`` as nested tuples of str/int/bool (the fingerprint's input)."""
    out: list[Any] = []
    for v in _service_values(svc):
        if isinstance(v, tuple) and v and isinstance(v[0], Match):
            v = tuple(map(_match_values, v))
        elif isinstance(v, tuple) and v and isinstance(v[0], Real):
            v = tuple(map(_real_values, v))
        out.append(v)
    return tuple(out)


def make_name(m: Match) -> str:
    """A backend-safe stable name for a service from its first match."""
    if m.fwmark:
        raw = f"fwm{m.fwmark}"
    else:
        raw = f"{m.address}_{m.protocol}_{m.port}"
    return re.sub(r"[^A-Za-z0-9]+", "_", raw)


def real_tag(r: Real) -> str:
    """A backend-safe stable name for a real server inside its service."""
    return re.sub(r"[^A-Za-z0-9]+", "_", f"{r.address}_{r.port}")


def validate_service(svc: Service) -> list[str]:
    """Problems that make ``svc`` impossible to render (empty list when fine)."""
    problems: list[str] = []
    if not svc.matches:
        problems.append(f"{svc.name}: no address, range or fwmark")
    if svc.method not in METHODS:
        problems.append(f"{svc.name}: unknown lvs_method {svc.method!r}")
    if svc.scheduler not in (*NATIVE_SCHEDULERS, "fo"):
        problems.append(f"{svc.name}: scheduler {svc.scheduler!r} is not a data-path scheduler")
    for m in svc.matches:
        if m.fwmark:
            if not 0 < m.fwmark < 2**32:
                problems.append(f"{svc.name}: fwmark {m.fwmark} out of range")
            continue
        if m.protocol not in PROTOCOLS:
            problems.append(f"{svc.name}: unknown protocol {m.protocol!r}")
        if not 0 <= m.port <= 65535:
            problems.append(f"{svc.name}: port {m.port} out of range")
        try:
            ipaddress.ip_address(m.address)
        except ValueError:
            problems.append(f"{svc.name}: bad virtual server address {m.address!r}")
    for r in svc.reals:
        try:
            ipaddress.ip_address(r.address)
        except ValueError:
            problems.append(f"{svc.name}: bad real server address {r.address!r}")
        if not 0 <= r.port <= 65535:
            problems.append(f"{svc.name}: real server port {r.port} out of range")
        if r.weight < 0:
            problems.append(f"{svc.name}: negative weight for {r}")
    if svc.family == 6:
        if v6_granularity_mask(svc.persistence_granularity) is None:
            problems.append(
                f"{svc.name}: bad persistence_granularity {svc.persistence_granularity!r} "
                "(IPv6: a prefix length 1-128 or an IPv6 netmask)"
            )
    else:
        try:
            ipaddress.ip_network(f"0.0.0.0/{svc.persistence_granularity}")
        except ValueError:
            problems.append(
                f"{svc.name}: bad persistence_granularity {svc.persistence_granularity!r}"
            )
    return problems


def v6_granularity_mask(granularity: str) -> str | None:
    """The IPv6 netmask for an IPv6 service's ``persistence_granularity`` (None if invalid).

    keepalived's default ``255.255.255.255`` (one client address) means ``/128``; otherwise a
    prefix length (``64`` or ``/64``) or an IPv6 netmask (``ffff:ffff:ffff:ffff::``).
    """
    g = granularity.strip().lstrip("/")
    if g in ("", "255.255.255.255"):
        g = "128"
    try:
        if ":" in g:  # a netmask: its bits must be contiguous ones
            bits = int(ipaddress.IPv6Address(g))
            plen = bin(bits).count("1")
            if bits != ((1 << 128) - 1) ^ ((1 << (128 - plen)) - 1):
                return None
            g = str(plen)
        return str(ipaddress.IPv6Network(f"::/{g}").netmask)
    except ValueError:
        return None


def service_to_dict(svc: Service) -> dict[str, Any]:
    """A JSON/msgpack-able form of ``svc`` (for IPC and test drivers)."""
    return {
        "name": svc.name,
        "matches": [[m.address, m.protocol, m.port, m.fwmark] for m in svc.matches],
        "method": svc.method,
        "scheduler": svc.scheduler,
        "reals": [[r.address, r.port, r.weight, r.device] for r in svc.reals],
        "hash_port": svc.hash_port,
        "persistence_timeout_s": svc.persistence_timeout_s,
        "persistence_granularity": svc.persistence_granularity,
        "ingress_devices": list(svc.ingress_devices),
        "family": svc.family,
        "sorry": svc.sorry,
        "seed": svc.seed,
        "ipvs_scheduler": svc.ipvs_scheduler,
    }


def service_from_dict(d: dict[str, Any]) -> Service:
    """Inverse of :func:`service_to_dict` (missing keys take the defaults)."""
    matches = tuple(Match(str(a), str(p), int(port), int(fw)) for a, p, port, fw in d["matches"])
    reals = tuple(Real(str(a), int(p), int(w), str(dev)) for a, p, w, dev in d.get("reals", []))
    kw: dict[str, Any] = {
        k: d[k]
        for k in (
            "method",
            "scheduler",
            "hash_port",
            "persistence_timeout_s",
            "persistence_granularity",
            "family",
            "sorry",
            "seed",
            "ipvs_scheduler",
        )
        if k in d
    }
    if "ingress_devices" in d:
        kw["ingress_devices"] = tuple(d["ingress_devices"])
    name = str(d.get("name") or make_name(matches[0]))
    return Service(name=name, matches=matches, reals=reals, **kw)
