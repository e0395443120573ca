"""The ``checker`` worker: hosts :class:`hadaemon.checkers.service.CheckerService`.

Started by the supervisor through :mod:`hadaemon.workers.base`; ``make_service`` is the hook.
"""

from __future__ import annotations

from typing import Any

from hadaemon.workers.base import Emit


def make_service(config: Any, emit: Emit, options: dict[str, Any]) -> Any:
    """Build the health-check service for ``config`` (the model without VRRP parts)."""
    from hadaemon.checkers.service import CheckerService

    return CheckerService(config, emit)
