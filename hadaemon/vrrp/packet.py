"""VRRP advertisement codec: VRRPv2 (RFC 3768) and VRRPv3 (RFC 5798 / RFC 9568).

This module only checks whether a packet is a valid VRRP packet (FRR ``vrrp_pkt_parse_datagram``
contract). Instance checks (VRID configured, authentication, interval, address list, owner) live
in :mod:`hadaemon.vrrp.router`.

::

    VRRPv2 (RFC 3768 §5.1)                          VRRPv3 (RFC 5798 §5.1 / RFC 9568 §5.1)
     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |Version| Type  | Virtual Rtr ID|   Priority    | Count IP Addrs|
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    v2: |   Auth Type   |   Adver Int   |          Checksum             |
    v3: |(rsvd) |     Max Adver Int     |          Checksum             |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                IPv4 (4 octets) or IPv6 (16 octets) address(es) |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    v2 only: |                  Authentication Data (2 words)                |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

Checksums (keepalived-features.md §4.2):

* v2: one's complement sum over the VRRP message only (RFC 3768 §5.3.8).
* v3/IPv6: RFC 8200 §8.1 pseudo-header {src, dst, upper-layer length, next header 112}.
* v3/IPv4: RFC 9568 §5.2.8 says message only (what ``v3_checksum_as_v2`` sends); keepalived by
  default includes an IPv4 pseudo-header {src, dst, 0, 112, length}. We send keepalived's form by
  default and accept both on receive (plus FRR's / old keepalived's form with dst fixed to
  224.0.0.18 when unicasting).

Receive checks run in RFC 3768/5798 §7.1 order; each failure raises :class:`MalformedAdvert`
whose ``counter`` is the keepalived statistics name to bump.
"""

from __future__ import annotations

import functools
import ipaddress
import struct
from dataclasses import dataclass, field
from typing import Any

VRRP_PROTO = 112
"""IP protocol number of VRRP."""
VRRP_TYPE_ADVERTISEMENT = 1
"""The only VRRP packet type (RFC 3768 §5.3.2, RFC 5798 §5.2.2)."""
VRRP_TTL = 255
"""TTL / hop limit adverts MUST be sent and received with."""
VRRP_MCAST_V4 = "224.0.0.18"
"""IPv4 multicast group (RFC 3768 §5.2.2)."""
VRRP_MCAST_V6 = "ff02::12"
"""IPv6 multicast group (RFC 5798 §5.1.2.2)."""

AUTH_NONE = 0
"""v2 auth type 0: no authentication."""
AUTH_PASS = 1
"""v2 auth type 1: simple text password (RFC 2338; keepalived ``auth_type PASS``)."""
AUTH_AH = 2
"""v2 auth type 2: IP AH (RFC 2338). Not supported: rejected on receive."""
AUTH_DATA_LEN = 8
"""Length of the v2 authentication data field."""

HEADER_LEN = 8
"""Fixed VRRP header length (v2 and v3)."""

CHECKSUM_V2 = "v2"
"""Checksum over the message only (v2, and RFC 9568 v3/IPv4)."""
CHECKSUM_PSEUDO = "pseudo"
"""Checksum with pseudo-header (v3/IPv6 always; keepalived's default v3/IPv4 form)."""
CHECKSUM_PSEUDO_MCAST = "pseudo_mcast"
"""v3/IPv4 pseudo-header with dst 224.0.0.18 although unicast (FRR / keepalived <= 1.3.6)."""


class MalformedAdvert(Exception):
    """A packet that is not a valid VRRP advertisement (the peer's fault, never ours).

    ``counter`` names the keepalived statistics counter that counts this drop.
    """

    def __init__(self, counter: str, message: str) -> None:
        super().__init__(f"{counter}: {message}")
        self.counter = counter
        """keepalived stats name: ip_ttl_err, packet_len_err, vers_err, invalid_type_rcvd,
        chk_err, invalid_authtype, advert_interval_err, addr_list_err."""
        self.message = message
        """Human-readable reason (FRR style: what was wrong and what it should be)."""


@dataclass(frozen=True)
class Advert:
    """A decoded (or to-be-encoded) VRRP advertisement."""

    version: int
    """VRRP version: 2 (RFC 3768) or 3 (RFC 5798)."""
    vrid: int
    """Virtual Router Identifier, 1..255."""
    priority: int
    """Sender priority: 255 owner, 1..254 backup, 0 master releasing."""
    count_ip: int
    """Count IP Addrs field as on the wire (``len(addresses)`` when encoding)."""
    auth_type: int
    """v2 Auth Type (0 none, 1 PASS); always 0 for v3."""
    adver_int_cs: int
    """Advertisement interval in centiseconds (v3 Max Adver Int; v2 Adver Int seconds * 100)."""
    checksum: int
    """Checksum as on the wire (ignored by :func:`encode`, which computes it)."""
    addresses: tuple[str, ...]
    """Virtual addresses (IPv4 dotted quad or compressed IPv6)."""
    auth_data: bytes = b""
    """v2 authentication data (8 bytes on the wire; PASS password NUL-padded)."""
    family: int = 4
    """Address family of the addresses: 4 or 6."""
    checksum_form: str = field(default=CHECKSUM_V2, compare=False)
    """Which checksum form the received packet used (CHECKSUM_* constants)."""

    def as_dict(self) -> dict[str, Any]:
        """A JSON-able dict (used by golden files and status dumps)."""
        return {
            "version": self.version,
            "type": VRRP_TYPE_ADVERTISEMENT,
            "vrid": self.vrid,
            "priority": self.priority,
            "count_ip": self.count_ip,
            "auth_type": self.auth_type,
            "adver_int_cs": self.adver_int_cs,
            "checksum": self.checksum,
            "addresses": list(self.addresses),
            "auth_data": self.auth_data.hex(),
            "family": self.family,
            "checksum_form": self.checksum_form,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Advert:
        """Inverse of :meth:`as_dict`."""
        return cls(
            version=int(d["version"]),
            vrid=int(d["vrid"]),
            priority=int(d["priority"]),
            count_ip=int(d["count_ip"]),
            auth_type=int(d["auth_type"]),
            adver_int_cs=int(d["adver_int_cs"]),
            checksum=int(d["checksum"]),
            addresses=tuple(str(a) for a in d["addresses"]),
            auth_data=bytes.fromhex(str(d.get("auth_data", ""))),
            family=int(d.get("family", 4)),
            checksum_form=str(d.get("checksum_form", CHECKSUM_V2)),
        )


# ---- address helpers (cached: a router sees the same few addresses all the time) ---------


@functools.lru_cache(maxsize=4096)
def packed_address(family: int, addr: str) -> bytes:
    """``addr`` in network byte order; ``ValueError`` if it is not an IPv``family`` address."""
    if family == 6:
        return ipaddress.IPv6Address(addr).packed
    return ipaddress.IPv4Address(addr).packed


@functools.lru_cache(maxsize=4096)
def address_text(raw: bytes) -> str:
    """4 or 16 bytes -> canonical text (dotted quad / compressed IPv6)."""
    return str(ipaddress.ip_address(raw))


# ---- checksum ----------------------------------------------------------------------------


def inet_checksum(data: bytes) -> int:
    """RFC 1071 Internet checksum (one's complement of the one's complement sum)."""
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _pseudo_header(family: int, src: str, dst: str, length: int) -> bytes:
    """IPv4 ({src, dst, 0, 112, len16}) or IPv6 RFC 8200 §8.1 pseudo-header."""
    if family == 6:
        return (
            packed_address(6, src)
            + packed_address(6, dst)
            + struct.pack("!I3xB", length, VRRP_PROTO)
        )
    return (
        packed_address(4, src)
        + packed_address(4, dst)
        + struct.pack("!BBH", 0, VRRP_PROTO, length)
    )


def compute_checksum(
    message: bytes, *, version: int, family: int, src: str, dst: str, form: str
) -> int:
    """Checksum of ``message`` (checksum field must be zero) in the given form."""
    if version == 2 or form == CHECKSUM_V2:
        return inet_checksum(message)
    if form == CHECKSUM_PSEUDO_MCAST:
        dst = VRRP_MCAST_V4
    return inet_checksum(_pseudo_header(family, src, dst, len(message)) + message)


# ---- encode ------------------------------------------------------------------------------


def encode(advert: Advert, *, src: str, dst: str, v3_checksum_as_v2: bool = False) -> bytes:
    """Encode ``advert`` as a VRRP payload (the kernel adds the IP header).

    ``src``/``dst`` are the IP source and destination (used by the v3 pseudo-header checksum).
    ``v3_checksum_as_v2`` sends the RFC 9568 v3/IPv4 form (no pseudo-header).
    Raises ``ValueError`` on an advert that cannot be encoded (a bug in the caller).
    """
    version, family = advert.version, advert.family
    if version not in (2, 3):
        raise ValueError(f"VRRP version must be 2 or 3, not {version}")
    if family not in (4, 6) or (family == 6 and version != 3):
        raise ValueError(f"VRRPv{version} cannot carry IPv{family} addresses")
    if not 1 <= advert.vrid <= 255 or not 0 <= advert.priority <= 255:
        raise ValueError(f"bad vrid {advert.vrid} or priority {advert.priority}")
    if len(advert.addresses) > 255:
        raise ValueError("at most 255 addresses fit in an advert")
    addrs = b"".join(packed_address(family, a) for a in advert.addresses)
    count = len(advert.addresses)
    if version == 2:
        seconds = advert.adver_int_cs // 100
        if not 1 <= seconds <= 255 or advert.adver_int_cs % 100:
            raise ValueError(f"v2 interval must be 1..255 whole seconds: {advert.adver_int_cs}cs")
        auth = advert.auth_data[:AUTH_DATA_LEN].ljust(AUTH_DATA_LEN, b"\0")
        head = struct.pack(
            "!BBBBBBH", 0x21, advert.vrid, advert.priority, count, advert.auth_type, seconds, 0
        )
        msg = head + addrs + auth
        csum = inet_checksum(msg)
    else:
        if not 1 <= advert.adver_int_cs <= 0xFFF:
            raise ValueError(f"v3 interval must be 1..4095 cs: {advert.adver_int_cs}")
        head = struct.pack(
            "!BBBBHH", 0x31, advert.vrid, advert.priority, count, advert.adver_int_cs, 0
        )
        msg = head + addrs
        form = CHECKSUM_V2 if (family == 4 and v3_checksum_as_v2) else CHECKSUM_PSEUDO
        csum = compute_checksum(msg, version=3, family=family, src=src, dst=dst, form=form)
    return msg[:6] + struct.pack("!H", csum) + msg[8:]


# ---- decode ------------------------------------------------------------------------------


def decode(
    data: bytes,
    *,
    family: int,
    src: str,
    dst: str,
    ttl: int,
    multicast: bool = True,
    checksum_as_v2_ok: bool = True,
) -> Advert:
    """Decode and validate one VRRP payload; raise :class:`MalformedAdvert` if invalid.

    ``family`` is the IP family (4/6) the packet arrived on, ``src``/``dst`` its IP addresses,
    ``ttl`` its TTL / hop limit. ``multicast`` False skips the TTL check (keepalived does not
    check TTL on unicast). ``checksum_as_v2_ok`` accepts the RFC 9568 v3/IPv4 checksum form.
    Trailing bytes beyond the declared message (padding) are ignored.
    """
    if family not in (4, 6):
        raise MalformedAdvert("packet_len_err", f"unknown address family {family}")
    # RFC 3768 §7.1 / RFC 5798 §7.1 order: TTL, version, length, checksum (then instance
    # checks in the router).
    if multicast and ttl != VRRP_TTL:
        what = "TTL" if family == 4 else "hop limit"
        raise MalformedAdvert("ip_ttl_err", f"IPv{family} {what} is {ttl}; should be 255")
    if len(data) < HEADER_LEN:
        raise MalformedAdvert("packet_len_err", f"packet is {len(data)} bytes; header needs 8")
    ver_type = data[0]
    version, ptype = ver_type >> 4, ver_type & 0x0F
    if version not in (2, 3):
        raise MalformedAdvert("vers_err", f"version is {version}; should be 2 or 3")
    if version == 2 and family == 6:
        raise MalformedAdvert("vers_err", "VRRPv2 received over IPv6")
    if ptype != VRRP_TYPE_ADVERTISEMENT:
        raise MalformedAdvert("invalid_type_rcvd", f"type is {ptype}; should be 1")
    vrid, priority, count = data[1], data[2], data[3]
    addr_len = 4 if family == 4 else 16
    need = HEADER_LEN + addr_len * count + (AUTH_DATA_LEN if version == 2 else 0)
    if len(data) < need:
        raise MalformedAdvert(
            "packet_len_err", f"packet is {len(data)} bytes; {count} addresses need {need}"
        )
    msg = data[:need]
    wire_csum = struct.unpack_from("!H", msg, 6)[0]
    zeroed = msg[:6] + b"\0\0" + msg[8:]
    if version == 2:
        forms: tuple[str, ...] = (CHECKSUM_V2,)
    elif family == 6:
        forms = (CHECKSUM_PSEUDO,)
    else:
        forms = (CHECKSUM_PSEUDO,)
        if checksum_as_v2_ok:
            forms += (CHECKSUM_V2,)
        if dst != VRRP_MCAST_V4:
            forms += (CHECKSUM_PSEUDO_MCAST,)
    form = ""
    try:
        for f in forms:
            if (
                compute_checksum(zeroed, version=version, family=family, src=src, dst=dst, form=f)
                == wire_csum
            ):
                form = f
                break
    except ValueError as e:  # src/dst not addresses of this family
        raise MalformedAdvert("chk_err", f"cannot compute checksum: {e}") from None
    if not form:
        raise MalformedAdvert("chk_err", f"checksum 0x{wire_csum:04x} is wrong")
    if vrid == 0:
        raise MalformedAdvert("vrid_err", "VRID is 0; should be 1..255")
    addresses = tuple(
        address_text(msg[HEADER_LEN + i * addr_len : HEADER_LEN + (i + 1) * addr_len])
        for i in range(count)
    )
    if version == 2:
        auth_type, seconds = data[4], data[5]
        if auth_type not in (AUTH_NONE, AUTH_PASS):
            kind = "AH" if auth_type == AUTH_AH else str(auth_type)
            raise MalformedAdvert("invalid_authtype", f"auth type {kind} is not supported")
        if seconds == 0:
            raise MalformedAdvert("advert_interval_err", "advert interval is 0")
        adver_int_cs = seconds * 100
        auth_data = msg[need - AUTH_DATA_LEN :]
    else:
        auth_type = AUTH_NONE
        # RFC 5798 §5.2.6: reserved nibble ignored on receive.
        adver_int_cs = struct.unpack_from("!H", msg, 4)[0] & 0x0FFF
        if adver_int_cs == 0:  # RFC 9568 erratum 8301
            raise MalformedAdvert("advert_interval_err", "Max Adver Int is 0")
        auth_data = b""
    return Advert(
        version=version,
        vrid=vrid,
        priority=priority,
        count_ip=count,
        auth_type=auth_type,
        adver_int_cs=adver_int_cs,
        checksum=wire_csum,
        addresses=addresses,
        auth_data=auth_data,
        family=family,
        checksum_form=form,
    )
