"""In-memory backend: for tests, ``--dry-run`` and as the reference behaviour of a backend."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hadaemon.lvs.backend import BackendError
from hadaemon.lvs.model import Service, validate_service
from hadaemon.lvs.reconcile import (
    ActualState,
    AddService,
    DeleteService,
    EnsureBase,
    Op,
    UpdateService,
)


class MemoryBackend:
    """Holds services in a dict; ``apply`` is atomic (validated first, then swapped in)."""

    name = "memory"

    def __init__(self) -> None:
        self.services: dict[str, Service] = {}
        self.base = False
        self.devices: tuple[str, ...] = ()
        self.batches: list[list[Op]] = []

    def read_actual(self) -> ActualState:
        return ActualState(
            {n: s.fingerprint() for n, s in self.services.items()}, self.base, self.devices
        )

    def cached_actual(self) -> ActualState:
        return self.read_actual()

    def apply(self, ops: Sequence[Op], desired: Sequence[Service]) -> None:
        new = dict(self.services)
        base, devices = self.base, self.devices
        for op in ops:
            if isinstance(op, EnsureBase):
                base, devices = True, op.devices
            elif isinstance(op, DeleteService):
                if op.name not in new:
                    raise BackendError(f"no such service {op.name}")
                del new[op.name]
            elif isinstance(op, AddService | UpdateService):
                problems = validate_service(op.service)
                if problems:
                    raise BackendError("; ".join(problems))
                if isinstance(op, AddService) and op.service.name in new:
                    raise BackendError(f"service {op.service.name} exists")
                new[op.service.name] = op.service
        if not base and new:
            raise BackendError("services without base objects")
        self.services, self.base, self.devices = new, base, devices
        self.batches.append(list(ops))

    def counters(self) -> dict[str, dict[str, dict[str, int]]]:
        return {
            n: {str(r): {"conns": 0, "packets": 0, "bytes": 0} for r in s.reals}
            for n, s in self.services.items()
        }

    def destroy(self) -> None:
        self.services.clear()
        self.base = False

    def check(self, svc: Service) -> list[str]:
        return []

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, "services": sorted(self.services)}
