"""Gratuitous ARP for IPv4 virtual addresses (RFC 3768 §6.4.2, RFC 5798 §6.4.2).

keepalived's form (``vrrp_arp.c``): an ARP *request* (op 1) broadcast on the interface, Ethernet
source = the interface MAC (the physical MAC unless ``use_vmac``), sender IP = target IP = VIP,
target hardware address = broadcast. Sent through an ``AF_PACKET`` socket bound to the interface.
Pacing (bursts, delays, refresh) is the driver's business; this module only builds and sends.
"""

from __future__ import annotations

import logging
import socket
import struct

__all__ = ["GarpSender", "build_garp"]

log = logging.getLogger("hadaemon.vrrp.arp")

ETH_P_ARP = 0x0806
BROADCAST = b"\xff" * 6


def build_garp(mac: bytes, vip: str) -> bytes:
    """The Ethernet frame of one gratuitous ARP request for ``vip`` from ``mac``."""
    ip = socket.inet_aton(vip)
    eth = BROADCAST + mac + struct.pack("!H", ETH_P_ARP)
    # htype 1 (Ethernet), ptype IPv4, hlen 6, plen 4, op 1 (request)
    arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + mac + ip + BROADCAST + ip
    return eth + arp


def interface_mac(ifname: str) -> bytes:
    """The interface's hardware address (from sysfs)."""
    with open(f"/sys/class/net/{ifname}/address") as fh:
        return bytes.fromhex(fh.read().strip().replace(":", ""))


class GarpSender:
    """Sends gratuitous ARPs on one interface."""

    def __init__(self, ifname: str, mac: bytes | None = None) -> None:
        self.ifname = ifname
        self.mac = mac or interface_mac(ifname)
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP))
        self.sock.bind((ifname, ETH_P_ARP))
        self.sock.setblocking(False)

    def send(self, vips: list[str]) -> int:
        """Send one gratuitous ARP per address; returns how many left (errors are logged)."""
        sent = 0
        for vip in vips:
            log.info("Sending gratuitous ARP on %s for %s", self.ifname, vip)
            try:
                self.sock.send(build_garp(self.mac, vip))
                sent += 1
            except OSError as exc:
                log.warning("%s: cannot send gratuitous ARP for %s: %s", self.ifname, vip, exc)
        return sent

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()
