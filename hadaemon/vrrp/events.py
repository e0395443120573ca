"""Inputs to :class:`hadaemon.vrrp.router.VirtualRouter` (frozen dataclasses).

The I/O driver turns kernel happenings into these and calls ``router.handle(event, now)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hadaemon.vrrp.packet import Advert

if TYPE_CHECKING:
    from hadaemon.vrrp.router import RouterParams


@dataclass(frozen=True)
class Startup:
    """The router starts (RFC Init state, Startup event)."""


@dataclass(frozen=True)
class Shutdown:
    """The router stops: a master sends a priority-0 advert and releases its VIPs."""


@dataclass(frozen=True)
class AdvertReceived:
    """A decoded advert for this router's VRID (IP-level checks already done by ``decode``)."""

    advert: Advert
    """The decoded advertisement."""
    src: str
    """IP source address of the packet (the sender's primary address)."""
    ifname: str = ""
    """Interface it arrived on."""


@dataclass(frozen=True)
class InterfaceUp:
    """Link (or admin) up on an interface: the VRRP interface or a ``track_interface``."""

    ifname: str
    """Interface name."""


@dataclass(frozen=True)
class InterfaceDown:
    """Link down on an interface: the VRRP interface or a ``track_interface``."""

    ifname: str
    """Interface name."""


@dataclass(frozen=True)
class TrackerChanged:
    """A tracker's contribution to the effective priority changed.

    Produced from :mod:`hadaemon.vrrp.trackers` state machines (``Tracker.contribution()``).
    """

    name: str
    """Unique tracker key, e.g. ``script:chk_nginx``, ``file:f1``, ``process:p1``."""
    weight_delta: int
    """Priority delta this tracker adds now (0 when it contributes nothing)."""
    fault: bool = False
    """True when the tracker forces FAULT (weight 0 tracker failed)."""


@dataclass(frozen=True)
class ForceFault:
    """Put the router in FAULT (e.g. its sync group went to FAULT, unicast without peers)."""

    reason: str
    """Why, for logs."""


@dataclass(frozen=True)
class ClearFault:
    """Withdraw a :class:`ForceFault` with the same ``reason``."""

    reason: str
    """The reason given to :class:`ForceFault`."""


@dataclass(frozen=True)
class ConfigChanged:
    """Reload: new parameters for the same instance (VRID and family unchanged)."""

    params: RouterParams
    """The new parameters."""


Event = Any
"""Any of the event classes above (kept loose to avoid an import cycle with router)."""
