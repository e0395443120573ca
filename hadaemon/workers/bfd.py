"""The ``bfd`` worker: hosts :class:`hadaemon.io.bfd.BfdService` (keepalived's BFD process).

Started by the supervisor through :mod:`hadaemon.workers.base` when the config has
``bfd_instance`` blocks (and not ``-B``/``--no_bfd``); ``make_service`` is the hook.
"""

from __future__ import annotations

from typing import Any

from hadaemon.workers.base import Emit

PRELOAD = ("hadaemon.io.bfd",)


def make_service(config: Any, emit: Emit, options: dict[str, Any]) -> Any:
    """Build the BFD service for ``config`` (its ``bfd_instances``)."""
    from hadaemon.io.bfd import BfdService

    return BfdService(config, emit)
