"""``static_ipaddress``, ``static_routes``, ``static_rules``: set at start, removed at stop.

keepalived's VRRP process configures these once when it starts, whatever the VRRP states
(they are not moved by failover), removes them when it stops, and on a reload removes the
ones that left the config and adds the new ones (``clear_diff_static_*`` then
``netlink_*list(..., ADD)``). The VRRP worker does the same through :class:`StaticNet`.

Errors are logged per object and never stop the others (keepalived logs and goes on).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from hadaemon.io.netlink import (
    Netlink,
    RouteSpec,
    RuleSpec,
    VipSpec,
    route_from_model,
    rule_from_model,
    vip_from_model,
)

log = logging.getLogger("hadaemon.vrrp")


@dataclass(frozen=True)
class StaticSet:
    """The static objects of one configuration, as netlink specs."""

    addresses: tuple[VipSpec, ...] = ()
    routes: tuple[RouteSpec, ...] = ()
    rules: tuple[RuleSpec, ...] = ()

    @classmethod
    def from_config(cls, config: Any) -> StaticSet:
        """The ``static_*`` blocks of a :class:`hadaemon.config.model.Config`.

        Raises ``ValueError`` (from the spec parsers) for a line netlink cannot express.
        """
        return cls(
            addresses=tuple(
                vip_from_model(a, a.dev or "") for a in getattr(config, "static_ipaddress", ())
            ),
            routes=tuple(route_from_model(r) for r in getattr(config, "static_routes", ())),
            rules=tuple(rule_from_model(r) for r in getattr(config, "static_rules", ())),
        )

    def __bool__(self) -> bool:
        return bool(self.addresses or self.routes or self.rules)


async def each_logged(
    what: str, items: Sequence[Any], op: Callable[[Any], Awaitable[Any]], prefix: str = ""
) -> None:
    """``await op(x)`` for every item; a failure is logged (``<prefix>cannot <what> x: why``)
    and the rest still go (keepalived logs a failed netlink request and carries on)."""
    for x in items:
        try:
            await op(x)
        except Exception as exc:
            log.error("%scannot %s %s: %s", prefix, what, x, exc)


def _gone(old: Sequence[Any], new: Sequence[Any]) -> list[Any]:
    return [x for x in old if x not in new]


class StaticNet:
    """Keeps the kernel in line with the config's static addresses, routes and rules."""

    def __init__(self, netlink: Netlink) -> None:
        self.netlink = netlink
        self.current = StaticSet()

    async def apply(self, wanted: StaticSet) -> None:
        """Remove what left the config (rules, routes, then addresses), add what is wanted
        (addresses, routes, then rules: a route may need an address, a rule a route's table).
        Adding what is already there is a no-op (the netlink helpers say so)."""
        old = self.current
        nl, pfx = self.netlink, "static: "
        await each_logged("remove rule", _gone(old.rules, wanted.rules), nl.del_rule, pfx)
        await each_logged("remove route", _gone(old.routes, wanted.routes), nl.del_route, pfx)
        await each_logged(
            "remove address", _gone(old.addresses, wanted.addresses), nl.del_vip, pfx
        )
        await each_logged("add address", wanted.addresses, nl.add_vip, pfx)
        await each_logged("add route", wanted.routes, nl.add_route, pfx)
        await each_logged("add rule", wanted.rules, nl.add_rule, pfx)
        self.current = wanted

    async def clear(self) -> None:
        """Remove everything :meth:`apply` set (at stop)."""
        await self.apply(StaticSet())
