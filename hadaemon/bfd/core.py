"""All BFD sessions of one daemon, sans-IO: demultiplexing, receive checks and timers.

:class:`BfdCore` owns one :class:`~hadaemon.bfd.session.Session` per ``bfd_instance``.
The I/O layer hands it each datagram with the facts only the kernel knows (source and
destination address, TTL, which port) and executes the actions it returns; time is passed in.

Receive path (RFC 5880 §6.8.6, RFC 5881 §5, RFC 5883 §5):

1. :func:`hadaemon.bfd.packet.decode` — the packet-only checks;
2. TTL: a single-hop session takes only TTL/hop limit 255 (GTSM, RFC 5881 §5); a multihop
   one at least ``256 - max_hops`` (keepalived's ``max_hops``);
3. the session: by Your Discriminator when it is non-zero, else by the source address (and
   the destination address when ``source_ip`` is configured).

Each discarded datagram bumps one counter in :attr:`BfdCore.drops` (reasons in
:data:`hadaemon.bfd.packet.DROP_REASONS`).
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Iterable
from dataclasses import dataclass

from hadaemon.bfd.packet import BFD_TTL, MalformedPacket, decode
from hadaemon.bfd.session import Action, Session, SessionParams

US_PER_MS = 1000
"""Microseconds per millisecond (the config's unit)."""


@dataclass(frozen=True)
class Peer:
    """Addressing of one session (what the I/O layer needs to send)."""

    name: str
    """``bfd_instance NAME``."""
    neighbor_ip: str
    """``neighbor_ip``: the remote system."""
    source_ip: str | None = None
    """``source_ip``: the local address to send from (None: the routing table decides)."""
    multihop: bool = False
    """``multihop`` (RFC 5883, port 4784) instead of single hop (RFC 5881, port 3784)."""
    ttl: int = BFD_TTL
    """``ttl`` / ``hoplimit``: TTL / hop limit to send with (255 by default)."""
    max_hops: int = 0
    """``max_hops``: accept a received TTL down to ``255 - max_hops`` (0: exactly 255, the
    RFC 5881 §5 single-hop check)."""

    @property
    def family(self) -> int:
        """4 or 6."""
        return ipaddress.ip_address(self.neighbor_ip).version

    @property
    def min_rx_ttl(self) -> int:
        """The smallest TTL a received packet may carry."""
        return max(1, BFD_TTL - self.max_hops)


def _norm(addr: str) -> str:
    return str(ipaddress.ip_address(addr.split("%", 1)[0]))


def session_setup(inst: object) -> tuple[SessionParams, Peer]:
    """The session parameters and addressing of a config ``BfdInstance``.

    Raises ValueError when the instance cannot run (no ``neighbor_ip``, a ``source_ip`` of
    the other family).
    """
    name = str(getattr(inst, "name", ""))
    neighbor = getattr(inst, "neighbor_ip", None)
    if not neighbor:
        raise ValueError(f"bfd_instance {name}: no neighbor_ip")
    neighbor = _norm(str(neighbor))
    source = getattr(inst, "source_ip", None)
    if source:
        source = _norm(str(source))
        if ipaddress.ip_address(source).version != ipaddress.ip_address(neighbor).version:
            raise ValueError(f"bfd_instance {name}: source_ip and neighbor_ip families differ")
    params = SessionParams(
        name=name,
        desired_min_tx_us=int(getattr(inst, "min_tx_ms", 10)) * US_PER_MS,
        required_min_rx_us=int(getattr(inst, "min_rx_ms", 10)) * US_PER_MS,
        idle_tx_us=int(getattr(inst, "idle_tx_ms", 1000)) * US_PER_MS,
        detect_mult=int(getattr(inst, "multiplier", 5)),
        passive=bool(getattr(inst, "passive", False)),
    )
    peer = Peer(
        name=name,
        neighbor_ip=neighbor,
        source_ip=source or None,
        multihop=bool(getattr(inst, "multihop", False)),
        ttl=int(getattr(inst, "ttl", BFD_TTL)),
        max_hops=int(getattr(inst, "max_hops", None) or 0),
    )
    return params, peer


class BfdCore:
    """The sessions and their demultiplexing (module docstring)."""

    def __init__(self, *, rng: random.Random | None = None) -> None:
        self.rng = rng or random.Random()
        self.sessions: dict[str, Session] = {}
        self.peers: dict[str, Peer] = {}
        self.drops: dict[str, int] = {}
        """Datagrams discarded before reaching a session, by reason."""
        self._by_discr: dict[int, Session] = {}
        self._actions: list[Action] = []

    # -- configuration --------------------------------------------------------------------
    def _new_discr(self) -> int:
        while True:
            d = self.rng.randint(1, 0xFFFFFFFF)
            if d not in self._by_discr:
                return d

    def add(self, params: SessionParams, peer: Peer, now: float) -> Session:
        """Create and start a session."""
        if params.name in self.sessions:
            raise ValueError(f"bfd_instance {params.name} already exists")
        for p in self.peers.values():
            if (p.neighbor_ip, p.source_ip, p.multihop) == (
                peer.neighbor_ip,
                peer.source_ip,
                peer.multihop,
            ):
                raise ValueError(
                    f"bfd_instance {params.name}: neighbor {peer.neighbor_ip} is already "
                    f"used by {p.name}"
                )
        s = Session(params, self._new_discr(), rng=self.rng)
        self.sessions[params.name] = s
        self.peers[params.name] = peer
        self._by_discr[s.local_discr] = s
        s.start(now)
        self._collect(s)
        return s

    def remove(self, name: str, now: float) -> None:
        """Say AdminDown to the peer and forget the session."""
        s = self.sessions.get(name)
        if s is None:
            return
        s.admin_down(now)
        self._collect(s)
        del self.sessions[name]
        self._by_discr.pop(s.local_discr, None)
        # the peer entry stays until the actions are executed (the AdminDown needs it)

    def forget_peer(self, name: str) -> None:
        """Drop the addressing of a removed session (after its last packet was sent)."""
        if name not in self.sessions:
            self.peers.pop(name, None)

    def shutdown(self, now: float) -> None:
        """AdminDown on every session (orderly stop)."""
        for s in self.sessions.values():
            s.admin_down(now)
            self._collect(s)

    # -- receive ----------------------------------------------------------------------------
    def _drop(self, reason: str) -> None:
        self.drops[reason] = self.drops.get(reason, 0) + 1

    def _lookup(self, your_discr: int, src: str, dst: str | None, multihop: bool) -> Session:
        if your_discr:
            s = self._by_discr.get(your_discr)
            if s is not None and self.peers[s.name].multihop == multihop:
                return s
            raise MalformedPacket("no_session", f"no session with discriminator {your_discr}")
        for name, p in self.peers.items():
            if p.neighbor_ip != src or p.multihop != multihop or name not in self.sessions:
                continue
            if p.source_ip is not None and dst is not None and p.source_ip != dst:
                continue
            return self.sessions[name]
        raise MalformedPacket("no_session", f"no bfd_instance with neighbor {src}")

    def handle_datagram(
        self,
        data: bytes,
        src: str,
        now: float,
        *,
        dst: str | None = None,
        ttl: int | None = None,
        multihop: bool = False,
    ) -> Session | None:
        """One received UDP payload; returns the session it went to (None: dropped).

        ``ttl`` is the received TTL / hop limit (None: unknown, not checked — only tests).
        """
        try:
            pkt = decode(data)
            session = self._lookup(
                pkt.your_discriminator, _norm(src), _norm(dst) if dst else None, multihop
            )
            need = self.peers[session.name].min_rx_ttl
            if ttl is not None and ttl < need:
                raise MalformedPacket("bad_ttl", f"TTL {ttl}; {session.name} needs {need}+")
        except MalformedPacket as exc:
            self._drop(exc.reason)
            return None
        session.handle_packet(pkt, now)
        self._collect(session)
        return session

    # -- timers -----------------------------------------------------------------------------
    def get_timer(self) -> float | None:
        """The earliest deadline of all sessions, or None."""
        times = [t for s in self.sessions.values() if (t := s.get_timer()) is not None]
        return min(times) if times else None

    def handle_timer(self, now: float) -> None:
        """Run every session's due timers."""
        for s in list(self.sessions.values()):
            t = s.get_timer()
            if t is not None and t <= now:
                s.handle_timer(now)
                self._collect(s)

    def actions(self) -> list[Action]:
        """Take the actions of all sessions, in order."""
        out, self._actions = self._actions, []
        return out

    def _collect(self, s: Session) -> None:
        self._actions.extend(s.actions())

    def names(self) -> Iterable[str]:
        """Names of the live sessions."""
        return self.sessions.keys()
