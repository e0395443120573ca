"""``vrrp_sync_group``: member instances move together (pure).

keepalived's rules: a member going to FAULT takes every member to FAULT; a member becoming
MASTER takes the BACKUP members to MASTER; a master member falling back to BACKUP takes the
other masters to BACKUP. A member whose Master_Down_Timer expires only claims MASTER when
every other member wants MASTER too (its timer expired as well); otherwise it stays BACKUP,
preferring BACKUP to thrashing, until an advert or the last member's timer decides. Group
notifications (``notify_master`` etc. of the group, generic ``notify`` with TYPE ``GROUP``)
fire when every member has reached the same state.

Use: feed members through the group (``handle``, ``receive``, ``handle_timer``) or call
:meth:`SyncGroup.propagate` after feeding a member directly. Drain each member's ``actions()``
and the group's own :meth:`SyncGroup.actions` (group notifications and logs).
"""

from __future__ import annotations

from collections.abc import Sequence

from hadaemon.vrrp import actions as act
from hadaemon.vrrp import events as ev
from hadaemon.vrrp.fsm import State
from hadaemon.vrrp.packet import Advert
from hadaemon.vrrp.router import VirtualRouter


class SyncGroup:
    """A set of :class:`VirtualRouter` kept in the same state."""

    def __init__(self, name: str, members: Sequence[VirtualRouter]) -> None:
        if not members:
            raise ValueError(f"sync group {name} has no members")
        self.name = name
        """``vrrp_sync_group NAME``."""
        self.members: dict[str, VirtualRouter] = {r.name: r for r in members}
        """Members by instance name."""
        self._states = {n: r.state for n, r in self.members.items()}
        self._group_state: State | None = None
        self._actions: list[act.Action] = []
        for r in members:
            r.sync_gate = self._can_goto_master

    @property
    def fault_reason(self) -> str:
        """The ForceFault reason the group uses."""
        return f"sync group {self.name} fault"

    @property
    def state(self) -> State | None:
        """The common state of all members, or None while they differ."""
        return self._group_state

    def actions(self) -> list[act.Action]:
        """Drain the group's own actions (group notify, logs)."""
        out, self._actions = self._actions, []
        return out

    def get_timer(self) -> float | None:
        """Earliest member deadline."""
        ts = [t for r in self.members.values() if (t := r.get_timer()) is not None]
        return min(ts) if ts else None

    def handle(self, member: str, event: ev.Event, now: float) -> None:
        """Feed ``event`` to one member (``Startup``/``Shutdown`` go to all if member is '')."""
        targets = list(self.members.values()) if not member else [self.members[member]]
        for r in targets:
            r.handle(event, now)
        self.propagate(now)

    def receive(
        self,
        member: str,
        data: bytes,
        *,
        src: str,
        dst: str,
        ttl: int,
        ifname: str = "",
        now: float,
    ) -> Advert | None:
        """``VirtualRouter.receive`` on one member, then propagate."""
        adv = self.members[member].receive(data, src=src, dst=dst, ttl=ttl, ifname=ifname, now=now)
        self.propagate(now)
        return adv

    def handle_timer(self, now: float) -> None:
        """Fire due timers of every member, then propagate."""
        for r in self.members.values():
            t = r.get_timer()
            if t is not None and t <= now:
                r.handle_timer(now)
                self.propagate(now)

    def _can_goto_master(self, member: VirtualRouter) -> bool:
        """keepalived ``vrrp_sync_can_goto_master``: only when every other member is MASTER
        or also wants MASTER (its own Master_Down_Timer expired)."""
        return all(
            r.state == State.MASTER or (r.state == State.BACKUP and r.wants_master)
            for r in self.members.values()
            if r is not member
        )

    def _own_fault(self, r: VirtualRouter) -> bool:
        return any(f != self.fault_reason for f in r.fault_reasons())

    def propagate(self, now: float) -> None:
        """Make the other members follow any member's state change since the last call."""
        for _ in range(4 * len(self.members) + 4):  # bounded: each pass settles members
            self._sync_faults(now)
            changed = [
                (n, self._states[n], r.state)
                for n, r in self.members.items()
                if r.state != self._states[n]
            ]
            if not changed:
                break
            self._states.update({n: new for n, _old, new in changed})
            for n, old, new in changed:
                self._follow(n, old, new, now)
        self._update_group_state()

    def _sync_faults(self, now: float) -> None:
        """Any member with a fault of its own holds every member in FAULT (and only then)."""
        any_own = any(self._own_fault(r) for r in self.members.values())
        for r in self.members.values():
            held = self.fault_reason in r.fault_reasons()
            if any_own and not held:
                r.handle(ev.ForceFault(self.fault_reason), now)
            elif not any_own and held:
                r.handle(ev.ClearFault(self.fault_reason), now)

    def _follow(self, src: str, old: State, new: State, now: float) -> None:
        why = f"sync group {self.name}: {src} {old} -> {new}"
        others = [r for n, r in self.members.items() if n != src]
        if new == State.MASTER:
            for r in others:
                r.force_master(now, why)
        elif old == State.MASTER and new == State.BACKUP:
            for r in others:
                r.force_backup(now, why)

    def _update_group_state(self) -> None:
        states = {r.state for r in self.members.values()}
        if len(states) != 1:
            return
        s = states.pop()
        if s == self._group_state or s == State.INIT:
            return
        self._group_state = s
        self._actions.append(act.Log("info", f"({self.name}) Sync group entering {s} STATE"))
        self._actions.append(act.RunNotify(self.name, s.value, 0, group=True))
