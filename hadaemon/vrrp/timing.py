"""VRRP timer formulas (RFC 3768 §6.1, RFC 5798 §6.1), pure, in centiseconds.

Results are floats because the RFC formulas divide by 256: every value is an exact multiple of
1/256 cs, which a binary float represents exactly (keepalived computes the same in µs,
``VRRP_TIMER_SKEW``; FRR truncates to whole cs, which is 0.4 % early at priority 200).

* Skew_Time: v2 ``(256 - Priority) / 256`` s; v3 ``((256 - Priority) * Master_Adver_Interval)
  / 256`` cs.
* Master_Down_Interval: ``down_timer_adverts * Master_Adver_Interval + Skew_Time`` (the RFCs
  use 3; keepalived's ``down_timer_adverts`` replaces it).
"""

from __future__ import annotations

DOWN_TIMER_ADVERTS_DEFAULT = 3
"""Adverts a backup waits for before declaring the master down (RFC: 3)."""
CS_PER_S = 100
"""Centiseconds per second."""


def skew_time_cs(priority: int, master_adver_interval_cs: float, version: int) -> float:
    """Skew_Time in centiseconds.

    ``priority`` is the local (effective) priority, ``master_adver_interval_cs`` the interval
    learned from the master (v3) or the configured one (v2, where it does not matter).
    """
    if version == 2:
        return (256 - priority) * CS_PER_S / 256
    return (256 - priority) * master_adver_interval_cs / 256


def master_down_interval_cs(
    priority: int,
    master_adver_interval_cs: float,
    version: int,
    down_timer_adverts: int = DOWN_TIMER_ADVERTS_DEFAULT,
) -> float:
    """Master_Down_Interval in centiseconds: ``n * Master_Adver_Interval + Skew_Time``."""
    return down_timer_adverts * master_adver_interval_cs + skew_time_cs(
        priority, master_adver_interval_cs, version
    )


def cs_to_s(cs: float) -> float:
    """Centiseconds to seconds."""
    return cs / CS_PER_S
