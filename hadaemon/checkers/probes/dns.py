"""DNS_CHECK: one UDP query (dnspython); NOERROR with a matching reply is up."""

from __future__ import annotations

import dns.asyncquery
import dns.exception
import dns.message
import dns.rcode
import dns.rdatatype

from hadaemon.checkers.probes import ProbeResult, target
from hadaemon.checkers.spec import CheckSpec, DnsSpec


async def probe(spec: CheckSpec) -> ProbeResult:
    """Query ``name`` ``type`` over UDP and require rcode NOERROR."""
    d = spec.dns or DnsSpec()
    name = target(spec)
    try:
        q = dns.message.make_query(d.name, dns.rdatatype.from_text(d.type))
    except (dns.exception.DNSException, ValueError) as exc:
        return ProbeResult(False, f"DNS_CHECK ({name}) bad query: {exc}")
    try:
        r = await dns.asyncquery.udp(
            q,
            spec.connect_ip,
            timeout=spec.connect_timeout_s,
            port=spec.connect_port or 53,
            source=spec.bindto,
            source_port=spec.bind_port or 0,
            raise_on_truncation=False,
        )
    except dns.exception.Timeout:
        return ProbeResult(False, f"DNS_CHECK ({name}) read timeout from socket.")
    except (dns.exception.DNSException, OSError, ValueError) as exc:
        return ProbeResult(False, f"DNS_CHECK ({name}) failed: {exc}")
    if r.rcode() != dns.rcode.NOERROR:
        return ProbeResult(False, f"DNS_CHECK ({name}) {dns.rcode.to_text(r.rcode())}")
    return ProbeResult(True, f"DNS_CHECK ({name}) succeed on service.")
