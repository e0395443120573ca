"""Timer formulas against the worked numbers of keepalived-features.md §4.3."""

from __future__ import annotations

import pytest

from hadaemon.vrrp.timing import master_down_interval_cs, skew_time_cs


@pytest.mark.parametrize(
    ("prio", "interval_cs", "version", "skew_cs", "mdi_cs"),
    [
        (100, 100, 2, 60.9375, 360.9375),
        (254, 100, 2, 0.78125, 300.78125),
        (200, 100, 2, 21.875, 321.875),
        (100, 100, 3, 60.9375, 360.9375),
        (200, 10, 3, 2.1875, 32.1875),
        (100, 500, 2, 60.9375, 1560.9375),  # v2 skew independent of the interval
        (100, 500, 3, 304.6875, 1804.6875),
    ],
)
def test_rfc_formulas(
    prio: int, interval_cs: int, version: int, skew_cs: float, mdi_cs: float
) -> None:
    assert skew_time_cs(prio, interval_cs, version) == skew_cs
    assert master_down_interval_cs(prio, interval_cs, version) == mdi_cs


def test_down_timer_adverts_replaces_three() -> None:
    assert master_down_interval_cs(100, 100, 3, down_timer_adverts=5) == 500 + 60.9375
    # adjacent priorities differ by 1/256 of the interval
    d = master_down_interval_cs(100, 100, 3) - master_down_interval_cs(101, 100, 3)
    assert d == 100 / 256
