"""BFD sockets and the asyncio service of the ``bfd`` worker.

Sockets (RFC 5881 §4–5, RFC 5883):

* one receive socket per address family and port in use: UDP bound to the wildcard address on
  3784 (single hop) or 4784 (multihop), with ``IP_RECVTTL`` + ``IP_PKTINFO`` (IPv6:
  ``IPV6_RECVHOPLIMIT`` + ``IPV6_RECVPKTINFO``) so that the TTL check (255 for single hop, the
  GTSM of RFC 5881 §5) and the destination address reach :class:`~hadaemon.bfd.core.BfdCore`;
* one send socket per session: UDP bound to ``source_ip`` (or the wildcard) and a source port
  in 49152–65535, TTL / hop limit 255 (``ttl`` if configured), ``SO_PRIORITY`` 6 like
  keepalived, sending to ``neighbor_ip`` port 3784/4784.

:class:`BfdService` feeds datagrams and timer expiries to the sans-IO core with
``now = time.monotonic()``, executes its :class:`~hadaemon.bfd.session.SendControl` actions and
emits every :class:`~hadaemon.bfd.session.SessionStateChanged` upward as a ``bfd_state`` event
(``{name, state, up, diag, ...}``) that the supervisor forwards to the vrrp worker
(``track_bfd``) and the checker (``BFD_CHECK``). Same interface as the other services:
``start()``, ``stop()``, ``apply_config(config)``, ``status()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import struct
import time
from collections.abc import Callable
from typing import Any

from hadaemon.bfd.core import BfdCore, Peer, session_setup
from hadaemon.bfd.packet import (
    BFD_MULTIHOP_PORT,
    BFD_PORT,
    BFD_SOURCE_PORT_MAX,
    BFD_SOURCE_PORT_MIN,
    State,
)
from hadaemon.bfd.session import SendControl, SessionParams, SessionStateChanged
from hadaemon.io.sched import LateTimerMonitor

log = logging.getLogger("hadaemon.bfd")

Emit = Callable[[str, dict[str, Any]], None]

IP_PKTINFO = 8
IP_RECVTTL = 12
IPV6_RECVPKTINFO = 49
IPV6_PKTINFO = 50
IPV6_RECVHOPLIMIT = 51
IPV6_HOPLIMIT = 52
SO_PRIORITY_BFD = 6
"""``SO_PRIORITY`` of sent packets (TC_PRIO_INTERACTIVE, as keepalived's BFD)."""
MAX_DATAGRAM = 512
_CMSG_SPACE = socket.CMSG_SPACE(4) + socket.CMSG_SPACE(20) + socket.CMSG_SPACE(4)


class BfdSocketError(Exception):
    """A socket could not be opened (port in use, address not configured...)."""


def open_receive_socket(family: int, port: int) -> socket.socket:
    """A non-blocking UDP socket on the wildcard address and ``port`` with TTL/hop limit and
    destination address delivered as ancillary data."""
    s = socket.socket(family, socket.SOCK_DGRAM)
    try:
        # no SO_REUSEADDR: another BFD daemon on this host (keepalived) must be an error,
        # not a silent split of the packets between two sockets
        if family == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            s.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1)
            s.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVPKTINFO, 1)
            s.bind(("::", port))
        else:
            s.setsockopt(socket.IPPROTO_IP, IP_RECVTTL, 1)
            s.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
            s.bind(("0.0.0.0", port))
        s.setblocking(False)
    except OSError as exc:
        s.close()
        raise BfdSocketError(f"cannot listen on UDP port {port}: {exc.strerror or exc}") from exc
    return s


def open_send_socket(peer: Peer, rng: random.Random) -> socket.socket:
    """A non-blocking UDP socket bound to ``peer.source_ip`` (or any) and a source port in
    49152–65535 (RFC 5881 §4), sending with TTL ``peer.ttl``."""
    family = socket.AF_INET6 if peer.family == 6 else socket.AF_INET
    s = socket.socket(family, socket.SOCK_DGRAM)
    try:
        if family == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, peer.ttl)
        else:
            s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, peer.ttl)
        with contextlib.suppress(OSError):
            s.setsockopt(socket.SOL_SOCKET, socket.SO_PRIORITY, SO_PRIORITY_BFD)
        addr = peer.source_ip or ("::" if family == socket.AF_INET6 else "0.0.0.0")
        span = BFD_SOURCE_PORT_MAX - BFD_SOURCE_PORT_MIN + 1
        start = rng.randrange(span)
        for i in range(span):
            port = BFD_SOURCE_PORT_MIN + (start + i) % span
            try:
                s.bind((addr, port))
                break
            except OSError as exc:
                if exc.errno != 98:  # EADDRINUSE: try the next port
                    raise
        else:
            raise OSError(98, "no free source port in 49152-65535")
        s.setblocking(False)
    except OSError as exc:
        s.close()
        raise BfdSocketError(
            f"bfd_instance {peer.name}: cannot open a socket from {peer.source_ip or 'any'}: "
            f"{exc.strerror or exc}"
        ) from exc
    return s


def parse_ancillary(ancdata: list[tuple[int, int, bytes]]) -> tuple[int | None, str | None]:
    """(TTL / hop limit, destination address) from ``recvmsg`` ancillary data."""
    ttl: int | None = None
    dst: str | None = None
    for level, ctype, data in ancdata:
        if level == socket.IPPROTO_IP and ctype == socket.IP_TTL and len(data) >= 4:
            ttl = struct.unpack("@i", data[:4])[0]
        elif level == socket.IPPROTO_IP and ctype == IP_PKTINFO and len(data) >= 12:
            dst = socket.inet_ntop(socket.AF_INET, data[8:12])  # in_pktinfo.ipi_addr
        elif level == socket.IPPROTO_IPV6 and ctype == IPV6_HOPLIMIT and len(data) >= 4:
            ttl = struct.unpack("@i", data[:4])[0]
        elif level == socket.IPPROTO_IPV6 and ctype == IPV6_PKTINFO and len(data) >= 16:
            dst = socket.inet_ntop(socket.AF_INET6, data[:16])
    return ttl, dst


def _instances(config: Any) -> list[Any]:
    if isinstance(config, dict):  # a wire map (the worker decodes; tests may not)
        from hadaemon.config.model import Config

        config = Config.from_dict(config)
    return list(getattr(config, "bfd_instances", ()) or ())


class BfdService:
    """Hosts the ``bfd_instance`` sessions of a config (asyncio; the ``bfd`` worker)."""

    def __init__(self, config: Any, emit: Emit | None = None) -> None:
        self.config = config
        self.emit: Emit = emit or (lambda kind, body: None)
        self.rng = random.Random()
        self.core = BfdCore(rng=self.rng)
        self.rx_socks: dict[tuple[int, int], socket.socket] = {}
        self.tx_socks: dict[str, socket.socket] = {}
        self.tx_errors: dict[str, int] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._stopping = False
        self.late = LateTimerMonitor()
        """How late the timer ran (a descheduled process sends late and its peer's Detection
        Time may run out); past 0.1 s logged as keepalived does."""

    # -- lifecycle ------------------------------------------------------------------------
    async def start(self) -> None:
        """Open the sockets and start every session (Down, slow transmission)."""
        self._loop = asyncio.get_running_loop()
        now = time.monotonic()
        for inst in _instances(self.config):
            try:
                self._add(inst, now)
            except (ValueError, BfdSocketError) as exc:
                log.error("bfd_instance %s cannot start: %s", getattr(inst, "name", "?"), exc)
        # every session starts Down: say so, so that a respawned worker's trackers never keep
        # an Up from before
        for name, session in self.core.sessions.items():
            self._emit_state(name, session.state.label, None, session.local_diag.name.lower())
        self._after()

    async def stop(self) -> None:
        """AdminDown to every peer, then close everything."""
        self._stopping = True
        self.core.shutdown(time.monotonic())
        self._execute()
        if self._timer is not None:
            self._timer.cancel()
        for key in list(self.rx_socks):
            self._close_rx(key)
        for name in list(self.tx_socks):
            self.tx_socks.pop(name).close()

    async def apply_config(self, config: Any) -> None:
        """Reload: new sessions start, removed ones say AdminDown, changed timers are polled
        in (RFC 5880 §6.8.3); a changed address restarts the session."""
        self.config = config
        now = time.monotonic()
        wanted: dict[str, tuple[SessionParams, Peer, Any]] = {}
        for inst in _instances(config):
            try:
                params, peer = session_setup(inst)
            except ValueError as exc:
                log.error("%s", exc)
                continue
            wanted[params.name] = (params, peer, inst)
        for name in list(self.core.sessions):
            if name not in wanted or wanted[name][1] != self.core.peers[name]:
                log.info("bfd_instance %s removed or readdressed", name)
                self.core.remove(name, now)
                self._execute()
                self.core.forget_peer(name)
                if (s := self.tx_socks.pop(name, None)) is not None:
                    s.close()
        for name, (params, _peer, inst) in wanted.items():
            session = self.core.sessions.get(name)
            if session is None:
                try:
                    self._add(inst, now)
                except (ValueError, BfdSocketError) as exc:
                    log.error("bfd_instance %s cannot start: %s", name, exc)
            elif session.params != params:
                session.reconfigure(params, now)
        for key in list(self.rx_socks):
            if key not in self._wanted_rx():
                self._close_rx(key)
        self._after()

    def status(self) -> dict[str, Any]:
        """JSON-able: every session's variables and counters, the receive drops."""
        now = time.monotonic()
        return {
            "sessions": [
                {**s.status(now), "neighbor_ip": self.core.peers[n].neighbor_ip}
                for n, s in sorted(self.core.sessions.items())
            ],
            "drops": dict(self.core.drops),
            "tx_errors": dict(self.tx_errors),
            "timers": self.late.status(),
        }

    # -- sessions and sockets ---------------------------------------------------------------
    def _wanted_rx(self) -> set[tuple[int, int]]:
        return {
            (
                socket.AF_INET6 if p.family == 6 else socket.AF_INET,
                BFD_MULTIHOP_PORT if p.multihop else BFD_PORT,
            )
            for p in self.core.peers.values()
        }

    def _add(self, inst: Any, now: float) -> None:
        params, peer = session_setup(inst)
        family = socket.AF_INET6 if peer.family == 6 else socket.AF_INET
        key = (family, BFD_MULTIHOP_PORT if peer.multihop else BFD_PORT)
        if key not in self.rx_socks:
            self._open_rx(key)
        tx = open_send_socket(peer, self.rng)
        try:
            self.core.add(params, peer, now)
        except ValueError:
            tx.close()
            raise
        self.tx_socks[params.name] = tx
        log.info(
            "bfd_instance %s: session to %s%s (min_tx %d ms, min_rx %d ms, multiplier %d%s)",
            params.name,
            peer.neighbor_ip,
            f" from {peer.source_ip}" if peer.source_ip else "",
            params.desired_min_tx_us // 1000,
            params.required_min_rx_us // 1000,
            params.detect_mult,
            ", passive" if params.passive else "",
        )

    def _open_rx(self, key: tuple[int, int]) -> None:
        s = open_receive_socket(*key)
        self.rx_socks[key] = s
        assert self._loop is not None
        self._loop.add_reader(s.fileno(), self._on_readable, key)

    def _close_rx(self, key: tuple[int, int]) -> None:
        s = self.rx_socks.pop(key)
        if self._loop is not None:
            self._loop.remove_reader(s.fileno())
        s.close()

    # -- receive ----------------------------------------------------------------------------
    def _on_readable(self, key: tuple[int, int]) -> None:
        self._drain(key)
        self._after()

    def _drain(self, key: tuple[int, int]) -> None:
        """Feed the core what socket ``key`` holds (a bounded number of datagrams)."""
        s = self.rx_socks.get(key)
        if s is None:
            return
        multihop = key[1] == BFD_MULTIHOP_PORT
        for _ in range(64):  # bounded: timers must not starve under a flood
            try:
                data, anc, _flags, addr = s.recvmsg(MAX_DATAGRAM, _CMSG_SPACE)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:
                log.debug("bfd receive error: %s", exc)
                break
            ttl, dst = parse_ancillary(anc)
            self.core.handle_datagram(
                data, addr[0], time.monotonic(), dst=dst, ttl=ttl, multihop=multihop
            )

    # -- timers and actions -----------------------------------------------------------------
    def _on_timer(self) -> None:
        now = time.monotonic()
        if self._timer_at is not None:
            self.late.check(self._timer_at, now)
        self._timer = None
        self._timer_at = None
        if any(
            s.detect_deadline is not None and s.detect_deadline <= now
            for s in self.core.sessions.values()
        ):
            # a Detection Time runs out: first take what the kernel already received (this
            # process may have been descheduled while the peer kept sending)
            for key in list(self.rx_socks):
                self._drain(key)
        self.core.handle_timer(time.monotonic())
        self._after()

    def _after(self) -> None:
        self._execute()
        if self._stopping or self._loop is None:
            return
        when = self.core.get_timer()
        if when == self._timer_at and self._timer is not None:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_at = when
        if when is not None:
            self._timer = self._loop.call_at(when, self._on_timer)

    def _execute(self) -> None:
        for a in self.core.actions():
            if isinstance(a, SendControl):
                self._send(a)
            elif isinstance(a, SessionStateChanged):
                self._state_changed(a)

    def _send(self, a: SendControl) -> None:
        sock = self.tx_socks.get(a.session)
        peer = self.core.peers.get(a.session)
        if sock is None or peer is None:
            return
        port = BFD_MULTIHOP_PORT if peer.multihop else BFD_PORT
        try:
            sock.sendto(a.packet.encode(), (peer.neighbor_ip, port))
        except OSError as exc:  # no route, neighbor unreachable: keep trying, count it
            n = self.tx_errors.get(a.session, 0) + 1
            self.tx_errors[a.session] = n
            if n == 1 or n % 100 == 0:
                log.warning("bfd_instance %s: send to %s failed: %s", a.session, peer, exc)

    def _state_changed(self, a: SessionStateChanged) -> None:
        log.info(
            "BFD_Instance(%s) Entering %s state (diag %s)",
            a.session,
            a.new.label.upper(),
            a.diag.name.lower(),
        )
        if self._stopping or a.new is State.ADMIN_DOWN:
            # our own AdminDown (stop, or the session removed by a reload) is for the peer: a
            # tracking VRRP instance must not go FAULT (and run notify_fault) on its way out,
            # nor on a reload that drops the bfd_instance and its track_bfd together
            return
        self._emit_state(a.session, a.new.label, a.old.label, a.diag.name.lower())

    def _emit_state(self, name: str, state: str, prev: str | None, diag: str) -> None:
        peer = self.core.peers.get(name)
        self.emit(
            "bfd_state",
            {
                "name": name,
                "state": state,
                "up": state == "Up",
                "prev_state": prev,
                "diag": diag,
                "neighbor_ip": peer.neighbor_ip if peer else None,
            },
        )
