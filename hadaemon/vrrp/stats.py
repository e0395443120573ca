"""Per-instance counters, named as keepalived's ``vrrp_stats`` (so exporters map 1:1)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

DROP_COUNTERS = (
    "packet_len_err",
    "ip_ttl_err",
    "vers_err",
    "invalid_type_rcvd",
    "chk_err",
    "vrid_err",
    "invalid_authtype",
    "authtype_mismatch",
    "auth_failure",
    "advert_interval_err",
    "addr_list_err",
    "addr_family_err",
)
"""Counters whose increment means the packet was dropped."""


@dataclass
class VrrpStats:
    """keepalived's per-instance statistics plus ``rx_dropped`` (sum of every drop)."""

    advert_rcvd: int = 0
    """Adverts accepted (passed every check)."""
    advert_sent: int = 0
    """Adverts sent (including priority 0)."""
    become_master: int = 0
    """Transitions into MASTER."""
    release_master: int = 0
    """Transitions out of MASTER."""
    packet_len_err: int = 0
    """Truncated packets."""
    advert_interval_err: int = 0
    """v2 interval mismatch or zero interval (dropped); v3 adopts the master's interval."""
    ip_ttl_err: int = 0
    """TTL / hop limit not 255 on multicast."""
    invalid_type_rcvd: int = 0
    """VRRP type not 1."""
    addr_list_err: int = 0
    """Address list differs from ours, or multicast/unicast not as configured (dropped)."""
    invalid_authtype: int = 0
    """Unknown or unsupported (AH) auth type."""
    authtype_mismatch: int = 0
    """Auth type differs from ours."""
    auth_failure: int = 0
    """Wrong PASS password."""
    pri_zero_rcvd: int = 0
    """Priority-0 adverts received."""
    pri_zero_sent: int = 0
    """Priority-0 adverts sent."""
    chk_err: int = 0
    """Bad checksum."""
    vers_err: int = 0
    """Wrong VRRP version."""
    vrid_err: int = 0
    """VRID not ours."""
    addr_family_err: int = 0
    """Advert family differs from the instance's."""
    rx_dropped: int = 0
    """Sum of every drop counter (hadaemon extra)."""

    def count_drop(self, counter: str) -> None:
        """Bump a drop counter and ``rx_dropped``."""
        if counter not in DROP_COUNTERS:
            raise ValueError(f"not a drop counter: {counter}")
        setattr(self, counter, getattr(self, counter) + 1)
        self.rx_dropped += 1

    def as_dict(self) -> dict[str, int]:
        """JSON-able dict."""
        return asdict(self)
