"""Asynchronous probes, one per keepalived checker type; all run on one asyncio loop.

Each probe is ``async def probe(spec: CheckSpec) -> ProbeResult`` and turns every failure it can
meet on the wire (refused, reset, timeout, garbage, TLS errors, missing scripts) into a failed
``ProbeResult`` with a keepalived-worded reason. ``run_probe`` dispatches on ``spec.kind`` and
also catches anything unexpected, so one broken check can never stop the others.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from hadaemon.checkers.spec import CheckSpec, fmt_service

log = logging.getLogger("hadaemon.checkers")


@dataclass(frozen=True)
class ProbeResult:
    """The outcome of one attempt."""

    ok: bool
    #: keepalived-style text, e.g. ``TCP connection to [10.0.0.11]:tcp:3306 failed.``
    reason: str = ""
    #: dynamic weight (MISC_CHECK misc_dynamic, FILE_CHECK dynamic), else None
    weight: int | None = None


def target(spec: CheckSpec) -> str:
    """``[ip]:tcp:port`` of what the checker connects to."""
    proto = "udp" if spec.kind in ("DNS_CHECK", "UDP_CHECK") else "tcp"
    return fmt_service(spec.connect_ip, spec.connect_port, proto)


def local_addr(spec: CheckSpec) -> tuple[str, int] | None:
    """``(bindto, bind_port)`` for the socket, or None."""
    if spec.bindto is None and spec.bind_port is None:
        return None
    host = spec.bindto or ("::" if ":" in spec.connect_ip else "0.0.0.0")
    return (host, spec.bind_port or 0)


Probe = Callable[[CheckSpec], Awaitable[ProbeResult]]


def _registry() -> dict[str, Probe]:
    from hadaemon.checkers.probes import dns, file, http, misc, ping, smtp, tcp, udp

    return {
        "TCP_CHECK": tcp.probe,
        "HTTP_GET": http.probe,
        "SSL_GET": http.probe,
        "MISC_CHECK": misc.probe,
        "SMTP_CHECK": smtp.probe,
        "DNS_CHECK": dns.probe,
        "PING_CHECK": ping.probe,
        "UDP_CHECK": udp.probe,
        "FILE_CHECK": file.probe,
    }


_PROBES: dict[str, Probe] | None = None


async def run_probe(spec: CheckSpec) -> ProbeResult:
    """Run the probe for ``spec.kind``; never raises (except cancellation)."""
    global _PROBES
    if _PROBES is None:
        _PROBES = _registry()
    fn = _PROBES.get(spec.kind)
    if fn is None:
        return ProbeResult(False, f"{spec.kind} is not supported")
    try:
        return await fn(spec)
    except Exception as exc:  # a probe bug or an unexpected OS error: a DOWN, not a crash
        log.debug("probe %s %s raised", spec.kind, target(spec), exc_info=True)
        return ProbeResult(False, f"{spec.kind} to {target(spec)} failed: {exc!r}")
