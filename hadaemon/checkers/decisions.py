"""Pure decisions from checker results to real-server, quorum and sorry-server state.

``HealthEngine`` owns one ``CheckerState`` per checker. The scheduler asks it when each checker is
due (``next_check_at``), runs the probe, and feeds the result back with ``checker_result``; the
engine returns actions (state reports for the LVS side, scripts, FIFO lines, log lines). Nothing
here does I/O or reads a clock.

Rules (keepalived check_daemon.c / ipwrapper.c semantics):

Rule 1. A real server is healthy when *all* its checkers are UP (a real server with no checkers
        is always healthy). Its effective weight is its configured ``weight`` plus the dynamic
        deltas of its checkers: MISC_CHECK with ``misc_dynamic`` and exit status s in 2..255
        contributes ``(s - 2) - weight``; FILE_CHECK ``dynamic`` contributes ``value * weight``.
        The effective weight is clamped to 0..65535.
Rule 2. A virtual server's live weight is the sum of the effective weights of its healthy real
        servers. Quorum is gained when ``live >= quorum + hysteresis`` and lost when
        ``live < quorum - hysteresis`` (or live is 0).
Rule 3. A real server is in the LVS pool when healthy, unless the quorum is lost and a
        ``sorry_server`` is configured (then the sorry server replaces all real servers). An
        unhealthy (or displaced) real server with ``inhibit_on_failure`` stays in the pool with
        weight 0 instead of being removed.
Rule 4. ``notify_up``/``notify_down`` run on health transitions, ``quorum_up``/``quorum_down`` on
        quorum transitions; both also write ``lvs_notify_fifo`` lines. Nothing runs at start-up
        (keepalived's default without ``rs_init_notifies``); with ``omega`` the down scripts of
        what is up run at shutdown.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from hadaemon.checkers.hysteresis import CheckerState
from hadaemon.checkers.spec import (
    CheckSpec,
    RealServerSpec,
    VirtualServerSpec,
    fmt_service,
)

IPVS_WEIGHT_MAX = 65535

#: checker identity: (virtual server index, real server index, checker index)
CheckerId = tuple[int, int, int]


# -- actions --------------------------------------------------------------------------------
@dataclass(frozen=True)
class RealServerState:
    """What the LVS side should do with one real server (emitted when it changes)."""

    vs: str
    rs_ip: str
    rs_port: int
    #: health verdict (all checkers up)
    up: bool
    #: whether the real server belongs in the LVS table
    present: bool
    #: weight to program when present (0 when inhibited)
    weight: int
    reason: str


@dataclass(frozen=True)
class SorryServerState:
    """Sorry server activated (quorum lost) or deactivated."""

    vs: str
    ip: str
    port: int
    active: bool
    #: False + ``sorry_server_inhibit``: keep it present with weight 0
    present: bool
    weight: int


@dataclass(frozen=True)
class QuorumState:
    """A virtual server gained or lost its quorum."""

    vs: str
    up: bool
    live_weight: int
    quorum: int
    hysteresis: int


@dataclass(frozen=True)
class CheckerTransition:
    """One checker went up or down (keepalived mails these with ``smtp_alert``)."""

    vs: str
    rs_ip: str
    rs_port: int
    #: keepalived's ``[ip]:tcp:port`` name of the real server
    rs: str
    #: checker type (``TCP_CHECK``...)
    kind: str
    #: the checker's new state
    up: bool
    #: the real server's health after this result
    rs_up: bool
    #: whether this result changed the real server's health
    rs_changed: bool


@dataclass(frozen=True)
class RunScript:
    """Run a notify/quorum script (argv already split), as ``user`` if given."""

    argv: tuple[str, ...]
    user: tuple[str, str | None] | None
    why: str


@dataclass(frozen=True)
class FifoLine:
    """A line for ``lvs_notify_fifo`` (without the newline)."""

    line: str


@dataclass(frozen=True)
class LogLine:
    """A keepalived-worded log line."""

    level: str
    message: str


Action = (
    RealServerState
    | SorryServerState
    | QuorumState
    | CheckerTransition
    | RunScript
    | FifoLine
    | LogLine
)


# -- state ----------------------------------------------------------------------------------
class _Checker:
    def __init__(self, spec: CheckSpec, rs_alpha: bool, vs_alpha: bool) -> None:
        self.spec = spec
        self.state = CheckerState(
            retry=spec.retry,
            delay_before_retry_s=spec.delay_before_retry_s,
            delay_loop_s=spec.delay_loop_s,
            warmup_s=spec.warmup_s,
            alpha=spec.alpha or rs_alpha or vs_alpha,
        )
        self.weight_delta = 0
        self.last_reason = ""


class _RealServer:
    def __init__(self, spec: RealServerSpec, vs: VirtualServerSpec) -> None:
        self.spec = spec
        self.key = fmt_service(spec.ip, spec.port, vs.protocol)
        self.checkers = [_Checker(c, spec.alpha, vs.alpha) for c in spec.checkers]
        self.reported: tuple[bool, bool, int] | None = None

    @property
    def healthy(self) -> bool:
        return all(c.state.up for c in self.checkers)

    @property
    def weight(self) -> int:
        w = self.spec.weight + sum(c.weight_delta for c in self.checkers)
        return max(0, min(IPVS_WEIGHT_MAX, w))


class _VirtualServer:
    def __init__(self, spec: VirtualServerSpec) -> None:
        self.spec = spec
        self.real_servers = [_RealServer(rs, spec) for rs in spec.real_servers]
        self.quorum_up = False
        self.sorry_active = False

    def live_weight(self) -> int:
        return sum(rs.weight for rs in self.real_servers if rs.healthy)


class HealthEngine:
    """All checkers of all virtual servers and the decisions their results drive."""

    def __init__(self, virtual_servers: tuple[VirtualServerSpec, ...]) -> None:
        self._vss = [_VirtualServer(vs) for vs in virtual_servers]
        self._started = False

    # -- queries ------------------------------------------------------------------------
    def checker_ids(self) -> Iterator[CheckerId]:
        """Every checker's id, in config order."""
        for vi, vs in enumerate(self._vss):
            for ri, rs in enumerate(vs.real_servers):
                for ci in range(len(rs.checkers)):
                    yield (vi, ri, ci)

    def spec(self, cid: CheckerId) -> CheckSpec:
        """The checker's spec."""
        return self._checker(cid).spec

    def state(self, cid: CheckerId) -> CheckerState:
        """The checker's retry state (read-only use)."""
        return self._checker(cid).state

    def virtual_server(self, cid: CheckerId) -> VirtualServerSpec:
        """The virtual server a checker belongs to."""
        return self._vss[cid[0]].spec

    def real_server(self, cid: CheckerId) -> RealServerSpec:
        """The real server a checker belongs to."""
        return self._vss[cid[0]].real_servers[cid[1]].spec

    def next_check_at(self, cid: CheckerId) -> float | None:
        """Absolute time the checker is due, or None before ``start``."""
        return self._checker(cid).state.get_timer()

    def get_timer(self) -> float | None:
        """The earliest deadline of all checkers."""
        times = [t for cid in self.checker_ids() if (t := self.next_check_at(cid)) is not None]
        return min(times) if times else None

    def status(self) -> list[dict[str, object]]:
        """JSON-able snapshot of every virtual and real server.

        Keys ``name``/``state``/``last_check`` are what ``hadaemon status`` prints.
        """
        out: list[dict[str, object]] = []
        for vs in self._vss:
            rss: list[dict[str, object]] = []
            for rs in vs.real_servers:
                reasons = [c.last_reason for c in rs.checkers if c.last_reason]
                rss.append(
                    {
                        "name": rs.key,
                        "address": rs.spec.ip,
                        "port": rs.spec.port,
                        "up": rs.healthy,
                        "state": "up" if rs.healthy else "down",
                        "weight": rs.weight,
                        "last_check": reasons[-1] if reasons else "",
                        "checkers": [
                            {
                                "type": c.spec.kind,
                                "up": c.state.up,
                                "retry_it": c.state.retry_it,
                                "attempts": c.state.attempts,
                                "failures": c.state.failures,
                                "last_reason": c.last_reason,
                            }
                            for c in rs.checkers
                        ],
                    }
                )
            out.append(
                {
                    "name": vs.spec.key,
                    "key": vs.spec.model_key,
                    "state": "quorum up" if vs.quorum_up else "quorum down",
                    "quorum_up": vs.quorum_up,
                    "live_weight": vs.live_weight(),
                    "quorum": vs.spec.quorum,
                    "sorry_server_active": vs.sorry_active,
                    "real_servers": rss,
                }
            )
        return out

    # -- inputs -------------------------------------------------------------------------
    def start(
        self, now: float, warmup_fractions: dict[CheckerId, float] | None = None
    ) -> list[Action]:
        """Arm every checker and report the initial state of every server (no scripts)."""
        fr = warmup_fractions or {}
        actions: list[Action] = []
        for cid in self.checker_ids():
            self._checker(cid).state.start(now, fr.get(cid, 0.0))
        for vs in self._vss:
            live = vs.live_weight()
            vs.quorum_up = live > 0 and live >= vs.spec.quorum
            word = "up" if vs.quorum_up else "down"
            actions.append(LogLine("info", f"Starting with quorum {word} for VS {vs.spec.key}"))
            vs.sorry_active = not vs.quorum_up and vs.spec.sorry_server is not None
            actions.append(self._quorum_action(vs))
            if vs.spec.sorry_server is not None:
                actions.extend(self._sorry_actions(vs))
            for rs in vs.real_servers:
                actions.extend(self._report_rs(vs, rs, "startup", log=False))
        self._started = True
        return actions

    def checker_result(
        self,
        cid: CheckerId,
        ok: bool,
        now: float,
        *,
        reason: str = "",
        weight: int | None = None,
    ) -> list[Action]:
        """Feed one attempt's result; ``weight`` is a dynamic weight (misc_dynamic/FILE_CHECK)."""
        vs = self._vss[cid[0]]
        rs = vs.real_servers[cid[1]]
        chk = rs.checkers[cid[2]]
        actions: list[Action] = []
        was_healthy = rs.healthy
        old_weight = rs.weight
        was_up = chk.state.up
        outcome = chk.state.handle_result(ok, now)
        chk.last_reason = reason
        if ok and weight is not None:
            chk.weight_delta = self._dynamic_delta(chk.spec, rs.spec, weight)
        svc = rs.key
        if not ok:
            if (was_up or chk.spec.log_all_failures) and reason:
                actions.append(LogLine("info", reason))
            if outcome.changed:
                n = chk.spec.retry
                text = (
                    f"{chk.spec.kind} on service {svc} failed after {n} retries."
                    if n
                    else f"{chk.spec.kind} on service {svc} failed."
                )
                actions.append(LogLine("info", text))
        elif outcome.changed and reason:
            actions.append(LogLine("info", reason))
        healthy = rs.healthy
        if outcome.changed:
            actions.append(
                CheckerTransition(
                    vs.spec.key,
                    rs.spec.ip,
                    rs.spec.port,
                    svc,
                    chk.spec.kind,
                    outcome.up,
                    healthy,
                    healthy != was_healthy,
                )
            )
        if healthy != was_healthy:
            actions.extend(self._rs_health_changed(vs, rs, healthy))
        elif healthy and rs.weight != old_weight:
            actions.append(
                LogLine(
                    "info",
                    f"Changing weight from {old_weight} to {rs.weight} for active service "
                    f"{svc} of VS {vs.spec.key}",
                )
            )
            actions.extend(self._update_quorum(vs))
            actions.extend(self._report_rs(vs, rs, "weight changed"))
        return actions

    def shutdown(self) -> list[Action]:
        """Actions at daemon stop: with ``omega``, the down notifiers of what is up."""
        actions: list[Action] = []
        for vs in self._vss:
            if not vs.spec.omega:
                continue
            for rs in vs.real_servers:
                if rs.healthy:
                    actions.extend(self._notify_rs(vs, rs, False))
            if vs.quorum_up:
                actions.extend(self._notify_quorum(vs, False))
        return actions

    # -- internals ----------------------------------------------------------------------
    def _checker(self, cid: CheckerId) -> _Checker:
        return self._vss[cid[0]].real_servers[cid[1]].checkers[cid[2]]

    @staticmethod
    def _dynamic_delta(chk: CheckSpec, rs: RealServerSpec, weight: int) -> int:
        if chk.kind == "MISC_CHECK":
            return weight - rs.weight
        return weight

    def _rs_health_changed(
        self, vs: _VirtualServer, rs: _RealServer, healthy: bool
    ) -> list[Action]:
        actions: list[Action] = []
        actions.extend(self._report_rs(vs, rs, "checker up" if healthy else "checker failed"))
        actions.extend(self._notify_rs(vs, rs, healthy))
        actions.extend(self._update_quorum(vs))
        return actions

    def _notify_rs(self, vs: _VirtualServer, rs: _RealServer, up: bool) -> list[Action]:
        actions: list[Action] = []
        script = rs.spec.notify_up if up else rs.spec.notify_down
        word = "UP" if up else "DOWN"
        if script:
            actions.append(RunScript(script, rs.spec.script_user, f"notify_{word.lower()}"))
        actions.append(FifoLine(f"RS {rs.key} {vs.spec.key} {word}"))
        return actions

    def _notify_quorum(self, vs: _VirtualServer, up: bool) -> list[Action]:
        actions: list[Action] = []
        script = vs.spec.quorum_up if up else vs.spec.quorum_down
        if script:
            actions.append(RunScript(script, None, "quorum_up" if up else "quorum_down"))
        actions.append(FifoLine(f"VS {vs.spec.key} {'UP' if up else 'DOWN'}"))
        return actions

    def _quorum_action(self, vs: _VirtualServer) -> QuorumState:
        return QuorumState(
            vs.spec.key, vs.quorum_up, vs.live_weight(), vs.spec.quorum, vs.spec.hysteresis
        )

    def _update_quorum(self, vs: _VirtualServer) -> list[Action]:
        live = vs.live_weight()
        q, h = vs.spec.quorum, vs.spec.hysteresis
        actions: list[Action] = []
        if not vs.quorum_up and live > 0 and live >= q + h:
            vs.quorum_up = True
            actions.append(
                LogLine("info", f"Gained quorum {q}+{h}={q + h} <= {live} for VS {vs.spec.key}")
            )
        elif vs.quorum_up and (live == 0 or live < q - h):
            vs.quorum_up = False
            actions.append(
                LogLine("info", f"Lost quorum {q}-{h}={q - h} > {live} for VS {vs.spec.key}")
            )
        else:
            return actions
        actions.append(self._quorum_action(vs))
        actions.extend(self._notify_quorum(vs, vs.quorum_up))
        if vs.spec.sorry_server is not None:
            vs.sorry_active = not vs.quorum_up
            if vs.sorry_active:
                actions.append(
                    LogLine("info", f"Removing alive servers from the pool for VS {vs.spec.key}")
                )
            else:
                actions.append(
                    LogLine("info", f"Adding alive servers to the pool for VS {vs.spec.key}")
                )
            actions.extend(self._sorry_actions(vs))
            for other in vs.real_servers:
                actions.extend(
                    self._report_rs(vs, other, "quorum " + ("gained" if vs.quorum_up else "lost"))
                )
        return actions

    def _sorry_actions(self, vs: _VirtualServer) -> list[Action]:
        ss = vs.spec.sorry_server
        assert ss is not None
        svc = fmt_service(ss.ip, ss.port, vs.spec.protocol)
        actions: list[Action] = []
        if self._started or vs.sorry_active:
            verb = (
                "Adding sorry server {} to VS {}"
                if vs.sorry_active
                else ("Removing sorry server {} from VS {}")
            )
            actions.append(LogLine("info", verb.format(svc, vs.spec.key)))
        present = vs.sorry_active or ss.inhibit
        weight = 1 if vs.sorry_active else 0
        actions.append(
            SorryServerState(vs.spec.key, ss.ip, ss.port, vs.sorry_active, present, weight)
        )
        return actions

    def _report_rs(
        self, vs: _VirtualServer, rs: _RealServer, reason: str, log: bool = True
    ) -> list[Action]:
        healthy = rs.healthy
        in_pool = healthy and not vs.sorry_active
        inhibit = rs.spec.inhibit_on_failure
        present = in_pool or inhibit
        weight = rs.weight if in_pool else 0
        key = (healthy, present, weight)
        if rs.reported == key:
            return []
        prev = rs.reported
        rs.reported = key
        actions: list[Action] = []
        if log and prev is not None and (prev[1] and prev[2] > 0) != (present and weight > 0):
            if present and weight > 0:
                verb = "Enabling" if inhibit else "Adding"
                actions.append(LogLine("info", f"{verb} service {rs.key} to VS {vs.spec.key}"))
            else:
                verb = "Disabling" if inhibit else "Removing"
                actions.append(LogLine("info", f"{verb} service {rs.key} from VS {vs.spec.key}"))
        actions.append(
            RealServerState(
                vs.spec.key, rs.spec.ip, rs.spec.port, healthy, present, weight, reason
            )
        )
        return actions
