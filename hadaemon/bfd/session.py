"""One BFD session (RFC 5880 §6.2, §6.8): the state machine and its two timers, sans-IO.

Time is passed in (``now``: float seconds of ``time.monotonic()``); packets to send and state
changes come out of :meth:`Session.actions`. The caller re-arms one timer at
:meth:`Session.get_timer` and calls :meth:`Session.handle_timer` when it fires.

State machine (RFC 5880 §6.2; the rows are the local state, the columns what the remote's
packet says, ``TIMER`` the Detection Time expiring)::

                 AdminDown        Down         Init        Up          TIMER
    Down         -                Init         Up          -           -
    Init         Down (diag 3)    -            Up          Up          Down (diag 1)
    Up           Down (diag 3)    Down (diag 3) -          -           Down (diag 1)
    AdminDown    packets are discarded

Timers:

* transmit: every max(bfd.DesiredMinTxInterval, bfd.RemoteMinRxInterval), reduced by a random
  0–25 % (10–25 % when bfd.DetectMult is 1) (§6.8.7); none while bfd.RemoteMinRxInterval is 0,
  and none for a ``passive`` session until the remote has spoken (§6.1). While the session is
  not Up, bfd.DesiredMinTxInterval is the slow ``idle_tx`` (1 s by default, §6.8.3); on Up it
  becomes ``min_tx`` through a Poll Sequence (§6.5). A state change sends a packet at once.
* detection: remote Detect Mult × max(bfd.RequiredMinRxInterval, remote Desired Min TX)
  (§6.8.4), re-armed by each accepted packet; when it expires an Init/Up session goes Down
  with diag 1 and bfd.RemoteDiscr is reset to 0.

A Poll Sequence while Up keeps the previous (larger) transmit interval and the previous
(larger) RequiredMinRx for the Detection Time until the Final arrives (§6.8.3).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from hadaemon.bfd.packet import ControlPacket, Diag, State

US_PER_S = 1_000_000
"""Microseconds per second."""
INITIAL_REMOTE_MIN_RX_US = 1
"""bfd.RemoteMinRxInterval's initial value (RFC 5880 §6.8.1)."""
SLOW_TX_US = 1_000_000
"""The least bfd.DesiredMinTxInterval while not Up that RFC 5880 §6.8.3 asks for."""


@dataclass(frozen=True)
class SessionParams:
    """What a ``bfd_instance`` configures for its session (intervals in microseconds)."""

    name: str
    """``bfd_instance NAME``."""
    desired_min_tx_us: int = 10_000
    """``min_tx`` (ms in the config): bfd.DesiredMinTxInterval once Up."""
    required_min_rx_us: int = 10_000
    """``min_rx``: bfd.RequiredMinRxInterval."""
    idle_tx_us: int = SLOW_TX_US
    """``idle_tx``: bfd.DesiredMinTxInterval while not Up (keepalived's name)."""
    detect_mult: int = 5
    """``multiplier``: bfd.DetectMult."""
    passive: bool = False
    """``passive``: send nothing until the remote has sent a packet (RFC 5880 §6.1)."""

    def __post_init__(self) -> None:
        if self.detect_mult < 1 or self.detect_mult > 255:
            raise ValueError(f"bfd_instance {self.name}: multiplier must be 1..255")
        if min(self.desired_min_tx_us, self.required_min_rx_us, self.idle_tx_us) < 1:
            raise ValueError(f"bfd_instance {self.name}: intervals must be positive")


# -- actions ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class SendControl:
    """Send ``packet`` to the session's neighbor."""

    session: str
    packet: ControlPacket


@dataclass(frozen=True)
class SessionStateChanged:
    """bfd.SessionState changed (``diag`` = bfd.LocalDiag after the change)."""

    session: str
    old: State
    new: State
    diag: Diag

    @property
    def up(self) -> bool:
        """The session is Up (what ``track_bfd`` and ``BFD_CHECK`` follow)."""
        return self.new is State.UP


Action = SendControl | SessionStateChanged


@dataclass
class SessionStats:
    """Per-session counters (shown by ``hadaemon status``)."""

    rx_packets: int = 0
    tx_packets: int = 0
    up_transitions: int = 0
    down_transitions: int = 0
    polls_sent: int = 0
    finals_sent: int = 0
    drops: dict[str, int] = field(default_factory=dict)

    def count_drop(self, reason: str) -> None:
        """One more packet discarded for ``reason``."""
        self.drops[reason] = self.drops.get(reason, 0) + 1


class Session:
    """The RFC 5880 state variables of one session and its handlers (module docstring)."""

    def __init__(
        self,
        params: SessionParams,
        local_discr: int,
        *,
        rng: random.Random | None = None,
    ) -> None:
        if not 0 < local_discr <= 0xFFFFFFFF:
            raise ValueError("bfd.LocalDiscr must be a non-zero 32-bit value")
        self.params = params
        self.rng = rng or random.Random()
        self.state = State.DOWN
        """bfd.SessionState."""
        self.remote_state = State.DOWN
        """bfd.RemoteSessionState."""
        self.local_discr = local_discr
        """bfd.LocalDiscr."""
        self.remote_discr = 0
        """bfd.RemoteDiscr (0: unknown)."""
        self.local_diag = Diag.NONE
        """bfd.LocalDiag."""
        self.remote_diag: int = 0
        """The Diag of the last packet received."""
        self.remote_min_rx_us = INITIAL_REMOTE_MIN_RX_US
        """bfd.RemoteMinRxInterval."""
        self.remote_desired_min_tx_us = 0
        """Desired Min TX Interval of the last packet received."""
        self.remote_detect_mult = 0
        """Detect Mult of the last packet received."""
        self.desired_min_tx_us = self._wanted_tx_us()
        """bfd.DesiredMinTxInterval as advertised now."""
        self.required_min_rx_us = params.required_min_rx_us
        """bfd.RequiredMinRxInterval as advertised now."""
        self.poll_active = False
        """A Poll Sequence is in progress (the P bit is set in what we send)."""
        self._tx_basis_us = self.desired_min_tx_us
        """DesiredMinTx the transmit interval is computed from (the old one during a poll)."""
        self._detect_rx_us = self.required_min_rx_us
        """RequiredMinRx the Detection Time is computed from (the old one during a poll)."""
        self.next_tx: float | None = None
        """When the next periodic packet is due."""
        self.detect_deadline: float | None = None
        """When the Detection Time runs out (None: nothing received since the last reset)."""
        self.last_rx: float | None = None
        """When the last packet was accepted."""
        self.last_change: float | None = None
        """When bfd.SessionState last changed."""
        self.stats = SessionStats()
        self._actions: list[Action] = []
        self._started = False

    # -- public API ---------------------------------------------------------------------------
    @property
    def name(self) -> str:
        """The ``bfd_instance`` name."""
        return self.params.name

    def start(self, now: float) -> None:
        """Begin: Down, sending at the slow rate at once unless passive."""
        self._started = True
        self.last_change = now
        if not self.params.passive:
            self.next_tx = now

    def get_timer(self) -> float | None:
        """The earliest deadline (absolute monotonic seconds), or None."""
        times = [t for t in (self.next_tx, self.detect_deadline) if t is not None]
        return min(times) if times else None

    def handle_timer(self, now: float) -> None:
        """Run what is due at ``now``: the Detection Time, then the periodic transmission."""
        if self.detect_deadline is not None and now >= self.detect_deadline:
            self._detection_expired(now)
        if self.next_tx is not None and now >= self.next_tx:
            self._send(now)
            self._schedule_tx(now)

    def actions(self) -> list[Action]:
        """Take the actions produced so far."""
        out, self._actions = self._actions, []
        return out

    @property
    def detection_time_us(self) -> int:
        """The Detection Time (§6.8.4): remote Detect Mult × max(RequiredMinRx, remote
        DesiredMinTx); 0 before anything was received."""
        return self.remote_detect_mult * max(self._detect_rx_us, self.remote_desired_min_tx_us)

    @property
    def tx_interval_us(self) -> int:
        """The periodic transmit interval before jitter: max(DesiredMinTx, RemoteMinRx)."""
        return max(self._tx_basis_us, self.remote_min_rx_us)

    def handle_packet(self, pkt: ControlPacket, now: float) -> None:
        """A decoded control packet for this session (RFC 5880 §6.8.6, after the packet-only
        checks of :func:`hadaemon.bfd.packet.decode`)."""
        if pkt.your_discriminator and pkt.your_discriminator != self.local_discr:
            self.stats.count_drop("no_session")
            return
        if self.state is State.ADMIN_DOWN:
            self.stats.count_drop("admin_down")
            return
        self.stats.rx_packets += 1
        self.last_rx = now
        self.remote_discr = pkt.my_discriminator
        self.remote_state = pkt.state
        self.remote_diag = int(pkt.diag)
        self.remote_detect_mult = pkt.detect_mult
        self.remote_desired_min_tx_us = pkt.desired_min_tx_us
        old_remote_rx = self.remote_min_rx_us
        self.remote_min_rx_us = pkt.required_min_rx_us
        if pkt.final and self.poll_active:
            self._end_poll()
        self.detect_deadline = now + self.detection_time_us / US_PER_S
        changed = self._receive_transition(pkt.state, now)
        if pkt.poll:
            self._send(now, final=True)
        if changed:
            if not (pkt.poll and not self.poll_active):  # the Final already told the news
                self._send(now)
            self._schedule_tx(now)
        elif self.remote_min_rx_us > old_remote_rx:
            self._schedule_tx(now)  # the remote wants fewer packets: none before the new gap
        elif self.remote_min_rx_us < old_remote_rx or self.next_tx is None:
            # faster (or a passive session heard its peer): never later than the old deadline
            self._reschedule_tx(now)

    def admin_down(self, now: float) -> None:
        """Administratively disable the session (shutdown, removal): say AdminDown once,
        then stay silent (RFC 5880 §6.8.16)."""
        if self.state is State.ADMIN_DOWN:
            return
        self.local_diag = Diag.ADMIN_DOWN
        self._change_state(State.ADMIN_DOWN, now)
        if self._started and (not self.params.passive or self.remote_discr):
            self._send(now)
        self.next_tx = None
        self.detect_deadline = None
        self.poll_active = False

    def reconfigure(self, params: SessionParams, now: float) -> None:
        """New timers or multiplier for the same neighbor: a Poll Sequence when Up (§6.8.3)."""
        old_tx, old_rx = self.desired_min_tx_us, self.required_min_rx_us
        self.params = params
        self.required_min_rx_us = params.required_min_rx_us
        self.desired_min_tx_us = self._wanted_tx_us()
        if (old_tx, old_rx) == (self.desired_min_tx_us, self.required_min_rx_us):
            return
        if self.state is State.UP:
            self._start_poll(old_tx, old_rx, now)
        else:
            self._tx_basis_us = self.desired_min_tx_us
            self._detect_rx_us = self.required_min_rx_us

    def status(self, now: float) -> dict[str, object]:
        """A JSON-able view for ``hadaemon status`` (keepalived's ``keepalived_bfd.data``)."""
        return {
            "name": self.name,
            "state": self.state.label,
            "remote_state": self.remote_state.label,
            "local_discriminator": self.local_discr,
            "remote_discriminator": self.remote_discr,
            "local_diag": self.local_diag.name.lower(),
            "remote_diag": self.remote_diag,
            "desired_min_tx_us": self.desired_min_tx_us,
            "required_min_rx_us": self.required_min_rx_us,
            "remote_min_rx_us": self.remote_min_rx_us,
            "remote_desired_min_tx_us": self.remote_desired_min_tx_us,
            "detect_mult": self.params.detect_mult,
            "remote_detect_mult": self.remote_detect_mult,
            "detection_time_us": self.detection_time_us,
            "tx_interval_us": self.tx_interval_us,
            "poll_active": self.poll_active,
            "passive": self.params.passive,
            "last_rx_age_s": round(now - self.last_rx, 3) if self.last_rx is not None else None,
            "state_age_s": (
                round(now - self.last_change, 3) if self.last_change is not None else None
            ),
            "stats": {
                "rx_packets": self.stats.rx_packets,
                "tx_packets": self.stats.tx_packets,
                "up_transitions": self.stats.up_transitions,
                "down_transitions": self.stats.down_transitions,
                "polls_sent": self.stats.polls_sent,
                "finals_sent": self.stats.finals_sent,
                "drops": dict(self.stats.drops),
            },
        }

    # -- internals ----------------------------------------------------------------------------
    def _wanted_tx_us(self) -> int:
        """bfd.DesiredMinTxInterval for the current state (slow while not Up, §6.8.3)."""
        if self.state is State.UP:
            return self.params.desired_min_tx_us
        return max(self.params.idle_tx_us, self.params.desired_min_tx_us)

    def _receive_transition(self, remote: State, now: float) -> bool:
        """§6.8.6's state table; True when bfd.SessionState changed."""
        local = self.state
        if remote is State.ADMIN_DOWN:
            if local is not State.DOWN:
                self.local_diag = Diag.NEIGHBOR_DOWN
                self._change_state(State.DOWN, now)
                return True
            return False
        if local is State.DOWN:
            if remote is State.DOWN:
                self._change_state(State.INIT, now)
                return True
            if remote is State.INIT:
                self._change_state(State.UP, now)
                return True
        elif local is State.INIT:
            if remote in (State.INIT, State.UP):
                self._change_state(State.UP, now)
                return True
        elif local is State.UP and remote is State.DOWN:
            self.local_diag = Diag.NEIGHBOR_DOWN
            self._change_state(State.DOWN, now)
            return True
        return False

    def _detection_expired(self, now: float) -> None:
        """§6.8.4: nothing heard for a Detection Time."""
        self.detect_deadline = None
        if self.state in (State.INIT, State.UP):
            self.local_diag = Diag.TIME_EXPIRED
            self._change_state(State.DOWN, now)
            self._send(now)
        # §6.8.1: bfd.RemoteDiscr is reset when the Detection Time passes without a packet
        self.remote_discr = 0
        self.remote_state = State.DOWN
        self.remote_min_rx_us = INITIAL_REMOTE_MIN_RX_US
        self._schedule_tx(now)

    def _change_state(self, new: State, now: float) -> None:
        old = self.state
        if new is old:  # pragma: no cover - guarded by the callers
            return
        self.state = new
        self.last_change = now
        if new is State.UP:
            self.local_diag = Diag.NONE
            self.stats.up_transitions += 1
        elif old is State.UP:
            self.stats.down_transitions += 1
        old_tx, old_rx = self.desired_min_tx_us, self.required_min_rx_us
        self.desired_min_tx_us = self._wanted_tx_us()
        if new is State.UP and self.desired_min_tx_us != old_tx:
            self._start_poll(old_tx, old_rx, now)
        else:
            # leaving Up (or not Up at all): the slow rate applies at once, no poll (§6.8.3)
            self.poll_active = False
            self._tx_basis_us = self.desired_min_tx_us
            self._detect_rx_us = self.required_min_rx_us
        self._actions.append(SessionStateChanged(self.name, old, new, self.local_diag))

    def _start_poll(self, old_tx: int, old_rx: int, now: float) -> None:
        """§6.5 / §6.8.3: advertise new intervals with P set until a Final comes back."""
        self.poll_active = True
        # an increased DesiredMinTx only takes effect when the poll ends; a decrease at once
        self._tx_basis_us = min(old_tx, self.desired_min_tx_us)
        # a reduced RequiredMinRx only counts for the Detection Time when the poll ends
        self._detect_rx_us = max(old_rx, self.required_min_rx_us)

    def _end_poll(self) -> None:
        self.poll_active = False
        self._tx_basis_us = self.desired_min_tx_us
        self._detect_rx_us = self.required_min_rx_us

    def _may_send_periodic(self) -> bool:
        if self.state is State.ADMIN_DOWN or not self._started:
            return False
        if self.params.passive and not self.remote_discr:
            return False  # §6.1 / §6.8.7: a passive system waits for the remote
        return self.remote_min_rx_us != 0  # §6.8.7: the remote wants no packets

    def _jittered_s(self) -> float:
        """The next interval in seconds: 75–100 % of it (75–90 % with DetectMult 1)."""
        top = 0.9 if self.params.detect_mult == 1 else 1.0
        return self.tx_interval_us * self.rng.uniform(0.75, top) / US_PER_S

    def _schedule_tx(self, now: float) -> None:
        self.next_tx = now + self._jittered_s() if self._may_send_periodic() else None

    def _reschedule_tx(self, now: float) -> None:
        if not self._may_send_periodic():
            self.next_tx = None
            return
        candidate = now + self._jittered_s()
        if self.next_tx is None or candidate < self.next_tx:
            self.next_tx = candidate

    def _send(self, now: float, *, final: bool = False) -> None:
        """Queue one control packet reflecting the current state variables (§6.8.7)."""
        if self.params.passive and not self.remote_discr and not final:
            return
        poll = self.poll_active and not final
        pkt = ControlPacket(
            state=self.state,
            my_discriminator=self.local_discr,
            your_discriminator=self.remote_discr,
            diag=self.local_diag,
            detect_mult=self.params.detect_mult,
            desired_min_tx_us=self.desired_min_tx_us,
            required_min_rx_us=self.required_min_rx_us,
            required_min_echo_rx_us=0,
            poll=poll,
            final=final,
        )
        self.stats.tx_packets += 1
        if poll:
            self.stats.polls_sent += 1
        if final:
            self.stats.finals_sent += 1
        self._actions.append(SendControl(self.name, pkt))
