"""SMTP_CHECK: 220 greeting, HELO helo_name -> 250, QUIT."""

from __future__ import annotations

import asyncio

from hadaemon.checkers.probes import ProbeResult, local_addr, target
from hadaemon.checkers.spec import CheckSpec

MAX_REPLY_BYTES = 16 * 1024


class SmtpError(Exception):
    """Protocol failure of the server."""


async def _reply(reader: asyncio.StreamReader, timeout_s: float) -> int:
    """Read a (possibly multi-line) SMTP reply; returns its code."""
    total = 0
    while True:
        try:
            async with asyncio.timeout(timeout_s):
                line = await reader.readuntil(b"\n")
        except TimeoutError:
            raise SmtpError("Read timeout from server") from None
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            raise SmtpError("bad reply from server") from None
        total += len(line)
        if total > MAX_REPLY_BYTES or len(line) < 4 or not line[:3].isdigit():
            raise SmtpError("bad reply from server")
        if line[3:4] != b"-":
            return int(line[:3])


async def probe(spec: CheckSpec) -> ProbeResult:
    """Greeting 2xx, HELO accepted with 250."""
    name = target(spec)
    t = spec.connect_timeout_s
    try:
        async with asyncio.timeout(t):
            reader, writer = await asyncio.open_connection(
                spec.connect_ip,
                spec.connect_port or 25,
                local_addr=local_addr(spec),
                limit=MAX_REPLY_BYTES,
            )
    except TimeoutError:
        return ProbeResult(False, f"Connection timeout to server {name}")
    except OSError:
        return ProbeResult(False, f"SMTP connection to {name} failed.")
    try:
        code = await _reply(reader, t)
        if code != 220:
            raise SmtpError(f"bad greeting {code}")
        writer.write(f"HELO {spec.smtp_helo_name}\r\n".encode())
        code = await _reply(reader, t)
        if code != 250:
            raise SmtpError(f"HELO answered {code}")
        writer.write(b"QUIT\r\n")
        return ProbeResult(True, f"Remote SMTP server {name} succeed on service.")
    except SmtpError as exc:
        return ProbeResult(False, f"SMTP_CHECK {exc} {name}")
    except OSError as exc:
        return ProbeResult(False, f"SMTP_CHECK connection error to {name}: {exc}")
    finally:
        writer.close()
        try:
            async with asyncio.timeout(1.0):
                await writer.wait_closed()
        except (OSError, TimeoutError):
            pass
