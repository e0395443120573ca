"""``CheckerService``: the object the checker worker hosts.

It owns a ``HealthEngine`` (pure decisions) and a ``CheckScheduler`` (asyncio probes), runs the
actions they produce and reports upward through ``emit(kind, body)``:

- ``real_server_state``: ``{vs, vs_key, vs_ip, vs_port, protocol, fwmark, rs_ip, rs_port, up,
  present, weight, reason}`` - ``present``/``weight`` is what the LVS table should hold for this
  real server (``inhibit_on_failure`` gives ``present=True, weight=0``);
- ``sorry_server_state``: ``{vs, vs_key, ip, port, active, present, weight}``;
- ``quorum_state``: ``{vs, vs_key, up, live_weight, quorum, hysteresis}``;
- ``checker_state``: ``{vs, vs_key, rs, rs_ip, rs_port, checker, up, rs_up, rs_changed}`` - one
  checker went up or down (what keepalived's ``smtp_alert`` mails).

``vs`` is keepalived's name (``[192.168.100.100]:tcp:3306``), ``vs_key`` the config model's
``VirtualServer.key`` (``192.168.100.100:3306/TCP``) when the config came from the model.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import sys
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from hadaemon.checkers.decisions import (
    Action,
    CheckerId,
    CheckerTransition,
    FifoLine,
    HealthEngine,
    LogLine,
    QuorumState,
    RealServerState,
    RunScript,
    SorryServerState,
)
from hadaemon.checkers.notify import FifoWriter, ScriptRunner
from hadaemon.checkers.probes import ProbeResult, run_probe
from hadaemon.checkers.scheduler import CheckScheduler
from hadaemon.checkers.security import script_problem
from hadaemon.checkers.spec import CheckerConfig, CheckSpec, VirtualServerSpec

log = logging.getLogger("hadaemon.checkers")

Emit = Callable[[str, dict[str, Any]], None]


def _is_local_address(ip: str) -> bool:
    """Whether ``ip`` is configured on this host (a bind() succeeds only for local addresses)."""
    fam = socket.AF_INET6 if ":" in ip else socket.AF_INET
    with socket.socket(fam, socket.SOCK_DGRAM) as s:
        try:
            s.bind((ip, 0))
        except OSError:
            return False
    return True


def _install_pidfd_watcher() -> Any:
    """Python 3.11's default child watcher starts a thread per child; use pidfds instead.

    Only on the main thread (where asyncio re-attaches the watcher to each new loop). Returns
    the previous watcher so ``stop`` can put it back, or None when nothing was changed.
    """
    if sys.version_info >= (3, 12) or threading.current_thread() is not threading.main_thread():
        return None
    try:
        old = asyncio.get_child_watcher()
        watcher = asyncio.PidfdChildWatcher()
        watcher.attach_loop(asyncio.get_running_loop())
        asyncio.set_child_watcher(watcher)
    except Exception:  # no pidfd_open (old kernel): keep the default
        return None
    return old


def _restore_watcher(old: Any) -> None:
    if old is None:
        return
    with contextlib.suppress(Exception):
        old.attach_loop(asyncio.get_running_loop())
        asyncio.set_child_watcher(old)


def to_checker_config(config: Any) -> CheckerConfig:
    """Accept a ``CheckerConfig`` or the config model's ``Config``."""
    if isinstance(config, CheckerConfig):
        return config
    from hadaemon.checkers.adapt import from_config

    result: CheckerConfig = from_config(config)
    return result


def prepare(cfg: CheckerConfig) -> CheckerConfig:
    """Disable MISC_CHECK scripts that are missing, not executable or insecure (logged once)."""
    vss = []
    for vs in cfg.virtual_servers:
        rss = []
        for rs in vs.real_servers:
            checks = []
            for c in rs.checkers:
                if c.kind == "MISC_CHECK" and c.misc is not None and not c.misc.disabled_reason:
                    why = script_problem(c.misc.misc_path, cfg.enable_script_security)
                    if why is not None:
                        log.warning("Disabling misc script %s: %s", c.misc.misc_path, why)
                        c = replace(c, misc=replace(c.misc, disabled_reason=why))
                checks.append(c)
            rss.append(
                replace(
                    rs,
                    checkers=tuple(checks),
                    notify_up=_vet(rs.notify_up, cfg, "notify_up"),
                    notify_down=_vet(rs.notify_down, cfg, "notify_down"),
                )
            )
        vss.append(
            replace(
                vs,
                real_servers=tuple(rss),
                quorum_up=_vet(vs.quorum_up, cfg, "quorum_up"),
                quorum_down=_vet(vs.quorum_down, cfg, "quorum_down"),
            )
        )
    return replace(cfg, virtual_servers=tuple(vss))


def _vet(argv: tuple[str, ...] | None, cfg: CheckerConfig, what: str) -> tuple[str, ...] | None:
    """Drop a notify/quorum script that cannot or must not run (keepalived disables it)."""
    if not argv:
        return argv
    why = script_problem(argv, cfg.enable_script_security)
    if why is not None:
        log.warning("Disabling %s script %s: %s", what, argv[0], why)
        return None
    return argv


class CheckerService:
    """Health checks of every virtual server, reporting real-server state via ``emit``."""

    def __init__(
        self,
        config: Any,
        emit: Emit,
        *,
        on_attempt: Callable[[CheckerId, ProbeResult], None] | None = None,
    ) -> None:
        """``on_attempt`` sees every probe result (stats, tests)."""
        self._on_attempt = on_attempt
        self._config = prepare(to_checker_config(config))
        self._emit = emit
        self._engine: HealthEngine | None = None
        self._scheduler: CheckScheduler | None = None
        self._scripts = ScriptRunner()
        self._fifo: FifoWriter | None = None
        #: VIP presence told by the supervisor (``ha_suspend``); unknown -> look it up
        self._addresses: dict[str, bool] = {}
        #: BFD session name -> Up, told by the supervisor (``BFD_CHECK``); unknown = down
        self._bfd_up: dict[str, bool] = {}
        self._running = False
        self._old_watcher: Any = None

    # -- lifecycle --------------------------------------------------------------------------
    async def start(self) -> None:
        """Start every checker (and the ``lvs_notify_fifo_script`` reading the FIFO)."""
        self._old_watcher = _install_pidfd_watcher()
        self._running = True
        cfg = self._config
        if cfg.lvs_notify_fifo and cfg.lvs_notify_fifo_script:
            self._fifo = FifoWriter(cfg.lvs_notify_fifo)
            try:
                self._fifo.open()
                argv = (*cfg.lvs_notify_fifo_script, cfg.lvs_notify_fifo)
                self._scripts.run(argv, cfg.script_user, "lvs_notify_fifo_script", daemon=True)
            except OSError as exc:
                log.warning("lvs_notify_fifo %s: %s", cfg.lvs_notify_fifo, exc)
        self._start_engine(cfg, None)

    async def stop(self, run_omega: bool = True) -> None:
        """Stop every checker; with ``omega`` run the down notifiers first."""
        if not self._running:
            return
        self._running = False
        if self._scheduler is not None:
            await self._scheduler.stop()
        if run_omega and self._engine is not None:
            self._execute(self._engine.shutdown())
        await self._scripts.close()
        _restore_watcher(self._old_watcher)
        self._old_watcher = None
        if self._fifo is not None:
            self._fifo.close()
            self._fifo = None

    async def apply_config(self, config: Any) -> None:
        """Switch to a new configuration; unchanged checkers keep their up/down state."""
        new = prepare(to_checker_config(config))
        old_engine = self._engine
        if self._scheduler is not None:
            await self._scheduler.stop()
        if self._fifo is not None and new.lvs_notify_fifo != self._config.lvs_notify_fifo:
            self._fifo.close()
            self._fifo = None
        self._config = new
        if self._running:
            self._start_engine(new, old_engine)

    def status(self) -> dict[str, Any]:
        """JSON-able snapshot: every VS/RS/checker, plus scheduler lateness."""
        return {
            "virtual_servers": self._engine.status() if self._engine else [],
            "max_late_s": self._scheduler.max_late_s if self._scheduler else 0.0,
        }

    def set_address_state(self, ip: str, present: bool) -> None:
        """The supervisor tells us whether a VIP is on this host (drives ``ha_suspend``)."""
        self._addresses[ip] = present

    def set_bfd_state(self, name: str, up: bool) -> None:
        """A BFD session's state (from the bfd worker through the supervisor): every
        ``BFD_CHECK`` on it gets the verdict at once, without waiting for its next attempt."""
        if self._bfd_up.get(name) == up:
            return
        self._bfd_up[name] = up
        if self._engine is None or not self._running:
            return
        now = asyncio.get_running_loop().time()
        result = self._bfd_result(name)
        for cid in list(self._engine.checker_ids()):
            spec = self._engine.spec(cid)
            if spec.kind == "BFD_CHECK" and spec.bfd == name:
                if self._on_attempt is not None:
                    self._on_attempt(cid, result)
                self._execute(
                    self._engine.checker_result(cid, result.ok, now, reason=result.reason)
                )

    def _bfd_result(self, name: str | None) -> ProbeResult:
        up = bool(name and self._bfd_up.get(name, False))
        return ProbeResult(up, f"BFD_CHECK {name} is {'up' if up else 'down'}")

    async def _probe(self, spec: CheckSpec) -> ProbeResult:
        """The scheduler's probe: BFD_CHECK reads the last reported session state."""
        if spec.kind == "BFD_CHECK":
            return self._bfd_result(spec.bfd)
        return await run_probe(spec)

    # -- internals --------------------------------------------------------------------------
    def _start_engine(self, cfg: CheckerConfig, old: HealthEngine | None) -> None:
        engine = HealthEngine(cfg.virtual_servers)
        if old is not None:
            _carry_over(old, engine)
        self._engine = engine
        self._scheduler = CheckScheduler(
            engine,
            self._execute,
            suspended=self._suspended,
            on_attempt=self._on_attempt,
            probe=self._probe,
        )
        self._scheduler.start()

    def _suspended(self, cid: CheckerId) -> bool:
        assert self._engine is not None
        vs: VirtualServerSpec = self._engine.virtual_server(cid)
        if not vs.ha_suspend or vs.ip is None:
            return False
        present = self._addresses.get(vs.ip)
        if present is None:
            present = _is_local_address(vs.ip)
        return not present

    def _execute(self, actions: list[Action]) -> None:
        for a in actions:
            try:
                self._execute_one(a)
            except Exception:
                log.exception("action %r failed", a)

    def _execute_one(self, a: Action) -> None:
        if isinstance(a, LogLine):
            log.log(logging.WARNING if a.level == "warning" else logging.INFO, "%s", a.message)
        elif isinstance(a, RealServerState):
            vs = self._vs_by_key(a.vs)
            self._emit(
                "real_server_state",
                {
                    "vs": a.vs,
                    "vs_key": vs.model_key if vs else None,
                    "vs_ip": vs.ip if vs else None,
                    "vs_port": vs.port if vs else None,
                    "protocol": vs.protocol if vs else None,
                    "fwmark": vs.fwmark if vs else None,
                    "rs_ip": a.rs_ip,
                    "rs_port": a.rs_port,
                    "up": a.up,
                    "present": a.present,
                    "weight": a.weight,
                    "reason": a.reason,
                },
            )
        elif isinstance(a, SorryServerState):
            self._emit(
                "sorry_server_state",
                {
                    "vs": a.vs,
                    "vs_key": self._model_key(a.vs),
                    "ip": a.ip,
                    "port": a.port,
                    "active": a.active,
                    "present": a.present,
                    "weight": a.weight,
                },
            )
        elif isinstance(a, QuorumState):
            self._emit(
                "quorum_state",
                {
                    "vs": a.vs,
                    "vs_key": self._model_key(a.vs),
                    "up": a.up,
                    "live_weight": a.live_weight,
                    "quorum": a.quorum,
                    "hysteresis": a.hysteresis,
                },
            )
        elif isinstance(a, CheckerTransition):
            self._emit(
                "checker_state",
                {
                    "vs": a.vs,
                    "vs_key": self._model_key(a.vs),
                    "rs": a.rs,
                    "rs_ip": a.rs_ip,
                    "rs_port": a.rs_port,
                    "checker": a.kind,
                    "up": a.up,
                    "rs_up": a.rs_up,
                    "rs_changed": a.rs_changed,
                },
            )
        elif isinstance(a, RunScript):
            self._scripts.run(a.argv, a.user or self._config.script_user, a.why)
        elif isinstance(a, FifoLine) and self._config.lvs_notify_fifo:
            if self._fifo is None:
                self._fifo = FifoWriter(self._config.lvs_notify_fifo)
            self._fifo.write(a.line)

    def _model_key(self, key: str) -> str | None:
        vs = self._vs_by_key(key)
        return vs.model_key if vs else None

    def _vs_by_key(self, key: str) -> VirtualServerSpec | None:
        for vs in self._config.virtual_servers:
            if vs.key == key:
                return vs
        return None


def _identity(engine: HealthEngine, cid: CheckerId) -> tuple[Any, ...]:
    """What makes a checker "the same" across a reload: its VS, RS address and spec."""
    rs = engine.real_server(cid)
    return (engine.virtual_server(cid).key, rs.ip, rs.port, cid[2], engine.spec(cid))


def _carry_over(old: HealthEngine, new: HealthEngine) -> None:
    """Copy the up/down verdict of checkers whose VS, RS and spec did not change."""
    index = {_identity(old, cid): old.state(cid) for cid in old.checker_ids()}
    for cid in new.checker_ids():
        key = _identity(new, cid)
        prev = index.get(key)
        if prev is not None:
            new.state(cid).up = prev.up
