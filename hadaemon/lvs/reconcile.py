"""Pure reconcile: desired services vs what the backend holds → the operations to apply.

The backend reports its actual state as ``{service name: fingerprint}`` (a service whose objects
were damaged, e.g. a rule deleted by hand, reports an empty fingerprint) plus whether its shared
base objects (tables, hooks, dispatch maps) are intact. The operations returned here are applied by
the backend as ONE atomic batch, in list order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from hadaemon.lvs.model import Service


@dataclass(frozen=True)
class ActualState:
    """What a backend currently holds."""

    services: Mapping[str, str] = field(default_factory=dict)
    base_ok: bool = False
    #: interfaces carrying a DR ingress hook
    devices: tuple[str, ...] = ()


@dataclass(frozen=True)
class EnsureBase:
    """(Re)create the shared objects: tables, hook chains, dispatch maps."""

    devices: tuple[str, ...] = ()


@dataclass(frozen=True)
class AddService:
    """Create a service that the backend does not have."""

    service: Service


@dataclass(frozen=True)
class UpdateService:
    """Replace a service's rules (weights, servers, scheduler, matches...) atomically."""

    service: Service


@dataclass(frozen=True)
class DeleteService:
    """Remove a service and everything that belongs to it."""

    name: str


Op = EnsureBase | AddService | UpdateService | DeleteService


def reconcile(desired: Iterable[Service] | Mapping[str, Service], actual: ActualState) -> list[Op]:
    """The operations turning ``actual`` into ``desired``; empty when they are equal.

    Order: base first, then deletes (so that freed dispatch keys can be reused), then updates and
    additions sorted by name (deterministic batches).
    """
    want: dict[str, Service]
    if isinstance(desired, Mapping):
        want = dict(desired)
    else:
        want = {}
        for s in desired:
            if s.name in want:
                raise ValueError(f"duplicate service name {s.name!r}")
            want[s.name] = s
    ops: list[Op] = []
    devices = tuple(
        sorted({d for s in want.values() if s.method == "DR" for d in s.ingress_devices})
    )
    if not actual.base_ok or tuple(sorted(actual.devices)) != devices:
        ops.append(EnsureBase(devices))
    for name in sorted(set(actual.services) - set(want)):
        ops.append(DeleteService(name))
    for name in sorted(want):
        svc = want[name]
        have = actual.services.get(name)
        if have is None:
            ops.append(AddService(svc))
        elif have != svc.fingerprint():
            ops.append(UpdateService(svc))
    return ops
