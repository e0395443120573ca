"""Pure lifecycle state machine of one supervised worker (supervisor's ``states.py`` shape).

Rules:

1. A worker is in exactly one :class:`ChildState`. Every change goes through
   ``_change_state`` which checks :data:`TRANSITIONS`.
2. Time is passed in (``now``, monotonic seconds); nothing here reads a clock or touches a
   process. Side effects are returned as actions (:class:`Spawn`, :class:`Kill`) drained with
   :meth:`Child.actions`; the supervisor executes them through ``os_ops``.
3. Backoff: after an unexpected exit the next start waits ``backoff_s``, which starts at
   :data:`BACKOFF_INITIAL_S` (0.1 s) and doubles on each *quick* crash up to
   :data:`BACKOFF_MAX_S` (60 s). A worker that ran for :data:`STABLE_S` (60 s) before exiting
   starts over at 0.1 s. A crash is quick when the worker never said Ready or died less than
   :data:`MIN_HEALTHY_S` after it; a worker that was serving (e.g. a VRRP master killed by an
   OOM killer or an operator's ``kill -9``) is respawned after the current delay without
   doubling it, so that it is back before its peers' Master_Down_Interval even when it is
   killed many times in a row, while a crash loop still backs off. (Deliberate deviation from
   keepalived, which doubles on every death within 60 s.)
4. Exit codes in :data:`PERMANENT_EXIT_CODES` (bad config, missing permission) are final:
   FATAL, no respawn loop. Exit 0 while not stopping is treated as a crash (workers never exit
   on their own).
::

    STOPPED --start--> STARTING --ready--> RUNNING
       ^                 |  |                |  \\
       |        exit(transient)  exit(perm)   |   stop
       |                 v  v                v     v
       +----------- BACKOFF  FATAL <---------+  STOPPING --exit--> STOPPED
"""

from __future__ import annotations

import enum
import signal
from dataclasses import dataclass

BACKOFF_INITIAL_S = 0.1
BACKOFF_MAX_S = 60.0
STABLE_S = 60.0
#: A worker that served this long after Ready is not in a crash loop (no doubling).
MIN_HEALTHY_S = 1.0
#: A worker that has not said Ready this long after spawn is killed (and respawned).
STARTUP_TIMEOUT_S = 120.0
#: After SIGTERM (or a Shutdown message), SIGKILL follows after this long.
STOP_TIMEOUT_S = 5.0

#: sysexits.h codes used by workers
EXIT_OK = 0
EXIT_UNAVAILABLE = 69  # EX_UNAVAILABLE: the worker module cannot be imported; permanent
EXIT_SOFTWARE = 70  # EX_SOFTWARE: unexpected exception; transient, respawn
EXIT_PROTOCOL = 76  # EX_PROTOCOL: malformed frame from the supervisor; respawn
EXIT_NOPERM = 77  # EX_NOPERM: missing capability; permanent
EXIT_CONFIG = 78  # EX_CONFIG: the worker rejected its config; permanent
PERMANENT_EXIT_CODES = frozenset({EXIT_UNAVAILABLE, EXIT_NOPERM, EXIT_CONFIG})


class ChildState(enum.Enum):
    """Lifecycle states (names from supervisord)."""

    STOPPED = "STOPPED"
    STARTING = "STARTING"
    RUNNING = "RUNNING"
    BACKOFF = "BACKOFF"
    STOPPING = "STOPPING"
    FATAL = "FATAL"


S = ChildState
TRANSITIONS: dict[ChildState, frozenset[ChildState]] = {
    S.STOPPED: frozenset({S.STARTING}),
    S.STARTING: frozenset({S.RUNNING, S.BACKOFF, S.FATAL, S.STOPPING, S.STOPPED}),
    S.RUNNING: frozenset({S.BACKOFF, S.FATAL, S.STOPPING}),
    S.BACKOFF: frozenset({S.STARTING, S.STOPPED}),
    S.STOPPING: frozenset({S.STOPPED}),
    S.FATAL: frozenset({S.STARTING, S.STOPPED}),
}


@dataclass(frozen=True)
class Spawn:
    """Start a new process for this worker."""

    name: str


@dataclass(frozen=True)
class Kill:
    """Send ``signum`` to the worker's process (``pid``)."""

    name: str
    pid: int
    signum: int


Action = Spawn | Kill


def describe_exit(status: int) -> str:
    """Human text for a ``waitstatus_to_exitcode`` value (negative = killed by a signal)."""
    if status < 0:
        try:
            return f"killed by {signal.Signals(-status).name}"
        except ValueError:
            return f"killed by signal {-status}"
    return f"exited with status {status}"


class Child:
    """Lifecycle of one worker; see the module rules."""

    def __init__(
        self,
        name: str,
        *,
        backoff_initial_s: float = BACKOFF_INITIAL_S,
        backoff_max_s: float = BACKOFF_MAX_S,
        stable_s: float = STABLE_S,
        min_healthy_s: float = MIN_HEALTHY_S,
        startup_timeout_s: float = STARTUP_TIMEOUT_S,
        stop_timeout_s: float = STOP_TIMEOUT_S,
    ) -> None:
        self.name = name
        self.state = ChildState.STOPPED
        self.pid: int | None = None
        #: number of unexpected exits followed by a respawn
        self.restarts = 0
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.stable_s = stable_s
        self.min_healthy_s = min_healthy_s
        self.startup_timeout_s = startup_timeout_s
        self.stop_timeout_s = stop_timeout_s
        #: delay before the next respawn (seconds)
        self.backoff_s = backoff_initial_s
        self.spawned_at: float | None = None
        self.ready_at: float | None = None
        self.last_exit: int | None = None
        self.fatal_reason: str | None = None
        self._deadline: float | None = None
        self._actions: list[Action] = []

    # -- helpers --------------------------------------------------------------------------
    def _change_state(self, to: ChildState) -> None:
        if to not in TRANSITIONS[self.state]:
            raise RuntimeError(f"worker {self.name}: illegal transition {self.state} -> {to}")
        self.state = to

    def actions(self) -> list[Action]:
        """Drain the queued actions."""
        out, self._actions = self._actions, []
        return out

    def get_timer(self) -> float | None:
        """Absolute monotonic deadline of the next timer, or None."""
        return self._deadline

    # -- inputs ---------------------------------------------------------------------------
    def start(self, now: float) -> None:
        """Operator/supervisor start (also clears FATAL, e.g. after a reload)."""
        if self.state in (ChildState.STARTING, ChildState.RUNNING, ChildState.STOPPING):
            return
        if self.state is ChildState.FATAL:
            self.fatal_reason = None
            self.backoff_s = self.backoff_initial_s
        self._spawn(now)

    def _spawn(self, now: float) -> None:
        self._change_state(ChildState.STARTING)
        self.pid = None
        self.spawned_at = now
        self.ready_at = None
        self._deadline = now + self.startup_timeout_s
        self._actions.append(Spawn(self.name))

    def spawned(self, pid: int, now: float) -> None:
        """The Spawn action produced process ``pid``."""
        self.pid = pid
        self.spawned_at = now

    def spawn_failed(self, reason: str, now: float) -> None:
        """The Spawn action could not even start a process (treated like a crash)."""
        self.exited(EXIT_SOFTWARE, now, reason=reason)

    def ready(self, now: float) -> None:
        """The worker reported Ready."""
        if self.state is ChildState.STARTING:
            self._change_state(ChildState.RUNNING)
            self.ready_at = now
            self._deadline = None

    def exited(self, status: int, now: float, reason: str | None = None) -> None:
        """The process exited; ``status`` is ``os.waitstatus_to_exitcode()`` of it."""
        self.last_exit = status
        self.pid = None
        if self.state is ChildState.STOPPING:
            self._change_state(ChildState.STOPPED)
            self._deadline = None
            return
        if self.state not in (ChildState.STARTING, ChildState.RUNNING):
            return  # stale notification
        if status in PERMANENT_EXIT_CODES:
            self._change_state(ChildState.FATAL)
            self.fatal_reason = reason or describe_exit(status)
            self._deadline = None
            return
        lived_s = now - self.spawned_at if self.spawned_at is not None else 0.0
        if lived_s >= self.stable_s:
            self.backoff_s = self.backoff_initial_s
        quick = self.ready_at is None or now - self.ready_at < self.min_healthy_s
        self._change_state(ChildState.BACKOFF)
        self._deadline = now + self.backoff_s
        self.restarts += 1
        if quick:
            self.backoff_s = min(self.backoff_s * 2, self.backoff_max_s)

    def stop(self, now: float) -> None:
        """Orderly stop: SIGTERM now (the supervisor also sends Shutdown), SIGKILL later."""
        if self.state in (ChildState.STARTING, ChildState.RUNNING) and self.pid is not None:
            self._change_state(ChildState.STOPPING)
            self._actions.append(Kill(self.name, self.pid, signal.SIGTERM))
            self._deadline = now + self.stop_timeout_s
        elif self.state in (ChildState.BACKOFF, ChildState.FATAL, ChildState.STARTING):
            self._change_state(ChildState.STOPPED)
            self._deadline = None

    def kill(self, now: float) -> None:
        """Kill a running worker hard (wedged, or sent a malformed frame); it is respawned."""
        if self.pid is not None and self.state in (ChildState.STARTING, ChildState.RUNNING):
            self._actions.append(Kill(self.name, self.pid, signal.SIGKILL))

    def handle_timer(self, now: float) -> None:
        """Fire due timers: respawn after backoff, startup timeout, stop escalation."""
        if self._deadline is None or now < self._deadline:
            return
        if self.state is ChildState.BACKOFF:
            self._spawn(now)
        elif self.state in (ChildState.STARTING, ChildState.STOPPING):
            # startup timeout, or stop escalation: SIGKILL
            self._deadline = None
            if self.pid is not None:
                self._actions.append(Kill(self.name, self.pid, signal.SIGKILL))
        else:
            self._deadline = None

    def uptime_s(self, now: float) -> float | None:
        """Seconds since the current process was spawned, or None if none runs."""
        if self.pid is None or self.spawned_at is None:
            return None
        return now - self.spawned_at

    def running_s(self, now: float) -> float | None:
        """Seconds since the current process said Ready, or None."""
        if self.pid is None or self.ready_at is None:
            return None
        return now - self.ready_at
