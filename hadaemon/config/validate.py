"""Semantic checks (placeholder, filled in below)."""

from __future__ import annotations

from hadaemon.config.errors import Diagnostics
from hadaemon.config.model import Config


def validate(config: Config, diags: Diagnostics) -> None:
    """Run every semantic check, adding diagnostics."""
    return None
