"""Unsolicited neighbour advertisements for IPv6 virtual addresses (RFC 5798 §6.4.2).

keepalived's form (``vrrp_ndisc.c``): ICMPv6 type 136 to ff02::1, hop limit 255, Override set,
Router set only when IPv6 forwarding is on for the interface, Solicited clear, target = VIP,
option Target Link-Layer Address = the interface MAC. The kernel fills the ICMPv6 checksum of a
raw ICMPv6 socket.
"""

from __future__ import annotations

import logging
import socket
import struct

from hadaemon.io.garp import interface_mac

__all__ = ["NaSender", "build_na"]

log = logging.getLogger("hadaemon.vrrp.ndisc")

ALL_NODES = "ff02::1"
ND_NEIGHBOR_ADVERT = 136
NA_FLAG_ROUTER = 0x80
NA_FLAG_OVERRIDE = 0x20


def build_na(mac: bytes, vip: str, *, router: bool) -> bytes:
    """The ICMPv6 message (checksum 0: the kernel fills it) of one unsolicited NA."""
    flags = NA_FLAG_OVERRIDE | (NA_FLAG_ROUTER if router else 0)
    target = socket.inet_pton(socket.AF_INET6, vip)
    return (
        struct.pack("!BBHB3x", ND_NEIGHBOR_ADVERT, 0, 0, flags)
        + target
        + struct.pack("!BB", 2, 1)  # option 2 (Target Link-Layer Address), length 1 (8 bytes)
        + mac
    )


def forwarding(ifname: str) -> bool:
    """Whether IPv6 forwarding is on for ``ifname`` (decides the Router flag)."""
    try:
        with open(f"/proc/sys/net/ipv6/conf/{ifname}/forwarding") as fh:
            return fh.read().strip() == "1"
    except OSError:
        return False


class NaSender:
    """Sends unsolicited NAs on one interface."""

    def __init__(self, ifname: str, mac: bytes | None = None) -> None:
        self.ifname = ifname
        self.ifindex = socket.if_nametoindex(ifname)
        self.mac = mac or interface_mac(ifname)
        self.sock = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
        self.sock.setsockopt(socket.SOL_SOCKET, 25, ifname.encode())  # SO_BINDTODEVICE
        self.sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
        self.sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, self.ifindex)
        self.sock.setblocking(False)

    def send(self, vips: list[str]) -> int:
        """Send one NA per address; returns how many left (errors are logged)."""
        router = forwarding(self.ifname)
        sent = 0
        for vip in vips:
            log.info("Sending unsolicited Neighbour Advert on %s for %s", self.ifname, vip)
            try:
                self.sock.sendto(
                    build_na(self.mac, vip, router=router), (ALL_NODES, 0, 0, self.ifindex)
                )
                sent += 1
            except OSError as exc:
                log.warning("%s: cannot send NA for %s: %s", self.ifname, vip, exc)
        return sent

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()
