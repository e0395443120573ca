"""The one record every receive path yields for a VRRP packet read from the kernel."""

from __future__ import annotations

import socket
from dataclasses import dataclass

__all__ = ["Received"]


@dataclass(frozen=True, slots=True)
class Received:
    """A proto-112 packet as read from a raw socket, with its kernel arrival stamp.

    ``data`` is the VRRP payload (the IP header already stripped), ``src``/``dst`` are the
    textual IP addresses of the IP header, ``ttl`` is the IPv4 TTL or IPv6 hop limit,
    ``stamp_ns`` is the kernel arrival time on CLOCK_MONOTONIC (the clock of
    ``time.monotonic_ns()``), ``family`` is ``socket.AF_INET`` or ``socket.AF_INET6``.
    """

    data: bytes
    src: str
    dst: str
    ttl: int
    ifindex: int
    ifname: str
    stamp_ns: int
    family: int = socket.AF_INET
