"""The LVS worker's service: config + checker verdicts + VIP ownership → data path.

* :func:`desired_from_config` (pure) maps the config model and the real servers' states to the
  desired :class:`~hadaemon.lvs.model.Service` list (quorum → sorry server, inhibit_on_failure →
  weight 0, scheduler approximations with warnings).
* :func:`check_config` (pure) lists what the data path cannot do, for ``hadaemon -t``.
* :class:`LvsEngine` (sync) reconciles a desired list against a backend: fast path against the
  backend's cached state, slow path (``resync``) against a fresh read of the kernel.
* :class:`LvsService` (asyncio) is what the supervisor's ``lvs`` worker hosts.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import time
from collections.abc import Callable, Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from hadaemon.lvs.backend import Backend, BackendError
from hadaemon.lvs.model import (
    APPROXIMATED_SCHEDULERS,
    NATIVE_SCHEDULERS,
    Match,
    Real,
    Service,
    make_name,
    validate_service,
)
from hadaemon.lvs.reconcile import Op, reconcile

log = logging.getLogger("hadaemon.lvs")

#: most addresses one virtual_server_group range/prefix may expand to
MAX_GROUP_ADDRESSES = 4096

Emit = Callable[[str, dict[str, Any]], None]


@dataclass(frozen=True)
class LvsProblem:
    """Something the data path cannot do (``error``) or does differently (``warning``)."""

    severity: str
    message: str
    location: Any = None

    def __str__(self) -> str:
        loc = self.location
        where = f"{loc.file}:{loc.line}:{loc.col}: " if loc is not None else ""
        return f"{where}{self.severity}: {self.message}"


@dataclass(frozen=True)
class RsState:
    """The checker's verdict on a real server; ``weight`` overrides the configured weight."""

    up: bool = True
    weight: int | None = None


class Resolver(Protocol):
    """Interface lookups needed for DR (kernel-backed in the worker, a dict in tests)."""

    def vip_devices(self, vip: str) -> tuple[str, ...]: ...

    def route_device(self, address: str) -> str | None: ...


class NullResolver:
    """No kernel: every DR lookup succeeds with a placeholder (used by ``check_config``)."""

    def vip_devices(self, vip: str) -> tuple[str, ...]:
        return ("?",)

    def route_device(self, address: str) -> str | None:
        return "?"


class KernelResolver:
    """Looks interfaces up with pyroute2 in the current network namespace.

    pyroute2's sync ``IPRoute`` runs its own event loop, so lookups run on one helper thread (the
    LVS worker calls this from inside its asyncio loop), which keeps one ``IPRoute`` open.
    """

    def __init__(self) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lvs-resolve")
        self._ipr: Any = None

    def vip_devices(self, vip: str) -> tuple[str, ...]:
        found = self._pool.submit(self._guard, self._vip_devices, vip, ()).result(timeout=10)
        return tuple(found)

    def route_device(self, address: str) -> str | None:
        dev = self._pool.submit(self._guard, self._route_device, address, None).result(timeout=10)
        return str(dev) if dev else None

    def _guard(self, fn: Callable[[Any, str], Any], arg: str, default: Any) -> Any:
        try:
            if self._ipr is None:
                from pyroute2 import IPRoute

                self._ipr = IPRoute()
            return fn(self._ipr, arg)
        except Exception as e:  # noqa: BLE001 - a failed lookup is a config problem, not a crash
            log.warning("LVS: interface lookup for %s failed: %s", arg, e)
            if self._ipr is not None:
                with contextlib.suppress(Exception):
                    self._ipr.close()
            self._ipr = None
            return default

    @staticmethod
    def _vip_devices(ipr: Any, vip: str) -> tuple[str, ...]:
        idx = {a.get("index") for a in ipr.get_addr(address=vip)}
        names = [str(ln.get_attr("IFLA_IFNAME")) for ln in ipr.get_links() if ln["index"] in idx]
        return tuple(sorted(names))

    @staticmethod
    def _route_device(ipr: Any, address: str) -> str | None:
        from pyroute2.netlink.exceptions import NetlinkError

        try:
            routes = ipr.route("get", dst=address)
        except NetlinkError:  # unreachable destination
            return None
        if not routes:
            return None
        links = ipr.get_links(routes[0].get_attr("RTA_OIF"))
        return str(links[0].get_attr("IFLA_IFNAME")) if links else None


# ---------------------------------------------------------------------------------------------
# config → desired
# ---------------------------------------------------------------------------------------------


def _vs_matches(vs: Any, config: Any, problems: list[LvsProblem]) -> tuple[Match, ...]:
    proto = str(vs.protocol or "TCP").lower()
    if vs.group is not None:
        grp = next((g for g in config.virtual_server_groups if g.name == vs.group), None)
        if grp is None:
            problems.append(
                LvsProblem(
                    "error", f"virtual_server group {vs.group!r} is not defined", vs.location
                )
            )
            return ()
        out: list[Match] = []
        for e in grp.entries:
            if e.fwmark is not None:
                out.append(Match(fwmark=int(e.fwmark)))
                continue
            port = int(e.port or vs.port or 0)
            try:
                addrs = _expand(e)
            except ValueError as exc:
                problems.append(LvsProblem("error", f"group {grp.name}: {exc}", e.location))
                continue
            out += [Match(a, proto, port) for a in addrs]
        return tuple(out)
    if vs.fwmark is not None:
        return (Match(fwmark=int(vs.fwmark)),)
    return (Match(str(vs.address), proto, int(vs.port or 0)),)


def _expand(e: Any) -> list[str]:
    first = ipaddress.ip_address(e.address)
    if e.range_end is not None:
        end = str(e.range_end)
        if "." not in end and ":" not in end:  # a.b.c.d-e form
            last = ipaddress.ip_address(int(first) - (int(first) & 0xFF) + int(end))
        else:
            last = ipaddress.ip_address(end)
        n = int(last) - int(first) + 1
        if n <= 0:
            raise ValueError(f"empty range {first}-{e.range_end}")
        if n > MAX_GROUP_ADDRESSES:
            raise ValueError(f"range {first}-{e.range_end} has more than {MAX_GROUP_ADDRESSES}")
        return [str(first + i) for i in range(n)]
    if e.prefixlen is not None and e.prefixlen < first.max_prefixlen:
        net = ipaddress.ip_network(f"{first}/{e.prefixlen}", strict=False)
        if net.num_addresses > MAX_GROUP_ADDRESSES:
            raise ValueError(f"{net} has more than {MAX_GROUP_ADDRESSES} addresses")
        return [str(a) for a in net]
    return [str(first)]


def _scheduler(vs: Any, problems: list[LvsProblem]) -> str:
    s = str(vs.lvs_sched or "wlc").lower()
    if s in NATIVE_SCHEDULERS:
        return s
    if s in APPROXIMATED_SCHEDULERS:
        native, why = APPROXIMATED_SCHEDULERS[s]
        problems.append(
            LvsProblem(
                "warning", f"virtual server {vs.key}: lvs_sched {s}: {why} (nftables)", vs.location
            )
        )
        return native
    problems.append(
        LvsProblem("error", f"virtual server {vs.key}: unknown lvs_sched {s!r}", vs.location)
    )
    return "wrr"


def _vip_instances(config: Any) -> dict[str, tuple[str, ...]]:
    """VIP address → interfaces it is configured on by VRRP instances."""
    out: dict[str, set[str]] = {}
    for inst in config.vrrp_instances:
        for ip in (*inst.virtual_ipaddress, *inst.virtual_ipaddress_excluded):
            dev = ip.dev or inst.interface
            if dev:
                out.setdefault(str(ipaddress.ip_address(ip.address)), set()).add(str(dev))
    return {k: tuple(sorted(v)) for k, v in out.items()}


def service_for_vs(
    vs: Any,
    config: Any,
    rs_states: Mapping[tuple[str, tuple[str, int | None]], RsState],
    vip_owned: Mapping[str, bool],
    resolver: Resolver,
    vip_devs: Mapping[str, tuple[str, ...]],
    quorum_state: MutableMapping[str, bool] | None = None,
) -> tuple[Service | None, list[LvsProblem]]:
    """The desired service for one ``virtual_server`` (None when it is not active).

    ``quorum_state`` (VirtualServer.key → quorum up) carries keepalived's quorum hysteresis
    between calls: quorum is lost below ``quorum - hysteresis`` and regained at
    ``quorum + hysteresis``; it is updated here.
    """
    problems: list[LvsProblem] = []
    matches = _vs_matches(vs, config, problems)
    if not matches:
        return None, problems
    if any(not m.fwmark and vip_owned.get(m.address) is False for m in matches):
        return None, problems
    method = str(vs.lvs_method or "NAT").upper()
    sched = _scheduler(vs, problems)
    methods = {str(rs.lvs_method or method).upper() for rs in vs.real_servers}
    if len(methods - {method}) > 0:
        problems.append(
            LvsProblem(
                "error",
                f"virtual server {vs.key}: real servers with lvs_method "
                f"{'/'.join(sorted(methods | {method}))} in one virtual server are not "
                "supported by the nftables data path",
                vs.location,
            )
        )
    if vs.persistence_engine:
        problems.append(
            LvsProblem(
                "warning",
                f"virtual server {vs.key}: persistence_engine {vs.persistence_engine} is "
                "ignored by the nftables data path",
                vs.location,
            )
        )
    ingress: tuple[str, ...] = ()
    if method == "DR":
        devs: set[str] = set()
        for m in matches:
            if m.fwmark:
                continue
            found = vip_devs.get(m.address) or resolver.vip_devices(m.address)
            if not found:
                problems.append(
                    LvsProblem(
                        "error",
                        f"virtual server {vs.key}: DR needs to know the interface that "
                        f"receives {m.address}; it is neither a VRRP VIP nor a local address",
                        vs.location,
                    )
                )
            devs.update(found)
        ingress = tuple(sorted(devs))
    reals: list[Real] = []
    alive_weight = 0
    for rs in vs.real_servers:
        st = rs_states.get((vs.key, rs.key))
        if st is None:
            st = RsState(up=not (rs.alpha or vs.alpha))
        weight = int(rs.weight if st.weight is None else st.weight)
        device = ""
        if method == "DR":
            device = resolver.route_device(rs.address) or ""
            if not device:
                problems.append(
                    LvsProblem(
                        "error",
                        f"virtual server {vs.key}: no route to real server {rs.address}",
                        rs.location,
                    )
                )
        port = int(rs.port or 0) if vs.fwmark is None else 0
        if st.up:
            alive_weight += weight
            reals.append(Real(rs.address, port, weight, device))
        elif rs.inhibit_on_failure or vs.inhibit_on_failure:
            reals.append(Real(rs.address, port, 0, device))
    sorry = False
    quorum, hyst = max(1, int(vs.quorum)), max(0, int(vs.hysteresis))
    was_up = True if quorum_state is None else quorum_state.get(vs.key)
    if was_up is None:
        quorum_up = alive_weight >= quorum
    elif was_up:
        quorum_up = alive_weight >= quorum - hyst
    else:
        quorum_up = alive_weight >= quorum + hyst
    if quorum_state is not None:
        quorum_state[vs.key] = quorum_up
    if not quorum_up and vs.sorry_server is not None:
        ss = vs.sorry_server
        dev = resolver.route_device(ss.address) or "" if method == "DR" else ""
        reals = [Real(ss.address, int(ss.port or 0), 1, dev)]
        sorry = True
    granularity = str(vs.persistence_granularity or "255.255.255.255")
    svc = Service(
        name=make_name(matches[0]) if vs.group is None else make_name(Match(vs.group, "g", 0)),
        matches=tuple(sorted(set(matches))),
        method=method,
        scheduler=sched,
        reals=tuple(sorted(reals)),
        hash_port=any(f in ("sh-port", "mh-port") for f in vs.sched_flags),
        persistence_timeout_s=int(vs.persistence_timeout or 0),
        persistence_granularity=granularity,
        ingress_devices=ingress,
        family=_family(vs.ip_family, matches, [*vs.real_servers, vs.sorry_server]),
        sorry=sorry,
        ipvs_scheduler=str(vs.lvs_sched or "wlc").lower(),
    )
    for p in validate_service(svc):
        problems.append(LvsProblem("error", p, vs.location))
    return svc, problems


def _family(ip_family: Any, matches: Sequence[Match], reals: Sequence[Any]) -> int:
    """4 or 6: ``ip_family`` if set, else the family of the VIPs (or, for fwmark, the servers)."""
    if ip_family:
        text = str(ip_family).lower()
        return 6 if text in ("6", "inet6", "ipv6") else 4
    addrs = [m.address for m in matches if not m.fwmark]
    addrs = addrs or [str(r.address) for r in reals if r is not None]
    return 6 if addrs and ":" in addrs[0] else 4


def desired_from_config(
    config: Any,
    rs_states: Mapping[tuple[str, tuple[str, int | None]], RsState] | None = None,
    vip_owned: Mapping[str, bool] | None = None,
    resolver: Resolver | None = None,
) -> tuple[list[Service], list[LvsProblem]]:
    """The desired data path for ``config`` and the problems found on the way.

    ``rs_states`` maps ``(VirtualServer.key, RealServer.key)`` to the checker's verdict; a server
    without a verdict starts up, unless ``alpha`` is set (keepalived: start down). A virtual server
    whose address is a VRRP VIP that ``vip_owned`` says we do not hold is left out.
    """
    vip_devs = _vip_instances(config)
    services: list[Service] = []
    problems: list[LvsProblem] = []
    for vs in config.virtual_servers:
        svc, p = service_for_vs(
            vs, config, rs_states or {}, vip_owned or {}, resolver or NullResolver(), vip_devs
        )
        problems += p
        if svc is not None:
            services.append(svc)
    return services, problems


def check_config(config: Any) -> list[LvsProblem]:
    """What the nftables data path cannot do with ``config`` (for ``hadaemon -t``).

    Errors would make the data path fail or differ in kind; warnings are documented
    approximations. Needs no kernel access.
    """
    from hadaemon.lvs.nft import check_service

    services, problems = desired_from_config(config)
    by_name = {s.name: s for s in services}
    for vs in config.virtual_servers:
        for m in _vs_matches(vs, config, []):
            svc = by_name.get(
                make_name(m) if vs.group is None else make_name(Match(vs.group, "g", 0))
            )
            if svc is not None:
                problems += [LvsProblem("error", p, vs.location) for p in check_service(svc)]
                break
    sync = getattr(config.global_defs, "lvs_sync_daemon", None)
    if sync is not None:
        problems.append(
            LvsProblem(
                "warning",
                "lvs_sync_daemon needs IPVS: on the nftables data path (a kernel without IPVS) "
                "connection state is not synced (sh/mh keep clients on the same server after a "
                "failover); with IPVS it follows the VRRP instance as in keepalived",
                getattr(sync, "location", None),
            )
        )
        if not getattr(sync, "vrrp_instance", None):
            problems.append(
                LvsProblem(
                    "warning",
                    "lvs_sync_daemon without a vrrp_instance is ignored (the sync daemon follows "
                    "that instance: master while it is MASTER, backup otherwise)",
                    getattr(sync, "location", None),
                )
            )
    seen: dict[str, int] = {}
    for s in services:
        seen[s.name] = seen.get(s.name, 0) + 1
    for name, n in seen.items():
        if n > 1:
            problems.append(LvsProblem("error", f"virtual server {name} is defined {n} times"))
    return problems


# ---------------------------------------------------------------------------------------------
# engine (sync) and worker service (asyncio)
# ---------------------------------------------------------------------------------------------


def select_backend() -> Backend:
    """IPVS when the kernel has it, else nftables."""
    from hadaemon.lvs import ipvs

    if ipvs.available():
        return ipvs.IpvsBackend()
    from hadaemon.lvs.nft import NftBackend

    return NftBackend()


class LvsEngine:
    """Keeps one backend equal to a desired list of services."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.desired: list[Service] = []
        self.last_error: str | None = None
        self.last_apply_s = 0.0

    def set_desired(self, services: Sequence[Service]) -> list[Op]:
        """Apply the difference against the backend's cached state (fast path)."""
        self.desired = list(services)
        return self._apply(reconcile(self.desired, self.backend.cached_actual()))

    def resync(self) -> list[Op]:
        """Re-read the kernel and repair any drift (a rule deleted by hand comes back)."""
        return self._apply(reconcile(self.desired, self.backend.read_actual()))

    def _apply(self, ops: list[Op]) -> list[Op]:
        if not ops:
            return ops
        t0 = time.perf_counter()
        try:
            self.backend.apply(ops, self.desired)
        except BackendError as e:
            self.last_error = str(e)
            raise
        self.last_apply_s = time.perf_counter() - t0
        self.last_error = None
        return ops


class LvsService:
    """The ``lvs`` worker's service object (see DESIGN §2 and the shared interface)."""

    def __init__(
        self,
        config: Any,
        emit: Emit,
        backend: Backend | None = None,
        resolver: Resolver | None = None,
        resync_interval_s: float = 5.0,
        keep_on_stop: bool = False,
    ) -> None:
        self.config = config
        self.emit = emit
        self._backend = backend
        self.resolver: Resolver = resolver or KernelResolver()
        self.resync_interval_s = resync_interval_s
        self.keep_on_stop = keep_on_stop
        self.rs_states: dict[tuple[str, tuple[str, int | None]], RsState] = {}
        self.vip_owned: dict[str, bool] = {}
        self.engine: LvsEngine | None = None
        self.problems: list[LvsProblem] = []
        self._task: asyncio.Task[None] | None = None
        #: VirtualServer.key -> (desired service or None, problems); recomputed when dirty
        self._per_vs: dict[str, tuple[Service | None, list[LvsProblem]]] = {}
        self._dirty: set[str] | None = None  # None: everything
        #: VirtualServer.key -> quorum up (hysteresis state)
        self.quorum_up: dict[str, bool] = {}
        #: fingerprint -> (invalid, what the backend cannot do): checks of the last update
        self._checked: dict[str, tuple[bool, list[str]]] = {}
        #: VRRP instance -> MASTER or not (from the supervisor; lvs_sync_daemon follows one)
        self.instance_master: dict[str, bool] = {}
        self.sync_daemon: dict[str, Any] | None = None

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        """Create the table(s) and program the data path."""
        backend = self._backend or select_backend()
        self.engine = LvsEngine(backend)
        self._checked = {}
        for p in check_config(self.config):
            (log.error if p.severity == "error" else log.warning)("%s", p)
        self._update(resync=True)
        self._update_sync_daemon()
        if self.resync_interval_s > 0:
            self._task = asyncio.get_running_loop().create_task(self._resync_loop())

    async def stop(self) -> None:
        """Stop resyncing; remove the table(s) unless told to keep them."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.engine is not None and not self.keep_on_stop:
            self.engine.backend.destroy()

    async def apply_config(self, config: Any) -> None:
        """Reload: apply only the difference; states of servers that still exist are kept."""
        self.config = config
        keys = {(vs.key, rs.key) for vs in config.virtual_servers for rs in vs.real_servers}
        self.rs_states = {k: v for k, v in self.rs_states.items() if k in keys}
        self._dirty = None
        self._update()
        self._update_sync_daemon()

    def set_real_server_state(
        self, vs_key: str, rs_key: tuple[str, int | None], up: bool, weight: int | None = None
    ) -> None:
        """A checker verdict (routed by the supervisor); applied at once."""
        rs_key = (rs_key[0], rs_key[1])
        self.rs_states[(vs_key, rs_key)] = RsState(up, weight)
        if self._dirty is not None:
            self._dirty.add(vs_key)
        self._update()

    def handle_event(self, kind: str, body: Mapping[str, Any]) -> None:
        """Take an event as the checker emits it (``CheckerService`` ``emit``).

        ``real_server_state`` → :meth:`set_real_server_state`. ``quorum_state`` and
        ``sorry_server_state`` need nothing: quorum and the sorry server are derived here from the
        real servers' states (the same keepalived rules), so they cannot disagree.
        """
        if kind == "real_server_state" and body.get("vs_key"):
            weight = body.get("weight")
            self.set_real_server_state(
                str(body["vs_key"]),
                (str(body["rs_ip"]), body.get("rs_port")),
                bool(body["up"]),
                int(weight) if weight is not None and body["up"] else None,
            )

    def set_vip_owned(self, vip: str, owned: bool) -> None:
        """VRRP says whether we hold ``vip``; services on it are active only while we do."""
        try:
            addr = str(ipaddress.ip_interface(str(vip)).ip)
        except ValueError:
            log.warning("LVS: ignoring VIP state for bad address %r", vip)
            return
        self.vip_owned[addr] = owned
        self._dirty = None
        self._update()

    def set_instance_state(self, instance: str, master: bool) -> None:
        """VRRP says whether ``instance`` is MASTER (``lvs_sync_daemon`` follows one instance)."""
        self.instance_master[instance] = master
        sync = getattr(self.config.global_defs, "lvs_sync_daemon", None)
        if sync is not None and sync.vrrp_instance == instance:
            self._update_sync_daemon()

    def _update_sync_daemon(self) -> None:
        """Start/stop/switch the IPVS sync daemon as keepalived: master on MASTER, else backup."""
        if self.engine is None:
            return
        fn = getattr(self.engine.backend, "set_sync_daemon", None)
        if fn is None:  # nftables: no connection sync (warned by check_config at start)
            return
        cfg = sync_daemon_from_config(self.config)
        if cfg is None and self.sync_daemon is None:
            return
        sync = self.config.global_defs.lvs_sync_daemon
        master = cfg is not None and self.instance_master.get(sync.vrrp_instance, False)
        try:
            fn(cfg, master)
        except BackendError as e:
            log.error("LVS: %s", e)
            self.emit("lvs_error", {"error": str(e), "problems": []})
            self.sync_daemon = {"state": "unknown", "error": str(e)}
            return
        if cfg is None:
            self.sync_daemon = None
            return
        self.sync_daemon = {
            "state": "master" if master else "backup",
            "interface": cfg.interface,
            "vrrp_instance": sync.vrrp_instance,
            "sync_id": cfg.sync_id,
        }

    def resync(self) -> list[Op]:
        """Compare with the kernel now and repair drift."""
        assert self.engine is not None
        return self._update(resync=True)

    # -- internals -------------------------------------------------------------------------
    def _update(self, resync: bool = False) -> list[Op]:
        if self.engine is None:
            return []
        services, self.problems = self._desired(resync)
        services = self._usable(services)
        bad = {p.message for p in self.problems if p.severity == "error"}
        try:
            self.engine.desired = services
            ops = self.engine.resync() if resync else self.engine.set_desired(services)
        except BackendError as e:
            log.error("LVS update failed, previous rules kept: %s", e)
            self.emit("lvs_error", {"error": str(e), "problems": sorted(bad)})
            return []
        if ops:
            log.info(
                "LVS: applied %d operation(s) in %.2f ms", len(ops), self.engine.last_apply_s * 1e3
            )
        return ops

    def _usable(self, services: list[Service]) -> list[Service]:
        """Leave out what cannot be rendered, so that one bad service never blocks the rest."""
        assert self.engine is not None
        out = []
        seen: dict[str, tuple[bool, list[str]]] = {}
        for s in services:
            # memo by fingerprint: a checker verdict changes one service, and parsing every
            # address of the other ones again would cost more than the nft transaction
            fp = s.fingerprint()
            hit = self._checked.get(fp)
            if hit is None:
                hit = (bool(validate_service(s)), self.engine.backend.check(s))
            seen[fp] = hit
            invalid, why = hit
            if invalid:  # already among the problems from service_for_vs
                continue
            if why:
                for w in why:
                    self.problems.append(LvsProblem("error", f"{w} (left out of the data path)"))
                continue
            out.append(s)
        self._checked = seen
        return out

    def _desired(self, all_dirty: bool) -> tuple[list[Service], list[LvsProblem]]:
        """desired_from_config, recomputing only the virtual servers whose inputs changed."""
        dirty = None if all_dirty else self._dirty
        vip_devs = _vip_instances(self.config) if dirty is None or dirty else {}
        services: list[Service] = []
        problems: list[LvsProblem] = []
        per_vs: dict[str, tuple[Service | None, list[LvsProblem]]] = {}
        for vs in self.config.virtual_servers:
            k = vs.key
            hit = self._per_vs.get(k)
            if hit is None or dirty is None or k in dirty:
                hit = service_for_vs(
                    vs,
                    self.config,
                    self.rs_states,
                    self.vip_owned,
                    self.resolver,
                    vip_devs,
                    self.quorum_up,
                )
            per_vs[k] = hit
            problems += hit[1]
            if hit[0] is not None:
                services.append(hit[0])
        self._per_vs, self._dirty = per_vs, set()
        return services, problems

    async def _resync_loop(self) -> None:
        while True:
            await asyncio.sleep(self.resync_interval_s)
            ops = self._update(resync=True)
            if ops:
                log.warning("LVS: repaired drift in the data path (%d operation(s))", len(ops))

    def status(self) -> dict[str, Any]:
        """JSON-able view: services, servers, weights, counters, last error."""
        if self.engine is None:
            return {"running": False}
        try:
            counters = self.engine.backend.counters()
        except Exception as e:  # noqa: BLE001 - status must never crash the worker
            counters = {}
            log.warning("LVS: reading counters failed: %s", e)
        services = []
        for s in self.engine.desired:
            c = counters.get(s.name, {})
            services.append(
                {
                    "name": s.name,
                    "matches": [str(m) for m in s.matches],
                    "method": s.method,
                    "scheduler": s.scheduler,
                    "sorry": s.sorry,
                    "persistence_timeout": s.persistence_timeout_s,
                    "reals": [
                        {
                            "address": r.address,
                            "port": r.port,
                            "weight": r.weight,
                            **c.get(str(r), {}),
                        }
                        for r in s.reals
                    ],
                }
            )
        return {
            "running": True,
            "backend": self.engine.backend.name,
            "services": services,
            "last_error": self.engine.last_error,
            "problems": [str(p) for p in self.problems],
            "sync_daemon": self.sync_daemon,
        }


def sync_daemon_from_config(config: Any) -> Any:
    """``global_defs lvs_sync_daemon`` as an :class:`~hadaemon.lvs.ipvs.SyncDaemon` (or None).

    ``id`` defaults to the VRRP instance's VRID, as in keepalived. None without the keyword or
    without a (known) instance: there is then nothing to follow.
    """
    from hadaemon.lvs.ipvs import SyncDaemon

    sync = getattr(config.global_defs, "lvs_sync_daemon", None)
    if sync is None or not sync.vrrp_instance:
        return None
    vi = next((i for i in config.vrrp_instances if i.name == sync.vrrp_instance), None)
    if vi is None:
        return None
    return SyncDaemon(
        interface=str(sync.interface),
        sync_id=int(sync.sync_id if sync.sync_id is not None else vi.virtual_router_id),
        maxlen=sync.maxlen,
        port=sync.port,
        ttl=sync.ttl,
        group=str(sync.group) if sync.group is not None else None,
    )


def iter_problems(problems: Iterable[LvsProblem], severity: str) -> list[str]:
    """Messages of one severity (helper for ``hadaemon -t``)."""
    return [str(p) for p in problems if p.severity == severity]
