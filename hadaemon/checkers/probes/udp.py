"""UDP_CHECK: send ``payload``; an ICMP unreachable (or, with ``require_reply``, no valid reply
within connect_timeout) is down."""

from __future__ import annotations

import asyncio
import os
import socket

from hadaemon.checkers.probes import ProbeResult, local_addr, target
from hadaemon.checkers.spec import CheckSpec, UdpSpec


def parse_hex_str(text: str, wildcards: bool = False) -> tuple[bytes, bytes]:
    """keepalived's free-form HEX_STR: whitespace-separated groups read in pairs, a lone last
    digit of a group is one byte (``Ab12f 3`` -> ``AB 12 0F 03``); with ``wildcards`` X/x
    nibbles are "don't care".

    Returns (value, mask). Raises ValueError on bad characters.
    """
    val = bytearray()
    mask = bytearray()
    for group in text.split():
        for i in range(0, len(group), 2):
            v = m = 0
            for ch in group[i : i + 2].rjust(2, "0"):
                v <<= 4
                m <<= 4
                if wildcards and ch in "xX":
                    continue
                v |= int(ch, 16)
                m |= 0xF
            val.append(v)
            mask.append(m)
    return bytes(val), bytes(mask)


def reply_matches(data: bytes, pattern: tuple[bytes, bytes]) -> bool:
    """Compare up to the shorter of reply and pattern, honouring the wildcard mask."""
    value, mask = pattern
    return all((d & m) == (v & m) for d, v, m in zip(data, value, mask, strict=False))


async def probe(spec: CheckSpec) -> ProbeResult:
    """Send one datagram and judge the reply (or the silence)."""
    u = spec.udp or UdpSpec()
    name = target(spec)
    fam = socket.AF_INET6 if ":" in spec.connect_ip else socket.AF_INET
    loop = asyncio.get_running_loop()
    with socket.socket(fam, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        try:
            la = local_addr(spec)
            if la:
                sock.bind(la)
            sock.connect((spec.connect_ip, spec.connect_port or 0))
            await loop.sock_sendall(sock, u.payload if u.payload is not None else os.urandom(8))
            async with asyncio.timeout(spec.connect_timeout_s):
                data = await loop.sock_recv(sock, 65535)
        except TimeoutError:
            if u.require_reply:
                return ProbeResult(False, f"UDP check to {name} no reply (timeout).")
            return ProbeResult(True, f"UDP check to {name} success (no ICMP error).")
        except ConnectionRefusedError:
            return ProbeResult(False, f"UDP check to {name} failed: port unreachable.")
        except OSError as exc:
            return ProbeResult(False, f"UDP check to {name} failed: {exc.strerror or exc}.")
    if u.require_reply:
        if not u.min_reply_length <= len(data) <= u.max_reply_length:
            return ProbeResult(
                False, f"UDP check to {name} reply length {len(data)} out of range."
            )
        if u.reply_pattern is not None and not reply_matches(data, u.reply_pattern):
            return ProbeResult(False, f"UDP check to {name} reply does not match.")
    return ProbeResult(True, f"UDP check to {name} success.")
