"""Outputs of :class:`hadaemon.vrrp.router.VirtualRouter` (frozen dataclasses).

The driver executes them in order. Every action names the instance (``instance``) so a driver
hosting many routers can look up the rest of the instance's config (VIP options, notify
scripts, routes, rules) by name.
"""

from __future__ import annotations

from dataclasses import dataclass

from hadaemon.vrrp.packet import Advert


@dataclass(frozen=True)
class SendAdvert:
    """Send an advert. ``dst`` None = the multicast group, or every unicast peer."""

    instance: str
    """Instance name (``vrrp_instance NAME``)."""
    advert: Advert
    """What to send (checksum computed by ``packet.encode``)."""
    dst: str | None = None
    """Destination, or None for the group / all unicast peers."""


@dataclass(frozen=True)
class AddVips:
    """Install the virtual addresses (and the instance's virtual routes/rules)."""

    instance: str
    """Instance name."""
    ifname: str
    """VRRP interface."""
    addresses: tuple[str, ...]
    """VIPs as configured (``ip[/prefix]``), including ``virtual_ipaddress_excluded``."""


@dataclass(frozen=True)
class DelVips:
    """Remove the virtual addresses (and the instance's virtual routes/rules)."""

    instance: str
    """Instance name."""
    ifname: str
    """VRRP interface."""
    addresses: tuple[str, ...]
    """VIPs as configured (``ip[/prefix]``), including ``virtual_ipaddress_excluded``."""


@dataclass(frozen=True)
class SendGratuitous:
    """Send gratuitous ARPs (IPv4) / unsolicited NAs (IPv6) for ``addresses``.

    ``repeat`` messages per address, ``interval_s`` apart (keepalived ``garp_interval``).
    """

    instance: str
    """Instance name."""
    ifname: str
    """Interface to send on."""
    addresses: tuple[str, ...]
    """Addresses (without prefix length)."""
    repeat: int
    """How many per address."""
    interval_s: float = 0.0
    """Gap between two messages for the same address, seconds."""


@dataclass(frozen=True)
class RunNotify:
    """Run the notify scripts / write the notify FIFO for a state change.

    keepalived's generic ``notify`` gets ``TYPE NAME STATE PRIORITY`` with TYPE ``INSTANCE`` or
    ``GROUP``; FIFO line ``INSTANCE "VI_1" MASTER 100``.
    """

    name: str
    """Instance or sync group name."""
    state: str
    """MASTER, BACKUP, FAULT or STOP."""
    priority: int
    """Effective priority (0 for groups)."""
    group: bool = False
    """True for a sync group notification (TYPE GROUP)."""


@dataclass(frozen=True)
class StateChanged:
    """The router changed state (report upward; the supervisor/LVS consume it)."""

    instance: str
    """Instance name."""
    old: str
    """Previous state name."""
    new: str
    """New state name."""
    reason: str
    """Why (for logs and status)."""
    priority: int
    """Effective priority at the time."""


@dataclass(frozen=True)
class MasterRxLowerPri:
    """As master, a lower-priority advert arrived: run ``notify_master_rx_lower_pri`` and
    write ``INSTANCE "VI_1" MASTER_RX_LOWER_PRI <prio>`` to the notify FIFO."""

    instance: str
    """Instance name."""
    src: str
    """Sender of the lower-priority advert."""
    priority: int
    """Its priority."""
    our_priority: int
    """Our effective priority."""


@dataclass(frozen=True)
class PriorityChanged:
    """The effective priority changed (for ``notify_priority_changes``: FIFO line
    ``INSTANCE "VI_1" MASTER_PRIORITY 90`` / ``BACKUP_PRIORITY``)."""

    instance: str
    """Instance name."""
    state: str
    """Current state name."""
    old: int
    """Previous effective priority."""
    new: int
    """New effective priority."""


@dataclass(frozen=True)
class Log:
    """A log line in keepalived's wording (``(VI_1) Entering MASTER STATE``)."""

    level: str
    """``debug``, ``info``, ``warning`` or ``error``."""
    msg: str
    """The message."""


Action = (
    SendAdvert
    | AddVips
    | DelVips
    | SendGratuitous
    | RunNotify
    | StateChanged
    | MasterRxLowerPri
    | PriorityChanged
    | Log
)
"""Union of every action type."""
