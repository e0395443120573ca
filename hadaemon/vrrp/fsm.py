"""VRRP states and the state table (RFC 3768 §6.4, RFC 5798 §6.4, keepalived extensions).

Rule 1: every legal state change is listed in :data:`TRANSITIONS`; ``VirtualRouter`` routes every
change through one ``_change_state`` that checks this table (an illegal change is our bug and
raises). Rule 2: :data:`STATE_TABLE` is the specification the router implements, one row per
(state, event, condition); the unit tests name the row they cover and a test checks every row is
covered. Nothing here does I/O or knows about time.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final


class State(StrEnum):
    """VRRP router states; FAULT and STOP are keepalived's extra states."""

    INIT = "INIT"
    BACKUP = "BACKUP"
    MASTER = "MASTER"
    FAULT = "FAULT"
    STOP = "STOP"

    def __str__(self) -> str:
        return self.value


TRANSITIONS: Final[dict[State, frozenset[State]]] = {
    State.INIT: frozenset({State.BACKUP, State.MASTER, State.FAULT, State.STOP}),
    State.BACKUP: frozenset({State.MASTER, State.FAULT, State.STOP}),
    State.MASTER: frozenset({State.BACKUP, State.FAULT, State.STOP}),
    State.FAULT: frozenset({State.BACKUP, State.MASTER, State.STOP}),
    State.STOP: frozenset({State.BACKUP, State.MASTER, State.FAULT}),
}
"""Legal state changes (``from`` -> allowed ``to``)."""


@dataclass(frozen=True)
class Row:
    """One row of the state table."""

    id: str
    """Stable identifier used by the tests."""
    state: str
    """State the row applies in (``*`` = any)."""
    event: str
    """Event or timer."""
    condition: str
    """Guard."""
    next_state: str
    """Resulting state."""
    actions: str
    """What the router does."""


STATE_TABLE: Final[tuple[Row, ...]] = (
    Row(
        "init-startup-owner",
        "INIT",
        "Startup",
        "priority 255 and state not BACKUP",
        "MASTER",
        "send advert, add VIPs, GARP, Adver_Timer",
    ),
    Row(
        "init-startup-backup",
        "INIT",
        "Startup",
        "priority < 255",
        "BACKUP",
        "Master_Adver_Interval = Advertisement_Interval; Master_Down_Timer = MDI",
    ),
    Row(
        "init-startup-state-master",
        "INIT",
        "Startup",
        "state MASTER, priority < 255",
        "BACKUP",
        "Master_Down_Timer = Advertisement_Interval + Skew_Time(255) (keepalived)",
    ),
    Row(
        "init-startup-fault",
        "INIT",
        "Startup",
        "interface down or tracker fault",
        "FAULT",
        "no timers",
    ),
    Row("backup-shutdown", "BACKUP", "Shutdown", "", "STOP", "cancel Master_Down_Timer"),
    Row(
        "backup-mdt",
        "BACKUP",
        "Master_Down_Timer",
        "",
        "MASTER",
        "send advert before adding VIPs, GARP, Adver_Timer",
    ),
    Row(
        "backup-rx-prio0",
        "BACKUP",
        "Advert",
        "priority 0",
        "BACKUP",
        "Master_Down_Timer = Skew_Time",
    ),
    Row(
        "backup-rx-higher",
        "BACKUP",
        "Advert",
        "priority >= local",
        "BACKUP",
        "v3: adopt Max Adver Int; Master_Down_Timer = MDI",
    ),
    Row(
        "backup-rx-nopreempt",
        "BACKUP",
        "Advert",
        "lower priority, nopreempt",
        "BACKUP",
        "Master_Down_Timer = MDI",
    ),
    Row(
        "backup-rx-lower",
        "BACKUP",
        "Advert",
        "lower priority, preempt",
        "BACKUP",
        "discard and log; Master_Down_Timer keeps running",
    ),
    Row(
        "backup-rx-lower-delay",
        "BACKUP",
        "Advert",
        "lower priority, preempt_delay not yet elapsed",
        "BACKUP",
        "start preempt delay; Master_Down_Timer = MDI",
    ),
    Row(
        "master-adver-timer",
        "MASTER",
        "Adver_Timer",
        "",
        "MASTER",
        "send advert, Adver_Timer = Advertisement_Interval",
    ),
    Row(
        "master-shutdown", "MASTER", "Shutdown", "", "STOP", "send priority-0 advert, delete VIPs"
    ),
    Row(
        "master-rx-prio0",
        "MASTER",
        "Advert",
        "priority 0",
        "MASTER",
        "send advert, reset Adver_Timer",
    ),
    Row(
        "master-rx-higher",
        "MASTER",
        "Advert",
        "higher priority",
        "BACKUP",
        "delete VIPs; v3: adopt interval; Master_Down_Timer = MDI",
    ),
    Row(
        "master-rx-equal-higher-addr",
        "MASTER",
        "Advert",
        "equal priority, sender address greater",
        "BACKUP",
        "as master-rx-higher",
    ),
    Row(
        "master-rx-equal-lower-addr",
        "MASTER",
        "Advert",
        "equal priority, sender address smaller",
        "MASTER",
        "send advert (keepalived)",
    ),
    Row(
        "master-rx-lower",
        "MASTER",
        "Advert",
        "lower priority",
        "MASTER",
        "send advert, 'forcing new election' (keepalived; lower_prio_no_advert: discard)",
    ),
    Row(
        "any-fault",
        "*",
        "InterfaceDown/TrackerChanged/ForceFault",
        "fault condition",
        "FAULT",
        "from MASTER: priority-0 advert, delete VIPs",
    ),
    Row(
        "fault-clear",
        "FAULT",
        "InterfaceUp/TrackerChanged/ClearFault",
        "no fault left",
        "BACKUP",
        "as Startup (owner -> MASTER)",
    ),
    Row(
        "any-priority-change",
        "BACKUP/MASTER",
        "TrackerChanged/InterfaceDown",
        "no fault",
        "same",
        "recompute effective priority and Skew_Time",
    ),
    Row("stop-startup", "STOP", "Startup", "", "BACKUP/MASTER/FAULT", "as INIT Startup"),
)
"""The state table the router implements."""

ROW_IDS: Final[frozenset[str]] = frozenset(r.id for r in STATE_TABLE)
"""All row identifiers."""
