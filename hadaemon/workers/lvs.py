"""The ``lvs`` worker: hosts :class:`hadaemon.lvs.service.LvsService` (the only process that
loads libnftables).

Started by the supervisor through :mod:`hadaemon.workers.base`; ``make_service`` is the hook.
"""

from __future__ import annotations

from typing import Any

from hadaemon.workers.base import Emit


def make_service(config: Any, emit: Emit, options: dict[str, Any]) -> Any:
    """Build the data-path service for ``config`` (the model without VRRP parts)."""
    from hadaemon.lvs.service import LvsService

    return LvsService(config, emit)
