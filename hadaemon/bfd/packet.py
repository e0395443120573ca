"""BFD control packet codec (RFC 5880 §4.1) and the packet-only receive checks (§6.8.6).

This module only checks whether a datagram is a valid BFD control packet; which session it
belongs to (Your Discriminator, source address) is decided by the caller and the session in
:mod:`hadaemon.bfd.session`. Authentication (§4.2–4.4, §6.7) is not implemented, as in
keepalived: a packet with the A bit set is dropped (§6.8.6 "If the A bit is set and no
authentication is in use").

::

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |Vers |  Diag   |Sta|P|F|C|A|D|M|  Detect Mult  |    Length     |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                       My Discriminator                        |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                      Your Discriminator                       |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                    Desired Min TX Interval                    |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                   Required Min RX Interval                    |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                 Required Min Echo RX Interval                 |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

Intervals are microseconds on the wire and in this module (``_us``). Each failed check raises
:class:`MalformedPacket` whose ``reason`` is the name of the drop counter to bump.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

BFD_VERSION = 1
"""The protocol version of RFC 5880."""
BFD_PORT = 3784
"""UDP destination port of single-hop control packets (RFC 5881 §4)."""
BFD_MULTIHOP_PORT = 4784
"""UDP destination port of multihop control packets (RFC 5883 §3)."""
BFD_SOURCE_PORT_MIN = 49152
"""Lowest source port a control packet may be sent from (RFC 5881 §4)."""
BFD_SOURCE_PORT_MAX = 65535
"""Highest source port a control packet may be sent from (RFC 5881 §4)."""
BFD_TTL = 255
"""TTL / hop limit single-hop packets are sent with and must arrive with (RFC 5881 §5)."""

HEADER_LEN = 24
"""Length of the mandatory section (no authentication section)."""
_FMT = struct.Struct("!BBBBIIIII")


class State(enum.IntEnum):
    """bfd.SessionState / the State (Sta) field (RFC 5880 §4.1)."""

    ADMIN_DOWN = 0
    DOWN = 1
    INIT = 2
    UP = 3

    @property
    def label(self) -> str:
        """The RFC's name: ``AdminDown``, ``Down``, ``Init``, ``Up``."""
        return _STATE_LABELS[self]


_STATE_LABELS = {
    State.ADMIN_DOWN: "AdminDown",
    State.DOWN: "Down",
    State.INIT: "Init",
    State.UP: "Up",
}


class Diag(enum.IntEnum):
    """bfd.LocalDiag / the Diagnostic field (RFC 5880 §4.1)."""

    NONE = 0
    """No Diagnostic."""
    TIME_EXPIRED = 1
    """Control Detection Time Expired."""
    ECHO_FAILED = 2
    """Echo Function Failed."""
    NEIGHBOR_DOWN = 3
    """Neighbor Signaled Session Down."""
    FORWARDING_RESET = 4
    """Forwarding Plane Reset."""
    PATH_DOWN = 5
    """Path Down."""
    CONCAT_PATH_DOWN = 6
    """Concatenated Path Down."""
    ADMIN_DOWN = 7
    """Administratively Down."""
    REVERSE_CONCAT_PATH_DOWN = 8
    """Reverse Concatenated Path Down."""


class MalformedPacket(Exception):
    """A datagram that is not a valid BFD control packet (the peer's fault, never ours).

    ``reason`` is the drop counter's name (:data:`DROP_REASONS`).
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


DROP_REASONS = (
    "short",
    "bad_version",
    "bad_length",
    "zero_detect_mult",
    "multipoint",
    "zero_my_discriminator",
    "zero_your_discriminator",
    "auth_unsupported",
    "bad_ttl",
    "no_session",
    "admin_down",
)
"""Every drop counter name: the decoder's reasons, then those of the receive path
(``bad_ttl``, ``no_session``) and of the session (``admin_down``)."""


@dataclass(frozen=True)
class ControlPacket:
    """One BFD control packet (RFC 5880 §4.1), intervals in microseconds."""

    state: State
    """Sta: the transmitting system's bfd.SessionState."""
    my_discriminator: int
    """My Discriminator: the sender's bfd.LocalDiscr (non-zero)."""
    your_discriminator: int = 0
    """Your Discriminator: the sender's bfd.RemoteDiscr (0 while unknown)."""
    diag: Diag | int = Diag.NONE
    """Diag: why the sender's session last left Up (unknown codes are kept as integers)."""
    detect_mult: int = 3
    """Detect Mult: the sender's bfd.DetectMult."""
    desired_min_tx_us: int = 1_000_000
    """Desired Min TX Interval (µs): the sender's bfd.DesiredMinTxInterval."""
    required_min_rx_us: int = 1_000_000
    """Required Min RX Interval (µs): the sender's bfd.RequiredMinRxInterval."""
    required_min_echo_rx_us: int = 0
    """Required Min Echo RX Interval (µs); 0: the sender does not support Echo."""
    poll: bool = False
    """P: a Poll Sequence is in progress (§6.5)."""
    final: bool = False
    """F: the answer to a packet with P set."""
    control_plane_independent: bool = False
    """C."""
    auth_present: bool = False
    """A: an authentication section follows (never sent by us)."""
    demand: bool = False
    """D: Demand mode (never sent by us)."""
    multipoint: bool = False
    """M: reserved for multipoint, must be 0."""
    version: int = BFD_VERSION
    """Vers."""

    def encode(self) -> bytes:
        """The 24-byte wire form (no authentication section)."""
        flags = (
            (int(self.state) << 6)
            | (self.poll << 5)
            | (self.final << 4)
            | (self.control_plane_independent << 3)
            | (self.auth_present << 2)
            | (self.demand << 1)
            | int(self.multipoint)
        )
        return _FMT.pack(
            ((self.version & 0x7) << 5) | (int(self.diag) & 0x1F),
            flags,
            self.detect_mult & 0xFF,
            HEADER_LEN,
            self.my_discriminator & 0xFFFFFFFF,
            self.your_discriminator & 0xFFFFFFFF,
            self.desired_min_tx_us & 0xFFFFFFFF,
            self.required_min_rx_us & 0xFFFFFFFF,
            self.required_min_echo_rx_us & 0xFFFFFFFF,
        )


def decode(data: bytes) -> ControlPacket:
    """Decode and check one UDP payload (RFC 5880 §6.8.6, the checks that need no session).

    Raises :class:`MalformedPacket` (``reason`` = drop counter) for anything to discard.
    """
    if len(data) < HEADER_LEN:
        raise MalformedPacket("short", f"{len(data)} bytes; a control packet has at least 24")
    vd, flags, mult, length, my_d, your_d, tx, rx, echo = _FMT.unpack_from(data)
    version = vd >> 5
    if version != BFD_VERSION:
        raise MalformedPacket("bad_version", f"version is {version}; should be 1")
    auth = bool(flags & 0x04)
    if length < HEADER_LEN + (2 if auth else 0):
        raise MalformedPacket("bad_length", f"length field is {length}; too small")
    if length > len(data):
        raise MalformedPacket(
            "bad_length", f"length field is {length}, larger than the {len(data)}-byte payload"
        )
    if mult == 0:
        raise MalformedPacket("zero_detect_mult", "Detect Mult is zero")
    if flags & 0x01:
        raise MalformedPacket("multipoint", "Multipoint (M) bit is set")
    if my_d == 0:
        raise MalformedPacket("zero_my_discriminator", "My Discriminator is zero")
    state = State(flags >> 6)
    if your_d == 0 and state not in (State.DOWN, State.ADMIN_DOWN):
        raise MalformedPacket(
            "zero_your_discriminator", f"Your Discriminator is zero in state {state.label}"
        )
    if auth:
        raise MalformedPacket("auth_unsupported", "authentication (A bit) is not supported")
    diag_code = vd & 0x1F
    diag: Diag | int = Diag(diag_code) if diag_code in Diag._value2member_map_ else diag_code
    return ControlPacket(
        state=state,
        my_discriminator=my_d,
        your_discriminator=your_d,
        diag=diag,
        detect_mult=mult,
        desired_min_tx_us=tx,
        required_min_rx_us=rx,
        required_min_echo_rx_us=echo,
        poll=bool(flags & 0x20),
        final=bool(flags & 0x10),
        control_plane_independent=bool(flags & 0x08),
        auth_present=auth,
        demand=bool(flags & 0x02),
        multipoint=False,
        version=version,
    )
