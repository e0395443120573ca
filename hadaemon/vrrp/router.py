"""One VRRP virtual router (one ``vrrp_instance``) as a sans-IO state machine.

Shape (aioquic): ``handle(event, now)``, ``handle_timer(now)``, ``get_timer()`` (absolute
monotonic seconds) and ``actions()`` (drains queued :mod:`~hadaemon.vrrp.actions`). ``now`` is
always passed in; nothing here reads a clock or touches the kernel.

Behaviour follows RFC 3768/5798 §6.4 with keepalived's choices (keepalived-features.md §4.4,
§4.6): the master answers a lower-priority advert with an advert (``lower_prio_no_advert`` turns
that off), priority-0 adverts on stop and on MASTER -> FAULT, ``state MASTER`` shortens the first
wait to one advert interval plus the minimum skew, address-list mismatches are counted and
logged but not dropped, TTL is not checked on unicast. The table the code implements is
:data:`hadaemon.vrrp.fsm.STATE_TABLE`.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

from hadaemon.vrrp import actions as act
from hadaemon.vrrp import events as ev
from hadaemon.vrrp.fsm import TRANSITIONS, State
from hadaemon.vrrp.packet import (
    AUTH_DATA_LEN,
    AUTH_NONE,
    AUTH_PASS,
    VRRP_MCAST_V4,
    VRRP_MCAST_V6,
    Advert,
    MalformedAdvert,
    decode,
)
from hadaemon.vrrp.stats import VrrpStats
from hadaemon.vrrp.timing import (
    DOWN_TIMER_ADVERTS_DEFAULT,
    cs_to_s,
    master_down_interval_cs,
    skew_time_cs,
)

PRIO_OWNER = 255
"""Address owner priority."""
LOG_DROP_EVERY_S = 10.0
"""Rate limit: at most one log line per drop reason per this many seconds."""


@dataclass(frozen=True)
class TrackedInterface:
    """A ``track_interface`` entry."""

    ifname: str
    """Interface name."""
    weight: int = 0
    """Priority weight (0: interface down => FAULT)."""
    reverse: bool = False
    """keepalived ``reverse``: the weight applies the other way round."""


@dataclass(frozen=True)
class RouterParams:
    """Everything the core needs to run one instance (a subset of ``vrrp_instance``)."""

    name: str
    """Instance name (``vrrp_instance NAME``), keepalived's ``iname``."""
    vrid: int
    """``virtual_router_id``, 1..255."""
    interface: str = ""
    """``interface``: the VRRP interface."""
    version: int = 2
    """``version`` / ``vrrp_version``: 2 or 3 (IPv6 forces 3)."""
    family: int = 4
    """Address family of the instance: 4 or 6."""
    priority: int = 100
    """Base ``priority`` 1..255 (255 = address owner)."""
    advert_int_cs: int = 100
    """``advert_int`` in centiseconds (v2: whole seconds * 100)."""
    preempt: bool = True
    """False for ``nopreempt``."""
    preempt_delay_s: float = 0.0
    """``preempt_delay`` seconds (0 = none)."""
    initial_state: str = ""
    """``state``: ``MASTER``, ``BACKUP`` or ``""`` (unset)."""
    addresses: tuple[str, ...] = ()
    """``virtual_ipaddress`` entries (``ip[/prefix]``); they go in the adverts."""
    excluded_addresses: tuple[str, ...] = ()
    """``virtual_ipaddress_excluded`` entries: installed but not advertised."""
    primary_address: str = ""
    """Our advert source: ``unicast_src_ip``/``mcast_src_ip`` or the interface primary."""
    auth_type: int = AUTH_NONE
    """v2 ``auth_type``: 0 none, 1 PASS (AH is refused by the config layer)."""
    auth_pass: bytes = b""
    """v2 ``auth_pass`` (first 8 bytes are used)."""
    unicast_peers: tuple[str, ...] = ()
    """``unicast_peer`` addresses; empty = multicast."""
    lower_prio_no_advert: bool = False
    """Do not answer a lower-priority advert with an advert while master."""
    down_timer_adverts: int = DOWN_TIMER_ADVERTS_DEFAULT
    """``down_timer_adverts``: adverts missed before the master is declared down."""
    garp_master_delay_s: float = 5.0
    """``garp_master_delay``: second GARP burst this long after becoming master (0 = none)."""
    garp_master_repeat: int = 5
    """``garp_master_repeat``: GARPs per address per burst."""
    garp_master_refresh_s: float = 0.0
    """``garp_master_refresh``: periodic GARP while master (0 = off)."""
    garp_master_refresh_repeat: int = 1
    """``garp_master_refresh_repeat``."""
    vip_devs: tuple[tuple[str, str], ...] = ()
    """(address, interface) of the VIPs/eVIPs configured with ``dev`` on another interface
    than the instance's: their GARPs/NAs go out there (keepalived sends each on its VIP's
    interface)."""
    garp_extra_if_s: float = 0.0
    """``garp_extra_if [all] SECONDS``: while MASTER, one GARP/NA every SECONDS on each other
    interface carrying VIPs (0 = off). Without ``all`` keepalived sends only on its extra VMAC
    interfaces, which hadaemon does not create, so only ``all`` has an effect."""
    garp_extra_if_all: bool = False
    """The ``all`` of ``garp_extra_if``."""
    garp_interval_s: float = 0.0
    """``garp_interval``: gap between GARPs for one address."""
    garp_lower_prio_repeat: int = 0
    """``garp_lower_prio_repeat``: GARPs sent when, as master, a lower-priority advert
    arrives (0 = none), and again ``garp_lower_prio_delay_s`` later."""
    garp_lower_prio_delay_s: float = 0.0
    """``garp_lower_prio_delay``."""
    higher_prio_send_advert: bool = False
    """``higher_prio_send_advert``: as master, answer a higher-priority advert with one of ours
    before going to BACKUP (so the other master's ``garp_lower_prio_repeat`` fires)."""
    owner_ignore_adverts: bool = False
    """``owner_ignore_adverts``: an address owner discards every advert (RFC-literal)."""
    unicast_fault_no_peer: bool = False
    """``unicast_fault_no_peer``: with no ``unicast_peers`` stay in FAULT instead of
    multicasting."""
    track_interfaces: tuple[TrackedInterface, ...] = ()
    """``track_interface`` entries."""
    dont_track_primary: bool = False
    """``dont_track_primary``: the VRRP interface going down does not cause FAULT."""
    skip_check_adv_addr: bool = False
    """``skip_check_adv_addr``: do not compare the address list of adverts."""
    v3_checksum_as_v2: bool = False
    """``v3_checksum_as_v2``: send the RFC 9568 v3/IPv4 checksum (driver passes it to encode)."""

    def __post_init__(self) -> None:
        """Refuse parameters the core cannot run, with a message naming the instance."""
        n = self.name or "?"

        def bad(msg: str) -> ValueError:
            return ValueError(f"({n}) {msg}")

        if not 1 <= self.vrid <= 255:
            raise bad(f"virtual_router_id {self.vrid} not in 1..255")
        if not 1 <= self.priority <= PRIO_OWNER:
            raise bad(f"priority {self.priority} not in 1..255")
        if self.version not in (2, 3):
            raise bad(f"version {self.version} is not 2 or 3")
        if self.family not in (4, 6):
            raise bad(f"address family {self.family} is not 4 or 6")
        if self.family == 6 and self.version != 3:
            raise bad("IPv6 needs VRRP version 3")
        if self.version == 2:
            if self.advert_int_cs % 100 or not 100 <= self.advert_int_cs <= 25500:
                raise bad(
                    f"VRRPv2 advert_int must be 1..255 whole seconds, not "
                    f"{self.advert_int_cs / 100:g}"
                )
        elif not 1 <= self.advert_int_cs <= 4095:
            raise bad(f"VRRPv3 advert_int must be 0.01..40.95 s, not {self.advert_int_cs / 100:g}")
        if not 1 <= self.down_timer_adverts <= 100:
            raise bad(f"down_timer_adverts {self.down_timer_adverts} not in 1..100")
        if self.auth_type not in (AUTH_NONE, AUTH_PASS):
            raise bad(f"auth_type {self.auth_type} not supported (none or PASS)")
        if len(self.addresses) > 255:
            raise bad(
                f"{len(self.addresses)} virtual addresses; at most 255 fit in an advert "
                "(use virtual_ipaddress_excluded)"
            )
        if self.preempt_delay_s < 0:
            raise bad(f"preempt_delay {self.preempt_delay_s:g} is negative")
        for a in self.addresses + self.excluded_addresses:
            try:
                fam = ipaddress.ip_interface(a.split()[0]).version
            except (ValueError, IndexError):
                raise bad(f"virtual address {a!r} is not an IP address") from None
            if fam != self.family and a in self.addresses:
                raise bad(f"virtual address {a} is not IPv{self.family}")
        for a in (self.primary_address, *self.unicast_peers):
            if a:
                try:
                    ipaddress.ip_address(a)
                except ValueError:
                    raise bad(f"{a!r} is not an IP address") from None

    @property
    def is_owner(self) -> bool:
        """Priority 255: the address owner."""
        return self.priority == PRIO_OWNER

    @cached_property
    def vip_hosts(self) -> tuple[str, ...]:
        """The advertised addresses without prefix length or options."""
        return tuple(_host(a) for a in self.addresses)

    @classmethod
    def from_instance(cls, inst: Any, **overrides: Any) -> RouterParams:
        """Map a :class:`hadaemon.config.model.VrrpInstance` to params.

        (``inst`` is typed ``Any`` so that the pure core does not import the config package.)

        ``overrides`` win over the instance: the driver passes what needs the kernel or
        ``global_defs`` (``primary_address`` resolved from the interface, global GARP
        defaults, ``v3_checksum_as_v2``...). GARP keywords left unset (None) in the instance
        get keepalived's defaults here. Raises ``ValueError`` with a clear message for what
        the core cannot run (AH authentication, VRID out of range).
        """
        name = inst.name
        if not 1 <= inst.virtual_router_id <= 255:
            raise ValueError(f"({name}) virtual_router_id {inst.virtual_router_id} not in 1..255")
        auth_type, auth_pass = AUTH_NONE, b""
        if inst.authentication is not None and inst.version == 2:
            t = inst.authentication.auth_type.upper()
            if t == "AH":
                raise ValueError(f"({name}) auth_type AH is not supported; use PASS or none")
            if t == "PASS":
                auth_type = AUTH_PASS
                auth_pass = inst.authentication.auth_pass.encode()[:AUTH_DATA_LEN]
        tracks = tuple(
            TrackedInterface(t.name, int(t.weight or 0), bool(t.reverse))
            for t in inst.track_interface
        )

        def dflt(v: float | None, d: float) -> float:
            return d if v is None else float(v)

        kw: dict[str, Any] = {
            "name": name,
            "vrid": inst.virtual_router_id,
            "interface": inst.interface or "",
            "version": 3 if inst.family == 6 else inst.version,
            "family": inst.family,
            "priority": inst.priority,
            "advert_int_cs": inst.advert_int_cs,
            "preempt": not inst.nopreempt,
            "preempt_delay_s": float(inst.preempt_delay),
            "initial_state": (inst.state or "").upper(),
            "addresses": tuple(a.cidr for a in inst.virtual_ipaddress),
            "excluded_addresses": tuple(a.cidr for a in inst.virtual_ipaddress_excluded),
            "primary_address": inst.unicast_src_ip or inst.mcast_src_ip or "",
            "auth_type": auth_type,
            "auth_pass": auth_pass,
            "unicast_peers": tuple(p.address for p in inst.unicast_peer),
            "lower_prio_no_advert": inst.lower_prio_no_advert or inst.strict_mode,
            "down_timer_adverts": inst.down_timer_adverts,
            "garp_master_delay_s": dflt(inst.garp_master_delay, 5.0),
            "garp_master_repeat": int(dflt(inst.garp_master_repeat, 5)),
            "garp_master_refresh_s": dflt(inst.garp_master_refresh, 0.0),
            "garp_master_refresh_repeat": int(dflt(inst.garp_master_refresh_repeat, 1)),
            # keepalived: lower-prio GARP defaults are the master ones
            "garp_lower_prio_repeat": int(
                dflt(inst.garp_lower_prio_repeat, dflt(inst.garp_master_repeat, 5))
            ),
            "garp_lower_prio_delay_s": dflt(
                inst.garp_lower_prio_delay, dflt(inst.garp_master_delay, 5.0)
            ),
            "higher_prio_send_advert": inst.higher_prio_send_advert,
            "owner_ignore_adverts": inst.owner_ignore_adverts or inst.strict_mode,
            "unicast_fault_no_peer": inst.unicast_fault_no_peer,
            "track_interfaces": tracks,
            "dont_track_primary": inst.dont_track_primary,
            "skip_check_adv_addr": inst.skip_check_adv_addr,
            "vip_devs": tuple(
                (a.cidr, a.dev)
                for a in (*inst.virtual_ipaddress, *inst.virtual_ipaddress_excluded)
                if getattr(a, "dev", None) and a.dev != inst.interface
            ),
            "garp_extra_if_s": dflt(getattr(inst, "garp_extra_if", None), 0.0),
            "garp_extra_if_all": bool(getattr(inst, "garp_extra_if_all", False)),
        }
        kw.update(overrides)
        return cls(**kw)


@functools.lru_cache(maxsize=4096)
def _host(addr: str) -> str:
    """``10.0.0.1/24`` -> ``10.0.0.1`` (compressed form for IPv6)."""
    return str(ipaddress.ip_interface(addr.split()[0]).ip)


@functools.lru_cache(maxsize=4096)
def _addr_int(addr: str) -> int:
    """Address as an unsigned integer in network order (tie-break comparison)."""
    return int(ipaddress.ip_address(addr))


@functools.lru_cache(maxsize=4096)
def _canonical(addr: str) -> tuple[str, bool]:
    """(canonical text, is multicast); ``ValueError`` for a non-address."""
    ip = ipaddress.ip_address(addr)
    return str(ip), ip.is_multicast


@dataclass
class _TrackState:
    delta: int = 0
    fault: bool = False


@dataclass
class _Timers:
    adver: float | None = None
    """Adver_Timer deadline (MASTER)."""
    master_down: float | None = None
    """Master_Down_Timer deadline (BACKUP)."""
    garp: float | None = None
    """Delayed second GARP burst (MASTER)."""
    garp_refresh: float | None = None
    """Periodic GARP refresh (MASTER)."""
    garp_lower: float | None = None
    """Second GARP burst after a lower-priority advert (MASTER)."""
    garp_extra: float | None = None
    """Periodic GARP on the other interfaces carrying VIPs (``garp_extra_if``, MASTER)."""

    def clear(self) -> None:
        self.adver = self.master_down = self.garp = self.garp_refresh = self.garp_lower = None
        self.garp_extra = None


@dataclass
class _LogLimit:
    last_s: float = float("-inf")
    suppressed: int = 0


class VirtualRouter:
    """A VRRP virtual router: feed it events and timers, execute the actions it returns."""

    def __init__(self, params: RouterParams) -> None:
        self._p = params
        self._state = State.INIT
        self._timers = _Timers()
        self._actions: list[act.Action] = []
        self._trackers: dict[str, _TrackState] = {}
        self._forced_faults: set[str] = set()
        self._down_ifaces: set[str] = set()
        self._master_adver_interval_cs: float = float(params.advert_int_cs)
        self._master_address: str | None = None
        self._master_priority: int | None = None
        self._preempt_time: float | None = None
        self._log_limits: dict[str, _LogLimit] = {}
        self.stats = VrrpStats()
        """keepalived-named counters."""
        self.last_transition: tuple[float, str] | None = None
        """(now, reason) of the last state change."""
        self.wants_master = False
        """BACKUP whose Master_Down_Timer expired but whose sync group held it back."""
        self.sync_gate: Callable[[VirtualRouter], bool] | None = None
        """Set by a sync group: may this member leave BACKUP for MASTER on its own timer?"""
        self._prio_cache = self._compute_priority()

    # ---- public properties ---------------------------------------------------------------
    @property
    def params(self) -> RouterParams:
        """Current parameters."""
        return self._p

    @property
    def name(self) -> str:
        """Instance name."""
        return self._p.name

    @property
    def state(self) -> State:
        """Current state."""
        return self._state

    @property
    def effective_priority(self) -> int:
        """Base priority plus tracker weights, clamped to 1..254 (owner stays 255)."""
        return self._prio_cache

    @property
    def master_address(self) -> str | None:
        """Address of the current master (ours when MASTER), None when unknown."""
        if self._state == State.MASTER:
            return self._p.primary_address or None
        if self._state == State.BACKUP:
            return self._master_address
        return None

    @property
    def master_adver_interval_cs(self) -> float:
        """Master_Adver_Interval (v3: learned from the master's adverts)."""
        return self._master_adver_interval_cs

    @property
    def skew_time_cs(self) -> float:
        """Current Skew_Time in centiseconds (from the effective priority)."""
        return skew_time_cs(
            self.effective_priority, self._master_adver_interval_cs, self._p.version
        )

    @property
    def master_down_interval_cs(self) -> float:
        """Current Master_Down_Interval in centiseconds."""
        return master_down_interval_cs(
            self.effective_priority,
            self._master_adver_interval_cs,
            self._p.version,
            self._p.down_timer_adverts,
        )

    @property
    def in_fault(self) -> bool:
        """True when some fault condition holds (interface down, tracker, forced)."""
        return bool(self.fault_reasons())

    def status(self) -> dict[str, Any]:
        """JSON-able status."""
        return {
            "name": self._p.name,
            "vrid": self._p.vrid,
            "state": self._state.value,
            "effective_priority": self.effective_priority,
            "base_priority": self._p.priority,
            "master_address": self.master_address,
            "master_adver_interval_cs": self._master_adver_interval_cs,
            "faults": sorted(self.fault_reasons()),
            "last_transition": list(self.last_transition) if self.last_transition else None,
            "stats": self.stats.as_dict(),
        }

    # ---- sans-IO API ---------------------------------------------------------------------
    def actions(self) -> list[act.Action]:
        """Drain and return queued actions, in execution order."""
        out, self._actions = self._actions, []
        return out

    def get_timer(self) -> float | None:
        """The earliest deadline (absolute monotonic seconds), or None."""
        t = self._timers
        ds = [
            d
            for d in (t.adver, t.master_down, t.garp, t.garp_refresh, t.garp_lower, t.garp_extra)
            if d is not None
        ]
        return min(ds) if ds else None

    def handle_timer(self, now: float) -> None:
        """Fire every timer whose deadline is <= ``now``."""
        t = self._timers
        if self._state == State.BACKUP and t.master_down is not None and t.master_down <= now:
            t.master_down = None
            self._log("info", f"({self.name}) Receive advertisement timeout")
            if self.sync_gate is not None and not self.sync_gate(self):
                # keepalived vrrp_sync_can_goto_master: prefer BACKUP until every member of
                # the sync group wants MASTER (avoids thrashing); an advert clears the wish.
                self.wants_master = True
                self._log("info", f"({self.name}) sync group not ready, staying BACKUP")
            else:
                self._become_master(now, "master down timer expired")
        if self._state == State.MASTER:
            if t.adver is not None and t.adver <= now:
                self._send_advert(self.effective_priority)
                # Re-arm from the deadline, not from now, so adverts do not drift.
                nxt = t.adver + cs_to_s(self._p.advert_int_cs)
                t.adver = nxt if nxt > now else now + cs_to_s(self._p.advert_int_cs)
            if t.garp is not None and t.garp <= now:
                t.garp = None
                self._garp(self._p.garp_master_repeat)
            if t.garp_refresh is not None and t.garp_refresh <= now:
                t.garp_refresh = now + self._p.garp_master_refresh_s
                self._garp(self._p.garp_master_refresh_repeat)
            if t.garp_lower is not None and t.garp_lower <= now:
                t.garp_lower = None
                self._garp(self._p.garp_lower_prio_repeat)
            if t.garp_extra is not None and t.garp_extra <= now:
                t.garp_extra = now + self._p.garp_extra_if_s
                self._garp_extra_if()

    def handle(self, event: ev.Event, now: float) -> None:
        """Process one event (see :mod:`hadaemon.vrrp.events`)."""
        if isinstance(event, ev.AdvertReceived):
            self._on_advert(event.advert, event.src, now)
        elif isinstance(event, ev.Startup):
            self._startup(now)
        elif isinstance(event, ev.Shutdown):
            self._shutdown(now)
        elif isinstance(event, ev.InterfaceDown):
            self._down_ifaces.add(event.ifname)
            self._reevaluate(now, f"interface {event.ifname} down")
        elif isinstance(event, ev.InterfaceUp):
            self._down_ifaces.discard(event.ifname)
            self._reevaluate(now, f"interface {event.ifname} up")
        elif isinstance(event, ev.TrackerChanged):
            self._trackers[event.name] = _TrackState(event.weight_delta, event.fault)
            self._reevaluate(now, f"tracker {event.name} changed")
        elif isinstance(event, ev.ForceFault):
            self._forced_faults.add(event.reason)
            self._reevaluate(now, event.reason)
        elif isinstance(event, ev.ClearFault):
            self._forced_faults.discard(event.reason)
            self._reevaluate(now, f"{event.reason} cleared")
        elif isinstance(event, ev.ConfigChanged):
            self._reconfigure(event.params, now)
        else:
            raise TypeError(f"unknown VRRP event {event!r}")

    def receive(
        self,
        data: bytes,
        *,
        src: str,
        dst: str,
        ttl: int,
        ifname: str = "",
        now: float,
        multicast: bool | None = None,
    ) -> Advert | None:
        """Decode a raw VRRP payload and handle it; never raises on bad input.

        Every dropped packet bumps exactly one drop counter (and ``stats.rx_dropped``).
        ``multicast`` defaults to whether ``dst`` is a multicast address. Returns the advert
        if it was accepted, else None.
        """
        try:
            if multicast is None:
                multicast = _canonical(dst)[1]
            _canonical(src)
        except ValueError:
            self._drop("addr_family_err", f"bad packet address src={src!r} dst={dst!r}", now)
            return None
        try:
            advert = decode(
                data, family=self._p.family, src=src, dst=dst, ttl=ttl, multicast=multicast
            )
        except MalformedAdvert as e:
            self._drop(e.counter, f"advert from {src} dropped: {e.message}", now)
            return None
        if multicast == bool(self._p.unicast_peers):
            want = "un" if self._p.unicast_peers else "mult"
            got = "mult" if multicast else "un"
            self._drop(
                "addr_list_err", f"Expected {want}icast packet but received {got}icast packet", now
            )
            return None
        if self._on_advert(advert, src, now):
            return advert
        return None

    # ---- helpers: logging, counting ------------------------------------------------------
    def _log(self, level: str, msg: str) -> None:
        self._actions.append(act.Log(level, msg))

    def _drop(self, counter: str, msg: str, now: float) -> None:
        self.stats.count_drop(counter)
        lim = self._log_limits.setdefault(counter, _LogLimit())
        if now - lim.last_s >= LOG_DROP_EVERY_S:
            extra = f" ({lim.suppressed} similar suppressed)" if lim.suppressed else ""
            self._log("info", f"({self.name}) {msg}{extra} [{counter}]")
            lim.last_s, lim.suppressed = now, 0
        else:
            lim.suppressed += 1

    # ---- priority and faults -------------------------------------------------------------
    def _iface_contrib(self) -> tuple[int, list[str]]:
        delta, faults = 0, []
        p = self._p
        if p.interface and not p.dont_track_primary and p.interface in self._down_ifaces:
            faults.append(f"interface {p.interface} down")
        for t in p.track_interfaces:
            up = t.ifname not in self._down_ifaces
            if t.reverse:
                up = not up
            if t.weight == 0:
                if not up:
                    faults.append(f"tracked interface {t.ifname} down")
            elif (t.weight > 0 and up) or (t.weight < 0 and not up):
                delta += t.weight
        return delta, faults

    def fault_reasons(self) -> list[str]:
        """Why the router is (or would be) in FAULT; empty when healthy."""
        _, faults = self._iface_contrib()
        faults += [f"tracker {k} fault" for k, v in self._trackers.items() if v.fault]
        faults += sorted(self._forced_faults)
        if self._p.unicast_fault_no_peer and not self._p.unicast_peers:
            faults.append("unicast_fault_no_peer: no unicast peers")
        return faults

    def _compute_priority(self) -> int:
        base = self._p.priority
        if base == PRIO_OWNER:
            # An owner stays the owner: trackers cannot lower it (keepalived).
            return PRIO_OWNER
        delta, _ = self._iface_contrib()
        delta += sum(v.delta for v in self._trackers.values())
        return max(1, min(PRIO_OWNER - 1, base + delta))

    def _reevaluate(self, now: float, reason: str) -> None:
        old_prio = self._prio_cache
        self._prio_cache = self._compute_priority()
        if self._prio_cache != old_prio:
            self._log(
                "info",
                f"({self.name}) Changing effective priority from {old_prio} to {self._prio_cache}",
            )
            self._actions.append(
                act.PriorityChanged(self.name, self._state.value, old_prio, self._prio_cache)
            )
        faults = self.fault_reasons()
        if self._state in (State.INIT, State.STOP):
            return
        if faults and self._state != State.FAULT:
            self._enter_fault(now, faults[0])
        elif not faults and self._state == State.FAULT:
            self._log("info", f"({self.name}) Leaving FAULT state")
            self._enter_initial(now, reason, startup=False)
        elif self._state == State.BACKUP and self._prio_cache != old_prio:
            # Skew_Time depends on the priority: keep the master down deadline consistent
            # only when it is not a short prio-0 wait.
            pass

    # ---- state changes -------------------------------------------------------------------
    def _change_state(self, new: State, now: float, reason: str) -> None:
        old = self._state
        self.wants_master = False
        if new not in TRANSITIONS[old]:
            raise AssertionError(f"illegal VRRP transition {old} -> {new}")
        self._state = new
        self.last_transition = (now, reason)
        if old == State.MASTER:
            self.stats.release_master += 1
        if new == State.MASTER:
            self.stats.become_master += 1
        self._log("info", f"({self.name}) Entering {new.value} STATE")
        self._actions.append(
            act.StateChanged(self.name, old.value, new.value, reason, self.effective_priority)
        )

    def _notify(self, state: State) -> None:
        self._actions.append(act.RunNotify(self.name, state.value, self.effective_priority))

    def _all_vips(self) -> tuple[str, ...]:
        return self._p.addresses + self._p.excluded_addresses

    def _startup(self, now: float) -> None:
        if self._state not in (State.INIT, State.STOP):
            return  # idempotent
        self._master_adver_interval_cs = float(self._p.advert_int_cs)
        self._prio_cache = self._compute_priority()
        faults = self.fault_reasons()
        if faults:
            self._enter_fault(now, faults[0])
            return
        self._enter_initial(now, "startup")

    def _enter_initial(self, now: float, reason: str, startup: bool = True) -> None:
        """Init/fault-recovery: owner -> MASTER, else BACKUP with the right first wait.

        The short first wait of a non-owner ``state MASTER`` applies at startup only
        (keepalived ``vrrp_state_leave_fault`` always arms the full Master_Down_Interval).
        """
        p = self._p
        self._master_adver_interval_cs = float(p.advert_int_cs)
        self._master_address = None
        self._master_priority = None
        self._preempt_time = None
        if self.effective_priority == PRIO_OWNER and p.initial_state != "BACKUP":
            self._become_master(now, f"{reason}: address owner")
            return
        self._timers.clear()
        if p.initial_state == "MASTER" and startup:
            # keepalived: a non-owner configured MASTER waits one interval + minimum skew.
            wait_cs = p.advert_int_cs + skew_time_cs(PRIO_OWNER, p.advert_int_cs, p.version)
        else:
            wait_cs = self.master_down_interval_cs
        self._timers.master_down = now + cs_to_s(wait_cs)
        self._change_state(State.BACKUP, now, reason)
        self._notify(State.BACKUP)

    def _become_master(self, now: float, reason: str) -> None:
        p = self._p
        self._timers.clear()
        self._preempt_time = None
        self._master_priority = None
        self._change_state(State.MASTER, now, reason)
        # keepalived sends the advert before adding VIPs so the old master drops them first.
        self._send_advert(self.effective_priority)
        self._timers.adver = now + cs_to_s(p.advert_int_cs)
        vips = self._all_vips()
        if vips:
            self._actions.append(act.AddVips(self.name, p.interface, vips))
            self._garp(p.garp_master_repeat)
            if p.garp_master_delay_s > 0:
                self._timers.garp = now + p.garp_master_delay_s
            if p.garp_master_refresh_s > 0:
                self._timers.garp_refresh = now + p.garp_master_refresh_s
            if self._extra_if_hosts():
                # keepalived: the first one after garp_master_delay + the interval
                self._timers.garp_extra = now + p.garp_master_delay_s + p.garp_extra_if_s
        self._notify(State.MASTER)

    def _leave_master(self) -> None:
        vips = self._all_vips()
        if vips:
            self._actions.append(act.DelVips(self.name, self._p.interface, vips))

    def _become_backup(self, now: float, reason: str) -> None:
        was_master = self._state == State.MASTER
        self._timers.clear()
        self._timers.master_down = now + cs_to_s(self.master_down_interval_cs)
        if was_master:
            self._leave_master()
        self._change_state(State.BACKUP, now, reason)
        self._notify(State.BACKUP)

    def _enter_fault(self, now: float, reason: str) -> None:
        if self._state == State.MASTER:
            self._send_advert(0)
            self._leave_master()
        self._timers.clear()
        self._master_address = None
        self._log("info", f"({self.name}) Entering FAULT state ({reason})")
        self._change_state(State.FAULT, now, reason)
        self._notify(State.FAULT)

    def _shutdown(self, now: float) -> None:
        if self._state in (State.STOP, State.INIT):
            if self._state == State.INIT:
                self._state = State.STOP
            return
        if self._state == State.MASTER:
            self._send_advert(0)
            self._leave_master()
        self._timers.clear()
        self._log("info", f"({self.name}) Stopping")
        self._change_state(State.STOP, now, "shutdown")
        self._notify(State.STOP)

    def note_master_seen(self, seen: float) -> None:
        """The kernel saw a valid advert from the current master at ``seen`` (eBPF
        ``last_seen`` stamp) that user space has not read: push the Master_Down_Timer to
        ``seen + Master_Down_Interval`` if that is later. Never shortens the timer, never
        counts as a received advert."""
        if self._state != State.BACKUP or self._timers.master_down is None:
            return
        deadline = seen + cs_to_s(self.master_down_interval_cs)
        if deadline > self._timers.master_down:
            self._timers.master_down = deadline

    # ---- public forcing (sync groups) -----------------------------------------------------
    def force_master(self, now: float, reason: str) -> None:
        """Sync group: a member became MASTER, so this BACKUP member follows."""
        if self._state == State.BACKUP and not self.in_fault:
            self._become_master(now, reason)

    def force_backup(self, now: float, reason: str) -> None:
        """Sync group: a member left MASTER for BACKUP, so this MASTER member follows."""
        if self._state == State.MASTER:
            self._become_backup(now, reason)

    # ---- adverts -------------------------------------------------------------------------
    def _make_advert(self, priority: int) -> Advert:
        p = self._p
        return Advert(
            version=p.version,
            vrid=p.vrid,
            priority=priority,
            count_ip=len(p.addresses),
            auth_type=p.auth_type if p.version == 2 else AUTH_NONE,
            adver_int_cs=p.advert_int_cs,
            checksum=0,
            addresses=p.vip_hosts,
            auth_data=p.auth_pass if (p.version == 2 and p.auth_type == AUTH_PASS) else b"",
            family=p.family,
        )

    def _send_advert(self, priority: int) -> None:
        self.stats.advert_sent += 1
        if priority == 0:
            self.stats.pri_zero_sent += 1
        self._actions.append(act.SendAdvert(self.name, self._make_advert(priority), None))

    def _garp(self, repeat: int) -> None:
        """GARPs/NAs for every VIP, each on its own interface (one action per interface)."""
        if repeat <= 0:
            return
        devs = {_host(a): d for a, d in self._p.vip_devs}
        by_dev: dict[str, list[str]] = {}
        for a in self._all_vips():
            h = _host(a)
            by_dev.setdefault(devs.get(h, self._p.interface), []).append(h)
        for dev, hosts in by_dev.items():
            self._actions.append(
                act.SendGratuitous(self.name, dev, tuple(hosts), repeat, self._p.garp_interval_s)
            )

    def _extra_if_hosts(self) -> dict[str, str]:
        """``garp_extra_if``: {interface: its first VIP} for the other interfaces carrying VIPs."""
        p = self._p
        if p.garp_extra_if_s <= 0 or not p.garp_extra_if_all:
            return {}
        wanted = {_host(a) for a in self._all_vips()}
        out: dict[str, str] = {}
        for a, dev in p.vip_devs:
            if dev != p.interface and _host(a) in wanted:
                out.setdefault(dev, _host(a))
        return out

    def _garp_extra_if(self) -> None:
        for dev, host in self._extra_if_hosts().items():
            self._actions.append(act.SendGratuitous(self.name, dev, (host,), 1, 0.0))

    def _check_advert(self, a: Advert, src: str, now: float) -> bool:
        """Instance checks (RFC 3768/5798 §7.1 after the packet checks). False = dropped."""
        p = self._p
        if a.family != p.family:
            self._drop("addr_family_err", f"IPv{a.family} advert on IPv{p.family} instance", now)
            return False
        if a.version != p.version:
            self._drop("vers_err", f"version {a.version} advert, ours is {p.version}", now)
            return False
        if a.vrid != p.vrid:
            self._drop("vrid_err", f"VRID {a.vrid}, ours is {p.vrid}", now)
            return False
        if p.version == 2:
            if a.auth_type != p.auth_type:
                self._drop(
                    "authtype_mismatch", f"auth type {a.auth_type}, ours is {p.auth_type}", now
                )
                return False
            if p.auth_type == AUTH_PASS:
                want = p.auth_pass[:AUTH_DATA_LEN].ljust(AUTH_DATA_LEN, b"\0")
                if a.auth_data.ljust(AUTH_DATA_LEN, b"\0") != want:
                    self._drop("auth_failure", f"from {src}: wrong password", now)
                    return False
            if a.adver_int_cs != p.advert_int_cs:
                # RFC 3768 §7.1: MUST discard.
                self._drop(
                    "advert_interval_err",
                    f"advert interval {a.adver_int_cs // 100}s from {src}, "
                    f"ours is {p.advert_int_cs // 100}s",
                    now,
                )
                return False
        # RFC 3768/5798 §7.1 MAY check the address list. keepalived 2.2.7 drops a mismatch
        # (verified against the binary: a backup fed higher-priority adverts with another VIP
        # takes over), except a backup with skip_check_adv_addr hearing the same master again.
        check = p.addresses and (
            not p.skip_check_adv_addr or self._state != State.BACKUP or src != self._master_address
        )
        if check:
            if a.count_ip != len(p.addresses):
                self._drop(
                    "addr_list_err",
                    f"expected {len(p.addresses)} VIPs but received {a.count_ip}",
                    now,
                )
                return False
            theirs = set(a.addresses)
            for vip in p.vip_hosts:
                if vip not in theirs:
                    self._drop(
                        "addr_list_err",
                        f"ip address associated with VRID {p.vrid} not present in MASTER "
                        f"advert: {vip}",
                        now,
                    )
                    return False
        return True

    def _on_advert(self, a: Advert, src: str, now: float) -> bool:
        try:
            src = _canonical(src)[0]
        except ValueError:
            self._drop("addr_family_err", f"bad source address {src!r}", now)
            return False
        if not self._check_advert(a, src, now):
            return False
        self.stats.advert_rcvd += 1
        if self._p.owner_ignore_adverts and self._p.is_owner:
            return True  # RFC 3768/5798 §7.1: the owner discards adverts
        if a.priority == 0:
            self.stats.pri_zero_rcvd += 1
        if self._state == State.BACKUP:
            self._backup_rx(a, src, now)
        elif self._state == State.MASTER:
            self._master_rx(a, src, now)
        return True

    def _backup_rx(self, a: Advert, src: str, now: float) -> None:
        p = self._p
        prio = self.effective_priority
        self.wants_master = False
        if a.priority == 0:
            # RFC 5798 §6.4.2: Master_Down_Timer = Skew_Time.
            self._timers.master_down = now + cs_to_s(self.skew_time_cs)
            self._log("info", f"({self.name}) Backup received priority 0 advertisement")
            return
        delaying = p.preempt_delay_s > 0 and (
            self._preempt_time is None or now < self._preempt_time
        )
        if not p.preempt or a.priority >= prio or delaying:
            if p.preempt_delay_s > 0:
                if a.priority >= prio:
                    self._preempt_time = None
                elif a.priority < prio and self._preempt_time is None:
                    self._preempt_time = now + p.preempt_delay_s
                    self._log(
                        "info",
                        f"({self.name}) received lower priority ({a.priority}) advert "
                        f"from {src} - preempt delayed {p.preempt_delay_s:g}s",
                    )
            if p.version == 3 and a.adver_int_cs != self._master_adver_interval_cs:
                # RFC 5798 §6.4.2: adopt the master's interval (a mismatch is not an error).
                self._log(
                    "info",
                    f"({self.name}) advertisement interval changed: mine={p.advert_int_cs}cs "
                    f"rcv'd={a.adver_int_cs}cs from {src}",
                )
                self._master_adver_interval_cs = float(a.adver_int_cs)
            self._master_address = src
            self._master_priority = a.priority
            self._timers.master_down = now + cs_to_s(self.master_down_interval_cs)
            return
        self._log(
            "info",
            f"({self.name}) received lower priority ({a.priority}) advert from {src} - discarding",
        )

    def _master_rx(self, a: Advert, src: str, now: float) -> None:
        p = self._p
        prio = self.effective_priority
        if a.priority == 0:
            self._send_advert(prio)
            self._timers.adver = now + cs_to_s(p.advert_int_cs)
            return
        ours = p.primary_address
        higher_addr = False
        if a.priority == prio:
            if ours and _addr_int(src) == _addr_int(ours):
                self._log(
                    "warning",
                    f"({self.name}) WARNING - equal priority advert received from remote host "
                    "with our IP address.",
                )
                return
            higher_addr = not ours or _addr_int(src) > _addr_int(ours)
            if prio == PRIO_OWNER:
                # keepalived: two address owners is a configuration error; step down to 254.
                self._log(
                    "error",
                    f"({self.name}) CONFIGURATION ERROR: local instance and a remote instance "
                    "are both configured as address owner, please fix - reducing local priority",
                )
                self._p = replace(p, priority=PRIO_OWNER - 1)
                self._prio_cache = prio = self._compute_priority()
                higher_addr = False
        if a.priority > prio or higher_addr:
            if a.priority > prio:
                why = f"higher priority {a.priority}, ours {prio}"
            else:
                why = f"same priority {prio} but higher IP address than ours"
            self._log("info", f"({self.name}) Master received advert from {src} with {why}")
            if p.higher_prio_send_advert:
                self._send_advert(prio)
            if p.version == 3:
                self._master_adver_interval_cs = float(a.adver_int_cs)
            self._master_address = src
            self._master_priority = a.priority
            self._become_backup(now, f"advert from {src} with {why}")
            return
        self._actions.append(act.MasterRxLowerPri(self.name, src, a.priority, prio))
        if p.garp_lower_prio_repeat > 0:
            self._garp(p.garp_lower_prio_repeat)
            if p.garp_lower_prio_delay_s > 0:
                self._timers.garp_lower = now + p.garp_lower_prio_delay_s
        if p.lower_prio_no_advert:
            self._log(
                "info",
                f"({self.name}) Received advert from {src} with lower priority {a.priority}, "
                f"ours {prio}",
            )
            return
        self._log(
            "info",
            f"({self.name}) Received advert from {src} with lower priority {a.priority}, "
            f"ours {prio}, forcing new election",
        )
        self._send_advert(prio)

    # ---- reload --------------------------------------------------------------------------
    def _reconfigure(self, params: RouterParams, now: float) -> None:
        old = self._p
        if (params.vrid, params.family, params.version) != (old.vrid, old.family, old.version):
            raise ValueError("VRID/family/version change needs a new VirtualRouter")
        old_vips = set(old.addresses + old.excluded_addresses)
        self._p = params
        if self._state == State.MASTER:
            new_vips = set(params.addresses + params.excluded_addresses)
            gone = tuple(a for a in old.addresses + old.excluded_addresses if a not in new_vips)
            added = tuple(
                a for a in params.addresses + params.excluded_addresses if a not in old_vips
            )
            if gone:
                self._actions.append(act.DelVips(self.name, params.interface, gone))
            if added:
                self._actions.append(act.AddVips(self.name, params.interface, added))
        self._reevaluate(now, "reload")


def group_address(family: int) -> str:
    """The VRRP multicast group for ``family``."""
    return VRRP_MCAST_V4 if family == 4 else VRRP_MCAST_V6


__all__ = ["PRIO_OWNER", "RouterParams", "TrackedInterface", "VirtualRouter", "group_address"]
