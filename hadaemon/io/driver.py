"""The VRRP worker's asyncio driver: sockets, timers and kernel actions around the sans-IO core.

One :class:`~hadaemon.vrrp.router.VirtualRouter` per ``vrrp_instance``. The driver

- reads adverts from one raw socket per (interface, family) and feeds them to the router of
  their VRID with ``now`` = the packet's **kernel arrival stamp** (DESIGN §3);
- keeps exactly one timer per router, re-armed from ``router.get_timer()`` after every event,
  on :class:`~hadaemon.io.hrtimer.HrTimers` (a timerfd: asyncio's own ``call_at`` wakes up to
  1 ms late); before a timer fires it drains the sockets so a queued advert is seen
  first, and asks the receive hook (eBPF ``last_seen``) whether the master was seen;
- executes the router's actions: adverts are sent at once; VIPs/routes/rules and the GARP/NA
  that follow them go through one ordered netlink queue (never blocking the loop); notify
  scripts run asynchronously with a timeout (a hanging script is killed, adverts keep time);
- feeds trackers: ``track_interface`` (netlink link events), ``track_script`` (periodic, rise/
  fall), ``track_file`` (polled), and couples sync-group members.

Receive path: :class:`hadaemon.io.receive.AutoReceivePath` reads the driver's own raw sockets
(one :class:`~hadaemon.io.vrrp_socket.VrrpSocket` per interface and family, also used to send)
with a classic BPF filter, and upgrades itself to the eBPF path when bcc is usable (never with
``no_bpf``). Before declaring a master down the driver drains the sockets and consults
``last_seen``: if the kernel saw the current master within Master_Down_Interval, the timer is
re-armed from that kernel time instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ipaddress
import logging
import os
import select
import socket
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from hadaemon.config.diff import diff
from hadaemon.config.validate import missing_interfaces, sys_interface_exists, vmac_names
from hadaemon.io.garp import GarpSender
from hadaemon.io.hrtimer import HrTimerHandle, HrTimers
from hadaemon.io.ndisc import NaSender
from hadaemon.io.netlink import (
    LinkEvent,
    Netlink,
    NetlinkSpecError,
    NoAcceptFilter,
    RouteSpec,
    RuleSpec,
    VipSpec,
    route_from_model,
    rule_from_model,
    vip_from_model,
)
from hadaemon.io.receive import AutoReceivePath, Binding, ReceivePathError
from hadaemon.io.received import Received
from hadaemon.io.sched import LateTimerMonitor
from hadaemon.io.scripts import (
    NotifyFifo,
    ScriptRunner,
    TrackScript,
    check_script_security,
    instance_line,
)
from hadaemon.io.static_net import StaticNet, StaticSet, each_logged
from hadaemon.io.vrrp_socket import VrrpSocket, VrrpSocketError
from hadaemon.vrrp import actions as act
from hadaemon.vrrp import events as ev
from hadaemon.vrrp.fsm import State
from hadaemon.vrrp.packet import encode
from hadaemon.vrrp.router import RouterParams, VirtualRouter, group_address
from hadaemon.vrrp.sync_group import SyncGroup
from hadaemon.vrrp.trackers import (
    BfdTracker,
    FileTracker,
    ProcessTracker,
    track_file_value,
    weighted_contribution,
)

__all__ = ["Emit", "VrrpService"]

log = logging.getLogger("hadaemon.vrrp")
proto_log = logging.getLogger("hadaemon.vrrp.proto")

Emit = Callable[[str, dict[str, Any]], None]
NOTIFY_TIMEOUT_S = 10.0
"""A notify script still running after this long is killed (keepalived has no such limit;
hadaemon never lets a script pile up)."""
TRACK_FILE_POLL_S = 0.5
TRACK_PROCESS_POLL_S = 0.5
ABSENT_RECHECK_S = 1.0
"""``dynamic_interfaces``: how long after start-up (or a reload) the driver looks again for
interfaces of instances still waiting for theirs (one created meanwhile sent no event the
link watcher could see yet)."""
RECREATED_SRC_WAIT_S = 120.0
"""How long the driver waits for a re-created interface to get an address before its instances
keep their old source address (logged)."""


def _proc_table() -> list[tuple[str, list[str]]]:
    """(comm, argv) of every process (a process that vanished mid-scan is skipped)."""
    out: list[tuple[str, list[str]]] = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/comm") as fh:
                comm = fh.read().rstrip("\n")
            with open(f"/proc/{pid}/cmdline", "rb") as fb:
                argv = [a.decode(errors="replace") for a in fb.read().split(b"\0") if a]
        except OSError:
            continue
        out.append((comm, argv))
    return out


def process_matches(tp: Any, comm: str, argv: list[str]) -> bool:
    """keepalived's ``vrrp_track_process`` match: ``process NAME [PARAMS...]`` against the
    process name (``comm``, or argv[0] with ``full_command``) and, if given, its parameters
    (exact, or ``param_match initial``/``partial``)."""
    want = list(tp.process)
    if not want:
        return False
    name = want[0]
    if tp.full_command:
        if not argv or argv[0] != name:
            return False
    elif comm != os.path.basename(name)[:15]:
        return False
    params = want[1:]
    if not params:
        return True
    have = argv[1:]
    mode = tp.param_match or "exact"
    if mode == "initial":
        return have[: len(params)] == params
    if mode == "partial":
        return " ".join(params) in " ".join(have)
    return have == params


@dataclass
class _Inst:
    """Everything the driver keeps for one instance."""

    cfg: Any
    router: VirtualRouter
    sock_key: tuple[str, int]
    vips: list[VipSpec]
    routes: list[RouteSpec]
    rules: list[RuleSpec]
    timer: HrTimerHandle | None = None
    failover_decision_s: float | None = None
    """Last BACKUP→MASTER on Master_Down_Timer: seconds from the timer's deadline to the
    decision (timer lateness + draining the socket + the kernel last-seen check)."""
    group: str | None = None
    tracked_ifaces: set[str] = field(default_factory=set)
    down_ifaces: set[str] = field(default_factory=set)
    retired_vips: list[VipSpec] = field(default_factory=list)
    """VIPs removed by the last reload (the core may still ask to delete them)."""
    vmac: str | None = None
    """``use_vmac``: the macvlan carrying the VIPs and sending GARPs with the VRRP MAC."""
    absent_fault: str | None = None
    """``dynamic_interfaces``: the FAULT reason held while the instance's interface has never
    existed (no socket yet); cleared when it is created."""


def _absent_reason(ifname: str) -> str:
    return f"interface {ifname} does not exist"


MASTER_DOWN_LEAD_S = 0.002
"""How early a BACKUP wakes before Master_Down_Timer: covers the wake-up latency of an idle
CPU plus draining the sockets and the eBPF ``last_seen`` lookup (together ~0.4 ms here, with
wake-ups up to ~1.5 ms late on this VM now and then: 1 ms left one failover in ten ~1.3 ms
late), so that the takeover advert leaves at the deadline instead of that much after it."""


def _lvl(name: str) -> int:
    return {
        "debug": logging.DEBUG,
        "info": logging.INFO,
        "warning": logging.WARNING,
        "error": logging.ERROR,
    }.get(name, logging.INFO)


def _to_config(config: Any) -> Any:
    if isinstance(config, dict):
        from hadaemon.config.model import Config

        return Config.from_dict(config)
    return config


class VrrpService:
    """Hosts the VRRP instances of a config (asyncio; one per VRRP worker process)."""

    def __init__(
        self,
        config: Any,
        emit: Emit | None = None,
        *,
        no_bpf: bool = False,
        notify_timeout_s: float = NOTIFY_TIMEOUT_S,
        handback: dict[str, str] | None = None,
    ) -> None:
        self.config = _to_config(config)
        self.emit: Emit = emit or (lambda kind, body: None)
        # --no-bpf on the command line, or ``vrrp_bpf off`` in global_defs
        no_bpf = no_bpf or not getattr(self.config.global_defs, "vrrp_bpf", True)
        self.no_bpf = no_bpf
        self.rx = AutoReceivePath(use_bpf=not no_bpf)
        self._rx_fds: set[int] = set()
        self.sync_groups: dict[str, SyncGroup] = {}
        self.notify_timeout_s = notify_timeout_s
        self.handback = dict(handback or {})
        """instance → state before a worker restart; MASTERs resume at once (no VIP flap)."""
        self.netlink = Netlink()
        self.no_accept = NoAcceptFilter()
        self.static = StaticNet(self.netlink)
        """static_ipaddress / static_routes / static_rules (not tied to any VRRP state)."""
        self.scripts = ScriptRunner()
        self.insts: dict[str, _Inst] = {}
        self.disabled: dict[str, str] = {}
        self._links: dict[str, tuple[int, bool]] = {}
        """(ifindex, up) last seen of each interface an address or route names (``dev``)."""
        """Instances not started because an interface they name does not exist (without
        ``dynamic_interfaces``; keepalived stops its whole VRRP process): name → why."""
        self.sockets: dict[tuple[str, int], VrrpSocket] = {}
        self.garp: dict[str, GarpSender] = {}
        self.na: dict[str, NaSender] = {}
        self.track_scripts: dict[str, TrackScript] = {}
        self.bfd_up: dict[str, bool] = {}
        """``track_bfd``: BFD session name → Up, as the bfd worker last reported it."""
        self._bfd_keys: dict[str, set[str]] = {}
        self.fifos: list[NotifyFifo] = []
        self.groups: dict[str, list[str]] = {}
        self.unknown_vrid = 0
        self._queue: asyncio.Queue[Coroutine[Any, Any, Any] | None] = asyncio.Queue()
        self._tasks: list[asyncio.Task[Any]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timers: HrTimers | None = None
        self._primary_cache: dict[tuple[str, int], str | None] = {}
        """Primary address per (interface, family), valid for one start/reload pass."""
        self._encoded: dict[tuple[Any, str, str, bool], bytes] = {}
        """Encoded adverts by (advert, src, dst, v3_checksum_as_v2)."""
        self.master_down_lead_s = MASTER_DOWN_LEAD_S
        """A BACKUP wakes this long before Master_Down_Timer to do its reads ahead of time."""
        self.late = LateTimerMonitor()
        """How late router timers fired (logged past 0.1 s, as keepalived; in status)."""
        self._tracker_tasks: list[asyncio.Task[Any]] = []
        self._started = False
        self._stopping = False

    # ================================================================ lifecycle
    async def start(self) -> None:
        """Open sockets, start every instance and its trackers."""
        self._primary_cache.clear()
        self._loop = asyncio.get_running_loop()
        self._timers = HrTimers(self._loop)
        self._tasks.append(asyncio.ensure_future(self._netlink_worker()))
        await self._apply_static(self.config)  # keepalived: before the instances start
        g = self.config.global_defs
        for path, script in (
            (g.notify_fifo, g.notify_fifo_script),
            (g.vrrp_notify_fifo, g.vrrp_notify_fifo_script),
        ):
            if not path or any(f.path == path for f in self.fifos):
                continue
            fifo = NotifyFifo(path)
            self.fifos.append(fifo)
            if script is not None:
                # keepalived's *_fifo_script: a long-running reader given the FIFO's path
                try:
                    fifo.open()
                except OSError as exc:
                    log.error("cannot create notify FIFO %s: %s", path, exc)
                    continue
                self._spawn_checked(
                    "fifo",
                    "notify_fifo_script",
                    [*script.args, path],
                    script,
                    no_timeout=True,
                )
        for sg in self.config.vrrp_sync_groups:
            self.groups[sg.name] = list(sg.group)
        for inst in self.config.vrrp_instances:
            await self._try_start(inst.name, inst, startup=False)  # Startup after the delays
        self._build_sync_groups()
        self._update_rx()
        if not self.no_bpf:
            self._tasks.append(asyncio.ensure_future(self.rx.upgrade()))
        self._start_trackers()
        self._apply_bfd(time.monotonic())
        self._tasks.append(asyncio.ensure_future(self.netlink.watch_links(self._on_link)))
        self._tasks.append(asyncio.ensure_future(self._recheck_absent()))
        # keepalived removes addresses it may own at start-up (left behind by a crash) so a
        # BACKUP never holds a VIP; done before the first state change.
        resume = {n for n, st in self.handback.items() if str(st).upper() == "MASTER"}
        for i in self.insts.values():
            if i.router.name not in resume:
                self._enqueue(self._del_net(i, quiet=True))
        await self._flush_netlink()
        delay_s = float(getattr(self.config.global_defs, "vrrp_startup_delay", 0.0) or 0.0)
        if delay_s > 0 and not resume:
            # keepalived's vrrp_startup_delay: let the network settle after boot
            log.info("Delaying VRRP startup for %g seconds", delay_s)
            assert self._timers is not None
            self._timers.call_later(delay_s, self._startup_all, resume)
        else:
            self._startup_all(resume)
        self._started = True
        self.emit("ready", {"worker": "vrrp", "instances": sorted(self.insts)})

    def _startup_all(self, resume: set[str]) -> None:
        if self._stopping:
            return
        for i in list(self.insts.values()):
            self._run(i, ev.Startup(), time.monotonic())
        for i in list(self.insts.values()):
            if i.router.name in resume and i.router.state == State.BACKUP:
                # a respawned worker takes MASTER back before any peer's Master_Down_Interval
                log.info("(%s) resuming MASTER after a worker restart", i.router.name)
                i.router.force_master(time.monotonic(), "resumed after worker restart")
                self._after(i)

    async def stop(self) -> None:
        """Release: priority-0 adverts from masters, VIPs/routes/rules removed, scripts reaped."""
        if self._stopping:
            return
        self._stopping = True
        for ts in self.track_scripts.values():
            await ts.stop()
        now = time.monotonic()
        for i in self.insts.values():
            self._cancel_timer(i)
            self._run(i, ev.Shutdown(), now, arm=False)
        await self._flush_netlink()
        await self.static.clear()
        for i in self.insts.values():
            if i.vmac:
                try:
                    await self.netlink.del_link(i.vmac)
                except Exception as exc:
                    log.error("(%s) cannot remove VMAC %s: %s", i.router.name, i.vmac, exc)
        # keepalived's child_wait_time: how long scripts (notify_stop …) may still run
        wait_s = float(getattr(self.config.global_defs, "child_wait_time", 5.0) or 0.0)
        await self.scripts.stop(timeout_s=min(self.notify_timeout_s, wait_s))
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._tasks.clear()
        if self._timers is not None:
            self._timers.close()
        loop = asyncio.get_running_loop()
        with contextlib.suppress(Exception):
            self.rx.close()
        for s in self.sockets.values():
            with contextlib.suppress(Exception):
                loop.remove_reader(s.fileno())
            s.close()
        self.sockets.clear()
        for g in self.garp.values():
            g.close()
        for n in self.na.values():
            n.close()
        for f in self.fifos:
            f.close()
        with contextlib.suppress(Exception):
            await self.no_accept.close()
        await self.netlink.close()

    async def apply_config(self, config: Any) -> None:
        """Reload: removed instances stop, new ones start, changed ones get new parameters.

        An instance whose ``vrrp_instance`` block, tracked scripts/files/processes and sync
        group are all unchanged (:func:`hadaemon.config.diff.diff`) is not touched at all: its
        parameters are not re-derived and its router sees no event, so a reload costs only
        what changed. A changed ``global_defs`` (defaults every instance inherits) redoes all.
        """
        new = _to_config(config)
        self._primary_cache.clear()
        try:
            plan = diff(self.config, new)
        except Exception as exc:  # not a Config model (a test's stand-in): redo everything
            log.debug("reload diff unavailable (%s); reconfiguring every instance", exc)
            plan = None
        if plan is None or plan.global_defs_changed:
            redo = set(self.insts)
        else:
            redo = set(plan.vrrp_instances.changed) | set(plan.affected_vrrp_instances)
        old_names = set(self.insts)
        old_cfgs = {n: i.cfg for n, i in self.insts.items()}
        old_scripts = self._wanted_scripts()
        new_insts = {i.name: i for i in new.vrrp_instances}
        self.config = new
        await self._apply_static(new)
        # disabled instances still configured are tried again below (their interface may be
        # there now)
        self.disabled = {n: why for n, why in self.disabled.items() if n in new_insts}
        self.groups = {sg.name: list(sg.group) for sg in new.vrrp_sync_groups}
        #: instances stopped, started or reconfigured here (the rest are left alone)
        touched = (old_names ^ set(new_insts)) | (redo & set(new_insts))
        now = time.monotonic()
        for name in old_names - set(new_insts):
            i = self.insts.pop(name)
            self._cancel_timer(i)
            self._run(i, ev.Shutdown(), now, arm=False)
        for name, cfg in new_insts.items():
            if name in self.insts:
                i = self.insts[name]
                if name not in redo:
                    i.cfg = cfg  # equal to the running block (only its file locations differ)
                    continue
                params = await self._params(cfg)
                old_p = i.router.params
                if (params.vrid, params.family, params.interface, params.version) != (
                    old_p.vrid,
                    old_p.family,
                    old_p.interface,
                    old_p.version,
                ) or self._vmac_name(cfg) != i.vmac:
                    self._cancel_timer(i)
                    self._run(i, ev.Shutdown(), now, arm=False)
                    del self.insts[name]
                    await self._try_start(name, cfg)
                    continue
                i.cfg = cfg
                i.group = next((g for g, m in self.groups.items() if name in m), None)
                old_vips, old_routes, old_rules = i.vips, i.routes, i.rules
                i.vips, i.routes, i.rules = self._net_objects(cfg)
                i.retired_vips = [v for v in old_vips if v not in i.vips]
                if i.router.state == State.MASTER:
                    # the core adds/removes changed VIPs; routes and rules are ours to diff
                    gone_routes = [r for r in old_routes if r not in i.routes]
                    gone_rules = [r for r in old_rules if r not in i.rules]
                    self._enqueue(self._del_net(i, vips=[], routes=gone_routes, rules=gone_rules))
                    self._enqueue(self._add_net(i, vips=[]))
                self._run(i, ev.ConfigChanged(params), now)
            else:
                await self._try_start(name, cfg)
        self._apply_bfd(time.monotonic())  # new/changed track_bfd entries and weights
        if any(i.absent_fault for i in self.insts.values()):
            self._tasks.append(asyncio.ensure_future(self._recheck_absent()))
        if not touched and plan is not None and plan.empty:
            return  # nothing for the VRRP worker (e.g. only virtual servers changed)
        self._build_sync_groups(
            None
            if plan is None
            else set(plan.vrrp_sync_groups.touched)
            | {g for g, m in self.groups.items() if touched & set(m)}
        )
        self._update_rx()
        cfgs = [old_cfgs[n] for n in touched if n in old_cfgs]
        cfgs += [new_insts[n] for n in touched if n in new_insts]
        restart = (
            plan is None
            or plan.global_defs_changed  # script_user, enable_script_security …
            or not (
                plan.vrrp_scripts.empty
                and plan.track_files.empty
                and plan.vrrp_track_processes.empty
                and plan.vrrp_sync_groups.empty
            )
            or any(c.track_file or c.track_process for c in cfgs)
            or self._wanted_scripts() != old_scripts
        )
        if not restart:
            # the same scripts keep running: give the instances set up here their verdicts
            for name in sorted(touched & set(self.insts)):
                for t in self.insts[name].cfg.track_script:
                    ts = self.track_scripts.get(t.name)
                    if ts is not None and ts.ok is not None:
                        self._on_script(t.name, ts.ok, only=self.insts[name])
            return
        for ts in self.track_scripts.values():
            await ts.stop()
        self.track_scripts.clear()
        for t in self._tracker_tasks:
            t.cancel()
        self._tracker_tasks.clear()
        self._start_trackers()

    def status(self) -> dict[str, Any]:
        """JSON-able status of every instance and sync group."""
        out: dict[str, Any] = {}
        for name, i in self.insts.items():
            st = i.router.status()
            p = i.router.params
            st.update(
                failover_decision_s=i.failover_decision_s,
                interface=p.interface,
                family=p.family,
                version=p.version,
                sync_group=i.group,
                advert_int_cs=p.advert_int_cs,
            )
            out[name] = st
        return {
            "instances": out,
            "sync_groups": {
                g: {
                    "members": m,
                    "state": sg.state.value
                    if (sg := self.sync_groups.get(g)) and sg.state
                    else None,
                }
                for g, m in self.groups.items()
            },
            "unknown_vrid_rcvd": self.unknown_vrid,
            "receive_path": self._rx_status(),
            "bpf_drops": self._rx_drops(),
            "timers": self.late.status(),
            "track_scripts": {n: t.ok for n, t in self.track_scripts.items()},
            "bfd": dict(self.bfd_up),
            "disabled_instances": dict(self.disabled),
        }

    def _rx_status(self) -> dict[str, Any]:
        try:
            return dict(self.rx.status())
        except Exception as exc:  # status must never fail
            return {"error": str(exc)}

    def _rx_drops(self) -> dict[str, int]:
        """Per-reason kernel drop counters of the eBPF path ({} on the classic path)."""
        try:
            return {str(k): int(v) for k, v in self.rx.drop_counters().items()}
        except Exception:  # status must never fail
            return {}

    # ================================================================ setup helpers
    async def _try_start(self, name: str, cfg: Any, *, startup: bool = True) -> None:
        """Add instance ``name`` (and start it with ``startup``), unless its interfaces keep it
        disabled or it cannot be set up (logged; the other instances go on)."""
        if not self._startable(cfg):
            return
        try:
            await self._add_instance(cfg)
        except (VrrpSocketError, NetlinkSpecError, ValueError) as exc:
            log.error("(%s) cannot start: %s", name, exc)
            return
        if startup:
            self._run(self.insts[name], ev.Startup(), time.monotonic())

    async def _apply_static(self, config: Any) -> None:
        try:
            wanted = StaticSet.from_config(config)
        except (ValueError, NetlinkSpecError) as exc:
            log.error("static addresses/routes/rules not applied: %s", exc)
            return
        if wanted or self.static.current:
            await self.static.apply(wanted)

    async def _params(self, cfg: Any) -> RouterParams:
        g = self.config.global_defs
        family = 6 if getattr(cfg, "family", 4) == 6 else 4
        src = cfg.unicast_src_ip or cfg.mcast_src_ip
        if not src and cfg.interface:
            # one address dump per interface and pass (start, reload): with 1,000 VIPs on it
            # a dump costs ~150 ms, once per instance it made a reload O(instances x VIPs)
            key = (cfg.interface, socket.AF_INET if family == 4 else socket.AF_INET6)
            if key not in self._primary_cache:
                try:
                    self._primary_cache[key] = await self.netlink.primary_address(*key)
                except NetlinkSpecError:  # dynamic_interfaces: read when it is created
                    self._primary_cache[key] = None
            src = self._primary_cache[key]

        def pick(inst_value: Any, global_value: Any) -> Any:
            return global_value if inst_value is None else inst_value

        overrides: dict[str, Any] = {
            "primary_address": src or "",
            "garp_master_delay_s": float(pick(cfg.garp_master_delay, g.vrrp_garp_master_delay)),
            "garp_master_repeat": int(pick(cfg.garp_master_repeat, g.vrrp_garp_master_repeat)),
            "garp_master_refresh_s": float(
                pick(cfg.garp_master_refresh, g.vrrp_garp_master_refresh)
            ),
            "garp_master_refresh_repeat": int(
                pick(cfg.garp_master_refresh_repeat, g.vrrp_garp_master_refresh_repeat)
            ),
            "garp_interval_s": float(g.vrrp_garp_interval if family == 4 else g.vrrp_gna_interval),
            "lower_prio_no_advert": bool(cfg.lower_prio_no_advert or g.vrrp_lower_prio_no_advert),
            "skip_check_adv_addr": bool(cfg.skip_check_adv_addr or g.vrrp_skip_check_adv_addr),
            "v3_checksum_as_v2": bool(
                getattr(cfg, "v3_checksum_as_v2", False) or getattr(g, "v3_checksum_as_v2", False)
            ),
        }
        if g.vrrp_min_garp:
            overrides.update(garp_master_repeat=1, garp_master_delay_s=0.0)
        if cfg.down_timer_adverts == 3 and g.vrrp_down_timer_adverts != 3:
            overrides["down_timer_adverts"] = g.vrrp_down_timer_adverts
        # track_interface weights: the model's None means "interface default" = 0 (FAULT)
        return RouterParams.from_instance(cfg, **overrides)

    def _vmac_name(self, cfg: Any) -> str | None:
        if not getattr(cfg, "use_vmac", False):
            return None
        prefix = getattr(self.config.global_defs, "vmac_prefix", "vrrp") or "vrrp"
        return str(cfg.vmac_name or f"{prefix}.{cfg.virtual_router_id}")[:15]

    def _net_objects(self, cfg: Any) -> tuple[list[VipSpec], list[RouteSpec], list[RuleSpec]]:
        dev = cfg.interface or ""
        vmac = self._vmac_name(cfg)
        vips = [
            vip_from_model(a, dev)
            for a in (*cfg.virtual_ipaddress, *cfg.virtual_ipaddress_excluded)
        ]
        if vmac:  # addresses on the VRRP interface live on the VMAC instead (keepalived)
            vips = [dataclasses.replace(v, dev=vmac) if v.dev == dev else v for v in vips]
        routes = [route_from_model(r) for r in cfg.virtual_routes]
        rules = [rule_from_model(r) for r in cfg.virtual_rules]
        return vips, routes, rules

    def _startable(self, cfg: Any) -> bool:
        """False (logged, kept in :attr:`disabled`) when ``cfg`` names an interface that does
        not exist and ``dynamic_interfaces`` is off; with it, the instance starts in FAULT."""
        self.disabled.pop(cfg.name, None)
        if getattr(self.config.global_defs, "dynamic_interfaces", False):
            return True
        try:
            missing = missing_interfaces(cfg, sys_interface_exists, vmac_names(self.config))
        except AttributeError:  # not a config model (a test's stand-in)
            return True
        if not missing:
            return True
        why = ", ".join(str(r) for r in missing) + " doesn't exist"
        self.disabled[cfg.name] = why
        log.error(
            "(%s) %s: instance disabled (add dynamic_interfaces to global_defs to start it in "
            "FAULT until the interface is created)",
            cfg.name,
            why,
        )
        return False

    async def _add_instance(self, cfg: Any) -> None:
        if not cfg.interface:
            raise ValueError("no interface configured")
        params = await self._params(cfg)
        vips, routes, rules = self._net_objects(cfg)
        vmac = self._vmac_name(cfg)
        # dynamic_interfaces: an interface not created yet gets its socket (and VMAC) from
        # the link event that announces it (_follow_link)
        present = sys_interface_exists(params.interface)
        if vmac and present:
            await self._setup_vmac(vmac, params)
        fam = socket.AF_INET if params.family == 4 else socket.AF_INET6
        key = (params.interface, fam)
        if key not in self.sockets and present:
            s = VrrpSocket(
                params.interface,
                fam,
                multicast_group=cfg.mcast_dst_ip or None,
                unicast_ttl=cfg.unicast_ttl,
            )
            self.sockets[key] = s
        inst = _Inst(
            cfg=cfg,
            router=VirtualRouter(params),
            sock_key=key,
            vips=vips,
            routes=routes,
            rules=rules,
            vmac=vmac,
        )
        inst.tracked_ifaces = {t.ifname for t in params.track_interfaces}
        if not params.dont_track_primary:
            inst.tracked_ifaces.add(params.interface)
        for gname, members in self.groups.items():
            if cfg.name in members:
                inst.group = gname
        for dev in {v.dev for v in vips} | {r.dev for r in routes if r.dev}:
            if dev not in self._links:
                with contextlib.suppress(OSError):
                    self._links[dev] = (
                        socket.if_nametoindex(dev),
                        await self.netlink.link_up(dev),
                    )
        now = time.monotonic()
        for ifname in sorted(inst.tracked_ifaces):
            if not await self.netlink.link_up(ifname):
                inst.down_ifaces.add(ifname)
                inst.router.handle(ev.InterfaceDown(ifname), now)
        if key not in self.sockets:
            # FAULT whatever dont_track_primary says: nothing can be sent or heard yet
            inst.absent_fault = _absent_reason(params.interface)
            inst.router.handle(ev.ForceFault(inst.absent_fault), now)
            log.info(
                "(%s) interface %s doesn't exist yet: FAULT until it is created "
                "(dynamic_interfaces)",
                cfg.name,
                params.interface,
            )
        self.insts[cfg.name] = inst

    def _build_sync_groups(self, only: set[str] | None = None) -> None:
        """(Re)build the sync groups named in ``only`` (all if None); the others, unchanged,
        keep their :class:`SyncGroup` and its state. Groups no longer configured go."""
        keep = {} if only is None else self.sync_groups
        self.sync_groups = {}
        for name, members in self.groups.items():
            if name in keep and name not in (only or ()):
                self.sync_groups[name] = keep[name]
                continue
            routers = [self.insts[m].router for m in members if m in self.insts]
            if routers:
                self.sync_groups[name] = SyncGroup(name, routers)

    def _update_rx(self) -> None:
        """Give the receive path every socket with the VRIDs configured on it."""
        vrids: dict[tuple[str, int], set[int]] = {k: set() for k in self.sockets}
        for i in self.insts.values():
            if i.sock_key in vrids:  # else its interface does not exist yet
                vrids[i.sock_key].add(i.router.params.vrid)
        assert self._loop is not None
        for key, sock in self.sockets.items():
            try:
                if sock.fileno() in self._rx_fds:
                    self.rx.update_vrids(key[0], key[1], vrids[key])
                    continue
                self.rx.open([Binding(key[0], key[1], frozenset(vrids[key]), sock=sock.sock)])
            except ReceivePathError as exc:
                log.error("receive path on %s: %s", key[0], exc)
                continue
            self._rx_fds.add(sock.fileno())
            self._loop.add_reader(sock.fileno(), self._on_readable, sock.fileno())

    async def _setup_vmac(self, vmac: str, p: RouterParams) -> None:
        """macvlan with the VRRP MAC (RFC 5798 §7.3) and the sysctls it needs (datapath §5)."""
        cfg_mac = next((i.vmac_mac for i in self.config.vrrp_instances if i.name == p.name), None)
        mac = cfg_mac or f"00:00:5e:00:0{1 if p.family == 4 else 2}:{p.vrid:02x}"
        base = p.interface
        # only the VMAC may answer ARP for the VIPs, and the base interface must not announce a
        # VIP as the sender of its own ARP requests, else peers cache the base MAC for it
        self.netlink.set_sysctl(f"net/ipv4/conf/{base}/arp_ignore", 1)
        self.netlink.set_sysctl(f"net/ipv4/conf/{base}/arp_announce", 2)
        if await self.netlink.ensure_macvlan(vmac, base, mac):
            log.info("(%s) created VMAC %s (%s) on %s", p.name, vmac, mac, base)
        for key, value in (("arp_ignore", 1), ("accept_local", 1), ("rp_filter", 0)):
            self.netlink.set_sysctl(f"net/ipv4/conf/{vmac}/{key}", value)
        if p.family == 4:
            # no link-local/DAD/MLD frames from the shared VRRP MAC while BACKUP
            self.netlink.set_sysctl(f"net/ipv6/conf/{vmac}/disable_ipv6", 1)

    def _wanted_scripts(self) -> set[str]:
        """Names of the ``vrrp_script``s tracked by the instances and their sync groups."""
        wanted: set[str] = set()
        for i in self.insts.values():
            for t in i.cfg.track_script:
                wanted.add(t.name)
            if i.group:
                sg = next(s for s in self.config.vrrp_sync_groups if s.name == i.group)
                wanted.update(t.name for t in sg.track_script)
        return wanted

    def _start_trackers(self) -> None:
        scripts = {s.name: s for s in self.config.vrrp_scripts}
        for name in sorted(self._wanted_scripts()):
            vs = scripts.get(name)
            if vs is None or vs.script is None:
                log.warning("track_script %s is not defined; ignoring it", name)
                continue
            args = list(vs.script.args)
            user, group, why = self._script_as(args, vs, vs.script)
            if why:
                log.error("VRRP_Script(%s) disabled by script security: %s", name, why)
                continue
            ts = TrackScript(
                name,
                args,
                runner=self.scripts,
                interval_s=vs.interval,
                timeout_s=vs.timeout,
                rise=vs.rise,
                fall=vs.fall,
                init_fail=vs.init_fail,
                on_change=self._on_script,
                user=user,
                group=group,
            )
            self.track_scripts[name] = ts
            ts.start()
        procs = {p.name: p for p in self.config.vrrp_track_processes}
        tp_wanted = {t.name for i in self.insts.values() for t in i.cfg.track_process}
        if tp_wanted:
            self._tracker_tasks.append(
                asyncio.ensure_future(
                    self._poll_processes({n: procs[n] for n in tp_wanted if n in procs})
                )
            )
        files = {f.name: f for f in self.config.track_files}
        tf_wanted = {t.name for i in self.insts.values() for t in i.cfg.track_file}
        if tf_wanted:
            self._tracker_tasks.append(
                asyncio.ensure_future(
                    self._poll_files({n: files[n] for n in tf_wanted if n in files})
                )
            )
        self._tasks.extend(self._tracker_tasks)

    # ================================================================ trackers
    def set_bfd_state(self, name: str, up: bool) -> None:
        """A BFD session's state, from the bfd worker through the supervisor (``track_bfd``)."""
        if self.bfd_up.get(name) == up:
            return
        self.bfd_up[name] = up
        log.info("BFD %s is %s", name, "up" if up else "down")
        if self._started and not self._stopping:
            self._apply_bfd(time.monotonic(), only=name)

    def _bfd_trackers(self, i: _Inst) -> list[BfdTracker]:
        """The ``track_bfd`` trackers of instance ``i``: its own and its sync group's."""
        bfds = {b.name: b for b in getattr(self.config, "bfd_instances", ())}
        entries: list[tuple[Any, str | None, bool]] = [(t, None, False) for t in i.cfg.track_bfd]
        if i.group:
            sg = next((g for g in self.config.vrrp_sync_groups if g.name == i.group), None)
            if sg is not None:
                fault_only = not sg.sync_group_tracking_weight
                entries += [(t, sg.name, fault_only) for t in sg.track_bfd]
        out = []
        for t, group, fault_only in entries:
            b = bfds.get(t.name)
            if b is None:  # an unknown name is a config error (validate.py)
                continue
            weight = t.weight if t.weight is not None else b.weight
            reverse = bool(t.reverse or (t.weight is None and b.weight_reverse))
            up = self.bfd_up.get(t.name, False)
            out.append(BfdTracker(t.name, 0 if fault_only else weight, reverse, group, up))
        return out

    def _apply_bfd(self, now: float, *, only: str | None = None) -> None:
        """Give every instance its ``track_bfd`` contributions (idempotent); drop those of
        entries no longer configured."""
        for name, i in self.insts.items():
            keys: set[str] = set()
            for tr in self._bfd_trackers(i):
                keys.add(tr.key)
                if only is None or tr.name == only:
                    self._run(i, tr.contribution(), now)
            for gone in self._bfd_keys.get(name, set()) - keys:
                self._run(i, ev.TrackerChanged(gone, 0), now)
            self._bfd_keys[name] = keys
        for name in set(self._bfd_keys) - set(self.insts):
            del self._bfd_keys[name]

    def _on_script(self, name: str, ok: bool, *, only: _Inst | None = None) -> None:
        scripts = {s.name: s for s in self.config.vrrp_scripts}
        vs = scripts.get(name)
        now = time.monotonic()
        for i in self.insts.values() if only is None else [only]:
            for t in i.cfg.track_script:
                if t.name != name:
                    continue
                weight = t.weight if t.weight is not None else (vs.weight if vs else 0)
                reverse = t.reverse or (vs.weight_reverse if vs else False)
                self._run(i, weighted_contribution(f"script:{name}", ok, weight, reverse), now)

    async def _poll_files(self, files: dict[str, Any]) -> None:
        """``track_file``: read each file's number, feed the instances' FileTrackers."""
        trackers: dict[str, list[tuple[_Inst, FileTracker]]] = {name: [] for name in files}
        for i in self.insts.values():
            for t in i.cfg.track_file:
                tf = files.get(t.name)
                if tf is None:
                    continue
                weight = t.weight if t.weight is not None else tf.weight
                reverse = bool(t.reverse or tf.weight_reverse)
                trackers[t.name].append((i, FileTracker(t.name, weight=weight, reverse=reverse)))
        last: dict[str, int] = {}
        while True:
            for name, tf in files.items():
                try:
                    with open(tf.file) as fh:
                        value = track_file_value(fh.read())
                except (OSError, ValueError):
                    value = 0
                if last.get(name) == value:
                    continue
                last[name] = value
                now = time.monotonic()
                for i, tr in trackers[name]:
                    tr.value = value
                    self._run(i, tr.contribution(), now)
            await asyncio.sleep(TRACK_FILE_POLL_S)

    async def _poll_processes(self, procs: dict[str, Any]) -> None:
        """``vrrp_track_process``: count matching processes, feed ProcessTrackers."""
        trackers: list[tuple[_Inst, ProcessTracker]] = []
        for i in self.insts.values():
            for t in i.cfg.track_process:
                tp = procs.get(t.name)
                if tp is None:
                    log.warning("(%s) track_process %s is not defined", i.router.name, t.name)
                    continue
                weight = t.weight if t.weight is not None else tp.weight
                trackers.append(
                    (
                        i,
                        ProcessTracker(
                            t.name,
                            weight=weight,
                            quorum=tp.quorum,
                            quorum_max=tp.quorum_max,
                            reverse=bool(t.reverse or tp.weight_reverse),
                        ),
                    )
                )
        first = True
        while True:
            table = await asyncio.to_thread(_proc_table)
            counts = {
                n: sum(process_matches(tp, c, a) for c, a in table) for n, tp in procs.items()
            }
            now = time.monotonic()
            for i, tr in trackers:
                if tr.set_count(counts.get(tr.name, 0)) or first:
                    log.info(
                        "Track process %s %s (%d running)",
                        tr.name,
                        "up" if tr.up else "down",
                        tr.running,
                    )
                    self._run(i, tr.contribution(), now)
            first = False
            await asyncio.sleep(TRACK_PROCESS_POLL_S)

    def _on_link(self, e: LinkEvent) -> None:
        self._follow_link(e)
        self._restore_on_link(e)
        now = time.monotonic()
        for i in self.insts.values():
            if e.ifname in i.tracked_ifaces:
                down = e.ifname in i.down_ifaces
                if e.up and down:
                    i.down_ifaces.discard(e.ifname)
                    self._run(i, ev.InterfaceUp(e.ifname), now)
                elif not e.up and not down:
                    i.down_ifaces.add(e.ifname)
                    self._run(i, ev.InterfaceDown(e.ifname), now)

    def _follow_link(self, e: LinkEvent) -> None:
        """Follow an interface that was deleted and created again under the same name (a veth
        re-created, a NIC driver reloaded): the kernel took the sockets' device binding, their
        group memberships and the eBPF program with the old device. Open new sockets on the
        new device and hand them to the receive path, which attaches the filter there and
        keys its maps by the new ifindex (keepalived follows re-created interfaces by netlink
        as well). The instance's FAULT/BACKUP comes from the link events as usual.

        Likewise an interface created for the first time under ``dynamic_interfaces``: its
        instances get their sockets (and VMAC) now and leave the FAULT they were held in."""
        if not e.ifindex or self._stopping or self._loop is None:
            return
        stale = [k for k, s in self.sockets.items() if k[0] == e.ifname and s.ifindex != e.ifindex]
        absent = sorted(
            {i.sock_key for i in self.insts.values() if i.sock_key[0] == e.ifname}
            - set(self.sockets)
        )
        if not stale and not absent:
            return
        try:
            if socket.if_nametoindex(e.ifname) != e.ifindex:
                return  # an old event: the current device announces itself later
        except OSError:
            return
        for key in stale:
            old = self.sockets[key]
            cfg = next((i.cfg for i in self.insts.values() if i.sock_key == key), None)
            try:
                new = VrrpSocket(
                    key[0],
                    key[1],
                    multicast_group=(cfg.mcast_dst_ip or None) if cfg is not None else None,
                    unicast_ttl=cfg.unicast_ttl if cfg is not None else 255,
                )
            except VrrpSocketError as exc:
                log.error("%s was re-created but its VRRP socket cannot be: %s", e.ifname, exc)
                continue
            fd = old.fileno()
            if fd in self._rx_fds:
                self._loop.remove_reader(fd)
                self._rx_fds.discard(fd)
                with contextlib.suppress(Exception):
                    self.rx.remove(fd)
            old.close()
            self.sockets[key] = new
            log.info(
                "%s was re-created (ifindex %d -> %d): VRRP %s socket reopened",
                e.ifname,
                old.ifindex,
                new.ifindex,
                "IPv4" if key[1] == socket.AF_INET else "IPv6",
            )
        for key in absent:
            cfg = next(i.cfg for i in self.insts.values() if i.sock_key == key)
            try:
                self.sockets[key] = VrrpSocket(
                    key[0],
                    key[1],
                    multicast_group=cfg.mcast_dst_ip or None,
                    unicast_ttl=cfg.unicast_ttl,
                )
            except VrrpSocketError as exc:
                log.error("%s was created but its VRRP socket cannot be: %s", e.ifname, exc)
                continue
            log.info(
                "%s was created (ifindex %d): VRRP %s socket opened",
                e.ifname,
                e.ifindex,
                "IPv4" if key[1] == socket.AF_INET else "IPv6",
            )
        # a use_vmac macvlan died with its base device: create it again (ordered before any
        # VIP the instance adds there later); GARP/NA senders were bound to the old devices
        vmacs = {
            i.vmac: i.router.params
            for i in self.insts.values()
            if i.vmac and i.router.params.interface == e.ifname
        }
        for name in (e.ifname, *vmacs):
            for senders in (self.garp, self.na):
                sender = senders.pop(name, None)
                if sender is not None:
                    sender.close()
        for vmac, params in vmacs.items():
            self._enqueue(self._setup_vmac(vmac, params))
        self._update_rx()
        for i in list(self.insts.values()):
            if i.sock_key in self.sockets and i.router.params.primary_address:
                self._clear_absent(i)  # else once _refresh_sources has read its address
        self._tasks.append(asyncio.ensure_future(self._refresh_sources(e.ifname)))

    def _restore_on_link(self, e: LinkEvent) -> None:
        """A MASTER's addresses and routes on ``e.ifname`` (their ``dev``) are added again
        when that interface comes up after it was down, deleted or not there yet (the kernel
        took them with the device, routes also with the carrier), followed by gratuitous
        ARPs/NAs. Its own interface going down puts the instance in FAULT unless
        ``dont_track_primary``; this covers the others (and that case)."""
        prev = self._links.get(e.ifname)
        self._links[e.ifname] = (e.ifindex, e.up)
        if prev is not None and prev[0] != e.ifindex:
            for senders in (self.garp, self.na):  # bound to the old device
                sender = senders.pop(e.ifname, None)
                if sender is not None:
                    sender.close()
        if not e.up or prev == (e.ifindex, True):
            return
        for i in self.insts.values():
            if i.router.state != State.MASTER:
                continue
            vips = [v for v in i.vips if v.dev == e.ifname]
            routes = [r for r in i.routes if r.dev == e.ifname]
            if not vips and not routes:
                continue
            log.info(
                "(%s) %s is up: adding its addresses/routes again (%d/%d)",
                i.router.name,
                e.ifname,
                len(vips),
                len(routes),
            )
            self._enqueue(self._add_net(i, vips=vips, routes=routes, rules=[]))
            if vips:
                p = i.router.params
                garp = act.SendGratuitous(
                    p.name,
                    e.ifname,
                    tuple(v.address for v in vips),
                    p.garp_master_repeat,
                    p.garp_interval_s,
                )
                self._enqueue(self._gratuitous(garp))

    async def _recheck_absent(self, delay_s: float = ABSENT_RECHECK_S) -> None:
        """An interface created between the start-up check and the link watcher listening
        sends no event the watcher sees: look once more, as if it had."""
        await asyncio.sleep(delay_s)
        names = {i.sock_key[0] for i in self.insts.values() if i.absent_fault}
        for ifname in sorted(names):
            try:
                ifindex = socket.if_nametoindex(ifname)
            except OSError:
                continue  # still not there: its link event will come
            up = await self.netlink.link_up(ifname)
            if not self._stopping:
                self._on_link(LinkEvent(ifname, ifindex, up))

    def _clear_absent(self, i: _Inst) -> None:
        """The interface of an instance held in FAULT since start-up has come (with an
        address to send from): let it go through the election."""
        if i.absent_fault is not None:
            reason, i.absent_fault = i.absent_fault, None
            self._run(i, ev.ClearFault(reason), time.monotonic())

    async def _refresh_sources(self, ifname: str, timeout_s: float = RECREATED_SRC_WAIT_S) -> None:
        """Read again the source address of the instances on a re-created ``ifname`` that take
        it from the interface (no ``unicast_src_ip``/``mcast_src_ip``): the IPv6 link-local
        changes with the device (a new MAC), the IPv4 address may. Polls until the new device
        has one, as the addresses usually come after the link."""
        todo = {
            n
            for n, i in self.insts.items()
            if i.router.params.interface == ifname
            and not (i.cfg.unicast_src_ip or i.cfg.mcast_src_ip)
        }
        deadline = time.monotonic() + timeout_s
        while todo and not self._stopping:
            for name in sorted(todo):
                i = self.insts.get(name)
                if i is None or i.router.params.interface != ifname:
                    todo.discard(name)
                    continue
                p = i.router.params
                fam = socket.AF_INET if p.family == 4 else socket.AF_INET6
                try:
                    src = await self.netlink.primary_address(ifname, fam)
                except Exception as exc:  # the device went away again
                    log.debug("(%s) source address on %s: %s", name, ifname, exc)
                    src = None
                if not src:
                    continue
                todo.discard(name)
                if src != p.primary_address:
                    log.info("(%s) %s was created: source address now %s", name, ifname, src)
                    params = dataclasses.replace(p, primary_address=src)
                    self._run(i, ev.ConfigChanged(params), time.monotonic())
                self._clear_absent(i)
            if todo:
                if time.monotonic() > deadline:
                    log.warning(
                        "no address on re-created %s after %g s; %s keep their old source",
                        ifname,
                        timeout_s,
                        ", ".join(sorted(todo)),
                    )
                    return
                await asyncio.sleep(0.1)

    # ================================================================ receive + timers
    def _on_readable(self, fd: int) -> None:
        for r in self.rx.read(fd):
            self._dispatch(r)

    def _drain_all(self) -> None:
        for r in self.rx.read():
            self._dispatch(r)

    def _dispatch(self, r: Received) -> None:
        vrid = r.data[1] if len(r.data) >= 2 else -1
        fam = r.family
        inst = None
        for i in self.insts.values():
            if i.sock_key == (r.ifname, fam) and i.router.params.vrid == vrid:
                inst = i
                break
        if inst is None:
            self.unknown_vrid += 1
            if self.config.global_defs.log_unknown_vrids:
                log.info("Unknown VRID %d received on %s from %s", vrid, r.ifname, r.src)
            return
        if self._stopping:
            return
        now = r.stamp_ns / 1e9
        inst.router.receive(r.data, src=r.src, dst=r.dst, ttl=r.ttl, ifname=r.ifname, now=now)
        self._after(inst)

    def _cancel_timer(self, i: _Inst) -> None:
        if i.timer is not None:
            i.timer.cancel()
            i.timer = None

    def _arm(self, i: _Inst) -> None:
        self._cancel_timer(i)
        if self._stopping:
            return
        t = i.router.get_timer()
        if t is None or self._timers is None:
            return
        if i.router.state == State.BACKUP and self.master_down_lead_s > 0:
            i.timer = self._timers.call_at(
                t - self.master_down_lead_s, self._on_master_down_lead, i, t
            )
        else:
            i.timer = self._timers.call_at(t, self._on_timer, i)

    def _on_master_down_lead(self, i: _Inst, deadline: float) -> None:
        """A BACKUP's timer, ``master_down_lead_s`` before Master_Down_Timer expires.

        The reads that decide a takeover (drain the sockets, the kernel's ``last_seen``) and
        the wake-up itself are done ahead of the deadline; then the loop waits out the rest on
        the clock and, after one last non-blocking look at the sockets, expires the timer
        exactly at the deadline. A BACKUP's timer only gets this far when the master is
        already ``Master_Down_Interval - master_down_lead_s`` silent, so the short wait costs
        nothing in steady state.
        """
        i.timer = None
        self.late.check(deadline - self.master_down_lead_s, time.monotonic())
        self._drain_all()
        if i.timer is not None:  # an advert for this router re-armed it
            return
        r = i.router
        if r.state != State.BACKUP or r.get_timer() != deadline:
            self._arm(i)
            return
        if self._master_seen_rearmed(i, deadline):
            return
        while time.monotonic() < deadline:
            pass
        if self._rx_readable():
            self._drain_all()
            if i.timer is not None:
                return
        self._expire(i, deadline)

    def _rx_readable(self) -> bool:
        fds = self.rx.filenos()
        return bool(fds) and bool(select.select(fds, [], [], 0)[0])

    def _master_seen_rearmed(self, i: _Inst, now: float) -> bool:
        """Push Master_Down_Timer past ``now`` if the kernel saw the master (eBPF last_seen)."""
        r = i.router
        seen = self._master_seen(i)
        if seen is None:
            return False
        # the kernel saw the master after what user space read: the core pushes
        # Master_Down_Timer to seen + Master_Down_Interval
        r.note_master_seen(seen)
        if (t2 := r.get_timer()) is not None and t2 > now:
            proto_log.debug("(%s) kernel saw the master at %.6f; re-arming", r.name, seen)
            self._arm(i)
            return True
        return False

    def _on_timer(self, i: _Inst) -> None:
        deadline = i.timer.when() if i.timer is not None else None
        i.timer = None
        if deadline is not None:  # keepalived's "A thread timer expired N seconds ago"
            self.late.check(deadline, time.monotonic())
        r = i.router
        if r.state == State.BACKUP:
            # Adverts that arrived before the deadline may still sit in the socket: read them
            # first (with their kernel stamps) so a late wake-up never causes a false
            # takeover. A MASTER's advert timer skips this (one syscall per socket per advert):
            # what is queued is read right after, when the loop sees the socket readable.
            self._drain_all()
        now = time.monotonic()
        t = r.get_timer()
        due_backup = r.state == State.BACKUP and t is not None and t <= now
        if due_backup and self._master_seen_rearmed(i, now):
            return
        self._expire(i, now)

    def _expire(self, i: _Inst, now: float) -> None:
        """Run the router's due timer (``now`` ≥ its deadline), or re-arm it if not due."""
        r = i.router
        now = max(now, time.monotonic())
        t = r.get_timer()
        if t is not None and t <= now:
            was_backup = r.state == State.BACKUP
            r.handle_timer(now)
            if was_backup and r.state == State.MASTER:
                i.failover_decision_s = time.monotonic() - t
            self._after(i)
        else:
            self._arm(i)

    def _master_seen(self, i: _Inst) -> float | None:
        """Kernel time (s) the current master's last valid advert arrived, if it is known."""
        r = i.router
        sock = self.sockets.get(i.sock_key)
        if sock is None or r.master_address is None:
            return None
        seen = self.rx.last_seen(sock.ifindex, i.sock_key[1], r.params.vrid)
        if seen is None:
            return None
        stamp_ns, prio, src = seen
        if prio == 0 or src != r.master_address:
            return None
        if r.params.preempt and prio < r.effective_priority:
            return None  # a lower-priority master does not hold us back: we preempt it
        return stamp_ns / 1e9

    def _run(self, i: _Inst, event: Any, now: float, *, arm: bool = True) -> None:
        i.router.handle(event, now)
        self._after(i, arm=arm, now=now)

    def _after(self, i: _Inst, *, arm: bool = True, now: float | None = None) -> None:
        sg = self.sync_groups.get(i.group) if i.group else None
        if sg is None:
            self._drain_actions(i)
            if arm:
                self._arm(i)
            return
        sg.propagate(time.monotonic() if now is None else now)
        for name in sg.members:
            m = self.insts.get(name)
            if m is not None:
                self._drain_actions(m)
        for a in sg.actions():
            try:
                self._execute(i, a)
            except Exception:
                log.exception("(%s) failed to execute %r", sg.name, a)
        if arm:
            for name in sg.members:
                m = self.insts.get(name)
                if m is not None:
                    self._arm(m)

    def _drain_actions(self, i: _Inst) -> None:
        # adverts first (stable: otherwise in the core's order): peers time them, while each
        # log line, state event or notify before them costs ~0.1 ms (bench_vrrp failover)
        todo = sorted(i.router.actions(), key=lambda a: not isinstance(a, act.SendAdvert))
        for a in todo:
            try:
                self._execute(i, a)
            except Exception:  # a bug in one action must not kill the worker
                log.exception("(%s) failed to execute %r", i.router.name, a)

    # ================================================================ actions
    def _execute(self, i: _Inst, a: Any) -> None:
        if isinstance(a, act.SendAdvert):
            self._send_advert(i, a)
        elif isinstance(a, act.Log):
            proto_log.log(_lvl(a.level), "%s", a.msg)
        elif isinstance(a, act.AddVips):
            specs, full = self._vip_specs(i, a.addresses)
            if full:
                self._enqueue(self._add_net(i, vips=specs))
            else:  # a reload added some addresses: routes and rules are already there
                self._enqueue(self._add_net(i, vips=specs, routes=[], rules=[]))
        elif isinstance(a, act.DelVips):
            specs, full = self._vip_specs(i, a.addresses)
            if full:
                self._enqueue(self._del_net(i, vips=specs))
            else:
                self._enqueue(self._del_net(i, vips=specs, routes=[], rules=[]))
        elif isinstance(a, act.SendGratuitous):
            if i.vmac and a.ifname == i.router.params.interface:
                a = dataclasses.replace(a, ifname=i.vmac)  # the VIPs live on the VMAC
            self._enqueue(self._gratuitous(a))
        elif isinstance(a, act.RunNotify):
            self._notify(a)
        elif isinstance(a, act.StateChanged):
            self._state_changed(i, a)
        elif isinstance(a, getattr(act, "MasterRxLowerPri", ())):
            self._master_rx_lower_pri(i, a)
        elif isinstance(a, getattr(act, "PriorityChanged", ())):
            self._priority_changed(i, a)
        else:
            log.debug("unhandled action %r", a)

    def _send_advert(self, i: _Inst, a: act.SendAdvert) -> None:
        p = i.router.params
        sock = self.sockets.get(i.sock_key)
        if sock is None:
            return
        src = p.primary_address
        if not src:
            log.warning("(%s) no source address on %s; advert not sent", p.name, p.interface)
            return
        if a.dst is not None:
            dsts = [a.dst]
        elif p.unicast_peers:
            dsts = list(p.unicast_peers)
        else:
            dsts = [i.cfg.mcast_dst_ip or group_address(p.family)]
        for dst in dsts:
            # a master sends the same bytes every interval: encode (and checksum) once
            key = (a.advert, src, dst, p.v3_checksum_as_v2)
            data = self._encoded.get(key)
            if data is None:
                if len(self._encoded) >= 4096:
                    self._encoded.clear()
                data = encode(a.advert, src=src, dst=dst, v3_checksum_as_v2=p.v3_checksum_as_v2)
                self._encoded[key] = data
            sock.send(data, dst, src=src, ttl=i.cfg.unicast_ttl)

    def _enqueue(self, coro: Coroutine[Any, Any, Any]) -> None:
        self._queue.put_nowait(coro)

    async def _netlink_worker(self) -> None:
        while True:
            coro = await self._queue.get()
            try:
                if coro is not None:
                    await coro
            except Exception as exc:  # logged, never fatal
                log.error("netlink operation failed: %s", exc)
            finally:
                self._queue.task_done()

    async def _flush_netlink(self) -> None:
        with contextlib.suppress(asyncio.TimeoutError, TimeoutError):
            await asyncio.wait_for(self._queue.join(), 5.0)

    @staticmethod
    def _drops_vips(i: _Inst) -> bool:
        """``no_accept`` (and not the address owner): traffic to the VIPs is dropped."""
        return not getattr(i.cfg, "accept", True) and i.router.params.priority != 255

    def _vip_specs(self, i: _Inst, addresses: tuple[str, ...]) -> tuple[list[VipSpec], bool]:
        """The VipSpecs (with their ``ip addr`` options) of the action's addresses, and whether
        they are the instance's whole set (then routes and rules go with them)."""
        wanted: set[str] = set()
        for a in addresses:
            try:
                wanted.add(str(ipaddress.ip_interface(a.split()[0]).ip))
            except ValueError:
                log.error("(%s) bad address %r in action", i.router.name, a)
        specs = [v for v in i.vips if v.address in wanted]
        known = {v.address for v in specs}
        specs += [v for v in i.retired_vips if v.address in wanted and v.address not in known]
        full = {v.address for v in i.vips} <= wanted
        return specs, full

    @staticmethod
    async def _each(
        i: _Inst, what: str, items: list[Any], op: Callable[[Any], Awaitable[Any]]
    ) -> None:
        """``await op(x)`` for every item; a failure is logged (``(VI_1) cannot <what> x``)
        and the rest still go."""
        await each_logged(what, items, op, f"({i.router.name}) ")

    async def _add_net(
        self,
        i: _Inst,
        *,
        vips: list[VipSpec] | None = None,
        routes: list[RouteSpec] | None = None,
        rules: list[RuleSpec] | None = None,
    ) -> None:
        added = i.vips if vips is None else vips
        await self._each(i, "add", added, self.netlink.add_vip)
        if self._drops_vips(i):
            await self.no_accept.drop(added)
        await self._each(
            i, "add route", i.routes if routes is None else routes, self.netlink.add_route
        )
        await self._each(i, "add rule", i.rules if rules is None else rules, self.netlink.add_rule)

    async def _del_net(
        self,
        i: _Inst,
        *,
        quiet: bool = False,
        vips: list[VipSpec] | None = None,
        routes: list[RouteSpec] | None = None,
        rules: list[RuleSpec] | None = None,
    ) -> None:
        await self._each(
            i, "remove rule", i.rules if rules is None else rules, self.netlink.del_rule
        )
        await self._each(
            i, "remove route", i.routes if routes is None else routes, self.netlink.del_route
        )
        removed = i.vips if vips is None else vips
        if self._drops_vips(i):
            await self.no_accept.accept(removed)

        async def del_vip(v: VipSpec) -> None:
            if await self.netlink.del_vip(v) and quiet:
                log.info("(%s) removed stale %s left from a previous run", i.router.name, v)

        await self._each(i, "remove", removed, del_vip)

    async def _gratuitous(self, a: act.SendGratuitous) -> None:
        v4 = [x for x in a.addresses if ":" not in x]
        v6 = [x for x in a.addresses if ":" in x]
        try:
            if v4 and a.ifname not in self.garp:
                self.garp[a.ifname] = GarpSender(a.ifname)
            if v6 and a.ifname not in self.na:
                self.na[a.ifname] = NaSender(a.ifname)
        except OSError as exc:
            log.error("cannot open gratuitous ARP/NA socket on %s: %s", a.ifname, exc)
            return
        for n in range(max(1, a.repeat)):
            if n and a.interval_s > 0:
                await asyncio.sleep(a.interval_s)
            if v4:
                self.garp[a.ifname].send(v4)
            if v6:
                self.na[a.ifname].send(v6)

    def _state_changed(self, i: _Inst, a: act.StateChanged) -> None:
        r = i.router
        self.emit(
            "state_changed",
            {
                "instance": a.instance,
                "state": a.new,
                "prev_state": a.old,
                "reason": a.reason,
                "priority": r.params.priority,
                "effective_priority": a.priority,
                "master_address": r.master_address,
                "vrid": r.params.vrid,
                "interface": r.params.interface,
            },
        )

    # ================================================================ notify
    def _priority_changed(self, i: _Inst, a: Any) -> None:
        """``notify_priority_changes``: FIFO ``INSTANCE "VI_1" MASTER_PRIORITY 90`` lines."""
        g = self.config.global_defs
        if not (
            getattr(i.cfg, "notify_priority_changes", False) or g.vrrp_notify_priority_changes
        ):
            return
        if a.state in ("MASTER", "BACKUP"):
            for f in self.fifos:
                f.write(instance_line("INSTANCE", a.instance, f"{a.state}_PRIORITY", a.new))

    def _master_rx_lower_pri(self, i: _Inst, a: Any) -> None:
        for f in self.fifos:
            f.write(instance_line("INSTANCE", a.instance, "MASTER_RX_LOWER_PRI", a.our_priority))
        script = getattr(i.cfg, "notify_master_rx_lower_pri", None)
        if script is not None:
            self._spawn_checked(
                a.instance, "notify_master_rx_lower_pri", list(script.args), script
            )

    def _script_as(
        self, args: list[str], *owners: Any
    ) -> tuple[str | None, str | None, str | None]:
        """``(user, group, refusal)`` for running ``args``: the first ``user``/``group`` set on
        ``owners`` (e.g. the vrrp_script block, then its script), else ``script_user``/
        ``script_group``; ``refusal`` is why ``enable_script_security`` forbids it, or None."""
        g = self.config.global_defs
        user = next((o.user for o in owners if getattr(o, "user", None)), None) or g.script_user
        group = (
            next((o.group for o in owners if getattr(o, "group", None)), None) or g.script_group
        )
        if not g.enable_script_security:
            return user, group, None
        as_root = os.geteuid() == 0 and user in (None, "root")
        return user, group, check_script_security(args, run_as_root=as_root)

    def _spawn_checked(
        self,
        name: str,
        what: str,
        args: list[str],
        script: Any = None,
        no_timeout: bool = False,
    ) -> None:
        """Run a notify script as its ``user``/``group`` (else ``script_user``), after
        ``enable_script_security`` checked it."""
        user, group, why = self._script_as(args, script)
        if why:
            log.error("(%s) %s %r refused by script security: %s", name, what, args[0], why)
            return
        self.scripts.spawn(
            args,
            timeout_s=None if no_timeout else self.notify_timeout_s,
            what=f"{what} script",
            user=user,
            group=group,
        )

    def _notify(self, a: act.RunNotify) -> None:
        kind = "GROUP" if a.group else "INSTANCE"
        line = instance_line(kind, a.name, a.state, a.priority)
        for f in self.fifos:
            f.write(line)
        if a.group:  # instances report through state_changed; groups only here (smtp_alert)
            self.emit("sync_group_state", {"group": a.name, "state": a.state})
            cfg = next((s for s in self.config.vrrp_sync_groups if s.name == a.name), None)
        else:
            inst = self.insts.get(a.name)
            cfg = inst.cfg if inst else None
        if cfg is None:
            return
        specific = {
            "MASTER": cfg.notify_master,
            "BACKUP": cfg.notify_backup,
            "FAULT": cfg.notify_fault,
            "STOP": cfg.notify_stop,
        }.get(a.state)
        todo: list[tuple[str, list[str], Any]] = []
        if specific is not None:
            todo.append((f"notify_{a.state.lower()}", list(specific.args), specific))
        if cfg.notify is not None:
            args = [*cfg.notify.args, kind, a.name, a.state, str(a.priority)]
            todo.append(("notify", args, cfg.notify))
        for what, args, script in todo:
            self._spawn_checked(a.name, what, args, script)
