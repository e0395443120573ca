"""TCP_CHECK: a connect() within connect_timeout, then close."""

from __future__ import annotations

import asyncio
import contextlib

from hadaemon.checkers.probes import ProbeResult, local_addr, target
from hadaemon.checkers.spec import CheckSpec


async def probe(spec: CheckSpec) -> ProbeResult:
    """Connect to ``connect_ip:connect_port`` (from ``bindto:bind_port``)."""
    name = target(spec)
    try:
        async with asyncio.timeout(spec.connect_timeout_s):
            _reader, writer = await asyncio.open_connection(
                spec.connect_ip, spec.connect_port, local_addr=local_addr(spec)
            )
    except TimeoutError:
        return ProbeResult(False, f"TCP connection to {name} timeout.")
    except OSError:
        return ProbeResult(False, f"TCP connection to {name} failed.")
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return ProbeResult(True, f"TCP connection to {name} success.")
