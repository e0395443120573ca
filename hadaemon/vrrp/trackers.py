"""Pure tracker state machines feeding the effective priority (keepalived's ``track_*``).

Each tracker turns observations (script exit status, file contents, process count) into a
:class:`~hadaemon.vrrp.events.TrackerChanged` via :meth:`contribution`. The driver runs the
scripts (asynchronously, with ``interval_s``/``timeout_s``), watches files and processes, and
feeds results here; nothing in this module does I/O.

Weight rules (keepalived.conf(5)): weight > 0 is added while the tracker is up, weight < 0 is
added while it is down, weight 0 puts the instance in FAULT while it is down; ``reverse`` swaps
up and down. Link trackers (``track_interface``) are handled inside the router from
``InterfaceUp``/``InterfaceDown`` events. ``track_bfd`` follows the state of a BFD session
(:class:`BfdTracker`), which the bfd worker reports through the supervisor.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hadaemon.vrrp.events import TrackerChanged

WEIGHT_MIN = -253
"""Smallest configurable weight."""
WEIGHT_MAX = 253
"""Largest configurable weight."""


def track_file_value(text: str) -> int:
    """The number a ``track_file`` holds: its first word as a decimal integer, 0 if it is empty.

    Raises ValueError when that word is not an integer (callers decide what that means).
    """
    words = text.split()
    return int(words[0]) if words else 0


def weighted_contribution(key: str, up: bool, weight: int, reverse: bool) -> TrackerChanged:
    """An up/down tracker's priority contribution under keepalived's weight rules.

    weight > 0 counts while up, weight < 0 while down, weight 0 means FAULT while down;
    ``reverse`` swaps up and down first.
    """
    if reverse:
        up = not up
    if weight == 0:
        return TrackerChanged(key, 0, fault=not up)
    if (weight > 0 and up) or (weight < 0 and not up):
        return TrackerChanged(key, weight)
    return TrackerChanged(key, 0)


@dataclass
class ScriptTracker:
    """``vrrp_script``: rise/fall hysteresis over script results (exit 0 = success)."""

    name: str
    """``vrrp_script NAME``."""
    weight: int = 0
    """``weight`` -253..253 (0: failure => FAULT)."""
    rise: int = 1
    """``rise``: consecutive successes to go up."""
    fall: int = 1
    """``fall``: consecutive failures to go down."""
    reverse: bool = False
    """``weight ... reverse``."""
    init_fail: bool = False
    """``init_fail``: start down instead of up."""
    interval_s: float = 1.0
    """``interval``: how often the driver runs the script."""
    timeout_s: float | None = None
    """``timeout`` (None: the interval); a timed-out run counts as a failure."""
    up: bool = field(init=False)
    """Current state."""
    _streak: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        if self.rise < 1 or self.fall < 1:
            raise ValueError(f"vrrp_script {self.name}: rise and fall must be >= 1")
        self.up = not self.init_fail

    @property
    def key(self) -> str:
        """Key used in :class:`TrackerChanged`."""
        return f"script:{self.name}"

    def result(self, ok: bool) -> bool:
        """Feed one run's outcome; return True if the up/down state changed."""
        if ok == self.up:
            self._streak = 0
            return False
        self._streak += 1
        if self._streak >= (self.rise if ok else self.fall):
            self.up, self._streak = ok, 0
            return True
        return False

    def decide(self, ok: bool) -> None:
        """Set the state outright, without hysteresis (a first run's verdict), and reset the
        streak."""
        self.up, self._streak = ok, 0

    def contribution(self) -> TrackerChanged:
        """Current priority contribution."""
        return weighted_contribution(self.key, self.up, self.weight, self.reverse)


@dataclass
class FileTracker:
    """``track_file``: the integer in the file times the weight.

    keepalived: weight 0 and a non-zero value => FAULT; a product below -253 => FAULT.
    """

    name: str
    """``track_file NAME``."""
    weight: int = 1
    """``weight``."""
    reverse: bool = False
    """``weight ... reverse``: negate the product."""
    value: int = 0
    """Last value read (``init_file`` value at start)."""

    @property
    def key(self) -> str:
        """Key used in :class:`TrackerChanged`."""
        return f"file:{self.name}"

    def set_text(self, text: str) -> bool:
        """Feed the file's contents (:func:`track_file_value`; unparseable => 0, as keepalived);
        True if changed."""
        try:
            v = track_file_value(text)
        except ValueError:
            v = 0
        changed, self.value = v != self.value, v
        return changed

    def contribution(self) -> TrackerChanged:
        """Current priority contribution."""
        if self.weight == 0:
            return TrackerChanged(self.key, 0, fault=self.value != 0)
        delta = self.value * self.weight * (-1 if self.reverse else 1)
        if delta < WEIGHT_MIN:
            return TrackerChanged(self.key, 0, fault=True)
        return TrackerChanged(self.key, min(delta, WEIGHT_MAX))


@dataclass
class ProcessTracker:
    """``vrrp_track_process``: up while ``quorum <= running <= quorum_max``."""

    name: str
    """``vrrp_track_process NAME``."""
    weight: int = 0
    """``weight``."""
    quorum: int = 1
    """``quorum``: minimum number of matching processes."""
    quorum_max: int | None = None
    """``quorum_max`` (None: unbounded)."""
    reverse: bool = False
    """``weight ... reverse``."""
    running: int = 0
    """Processes currently matching."""

    @property
    def key(self) -> str:
        """Key used in :class:`TrackerChanged`."""
        return f"process:{self.name}"

    @property
    def up(self) -> bool:
        """Quorum met."""
        return self.quorum <= self.running and (
            self.quorum_max is None or self.running <= self.quorum_max
        )

    def set_count(self, running: int) -> bool:
        """Feed the process count; True if the up/down state changed."""
        before = self.up
        self.running = max(0, running)
        return before != self.up

    def contribution(self) -> TrackerChanged:
        """Current priority contribution."""
        return weighted_contribution(self.key, self.up, self.weight, self.reverse)


@dataclass
class BfdTracker:
    """``track_bfd``: up while the BFD session (``bfd_instance NAME``) is Up.

    A session starts down (keepalived: an instance tracking an unweighted BFD stays in FAULT
    until the session comes Up). In a sync group without ``sync_group_tracking_weight`` the
    weight is 0: the session going down puts the group in FAULT.
    """

    name: str
    """``bfd_instance NAME``."""
    weight: int = 0
    """``weight`` of the ``track_bfd`` entry, else the ``bfd_instance``'s (0: FAULT)."""
    reverse: bool = False
    """``weight ... reverse``."""
    group: str | None = None
    """The sync group whose ``track_bfd`` this is (None: the instance's own)."""
    up: bool = False
    """The session is Up."""

    @property
    def key(self) -> str:
        """Key used in :class:`TrackerChanged` (a group's entry is apart from the instance's)."""
        return f"bfd:{self.group}:{self.name}" if self.group else f"bfd:{self.name}"

    def set_state(self, up: bool) -> bool:
        """Feed the session's state; True if it changed."""
        changed, self.up = up != self.up, up
        return changed

    def contribution(self) -> TrackerChanged:
        """Current priority contribution."""
        return weighted_contribution(self.key, self.up, self.weight, self.reverse)
