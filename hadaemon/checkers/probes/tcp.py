"""TCP_CHECK: a connect() within connect_timeout, then close.

A bare non-blocking socket with ``loop.sock_connect`` (no stream objects): this is the checker
that runs by the thousand, so it is kept as cheap as asyncio allows.
"""

from __future__ import annotations

import asyncio
import socket

from hadaemon.checkers.probes import ProbeResult, local_addr, target
from hadaemon.checkers.spec import CheckSpec


async def probe(spec: CheckSpec) -> ProbeResult:
    """Connect to ``connect_ip:connect_port`` (from ``bindto:bind_port``)."""
    name = target(spec)
    fam = socket.AF_INET6 if ":" in spec.connect_ip else socket.AF_INET
    loop = asyncio.get_running_loop()
    try:
        sock = socket.socket(fam, socket.SOCK_STREAM)
    except OSError as exc:
        return ProbeResult(False, f"TCP connection to {name} failed ({exc.strerror}).")
    with sock:
        sock.setblocking(False)
        try:
            la = local_addr(spec)
            if la is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind(la)
            if spec.bind_if:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, spec.bind_if.encode())
            async with asyncio.timeout(spec.connect_timeout_s):
                await loop.sock_connect(sock, (spec.connect_ip, spec.connect_port or 0))
        except TimeoutError:
            return ProbeResult(False, f"TCP connection to {name} timeout.")
        except (OSError, OverflowError, ValueError):
            return ProbeResult(False, f"TCP connection to {name} failed.")
    return ProbeResult(True, f"TCP connection to {name} success.")
