"""Fixtures shared by the netns tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.vrrp_lab import Lab


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    """Two routers and a client on one segment (:class:`helpers.vrrp_lab.Lab`), removed after
    the test. A module needing another shape (``routers=``, ``client=False``) defines its own
    ``lab`` fixture, which takes precedence."""
    lab = Lab(tmp_path)
    try:
        yield lab
    finally:
        lab.close()
