"""The supervisor: parse once, spawn the needed workers, route their events, keep them alive.

``run(args) -> int`` is called by :mod:`hadaemon.cli` for the daemon. It loads and validates the
config (an error is printed with ``file:line:col`` and nothing starts), takes the pid file lock
(a second hadaemon on the same run dir refuses to start), daemonizes unless ``--foreground``,
then runs :class:`Supervisor` on asyncio:

* workers come from a registry ``{name: WorkerSpec(module, needed, part)}``; only those whose
  ``needed(config, args)`` is true are started (vrrp if there are vrrp instances, checker and
  lvs if there are virtual servers; ``-P`` only vrrp, ``-C`` only checker and lvs);
* each worker gets its part of the model in :class:`~hadaemon.ipc.messages.Configure`, plus
  the last VRRP states the supervisor was told (``handback``) so a respawned vrrp worker
  resumes as master without waiting;
* events: checker → supervisor → lvs (:class:`RealServerState`), vrrp → supervisor
  (:class:`StateChanged`; the instance's VIPs go to lvs and checker as :class:`VipState`);
* a worker that dies is respawned with backoff (:mod:`.lifecycle`); one that sends a malformed
  frame is killed and respawned; one that stops answering pings is *wedged*: systemd watchdog
  pings stop until it answers again (and it is killed after ``wedge_kill_s``);
* signals: HUP reload (an invalid file is logged with its location and the running config is
  kept), TERM/INT orderly stop, USR1/USR2/SIGRTMIN+2 write ``hadaemon.data`` /
  ``hadaemon.stats`` / ``hadaemon.json`` into the run directory;
* ``<run-dir>/status.sock`` (mode 0600) answers the JSON status; ``metrics_listen`` in
  global_defs serves Prometheus ``/metrics``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hadaemon import __version__
from hadaemon.ipc import messages as m
from hadaemon.ipc.channel import Channel
from hadaemon.log import setup_logging
from hadaemon.supervisor import os_ops
from hadaemon.supervisor.lifecycle import (
    MIN_HEALTHY_S,
    Child,
    ChildState,
    Kill,
    Spawn,
    describe_exit,
)
from hadaemon.supervisor.mailer import SmtpAlerts

log = logging.getLogger("hadaemon.supervisor")

#: exit code of ``run`` when the config cannot be loaded (as ``hadaemon -t``'s "errors")
EXIT_CONFIG_ERRORS = 4
EXIT_ALREADY_RUNNING = 1
#: exit code of ``run`` when ``net_namespace`` cannot be entered (as ``-t``'s "cannot run")
EXIT_NO_NAMESPACE = 3

STATUS_TIMEOUT_S = 1.0
PING_INTERVAL_S = 1.0
WEDGE_TIMEOUT_S = 5.0
WEDGE_KILL_S = 60.0
#: workers that keep a standby process ready to take over (the latency-critical one)
SPARE_WORKERS = ("vrrp",)
#: a standby is started this long after the worker said Ready (not to slow its start-up)
SPARE_DELAY_S = 1.0
#: after a worker exits, how long to keep reading its pipe for its last words
EXIT_DRAIN_S = 0.2
#: at exit, how long queued smtp_alert mails may still take
SMTP_DRAIN_S = 2.0


class ConfigLoadError(Exception):
    """The configuration cannot be used; the message starts with ``file:line:col``."""


@dataclass(frozen=True)
class WorkerSpec:
    """How to run one kind of worker."""

    module: str
    """Module hosting the service (``make_service(config, emit, options)``)."""
    needed: Callable[[Any, argparse.Namespace], bool]
    """Whether this config (and the -P/-C flags) needs the worker."""
    part: Callable[[Any], dict[str, Any]]
    """The part of the model sent to the worker, as a wire map."""


# -- the keepalived.conf registry and loader ----------------------------------------------------
def _vrrp_part(config: Any) -> dict[str, Any]:
    part: dict[str, Any] = config.replace(virtual_servers=(), virtual_server_groups=()).to_dict()
    return part


def _lb_part(config: Any) -> dict[str, Any]:
    # the checker needs track_files (FILE_CHECK) and lvs the VRRP VIPs' devices (DR): whole model
    part: dict[str, Any] = config.to_dict()
    return part


def _wants_vrrp(config: Any, args: argparse.Namespace) -> bool:
    return bool(config.vrrp_instances) and not getattr(args, "check", False)


def _wants_lb(config: Any, args: argparse.Namespace) -> bool:
    return bool(config.virtual_servers) and not getattr(args, "vrrp", False)


def _wants_bfd(config: Any, args: argparse.Namespace) -> bool:
    return bool(getattr(config, "bfd_instances", ())) and not getattr(args, "no_bfd", False)


def _bfd_part(config: Any) -> dict[str, Any]:
    part: dict[str, Any] = config.replace(
        vrrp_instances=(), vrrp_sync_groups=(), virtual_servers=(), virtual_server_groups=()
    ).to_dict()
    return part


DEFAULT_REGISTRY: dict[str, WorkerSpec] = {
    "vrrp": WorkerSpec("hadaemon.workers.vrrp", _wants_vrrp, _vrrp_part),
    "checker": WorkerSpec("hadaemon.workers.checker", _wants_lb, _lb_part),
    "lvs": WorkerSpec("hadaemon.workers.lvs", _wants_lb, _lb_part),
    "bfd": WorkerSpec("hadaemon.workers.bfd", _wants_bfd, _bfd_part),
}


class KeepalivedLoader:
    """Loads keepalived.conf with :func:`hadaemon.config.load`."""

    def load(self, path: str, config_id: str | None) -> Any:
        """The validated model; :class:`ConfigLoadError` on any error."""
        try:
            from hadaemon.config import load  # type: ignore[attr-defined,unused-ignore]
        except ImportError as exc:  # the config package is not there
            raise ConfigLoadError(f"{path}: cannot load configurations: {exc}") from None
        try:
            result = load(path, config_id)
        except OSError as exc:
            raise ConfigLoadError(f"{path}: {exc.strerror or exc}") from None
        except Exception as exc:  # ConfigError and friends carry their location in str()
            loc = getattr(exc, "location", None)
            text = str(exc)
            if loc is not None and str(loc) not in text:
                text = f"{loc}: {text}"
            raise ConfigLoadError(text) from None
        errors = [
            d
            for d in getattr(result, "diagnostics", ())
            if str(getattr(d, "severity", "")).lower().endswith("error")
            and not getattr(d, "disables", None)  # only that vrrp_instance does not run
        ]
        if errors:
            raise ConfigLoadError("; ".join(str(d) for d in errors))
        for d in getattr(result, "diagnostics", ()):
            if getattr(d, "disables", None):
                log.error("%s", d)
            else:
                log.warning("%s", d)
        return result.config

    def metrics_listen(self, config: Any) -> str | None:
        """``global_defs { metrics_listen ADDR:PORT }`` or None."""
        value = getattr(config.global_defs, "metrics_listen", None)
        return str(value) if value else None

    def lvs_sync_instance(self, config: Any) -> str | None:
        """The VRRP instance ``lvs_sync_daemon`` follows, or None."""
        sync = getattr(config.global_defs, "lvs_sync_daemon", None)
        return str(sync.vrrp_instance) if sync is not None else None

    def instance_vips(self, config: Any, name: str) -> list[str]:
        """The VIP addresses of VRRP instance ``name`` (for VIP ownership and metrics)."""
        inst = config.vrrp_instance(name)
        if inst is None:
            return []
        return [str(a.address) for a in inst.virtual_ipaddress]

    def vrrp_instance_names(self, config: Any) -> set[str]:
        """Names of the VRRP instances (states of others are forgotten at reload)."""
        return {i.name for i in config.vrrp_instances}

    def plan(self, old: Any, new: Any) -> dict[str, Any] | None:
        """The reload plan as a wire map (None when the diff module is not available)."""
        try:
            from hadaemon.config.diff import diff
        except ImportError:
            return None
        plan = diff(old, new)
        to_dict = getattr(plan, "to_dict", None)
        return to_dict() if to_dict is not None else None


# -- supervisor ---------------------------------------------------------------------------------
@dataclass
class WorkerHandle:
    """Run-time state of one worker."""

    name: str
    spec: WorkerSpec
    child: Child
    spawned: os_ops.SpawnedWorker | None = None
    chan: Channel | None = None
    session: asyncio.Task[None] | None = None
    pending: dict[int, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)
    last_pong: float = 0.0
    wedged_since: float | None = None
    ever_ready: bool = False
    fatal_message: str | None = None
    handback: dict[str, str] = field(default_factory=dict)


class Supervisor:
    """The asyncio supervisor (see the module docstring)."""

    def __init__(
        self,
        args: argparse.Namespace,
        config: Any,
        *,
        registry: dict[str, WorkerSpec] | None = None,
        loader: Any = None,
        ops: os_ops.OsOps | None = None,
    ) -> None:
        self.args = args
        self.config = config
        self.registry = DEFAULT_REGISTRY if registry is None else registry
        self.loader = loader or KeepalivedLoader()
        self.ops = ops or os_ops.OsOps()
        self.run_dir: str = args.run_dir
        self.log_target = "stderr" if (args.foreground or args.log_console) else "syslog"
        self.workers: dict[str, WorkerHandle] = {}
        self.vrrp_states: dict[str, str] = {}
        self.vrrp_stats: dict[str, Any] = {}
        self.rs_states: dict[tuple[str, str, int | None], m.RealServerState] = {}
        self.vip_states: dict[str, m.VipState] = {}
        self.bfd_states: dict[str, m.BfdState] = {}
        self.generation = 0
        self.started_mono = time.monotonic()
        self.started_wall = time.time()
        self.last_reload: dict[str, Any] | None = None
        self.stopping = False
        self.ready_sent = False
        self._wake = asyncio.Event()
        self._req_id = 0
        self._next_ping = 0.0
        self._next_watchdog = 0.0
        self.watchdog_s = os_ops.watchdog_interval_s()
        self.watchdog_paused = False
        self.ping_interval_s = float(getattr(args, "ping_interval_s", PING_INTERVAL_S))
        self.wedge_timeout_s = float(getattr(args, "wedge_timeout_s", WEDGE_TIMEOUT_S))
        self.wedge_kill_s = float(getattr(args, "wedge_kill_s", WEDGE_KILL_S))
        self.backoff_initial_s = float(getattr(args, "backoff_initial_s", 0.1))
        self.min_healthy_s = float(getattr(args, "min_healthy_s", MIN_HEALTHY_S))
        self._status_server: asyncio.AbstractServer | None = None
        self._metrics: Any = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._reload_lock = asyncio.Lock()
        self._part_cache: dict[tuple[int, Any], dict[str, Any]] = {}
        self._part_cache_config: Any = None
        self.spares: dict[str, os_ops.SpawnedWorker] = {}
        self.warm_spares: set[int] = set()
        self.spare_delay_s = float(getattr(args, "standby_delay_s", SPARE_DELAY_S))
        spare = getattr(args, "standby_workers", None)
        self.spare_workers: set[str] = set(SPARE_WORKERS if spare is None else spare)
        self.smtp_alerts = SmtpAlerts(config)

    # -- helpers --------------------------------------------------------------------------
    def _spawn_task(self, coro: Any) -> None:
        t = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(t)
        t.add_done_callback(self._task_done)

    def _task_done(self, t: asyncio.Task[Any]) -> None:
        self._tasks.discard(t)
        if not t.cancelled() and (exc := t.exception()) is not None:
            log.error("internal error in %s: %r", t.get_coro(), exc, exc_info=exc)

    def path(self, name: str) -> str:
        """A file in the run directory."""
        return os.path.join(self.run_dir, name)

    def _part(self, spec: WorkerSpec, config: Any) -> dict[str, Any]:
        """``spec.part(config)``, computed once per config and part function (checker and lvs
        share theirs; a respawn reuses it)."""
        key = (id(config), spec.part)
        if self._part_cache_config is not config:
            self._part_cache.clear()
            self._part_cache_config = config
        if key not in self._part_cache:
            self._part_cache[key] = spec.part(config)
        return self._part_cache[key]

    def wake(self) -> None:
        """Re-run the main loop now."""
        self._wake.set()

    # -- main loop ------------------------------------------------------------------------
    async def main(self) -> int:
        """Run until stopped; returns the process exit code."""
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGHUP, lambda: self._spawn_task(self.reload()))
        loop.add_signal_handler(signal.SIGTERM, self.begin_stop, "SIGTERM")
        loop.add_signal_handler(signal.SIGINT, self.begin_stop, "SIGINT")
        loop.add_signal_handler(signal.SIGUSR1, lambda: self._spawn_task(self.dump("data")))
        loop.add_signal_handler(signal.SIGUSR2, lambda: self._spawn_task(self.dump("stats")))
        loop.add_signal_handler(signal.SIGRTMIN + 2, lambda: self._spawn_task(self.dump("json")))
        from hadaemon.supervisor.status import start_status_server

        self._status_server = await start_status_server(self, self.path("status.sock"))
        await self._start_metrics()
        self._sync_workers()
        try:
            while True:
                now = time.monotonic()
                for h in list(self.workers.values()):
                    h.child.handle_timer(now)
                    self._run_actions(h)
                self._liveness(now)
                self._maybe_ready()
                if self.stopping and all(
                    h.child.state in (ChildState.STOPPED, ChildState.FATAL)
                    for h in self.workers.values()
                ):
                    break
                deadlines = [t for h in self.workers.values() if (t := h.child.get_timer())]
                deadlines.append(self._next_ping)
                if self.watchdog_s is not None:
                    deadlines.append(self._next_watchdog)
                timeout = max(0.0, min(deadlines) - time.monotonic())
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout)
        finally:
            await self._cleanup()
        log.info("stopped")
        return 0

    # -- standby processes ----------------------------------------------------------------
    # A standby ("spare") worker has already started Python and imported its module and waits
    # for Configure; when the worker dies it is adopted at once, which takes the interpreter
    # start and imports (most of a respawn) out of the path to the first advert.
    def _schedule_spare(self, name: str) -> None:
        if name not in self.spare_workers or self.stopping:
            return
        asyncio.get_running_loop().call_later(self.spare_delay_s, self._make_spare, name)

    def _make_spare(self, name: str) -> None:
        h = self.workers.get(name)
        if (
            self.stopping
            or name in self.spares
            or h is None
            or h.child.state is not ChildState.RUNNING
        ):
            return
        try:
            sw = self.ops.spawn_worker(
                name,
                h.spec.module,
                log_target=self.log_target,
                debug=self.args.debug,
                standby=True,
            )
        except OSError as exc:
            log.warning("cannot start a standby %s worker: %s", name, exc)
            return
        self.spares[name] = sw
        loop = asyncio.get_running_loop()
        loop.add_reader(sw.pidfd, self._on_spare_exit, name, sw)
        loop.add_reader(sw.sock.fileno(), self._on_spare_warm, name, sw)
        log.debug("standby %s worker started (pid %d)", name, sw.pid)

    def _on_spare_warm(self, name: str, sw: os_ops.SpawnedWorker) -> None:
        # its Hello is waiting in the pipe: imports are done (the frame is read on adoption)
        asyncio.get_running_loop().remove_reader(sw.sock.fileno())
        self.warm_spares.add(sw.pid)
        log.debug("standby %s worker (pid %d) is warm", name, sw.pid)

    def _take_spare(self, name: str) -> os_ops.SpawnedWorker | None:
        # even a standby still importing is ahead of a process spawned now
        sw = self.spares.pop(name, None)
        if sw is not None:
            loop = asyncio.get_running_loop()
            loop.remove_reader(sw.sock.fileno())
            loop.remove_reader(sw.pidfd)
            self.warm_spares.discard(sw.pid)
            if self.ops.reap(sw.pid) is not None:  # died meanwhile
                os.close(sw.pidfd)
                sw.sock.close()
                return None
        return sw

    def _on_spare_exit(self, name: str, sw: os_ops.SpawnedWorker) -> None:
        status = self.ops.reap(sw.pid)
        if status is None:
            return
        loop = asyncio.get_running_loop()
        loop.remove_reader(sw.pidfd)
        loop.remove_reader(sw.sock.fileno())
        self.warm_spares.discard(sw.pid)
        os.close(sw.pidfd)
        sw.sock.close()
        if self.spares.get(name) is sw:
            del self.spares[name]
            log.warning("standby %s worker (pid %d) %s", name, sw.pid, describe_exit(status))
            self._schedule_spare(name)

    def _drop_spares(self, names: set[str] | None = None) -> None:
        for name in list(self.spares):
            if names is not None and name not in names:
                continue
            sw = self.spares.pop(name)
            asyncio.get_running_loop().remove_reader(sw.pidfd)
            asyncio.get_running_loop().remove_reader(sw.sock.fileno())
            sw.sock.close()  # it sees EOF and exits
            self.ops.kill(sw.pid, signal.SIGTERM)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(sw.pid, 0)
            os.close(sw.pidfd)

    async def _cleanup(self) -> None:
        self._drop_spares()
        for h in self.workers.values():
            if h.spawned is not None:  # still alive after the stop: do not leave it behind
                self.ops.kill(h.spawned.pid, signal.SIGKILL)
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(h.spawned.pid, 0)
                self._forget_process(h)
        if self._status_server is not None:
            self._status_server.close()
            os_ops.remove_file(self.path("status.sock"))
        if self._metrics is not None:
            await self._metrics.cleanup()
        await asyncio.to_thread(self.smtp_alerts.close, SMTP_DRAIN_S)
        for t in list(self._tasks):
            t.cancel()

    def _sync_workers(self) -> None:
        """Start needed workers, stop unneeded ones (at start-up and after a reload)."""
        now = time.monotonic()
        for name, spec in self.registry.items():
            needed = spec.needed(self.config, self.args)
            h = self.workers.get(name)
            if needed:
                if h is None:
                    h = WorkerHandle(
                        name,
                        spec,
                        Child(
                            name,
                            backoff_initial_s=self.backoff_initial_s,
                            min_healthy_s=self.min_healthy_s,
                        ),
                    )
                    self.workers[name] = h
                if h.child.state in (ChildState.STOPPED, ChildState.FATAL):
                    h.child.start(now)
                    self._run_actions(h)
            elif h is not None and h.child.state not in (ChildState.STOPPED, ChildState.FATAL):
                log.info("worker %s no longer needed, stopping it", name)
                self._drop_spares({name})
                self._send(h, m.Shutdown(reason="not needed"))
                h.child.stop(now)
                self._run_actions(h)

    def _run_actions(self, h: WorkerHandle) -> None:
        for action in h.child.actions():
            if isinstance(action, Spawn):
                self._start_process(h)
            elif isinstance(action, Kill):
                self.ops.kill(action.pid, action.signum)

    def _start_process(self, h: WorkerHandle) -> None:
        now = time.monotonic()
        sw = self._take_spare(h.name)
        if sw is None:
            try:
                sw = self.ops.spawn_worker(
                    h.name, h.spec.module, log_target=self.log_target, debug=self.args.debug
                )
            except OSError as exc:
                log.error("cannot start worker %s: %s", h.name, exc)
                h.child.spawn_failed(str(exc), now)
                return
        else:
            log.info("worker %s: using the standby process %d", h.name, sw.pid)
        h.spawned = sw
        h.fatal_message = None
        h.child.spawned(sw.pid, now)
        h.last_pong = now
        h.wedged_since = None
        os_ops.write_pidfile(self.path(f"hadaemon_{h.name}.pid"), sw.pid)
        asyncio.get_running_loop().add_reader(sw.pidfd, self._on_exit, h, sw)
        log.info("started worker %s (pid %d)", h.name, sw.pid)
        h.session = asyncio.get_running_loop().create_task(self._session(h, sw))

    def _configure_msg(self, h: WorkerHandle) -> m.Configure:
        options = {
            "no_bpf": bool(getattr(self.args, "no_bpf", False)),
            "debug": bool(self.args.debug),
            "config_id": self.args.config_id,
            "run_dir": self.run_dir,
            "restart": h.child.restarts > 0,
        }
        handback = dict(self.vrrp_states) if h.name == "vrrp" else {}
        h.handback = handback
        return m.Configure(
            config=self._part(h.spec, self.config),
            handback=handback,
            options=options,
            generation=self.generation,
        )

    async def _session(self, h: WorkerHandle, sw: os_ops.SpawnedWorker) -> None:
        try:
            chan = await Channel.open(sw.sock)
        except OSError as exc:
            log.error("worker %s: cannot open its pipe: %s", h.name, exc)
            self.ops.kill(sw.pid, signal.SIGKILL)
            return
        h.chan = chan
        try:
            chan.send(self._configure_msg(h))
            while True:
                msg = await chan.recv_message()
                try:
                    self._on_message(h, msg)
                except Exception:  # our bug: log it, keep the pipe
                    log.exception("worker %s: handling %s failed", h.name, msg.KIND)
        except m.ChannelClosed:
            pass
        except m.MalformedFrame as exc:
            log.error(
                "worker %s (pid %d) sent a malformed frame (%s); restarting it",
                h.name,
                sw.pid,
                exc,
            )
            if h.spawned is sw:
                h.child.kill(time.monotonic())
                self._run_actions(h)
        finally:
            chan.close()
            if h.chan is chan:
                h.chan = None

    def _send(self, h: WorkerHandle, msg: m.Message) -> bool:
        if h.chan is None:
            return False
        try:
            h.chan.send(msg)
        except (m.ChannelClosed, OSError):
            return False
        return True

    def _on_exit(self, h: WorkerHandle, sw: os_ops.SpawnedWorker) -> None:
        status = self.ops.reap(sw.pid)
        if status is None:  # spurious wake-up
            return
        asyncio.get_running_loop().remove_reader(sw.pidfd)
        self._spawn_task(self._after_exit(h, sw, status))

    async def _after_exit(self, h: WorkerHandle, sw: os_ops.SpawnedWorker, status: int) -> None:
        # read what the worker said before dying (e.g. Fatal) up to EOF, briefly
        if h.session is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(h.session), EXIT_DRAIN_S)
        now = time.monotonic()
        self._forget_process(h)
        was_stopping = h.child.state is ChildState.STOPPING
        h.child.exited(status, now, reason=h.fatal_message)
        if was_stopping:
            log.info("worker %s (pid %d) %s", h.name, sw.pid, describe_exit(status))
        elif h.child.state is ChildState.FATAL:
            self._drop_spares({h.name})
            log.error(
                "worker %s (pid %d) %s: permanent error, not respawning",
                h.name,
                sw.pid,
                describe_exit(status),
            )
        elif h.child.state is ChildState.BACKOFF:
            delay = (h.child.get_timer() or now) - now
            log.warning(
                "worker %s (pid %d) %s; respawning in %.1f s",
                h.name,
                sw.pid,
                describe_exit(status),
                delay,
            )
        self.wake()

    def _forget_process(self, h: WorkerHandle) -> None:
        sw, h.spawned = h.spawned, None
        if sw is None:
            return
        asyncio.get_running_loop().remove_reader(sw.pidfd)
        os.close(sw.pidfd)
        if h.session is not None:
            h.session.cancel()
        if h.chan is not None:
            h.chan.close()  # closes the transport and sw.sock with it
            h.chan = None
        else:
            sw.sock.close()
        for fut in h.pending.values():
            if not fut.done():
                fut.set_result({"error": f"worker {h.name} exited"})
        h.pending.clear()
        os_ops.remove_file(self.path(f"hadaemon_{h.name}.pid"))

    # -- messages from workers ------------------------------------------------------------
    def _on_message(self, h: WorkerHandle, msg: m.Message) -> None:
        now = time.monotonic()
        if isinstance(msg, m.Hello):
            log.debug("worker %s says hello (pid %d)", h.name, msg.pid)
        elif isinstance(msg, m.Ready):
            h.child.ready(now)
            h.last_pong = now
            h.ever_ready = True
            log.info("worker %s ready", h.name)
            self._schedule_spare(h.name)
            if h.name == "lvs":  # a respawned lvs gets the verdicts it missed
                for rs in self.rs_states.values():
                    self._send(h, rs)
            if h.name in ("lvs", "checker"):
                for vs in self.vip_states.values():
                    self._send(h, vs)
            if h.name in ("vrrp", "checker"):  # track_bfd / BFD_CHECK: the sessions' states
                for bs in self.bfd_states.values():
                    self._send(h, bs)
            self.wake()
        elif isinstance(msg, m.Pong):
            h.last_pong = now
        elif isinstance(msg, m.StateChanged):
            log.info(
                "(%s) %s -> %s%s",
                msg.instance,
                msg.prev_state or "?",
                msg.state,
                f" ({msg.reason})" if msg.reason else "",
            )
            if (
                msg.state == "BACKUP"
                and msg.prev_state in (None, "INIT")
                and h.handback.get(msg.instance) == "MASTER"
            ):
                # a respawned worker resuming a master passes through BACKUP at start-up:
                # keep MASTER for the next handback until it reports a real transition, and
                # do not tell lvs/checker the VIPs went away (their services would flap)
                return
            self.vrrp_states[msg.instance] = msg.state
            self.smtp_alerts.instance_state(msg.instance, msg.state)
            vips = self.loader.instance_vips(self.config, msg.instance)
            if vips or self.loader.lvs_sync_instance(self.config) == msg.instance:
                # (lvs_sync_daemon follows its instance's state even when it has no VIPs)
                vip_msg = m.VipState(
                    instance=msg.instance, addresses=vips, owned=msg.state == "MASTER"
                )
                self.vip_states[msg.instance] = vip_msg
                for name in ("lvs", "checker"):
                    if (w := self.workers.get(name)) is not None:
                        self._send(w, vip_msg)
        elif isinstance(msg, m.Stats):
            self.vrrp_stats.update(msg.counters)
        elif isinstance(msg, m.RealServerState):
            self.rs_states[(msg.vs_key or msg.vs, msg.rs_ip, msg.rs_port)] = msg
            log.info(
                "real server %s:%s of %s is %s%s",
                msg.rs_ip,
                msg.rs_port,
                msg.vs_key or msg.vs,
                "up" if msg.up else "down",
                f" ({msg.reason})" if msg.reason else "",
            )
            lvs = self.workers.get("lvs")
            if lvs is not None:
                self._send(lvs, msg)
        elif isinstance(msg, m.BfdState):
            self.bfd_states[msg.name] = msg
            log.info("BFD %s -> %s (%s)", msg.name, msg.state, msg.diag or "no diag")
            for name in ("vrrp", "checker"):
                if (w := self.workers.get(name)) is not None:
                    self._send(w, msg)
        elif isinstance(msg, m.StatusReply):
            fut = h.pending.pop(msg.req_id, None)
            if fut is not None and not fut.done():
                fut.set_result(msg.status)
        elif isinstance(msg, m.Fatal):
            log.error("worker %s cannot run: %s", h.name, msg.message)
            h.fatal_message = msg.message
        elif isinstance(msg, m.ServiceEvent):
            log.debug("worker %s event %s %s", h.name, msg.event, msg.body)
            self.smtp_alerts.event(msg.event, msg.body)
        else:
            log.warning("worker %s sent unexpected %s", h.name, msg.KIND)

    # -- liveness, readiness, watchdog ----------------------------------------------------
    def _liveness(self, now: float) -> None:
        if now >= self._next_ping:
            self._next_ping = now + self.ping_interval_s
            for h in self.workers.values():
                if h.child.state is ChildState.RUNNING:
                    self._send(h, m.Ping(nonce=int(now * 1000)))
        wedged = []
        for h in self.workers.values():
            if h.child.state is ChildState.RUNNING and now - h.last_pong > self.wedge_timeout_s:
                if h.wedged_since is None:
                    h.wedged_since = now
                    log.error(
                        "worker %s (pid %s) is wedged: no answer for %.1f s",
                        h.name,
                        h.child.pid,
                        now - h.last_pong,
                    )
                elif now - h.wedged_since >= self.wedge_kill_s:
                    log.error("killing wedged worker %s", h.name)
                    h.child.kill(now)
                    self._run_actions(h)
                    h.wedged_since = now
                wedged.append(h.name)
            elif h.wedged_since is not None:
                log.info("worker %s answers again", h.name)
                h.wedged_since = None
        self.watchdog_paused = bool(wedged)
        if self.watchdog_s is not None and now >= self._next_watchdog:
            self._next_watchdog = now + self.watchdog_s
            if not wedged and self.ready_sent:
                os_ops.sd_notify("WATCHDOG=1")

    def _maybe_ready(self) -> None:
        if self.ready_sent or self.stopping:
            return
        if all(
            h.child.state in (ChildState.RUNNING, ChildState.FATAL) or h.ever_ready
            for h in self.workers.values()
        ):
            self.ready_sent = True
            os_ops.sd_notify(f"READY=1\nMAINPID={os.getpid()}\nSTATUS=running")
            log.info(
                "ready (%s)",
                ", ".join(f"{h.name}={h.child.state.value}" for h in self.workers.values())
                or "no workers",
            )

    # -- signals --------------------------------------------------------------------------
    def begin_stop(self, why: str = "stop") -> None:
        """Orderly stop: Shutdown + SIGTERM to every worker, SIGKILL after the timeout."""
        if self.stopping:
            return
        log.info("%s: stopping", why)
        self.stopping = True
        self._drop_spares()
        os_ops.sd_notify("STOPPING=1")
        now = time.monotonic()
        for h in self.workers.values():
            self._send(h, m.Shutdown(reason=why))
            h.child.stop(now)
            self._run_actions(h)
        self.wake()

    async def reload(self) -> None:
        """HUP: load + validate; keep running on error, else send the new config/plan."""
        async with self._reload_lock:  # a HUP during a reload waits for it
            await self._reload()

    async def _reload(self) -> None:
        if self.stopping:
            return
        log.info("reloading %s", self.args.use_file)
        os_ops.sd_notify("RELOADING=1")
        try:
            # parsed in a thread: the loop keeps answering pings and the status socket
            new = await asyncio.to_thread(
                self.loader.load, self.args.use_file, self.args.config_id
            )
        except ConfigLoadError as exc:
            log.error("reload failed, keeping the running configuration: %s", exc)
            self.last_reload = {"at": time.time(), "ok": False, "error": str(exc)}
            os_ops.sd_notify("READY=1\nSTATUS=reload failed, running the previous config")
            return
        plan = None
        plan_fn = getattr(self.loader, "plan", None)
        if plan_fn is not None:
            try:
                plan = plan_fn(self.config, new)
            except Exception as exc:
                log.warning("reload plan not computed (%s); workers get the whole config", exc)
        old_listen = self.loader.metrics_listen(self.config)
        self.config = new
        self.smtp_alerts.reconfigure(new)
        self.generation += 1
        names = self.loader.vrrp_instance_names(new)
        self.vrrp_states = {k: v for k, v in self.vrrp_states.items() if k in names}
        bfds = {b.name for b in getattr(new, "bfd_instances", ())}
        self.bfd_states = {k: v for k, v in self.bfd_states.items() if k in bfds}
        for h in self.workers.values():
            if h.child.state in (ChildState.STARTING, ChildState.RUNNING) and h.spec.needed(
                new, self.args
            ):
                self._send(
                    h,
                    m.ApplyConfig(
                        config=self._part(h.spec, new), plan=plan, generation=self.generation
                    ),
                )
        self._sync_workers()
        if self.loader.metrics_listen(new) != old_listen:
            if self._metrics is not None:
                await self._metrics.cleanup()
                self._metrics = None
            await self._start_metrics()
        self.last_reload = {"at": time.time(), "ok": True, "generation": self.generation}
        log.info("reload done (generation %d)", self.generation)
        os_ops.sd_notify("READY=1\nSTATUS=running")
        self.wake()

    async def dump(self, what: str) -> None:
        """USR1 (data), USR2 (stats), SIGRTMIN+2 (json): write ``hadaemon.<what>``."""
        from hadaemon.supervisor.status_cli import format_data, format_stats

        status = await self.collect_status()
        if what == "json":
            text = json.dumps(status, indent=2, sort_keys=True, default=str) + "\n"
        elif what == "stats":
            text = format_stats(status)
        else:
            text = format_data(status)
        path = self.path(f"hadaemon.{what}")
        try:
            tmp = f"{path}.tmp"
            with open(tmp, "w") as f:
                f.write(text)
            os.replace(tmp, path)
        except OSError as exc:
            log.error("cannot write %s: %s", path, exc)
            return
        log.info("wrote %s", path)

    # -- status -----------------------------------------------------------------------------
    async def _worker_status(self, h: WorkerHandle) -> dict[str, Any]:
        if h.chan is None or h.child.state is not ChildState.RUNNING:
            return {"error": f"worker {h.name} is {h.child.state.value}"}
        self._req_id += 1
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        h.pending[self._req_id] = fut
        if not self._send(h, m.StatusRequest(req_id=self._req_id)):
            h.pending.pop(self._req_id, None)
            return {"error": f"worker {h.name} pipe closed"}
        try:
            return await asyncio.wait_for(fut, STATUS_TIMEOUT_S)
        except TimeoutError:
            h.pending.pop(self._req_id, None)
            return {"error": f"worker {h.name} did not answer"}

    async def collect_status(self) -> dict[str, Any]:
        """The JSON status document (status socket, dumps, metrics)."""
        now = time.monotonic()
        names = list(self.workers)
        replies = await asyncio.gather(*(self._worker_status(self.workers[n]) for n in names))
        services = dict(zip(names, replies, strict=True))
        workers = {}
        for n in names:
            c = self.workers[n].child
            workers[n] = {
                "pid": c.pid,
                "state": c.state.value,
                "restarts": c.restarts,
                "uptime_s": round(u, 3) if (u := c.uptime_s(now)) is not None else None,
                "running_s": round(r, 3) if (r := c.running_s(now)) is not None else None,
                "last_exit": describe_exit(c.last_exit) if c.last_exit is not None else None,
                "fatal_reason": c.fatal_reason,
                "wedged": self.workers[n].wedged_since is not None,
            }
        vrrp = services.get("vrrp", {})
        instances = vrrp.get("instances", []) if isinstance(vrrp, dict) else []
        if isinstance(instances, dict):
            instances = [
                {"name": k, **v} if isinstance(v, dict) else {"name": k, "state": v}
                for k, v in instances.items()
            ]
        for inst in instances:
            if isinstance(inst, dict) and "name" in inst:
                inst.setdefault(
                    "virtual_ipaddress", self.loader.instance_vips(self.config, inst["name"])
                )
                inst.setdefault("priority", inst.get("base_priority"))
                lt = inst.get("last_transition")
                if isinstance(lt, list) and len(lt) == 2 and isinstance(lt[0], int | float):
                    # [monotonic time, reason]: CLOCK_MONOTONIC is shared by all processes
                    inst.setdefault("reason", lt[1])
                    inst["last_transition_age_s"] = round(now - lt[0], 3)
        vs: Any = []
        for n in ("checker", "lvs"):
            s = services.get(n)
            if isinstance(s, dict) and s.get("virtual_servers"):
                vs = s["virtual_servers"]
                break
        return {
            "hadaemon": {
                "version": __version__,
                "pid": os.getpid(),
                "config_file": self.args.use_file,
                "config_id": self.args.config_id,
                "run_dir": self.run_dir,
                "uptime_s": round(now - self.started_mono, 3),
                "started_at": self.started_wall,
                "generation": self.generation,
                "last_reload": self.last_reload,
                "watchdog_paused": self.watchdog_paused,
                "standby_pids": {n: sw.pid for n, sw in self.spares.items()},
                "standby_warm": sorted(
                    n for n, sw in self.spares.items() if sw.pid in self.warm_spares
                ),
                "stopping": self.stopping,
                "smtp_alerts": self.smtp_alerts.status(),
            },
            "workers": workers,
            "vrrp_states": dict(self.vrrp_states),
            "instances": instances,
            "virtual_servers": vs,
            "real_server_states": [
                {
                    "virtual_server": k[0],
                    "real_server": f"{k[1]}:{k[2]}" if k[2] is not None else k[1],
                    "up": v.up,
                    "weight": v.weight,
                    "reason": v.reason,
                }
                for k, v in sorted(self.rs_states.items(), key=lambda kv: str(kv[0]))
            ],
            "services": services,
        }

    async def _start_metrics(self) -> None:
        listen = self.loader.metrics_listen(self.config)
        if not listen:
            return
        from hadaemon.supervisor.metrics import start_metrics_server

        try:
            self._metrics = await start_metrics_server(self, listen)
        except (OSError, ValueError) as exc:
            log.error("metrics_listen %s: %s", listen, exc)


# -- entry point --------------------------------------------------------------------------------
def run(
    args: argparse.Namespace,
    *,
    registry: dict[str, WorkerSpec] | None = None,
    loader: Any = None,
    ops: os_ops.OsOps | None = None,
) -> int:
    """Run the daemon (called by :func:`hadaemon.cli.main`); returns the exit code."""
    foreground = bool(args.foreground)
    args.log_console = bool(getattr(args, "log_console", False))
    args.debug = bool(getattr(args, "debug", False))
    target = "stderr" if (foreground or args.log_console) else "syslog"
    to_syslog = setup_logging(target, args.debug) == "syslog"

    def fail(msg: str, code: int) -> int:
        log.error("%s", msg)
        if to_syslog:  # still attached to the terminal: say it there too
            print(f"hadaemon: {msg}", file=sys.stderr)
        return code

    loader = loader or KeepalivedLoader()
    # net_namespace: entered before the config is validated (its interfaces are checked in
    # the namespace) and before any thread or worker starts (they inherit it)
    netns = None
    if isinstance(loader, KeepalivedLoader):
        from hadaemon.supervisor.namespace import configured_namespace

        netns, where = configured_namespace(args.use_file, args.config_id)
        if netns:
            from hadaemon.io.netns import NetnsError, enter

            try:
                enter(netns)
            except NetnsError as exc:
                return fail(f"{where}: {exc}; not starting", EXIT_NO_NAMESPACE)
            log.info("running in network namespace %s", netns)
    from hadaemon.supervisor.namespace import NamespacePinnedLoader, choose_run_dir

    args.run_dir = choose_run_dir(getattr(args, "run_dir", None), netns)
    loader = NamespacePinnedLoader(loader, netns)
    try:
        config = loader.load(args.use_file, args.config_id)
    except ConfigLoadError as exc:
        return fail(f"configuration error, not starting: {exc}", EXIT_CONFIG_ERRORS)
    try:
        os.makedirs(args.run_dir, mode=0o755, exist_ok=True)
    except OSError as exc:
        return fail(f"cannot create run directory {args.run_dir}: {exc}", EXIT_ALREADY_RUNNING)
    pid_path = args.pid or os.path.join(args.run_dir, "hadaemon.pid")
    pidfile = os_ops.Pidfile(pid_path)
    try:
        pidfile.acquire()
    except os_ops.PidfileLocked as exc:
        holder = str(exc) or "?"
        return fail(
            f"hadaemon is already running (pid {holder}) with config-id {args.config_id!r} "
            f"and pid file {pid_path}; refusing to start a second one",
            EXIT_ALREADY_RUNNING,
        )
    except OSError as exc:
        return fail(f"cannot open pid file {pid_path}: {exc}", EXIT_ALREADY_RUNNING)
    if not foreground:
        os_ops.daemonize()
        setup_logging("syslog" if not args.log_console else "stderr", args.debug)
    pidfile.write(os.getpid())
    try:
        from setproctitle import setproctitle

        setproctitle("hadaemon: supervisor")
    except ImportError:
        pass
    log.info(
        "hadaemon %s starting (config %s, config-id %s)",
        __version__,
        args.use_file,
        args.config_id,
    )

    async def _main() -> int:
        sup = Supervisor(args, config, registry=registry, loader=loader, ops=ops)
        return await sup.main()

    try:
        return asyncio.run(_main())
    finally:
        pidfile.release()
