"""Fixtures shared by the netns tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.vrrp_lab import Lab


@pytest.fixture
def lab(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Lab]:
    """Two routers and a client on one segment (:class:`helpers.vrrp_lab.Lab`), removed after
    the test. Another shape: mark the module or test ``pytest.mark.lab_shape(routers=3,
    client=False)`` (the marker's keywords go to :class:`~helpers.vrrp_lab.Lab`)."""
    marker = request.node.get_closest_marker("lab_shape")
    lab = Lab(tmp_path, **(marker.kwargs if marker else {}))
    try:
        yield lab
    finally:
        lab.close()
