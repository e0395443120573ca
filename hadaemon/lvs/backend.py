"""The interface every LVS data-path backend implements (nft, IPVS, memory)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from hadaemon.lvs.model import Service
from hadaemon.lvs.reconcile import ActualState, Op


class BackendError(Exception):
    """A batch could not be applied; the previous state is still in place."""


class Backend(Protocol):
    """A load-balancer data path.

    ``apply`` applies one batch atomically (all or nothing) and raises :class:`BackendError` with
    the kernel/tool message on failure. ``read_actual`` re-reads the real state (slow path, used to
    detect drift); ``cached_actual`` is what the backend believes after its last apply (fast path).
    """

    name: str

    def read_actual(self) -> ActualState: ...

    def cached_actual(self) -> ActualState: ...

    def apply(self, ops: Sequence[Op], desired: Sequence[Service]) -> None: ...

    def counters(self) -> dict[str, dict[str, dict[str, int]]]:
        """``{service: {real "ip:port": {"conns":…, "packets":…, "bytes":…}}}``."""
        ...

    def destroy(self) -> None:
        """Remove everything the backend created."""
        ...

    def describe(self) -> dict[str, Any]: ...

    def check(self, svc: Service) -> list[str]:
        """What this backend cannot do for ``svc`` (such services are left out, with an error)."""
        ...
