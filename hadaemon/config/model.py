"""The keepalived.conf model: frozen dataclasses with keepalived's defaults.

Field names are keepalived keywords in snake_case. Timers are float **seconds** (keepalived's
``<TIMER>``: decimal seconds); where the wire wants centiseconds a derived ``*_cs`` property is
provided. Every parsed object carries a ``location`` (file, line, col) that is excluded from
equality, so a reload diff does not see an object as changed because a comment moved it.

Values are *effective* values: after :func:`hadaemon.config.load` the cross-derived defaults
(priority 255 for ``state MASTER`` without priority, VRRP version from ``vrrp_version`` and the
address family, checker options inherited VS → RS → checker, …) are filled in, so consumers never
need to know keepalived's inheritance rules.

Serialisation: :meth:`Node.to_dict` gives a JSON/msgpack-able dict (used by
``hadaemon config dump --json`` and by the supervisor to send model parts to workers) and
:meth:`Node.from_dict` rebuilds the object (``Config.from_dict(d)``,
``VrrpInstance.from_dict(d)``).
Checker objects carry a ``"checker"`` key (``"TCP_CHECK"`` …) so a list of checkers round-trips.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Iterator
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, ClassVar, NamedTuple, TypeVar, Union

__all__ = [
    "Location",
    "Node",
    "Script",
    "GlobalDefs",
    "LvsSyncDaemon",
    "LvsTimeouts",
    "InterfaceDelay",
    "GarpGroup",
    "SYNC_GROUP_NOTIFY_SCRIPTS",
    "VRRP_INSTANCE_NOTIFY_SCRIPTS",
    "VrrpScript",
    "TrackFile",
    "VrrpTrackProcess",
    "BfdInstance",
    "Track",
    "VrrpSyncGroup",
    "IpAddress",
    "IpRoute",
    "IpRule",
    "VirtualIpAddress",
    "VirtualRoute",
    "VirtualRule",
    "StaticAddress",
    "StaticRoute",
    "StaticRule",
    "Authentication",
    "HmacKey",
    "AuthHmac",
    "UnicastPeer",
    "VrrpInstance",
    "VsgEntry",
    "VirtualServerGroup",
    "SorryServer",
    "CheckerBase",
    "TcpCheck",
    "Url",
    "HttpGet",
    "SslGet",
    "MiscCheck",
    "SmtpCheck",
    "DnsCheck",
    "PingCheck",
    "UdpCheck",
    "FileCheck",
    "BfdCheck",
    "Checker",
    "CHECKER_TYPES",
    "RealServer",
    "VirtualServer",
    "SslConfig",
    "Config",
]

T = TypeVar("T", bound="Node")


class Location(NamedTuple):
    """Where a token or object came from: file path, 1-based line and column.

    A NamedTuple (immutable, hashable, cheap to create: the parser makes one per statement).
    """

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


def _loc() -> Any:
    """A ``location`` field: optional, keyword-only, excluded from ``==`` and ``hash``."""
    return field(default=None, compare=False, repr=False, kw_only=True)


def _locs() -> Any:
    """A ``locations`` field: keyword → where it was written (excluded from ``==``)."""
    return field(default_factory=dict, compare=False, repr=False, kw_only=True)


# --------------------------------------------------------------------------------------------
# generic (de)serialisation
# --------------------------------------------------------------------------------------------

_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    h = _HINTS.get(cls)
    if h is None:
        h = typing.get_type_hints(cls)
        _HINTS[cls] = h
    return h


def _encode(value: Any, with_location: bool) -> Any:
    if isinstance(value, Node):
        return value.to_dict(with_location=with_location)
    if isinstance(value, Location):
        return [value.file, value.line, value.col]
    if isinstance(value, tuple):
        return [_encode(v, with_location) for v in value]
    if isinstance(value, dict):
        return {str(k): _encode(v, with_location) for k, v in value.items()}
    return value


def _identity(value: Any) -> Any:
    return value


#: type hint → function decoding a :meth:`Node.to_dict` value of that type (built once)
_DECODERS: dict[Any, Callable[[Any], Any]] = {}


def _decoder(tp: Any) -> Callable[[Any], Any]:
    """The decoder of type hint ``tp`` (None decodes to None), built on first use: the type
    introspection is done once per type, not once per value (a 1,000-instance config holds
    ~100,000 values)."""
    dec = _DECODERS.get(tp)
    if dec is None:
        inner = _make_decoder(tp)

        def dec(value: Any, inner: Callable[[Any], Any] = inner) -> Any:
            return None if value is None else inner(value)

        _DECODERS[tp] = dec
    return dec


def _make_decoder(tp: Any) -> Callable[[Any], Any]:
    origin = typing.get_origin(tp)
    if origin is Union or origin is types.UnionType:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return _decoder(args[0])

        def union(value: Any) -> Any:
            # a union of checker classes: dispatch on "checker"; scalar unions (int | str)
            # keep the value
            if isinstance(value, dict) and "checker" in value:
                return CHECKER_TYPES[value["checker"]].from_dict(value)
            return value

        return union
    if origin is tuple:
        targs = typing.get_args(tp)
        if len(targs) == 2 and targs[1] is Ellipsis:
            item = _decoder(targs[0])
            return lambda value: tuple(item(v) for v in value)
        items = [_decoder(a) for a in targs]
        return lambda value: tuple(d(v) for d, v in zip(items, value, strict=False))
    if origin is dict:
        vdec = _decoder(typing.get_args(tp)[1])
        return lambda value: {k: vdec(v) for k, v in value.items()}
    if tp is Location:
        return lambda value: Location(str(value[0]), int(value[1]), int(value[2]))
    if isinstance(tp, type) and issubclass(tp, Node):
        return tp.from_dict
    if tp is float:
        return lambda value: float(value) if isinstance(value, int) else value
    return _identity


def _decode(tp: Any, value: Any) -> Any:
    """Decode ``value`` (from :meth:`Node.to_dict`) as type hint ``tp``."""
    return _decoder(tp)(value)


_SCALARS = (int, float, str, bool, type(None))


class _FieldPlan(NamedTuple):
    """How one field of a model class is (de)serialised (built once per class)."""

    name: str
    decode: Callable[[Any], Any]
    scalar: bool
    """the value encodes as itself (``int``, ``str | None`` …)"""


_FIELD_PLANS: dict[type, list[_FieldPlan]] = {}


def _scalar_hint(tp: Any) -> bool:
    """True for a type hint whose values encode as themselves (``int``, ``str | None`` …)."""
    origin = typing.get_origin(tp)
    if origin is Union or origin is types.UnionType:
        return all(_scalar_hint(a) for a in typing.get_args(tp))
    return tp in _SCALARS


def _field_plan(cls: type) -> list[_FieldPlan]:
    plan = _FIELD_PLANS.get(cls)
    if plan is None:
        hints = _hints(cls)
        plan = [
            _FieldPlan(f.name, _decoder(hints[f.name]), _scalar_hint(hints[f.name]))
            for f in fields(cls)
        ]
        _FIELD_PLANS[cls] = plan
    return plan


class Node:
    """Base of every model dataclass: ``to_dict()``/``from_dict()`` and a ``replace()``."""

    __slots__ = ()

    def to_dict(self, *, with_location: bool = True) -> dict[str, Any]:
        """A JSON- and msgpack-able dict of every field (tuples become lists)."""
        out: dict[str, Any] = {}
        ctype = getattr(self, "CHECKER_TYPE", None)
        if ctype is not None:
            out["checker"] = ctype
        for f in _field_plan(type(self)):
            if not with_location and f.name in ("location", "locations"):
                continue
            value = getattr(self, f.name)
            out[f.name] = value if f.scalar else _encode(value, with_location)
        return out

    @classmethod
    def from_dict(cls: type[T], data: dict[str, Any]) -> T:
        """Rebuild an object from :meth:`to_dict` output (unknown keys are ignored)."""
        kwargs = {f.name: f.decode(data[f.name]) for f in _field_plan(cls) if f.name in data}
        return cls(**kwargs)

    def replace(self: T, **changes: Any) -> T:
        """A copy with some fields changed (``dataclasses.replace``)."""
        import dataclasses

        return dataclasses.replace(self, **changes)  # type: ignore[type-var]


def field_defaults(cls: type) -> dict[str, Any]:
    """The default value of every field of a model class (for docs and the grammar)."""
    out: dict[str, Any] = {}
    for f in fields(cls):
        if f.default is not MISSING:
            out[f.name] = f.default
        elif f.default_factory is not MISSING:
            out[f.name] = f.default_factory()
    return out


# --------------------------------------------------------------------------------------------
# shared small objects
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Script(Node):
    """A command to run (notify scripts, ``script``, ``misc_path``, quorum_up …).

    ``args`` is the argv keepalived would exec (the string split like a shell, no shell run);
    ``user``/``group`` are the optional ``username [groupname]`` after the command.
    """

    args: tuple[str, ...]
    user: str | None = None
    group: str | None = None
    location: Location | None = _loc()

    @property
    def command(self) -> str:
        """The command as one string (arguments joined by spaces, quoted where needed)."""
        import shlex

        return " ".join(shlex.quote(a) for a in self.args)


@dataclass(frozen=True, kw_only=True)
class Track(Node):
    """One entry of ``track_interface``/``track_script``/``track_file``/``track_process``/
    ``track_bfd``: the tracked object's name and an optional weight override.

    ``weight`` None means "use the tracked object's own weight" (an interface's is 0 ⇒ FAULT).
    ``reverse`` inverts the sign of the weight's effect (keepalived ``weight N reverse``).
    """

    name: str
    weight: int | None = None
    reverse: bool = False
    location: Location | None = _loc()


# --------------------------------------------------------------------------------------------
# global_defs
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class LvsSyncDaemon(Node):
    """``lvs_sync_daemon IF [VI] [id N] [maxlen N] [port N] [ttl N] [group IP]``."""

    interface: str
    vrrp_instance: str | None = None
    sync_id: int | None = None
    maxlen: int | None = None
    port: int = 8848
    ttl: int | None = None
    group: str | None = None
    location: Location | None = _loc()


@dataclass(frozen=True, kw_only=True)
class LvsTimeouts(Node):
    """``lvs_timeouts [tcp N] [tcpfin N] [udp N]`` (seconds; None = kernel default)."""

    tcp: int | None = None
    tcpfin: int | None = None
    udp: int | None = None
    location: Location | None = _loc()


@dataclass(frozen=True, kw_only=True)
class InterfaceDelay(Node):
    """One line of ``interface_up_down_delays { IF DOWN_S [UP_S] }``."""

    interface: str
    down_delay: float
    up_delay: float = 0.0
    location: Location | None = _loc()


@dataclass(frozen=True, kw_only=True)
class GarpGroup(Node):
    """``garp_group { garp_interval; gna_interval; interface; interfaces {} }``."""

    garp_interval: float | None = None
    gna_interval: float | None = None
    interface: str | None = None
    interfaces: tuple[str, ...] = ()
    location: Location | None = _loc()


@dataclass(frozen=True, kw_only=True)
class GlobalDefs(Node):
    """``global_defs { ... }``. Defaults are keepalived's (KC5 "Global definitions")."""

    # identity
    router_id: str | None = None
    """None = the host name (resolved at run time)."""
    instance: str | None = None
    use_pid_dir: bool = False
    process_names: bool = False
    process_name: str | None = None
    vrrp_process_name: str | None = None
    checker_process_name: str | None = None
    bfd_process_name: str | None = None
    # email
    notification_email: tuple[str, ...] = ()
    notification_email_from: str | None = None
    smtp_server: str | None = None
    smtp_server_port: int = 25
    smtp_helo_name: str | None = None
    smtp_connect_timeout: float = 30.0
    smtp_alert: bool | None = None
    smtp_alert_vrrp: bool | None = None
    smtp_alert_checker: bool | None = None
    no_email_faults: bool = False
    # VRRP protocol
    vrrp_version: int = 2
    v3_checksum_as_v2: bool = False
    vrrp_owner_ignore_adverts: bool = False
    vrrp_mcast_group4: str = "224.0.0.18"
    vrrp_mcast_group6: str = "ff02::12"
    vrrp_garp_master_delay: float = 5.0
    vrrp_garp_master_repeat: int = 5
    vrrp_garp_lower_prio_delay: float | None = None
    """None = same as vrrp_garp_master_delay."""
    vrrp_garp_lower_prio_repeat: int | None = None
    """None = same as vrrp_garp_master_repeat."""
    vrrp_garp_master_refresh: float = 0.0
    vrrp_garp_master_refresh_repeat: int = 1
    vrrp_garp_interval: float = 0.0
    vrrp_gna_interval: float = 0.0
    vrrp_min_garp: bool = False
    vrrp_garp_extra_if: float | None = None
    vrrp_garp_extra_if_all: bool = False
    vrrp_lower_prio_no_advert: bool = False
    vrrp_higher_prio_send_advert: bool = False
    vrrp_down_timer_adverts: int = 3
    vrrp_skip_check_adv_addr: bool = False
    vrrp_check_unicast_src: bool = False
    vrrp_strict: bool = False
    vrrp_startup_delay: float = 0.0
    vrrp_delay_after_boot: float = 0.0
    vrrp_notify_priority_changes: bool = False
    log_unknown_vrids: bool = False
    # firewall
    nftables: str | None = None
    """nft table name when ``nftables`` is given (``keepalived`` without argument)."""
    nftables_priority: int = -1
    nftables_counters: bool = False
    nftables_ifindex: bool = False
    nftables_ipvs: str | None = None
    nftables_ipvs_priority: int = -1
    nftables_ipvs_start_fwmark: int = 1000
    vrrp_iptables: tuple[str, ...] | None = None
    vrrp_ipsets: tuple[str, ...] | None = None
    # LVS
    lvs_sync_daemon: LvsSyncDaemon | None = None
    lvs_timeouts: LvsTimeouts | None = None
    lvs_flush: bool = False
    lvs_flush_on_stop: str | None = None
    """None = off; "VS" = only virtual servers; "all"."""
    # scheduling / realtime
    vrrp_priority: int | None = None
    vrrp_rt_priority: int | None = None
    vrrp_rlimit_rttime: int | None = None
    vrrp_no_swap: bool = False
    vrrp_cpu_affinity: tuple[int, ...] = ()
    checker_priority: int | None = None
    checker_rt_priority: int | None = None
    checker_rlimit_rttime: int | None = None
    checker_no_swap: bool = False
    checker_cpu_affinity: tuple[int, ...] = ()
    bfd_priority: int | None = None
    bfd_rt_priority: int | None = None
    bfd_rlimit_rttime: int | None = None
    bfd_no_swap: bool = False
    bfd_cpu_affinity: tuple[int, ...] = ()
    max_auto_priority: int | None = None
    min_auto_priority_delay: int = 1_000_000
    """microseconds"""
    # scripts
    script_user: str | None = None
    script_group: str | None = None
    enable_script_security: bool = False
    startup_script: Script | None = None
    startup_script_timeout: float = 10.0
    shutdown_script: Script | None = None
    shutdown_script_timeout: float = 10.0
    use_symlink_paths: bool = False
    set_supplementary_groups: bool = False
    # notify FIFOs
    notify_fifo: str | None = None
    notify_fifo_script: Script | None = None
    vrrp_notify_fifo: str | None = None
    vrrp_notify_fifo_script: Script | None = None
    lvs_notify_fifo: str | None = None
    lvs_notify_fifo_script: Script | None = None
    fifo_write_vrrp_states_on_reload: bool = False
    # interfaces
    dynamic_interfaces: bool = False
    dynamic_interfaces_allow_if_changes: bool = False
    default_interface: str | None = None
    linkbeat_use_polling: bool = False
    linkbeat_interfaces: tuple[str, ...] = ()
    interface_up_down_delays: tuple[InterfaceDelay, ...] = ()
    garp_groups: tuple[GarpGroup, ...] = ()
    # netlink / buffers
    vrrp_netlink_cmd_rcv_bufs: int | None = None
    vrrp_netlink_cmd_rcv_bufs_force: bool = False
    vrrp_netlink_monitor_rcv_bufs: int | None = None
    vrrp_netlink_monitor_rcv_bufs_force: bool = False
    lvs_netlink_cmd_rcv_bufs: int | None = None
    lvs_netlink_cmd_rcv_bufs_force: bool = False
    lvs_netlink_monitor_rcv_bufs: int | None = None
    lvs_netlink_monitor_rcv_bufs_force: bool = False
    process_monitor_rcv_bufs: int | None = None
    process_monitor_rcv_bufs_force: bool = False
    vrrp_rx_bufs_policy: str | None = None
    vrrp_rx_bufs_multiplier: int = 3
    # namespaces
    net_namespace: str | None = None
    net_namespace_ipvs: str | None = None
    namespace_with_ipsets: bool = False
    # VMAC naming
    vmac_prefix: str = "vrrp"
    vmac_addr_prefix: str | None = None
    # reload
    reload_check_config: str | None = None
    """None = off; "" = on without a log file; else the log file."""
    reload_time_file: str | None = None
    reload_repeat: bool = False
    reload_file: str | None = None
    config_save_dir: str | None = None
    # dump files
    data_use_instance: bool = False
    state_file_location: str | None = None
    stats_file_location: str | None = None
    json_file_location: str | None = None
    json_version: int = 1
    tmp_config_directory: str | None = None
    # SNMP / DBus
    snmp_socket: str | None = None
    enable_snmp_vrrp: bool = False
    enable_snmp_checker: bool = False
    enable_snmp_rfc: bool = False
    enable_snmp_rfcv2: bool = False
    enable_snmp_rfcv3: bool = False
    enable_traps: bool = False
    snmp_vs_stats_update_interval: float = 5.0
    snmp_rs_stats_update_interval: float = 5.0
    enable_dbus: bool = False
    dbus_service_name: str | None = None
    dbus_no_interface_name: str | None = None
    # misc
    umask: int | None = None
    child_wait_time: float = 5.0
    rs_init_notifies: bool = False
    no_checker_emails: bool = False
    checker_log_all_failures: bool = False
    iproute_usr_dir: str | None = None
    iproute_etc_dir: str | None = None
    random_seed: int | None = None
    # hadaemon extensions (keepalived reports these as unknown keywords)
    metrics_listen: str | None = None
    """``ADDR:PORT`` for the Prometheus ``/metrics`` endpoint (None = off)"""
    vrrp_bpf: bool = True
    """``vrrp_bpf off`` = ``--no-bpf``: classic BPF filter + SO_TIMESTAMPNS instead of eBPF"""
    vrrp_realtime: bool = True
    """SCHED_FIFO for the VRRP worker even without ``vrrp_rt_priority`` (at priority 1, when
    permitted); ``vrrp_realtime off``: only when ``vrrp_rt_priority`` is set (keepalived)"""
    location: Location | None = _loc()
    locations: dict[str, Location] = _locs()
    """keyword → Location of the line that set it"""


# --------------------------------------------------------------------------------------------
# trackers
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class VrrpScript(Node):
    """``vrrp_script NAME { script; interval; timeout; weight; rise; fall; user; init_fail }``."""

    name: str
    script: Script | None = None
    interval: float = 1.0
    """seconds between runs"""
    timeout: float | None = None
    """seconds; None = ``interval``"""
    weight: int = 0
    """-253..253; 0 ⇒ the instance goes to FAULT while the script fails"""
    weight_reverse: bool = False
    rise: int = 1
    fall: int = 1
    user: str | None = None
    group: str | None = None
    init_fail: bool = False
    location: Location | None = _loc()
    locations: dict[str, Location] = _locs()
    """keyword → Location of the line that set it"""


@dataclass(frozen=True, kw_only=True)
class TrackFile(Node):
    """``track_file NAME { file PATH; weight N [reverse]; init_file [VALUE] [overwrite] }``."""

    name: str
    file: str | None = None
    weight: int = 1
    weight_reverse: bool = False
    init_file: int | None = None
    """None = do not create; else the value written when the file is created"""
    init_file_overwrite: bool = False
    location: Location | None = _loc()


@dataclass(frozen=True, kw_only=True)
class VrrpTrackProcess(Node):
    """``vrrp_track_process NAME { process; param_match; weight; quorum; quorum_max; ... }``."""

    name: str
    process: tuple[str, ...] = ()
    """process name, then the parameters to match"""
    param_match: str | None = None
    """None = exact; "initial" / "partial" """
    weight: int = 0
    weight_reverse: bool = False
    quorum: int = 1
    quorum_max: int | None = None
    fork_delay: float | None = None
    terminate_delay: float | None = None
    delay: float | None = None
    full_command: bool = False
    location: Location | None = _loc()


@dataclass(frozen=True, kw_only=True)
class BfdInstance(Node):
    """``bfd_instance NAME { neighbor_ip; source_ip; min_rx; min_tx; idle_tx; multiplier; ... }``
    (RFC 5880). Intervals in milliseconds as keepalived's keywords."""

    name: str
    neighbor_ip: str | None = None
    source_ip: str | None = None
    min_rx_ms: int = 10
    min_tx_ms: int = 10
    idle_tx_ms: int = 1000
    multiplier: int = 5
    passive: bool = False
    ttl: int = 255
    max_hops: int | None = None
    multihop: bool = False
    vrf: str | None = None
    weight: int = 0
    weight_reverse: bool = False
    location: Location | None = _loc()


SYNC_GROUP_NOTIFY_SCRIPTS = (
    "notify_master",
    "notify_backup",
    "notify_fault",
    "notify_stop",
    "notify",
)
"""The script keywords of a ``vrrp_sync_group`` that run on state changes."""


@dataclass(frozen=True, kw_only=True)
class VrrpSyncGroup(Node):
    """``vrrp_sync_group NAME { group { VI... } track_* notify_* smtp_alert }``."""

    name: str
    group: tuple[str, ...] = ()
    track_interface: tuple[Track, ...] = ()
    track_script: tuple[Track, ...] = ()
    track_file: tuple[Track, ...] = ()
    track_process: tuple[Track, ...] = ()
    track_bfd: tuple[Track, ...] = ()
    notify_master: Script | None = None
    notify_backup: Script | None = None
    notify_fault: Script | None = None
    notify_stop: Script | None = None
    notify: Script | None = None
    smtp_alert: bool | None = None
    sync_group_tracking_weight: bool = False
    location: Location | None = _loc()
    locations: dict[str, Location] = _locs()
    """keyword → Location of the line that set it"""


# --------------------------------------------------------------------------------------------
# addresses, routes, rules (virtual_* and static_*)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class IpAddress(Node):
    """One ``ip addr``-style line of ``virtual_ipaddress``/``static_ipaddress``:
    ``IP[/LEN] [brd IP] [dev IF] [scope S] [label L] [peer IP] [home] [-nodad]
    [noprefixroute] [autojoin] [no_track] [preferred_lft N] [use_vmac]``."""

    address: str
    prefixlen: int
    """32 / 128 when not given"""
    brd: str | None = None
    dev: str | None = None
    scope: str | None = None
    label: str | None = None
    peer: str | None = None
    home: bool = False
    nodad: bool = False
    mngtmpaddr: bool = False
    noprefixroute: bool = False
    autojoin: bool = False
    no_track: bool = False
    preferred_lft: int | None = None
    use_vmac: bool = False
    location: Location | None = _loc()

    @property
    def family(self) -> int:
        """4 or 6 (``address`` is normalised, so a colon means IPv6)."""
        return 6 if ":" in self.address else 4

    @property
    def cidr(self) -> str:
        """``address/prefixlen``."""
        return f"{self.address}/{self.prefixlen}"


@dataclass(frozen=True, kw_only=True)
class IpRoute(Node):
    """One ``ip route``-style line of ``virtual_routes``/``static_routes``.

    The common selectors are parsed into fields; anything else is kept verbatim in ``options``
    (keyword, value, ...) in file order so the I/O layer can hand it to pyroute2.
    """

    dst: str
    """prefix, ``default`` or an address"""
    type: str = "unicast"
    """unicast, blackhole, unreachable, prohibit, throw, local, broadcast, ..."""
    src: str | None = None
    via: str | None = None
    dev: str | None = None
    table: str | None = None
    metric: int | None = None
    scope: str | None = None
    protocol: str | None = None
    onlink: bool = False
    no_track: bool = False
    nexthops: tuple[tuple[str, ...], ...] = ()
    """each ``nexthop ...`` clause as its raw words"""
    options: tuple[str, ...] = ()
    location: Location | None = _loc()


@dataclass(frozen=True, kw_only=True)
class IpRule(Node):
    """One ``ip rule``-style line of ``virtual_rules``/``static_rules``."""

    from_: str | None = None
    """``from`` selector (``all`` or a prefix)"""
    to: str | None = None
    table: str | None = None
    priority: int | None = None
    """``priority``/``preference``/``pref``"""
    fwmark: str | None = None
    iif: str | None = None
    oif: str | None = None
    action: str | None = None
    """None = to table; else blackhole / prohibit / unreachable / goto N / nop"""
    family: int | None = None
    """4 or 6 when not derivable from from/to"""
    no_track: bool = False
    options: tuple[str, ...] = ()
    location: Location | None = _loc()


VirtualIpAddress = IpAddress
StaticAddress = IpAddress
VirtualRoute = IpRoute
StaticRoute = IpRoute
VirtualRule = IpRule
StaticRule = IpRule


# --------------------------------------------------------------------------------------------
# vrrp_instance
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Authentication(Node):
    """``authentication { auth_type PASS|AH; auth_pass SECRET }`` (VRRPv2 only).
    ``auth_pass`` is already truncated to 8 characters as keepalived does."""

    auth_type: str = "PASS"
    auth_pass: str = ""
    location: Location | None = _loc()


@dataclass(frozen=True, kw_only=True)
class HmacKey(Node):
    """``key ID VALUE`` of ``auth_hmac``: ``hex:...`` raw bytes, ``file:PATH`` or a string."""

    key_id: int
    value: str
    location: Location | None = _loc()


@dataclass(frozen=True, kw_only=True)
class AuthHmac(Node):
    """``auth_hmac { key; active_key; anti_replay; time_window; mode }`` (keepalived 2.4+,
    draft-cassen-vrrp-auth-hmac: HMAC-SHA256 trailer with a time-based sequence)."""

    keys: tuple[HmacKey, ...] = ()
    active_key: int | None = None
    """None = the only key, when there is exactly one"""
    anti_replay: str = "time"
    """time | monotonic"""
    time_window: float | None = None
    """seconds (1..300); None = max(3 x advert_int, 5)"""
    mode: str = "enforce"
    """enforce | permissive | receive-only"""
    location: Location | None = _loc()


@dataclass(frozen=True, kw_only=True)
class UnicastPeer(Node):
    """One ``unicast_peer { IP [min_ttl N] [max_ttl N] }`` entry."""

    address: str
    min_ttl: int | None = None
    max_ttl: int | None = None
    location: Location | None = _loc()


VRRP_INSTANCE_NOTIFY_SCRIPTS = (
    "notify_master",
    "notify_backup",
    "notify_fault",
    "notify_stop",
    "notify_deleted",
    "notify",
    "notify_master_rx_lower_pri",
)
"""The script keywords of a ``vrrp_instance`` that run on state changes."""


@dataclass(frozen=True, kw_only=True)
class VrrpInstance(Node):
    """``vrrp_instance NAME { ... }``. Values are effective (cross-derived) after loading."""

    name: str
    """the iname, e.g. ``VI_1``"""
    state: str = "BACKUP"
    """initial state ``MASTER``/``BACKUP``; unset ⇒ MASTER iff priority 255"""
    interface: str | None = None
    virtual_router_id: int = 0
    """1..255; 0 only on a config that failed validation"""
    priority: int = 100
    """1..255; unset ⇒ 255 with ``state MASTER``, else 100"""
    advert_int: float = 1.0
    """seconds; VRRPv2 rounds to whole seconds"""
    version: int = 2
    """2 or 3 (IPv6 forces 3); unset ⇒ global ``vrrp_version``"""
    family: int = 4
    """4 or 6: the family of the VIPs (4 with no VIPs)"""
    nopreempt: bool = False
    preempt_delay: float = 0.0
    """seconds (0..1000)"""
    authentication: Authentication | None = None
    auth_hmac: AuthHmac | None = None
    virtual_ipaddress: tuple[IpAddress, ...] = ()
    virtual_ipaddress_excluded: tuple[IpAddress, ...] = ()
    no_virtual_ipaddress: bool = False
    promote_secondaries: bool = False
    virtual_routes: tuple[IpRoute, ...] = ()
    virtual_rules: tuple[IpRule, ...] = ()
    track_interface: tuple[Track, ...] = ()
    track_script: tuple[Track, ...] = ()
    track_file: tuple[Track, ...] = ()
    track_process: tuple[Track, ...] = ()
    track_bfd: tuple[Track, ...] = ()
    dont_track_primary: bool = False
    linkbeat_use_polling: bool = False
    # addressing
    unicast_src_ip: str | None = None
    unicast_peer: tuple[UnicastPeer, ...] = ()
    unicast_ttl: int = 255
    unicast_fault_no_peer: bool = False
    check_unicast_src: bool = False
    old_unicast_checksum: str | None = None
    mcast_src_ip: str | None = None
    mcast_dst_ip: str | None = None
    track_src_ip: bool = False
    vrf: str | None = None
    # VMAC
    use_vmac: bool = False
    vmac_name: str | None = None
    vmac_mac: str | None = None
    vmac_xmit_base: bool = False
    use_vmac_addr: bool = False
    use_ipvlan: bool = False
    ipvlan_name: str | None = None
    ipvlan_address: str | None = None
    ipvlan_mode: str | None = None
    native_ipv6: bool = False
    # GARP pacing: effective values (the global_defs vrrp_garp_* unless set here)
    garp_master_delay: float = 5.0
    """seconds before the second GARP burst after becoming master (0 = none)"""
    garp_master_repeat: int = 5
    """GARPs / unsolicited NAs per burst"""
    garp_master_refresh: float = 0.0
    """seconds between periodic refreshes while master (0 = off)"""
    garp_master_refresh_repeat: int = 1
    garp_lower_prio_delay: float = 5.0
    garp_lower_prio_repeat: int = 5
    garp_extra_if: float | None = None
    """seconds between GARPs on the other interfaces (None = off)"""
    garp_extra_if_all: bool = False
    # election details
    accept: bool = True
    """Accept_Mode; keepalived default on unless strict mode"""
    strict_mode: bool = False
    lower_prio_no_advert: bool = False
    higher_prio_send_advert: bool = False
    skip_check_adv_addr: bool = False
    down_timer_adverts: int = 3
    owner_ignore_adverts: bool = False
    v3_checksum_as_v2: bool = False
    """send v3 IPv4 adverts with RFC 9568's checksum (default from global_defs)"""
    timer_expired_backup: bool = False
    kernel_rx_buf_size: int | None = None
    debug: int = 0
    # notify
    notify_master: Script | None = None
    notify_backup: Script | None = None
    notify_fault: Script | None = None
    notify_stop: Script | None = None
    notify_deleted: Script | None = None
    notify: Script | None = None
    notify_master_rx_lower_pri: Script | None = None
    notify_priority_changes: bool = False
    smtp_alert: bool | None = None
    location: Location | None = _loc()
    locations: dict[str, Location] = _locs()
    """keyword → Location of the line that set it"""

    @property
    def advert_int_cs(self) -> int:
        """Advertisement_Interval in centiseconds (the VRRPv3 wire unit)."""
        return int(round(self.advert_int * 100))

    @property
    def is_unicast(self) -> bool:
        """True when the instance sends to unicast peers."""
        return bool(self.unicast_peer)

    @property
    def iname(self) -> str:
        """keepalived's name for :attr:`name`."""
        return self.name


# --------------------------------------------------------------------------------------------
# LVS: virtual_server_group, virtual_server, real_server, checkers
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class VsgEntry(Node):
    """One line of ``virtual_server_group``: ``IP[-LAST] PORT``, ``IP/LEN PORT`` or
    ``fwmark N``. ``range_end`` is the last address of a ``a.b.c.d-e`` range."""

    address: str | None = None
    prefixlen: int | None = None
    range_end: str | None = None
    port: int | None = None
    fwmark: int | None = None
    location: Location | None = _loc()


@dataclass(frozen=True, kw_only=True)
class VirtualServerGroup(Node):
    """``virtual_server_group NAME { entries }``."""

    name: str
    entries: tuple[VsgEntry, ...] = ()
    location: Location | None = _loc()


@dataclass(frozen=True, kw_only=True)
class SorryServer(Node):
    """``sorry_server IP PORT``."""

    address: str
    port: int
    location: Location | None = _loc()


@dataclass(frozen=True, kw_only=True)
class CheckerBase(Node):
    """Options common to every checker. Inherited values (VS → RS → checker) are filled in."""

    CHECKER_TYPE: ClassVar[str] = ""
    connect_ip: str | None = None
    """None = the real server's address"""
    connect_port: int | None = None
    """None = the real server's port"""
    bindto: str | None = None
    bind_if: str | None = None
    bind_port: int | None = None
    fwmark: int | None = None
    connect_timeout: float = 5.0
    retry: int = 1
    delay_before_retry: float = 1.0
    delay_loop: float = 60.0
    warmup: float | None = None
    """seconds; None = no warm-up (keepalived: random start up to delay_loop when set)"""
    alpha: bool = False
    log_all_failures: bool = False
    location: Location | None = _loc()
    locations: dict[str, Location] = _locs()
    """keyword → Location of the line that set it"""


@dataclass(frozen=True, kw_only=True)
class TcpCheck(CheckerBase):
    """``TCP_CHECK {}``: a connect() succeeds."""

    CHECKER_TYPE: ClassVar[str] = "TCP_CHECK"


@dataclass(frozen=True, kw_only=True)
class Url(Node):
    """``url { path; digest; status_code; virtualhost; regex; ... }`` of HTTP_GET/SSL_GET."""

    path: str = "/"
    digest: str | None = None
    status_code: tuple[tuple[int, int], ...] = ()
    """inclusive ranges; () = 200..299"""
    virtualhost: str | None = None
    regex: str | None = None
    regex_no_match: bool = False
    regex_options: tuple[str, ...] = ()
    regex_stack: int | None = None
    regex_min_offset: int | None = None
    regex_max_offset: int | None = None
    location: Location | None = _loc()


@dataclass(frozen=True, kw_only=True)
class HttpGet(CheckerBase):
    """``HTTP_GET { url {...} ... }``."""

    CHECKER_TYPE: ClassVar[str] = "HTTP_GET"
    url: tuple[Url, ...] = ()
    http_protocol: str = "1.0"
    virtualhost: str | None = None
    fast_recovery: bool = False
    delay_before_retry: float = 3.0


@dataclass(frozen=True, kw_only=True)
class SslGet(HttpGet):
    """``SSL_GET {}``: HTTP_GET over TLS."""

    CHECKER_TYPE: ClassVar[str] = "SSL_GET"
    enable_sni: bool = False
    sni_name: str | None = None
    tls_compliant: bool = False


@dataclass(frozen=True, kw_only=True)
class MiscCheck(CheckerBase):
    """``MISC_CHECK { misc_path; misc_timeout; misc_dynamic; user }``."""

    CHECKER_TYPE: ClassVar[str] = "MISC_CHECK"
    misc_path: Script | None = None
    misc_timeout: float | None = None
    """seconds; None = delay_loop"""
    misc_dynamic: bool = False
    user: str | None = None
    group: str | None = None
    retry: int = 0


@dataclass(frozen=True, kw_only=True)
class SmtpCheck(CheckerBase):
    """``SMTP_CHECK { helo_name }``."""

    CHECKER_TYPE: ClassVar[str] = "SMTP_CHECK"
    helo_name: str | None = None


@dataclass(frozen=True, kw_only=True)
class DnsCheck(CheckerBase):
    """``DNS_CHECK { type; name }``."""

    CHECKER_TYPE: ClassVar[str] = "DNS_CHECK"
    type: str = "SOA"
    name: str = "."
    retry: int = 3


@dataclass(frozen=True, kw_only=True)
class PingCheck(CheckerBase):
    """``PING_CHECK {}``: ICMP / ICMPv6 echo."""

    CHECKER_TYPE: ClassVar[str] = "PING_CHECK"


@dataclass(frozen=True, kw_only=True)
class UdpCheck(CheckerBase):
    """``UDP_CHECK { payload; require_reply; min_reply_length; max_reply_length }``."""

    CHECKER_TYPE: ClassVar[str] = "UDP_CHECK"
    payload: str | None = None
    """hex string"""
    require_reply: bool = False
    require_reply_data: str | None = None
    """hex with ``X`` wildcards"""
    min_reply_length: int = 0
    max_reply_length: int = 255


@dataclass(frozen=True, kw_only=True)
class FileCheck(CheckerBase):
    """``FILE_CHECK { track_file NAME; dynamic; weight N [reverse] }``."""

    CHECKER_TYPE: ClassVar[str] = "FILE_CHECK"
    track_file: str | None = None
    dynamic: bool = False
    weight: int | None = None
    weight_reverse: bool = False


@dataclass(frozen=True, kw_only=True)
class BfdCheck(CheckerBase):
    """``BFD_CHECK { name NAME; weight N [reverse] }``."""

    CHECKER_TYPE: ClassVar[str] = "BFD_CHECK"
    name: str | None = None
    weight: int | None = None
    weight_reverse: bool = False


Checker = Union[  # noqa: UP007  (runtime alias used by get_type_hints)
    TcpCheck,
    HttpGet,
    SslGet,
    MiscCheck,
    SmtpCheck,
    DnsCheck,
    PingCheck,
    UdpCheck,
    FileCheck,
    BfdCheck,
]
CHECKER_TYPES: dict[str, type[CheckerBase]] = {
    c.CHECKER_TYPE: c
    for c in (
        TcpCheck,
        HttpGet,
        SslGet,
        MiscCheck,
        SmtpCheck,
        DnsCheck,
        PingCheck,
        UdpCheck,
        FileCheck,
        BfdCheck,
    )
}


@dataclass(frozen=True, kw_only=True)
class RealServer(Node):
    """``real_server IP PORT { weight; lvs_method; notify_up/down; ...; checkers }``."""

    address: str
    port: int | None = None
    """None only for fwmark services (or on an invalid config)"""
    weight: int = 1
    lvs_method: str = "NAT"
    """inherited from the virtual server when not set"""
    tunnel_type: str | None = None
    notify_up: Script | None = None
    notify_down: Script | None = None
    uthreshold: int | None = None
    lthreshold: int | None = None
    inhibit_on_failure: bool = False
    alpha: bool = False
    smtp_alert: bool | None = None
    virtualhost: str | None = None
    delay_loop: float = 60.0
    checkers: tuple[Checker, ...] = ()
    location: Location | None = _loc()
    locations: dict[str, Location] = _locs()
    """keyword → Location of the line that set it"""

    @property
    def key(self) -> tuple[str, int | None]:
        """(address, port): identity of the real server inside its virtual server."""
        return (self.address, self.port)


@dataclass(frozen=True, kw_only=True)
class VirtualServer(Node):
    """``virtual_server IP PORT | fwmark N | group NAME { ... real_server ... }``."""

    address: str | None = None
    port: int | None = None
    fwmark: int | None = None
    group: str | None = None
    ip_family: int | None = None
    """4/6 for fwmark services; derived from the address otherwise"""
    protocol: str = "TCP"
    lvs_sched: str = "wlc"
    lvs_method: str = "NAT"
    tunnel_type: str | None = None
    sched_flags: tuple[str, ...] = ()
    """flag-1..3, sh-port, sh-fallback, mh-port, mh-fallback"""
    ops: bool = False
    persistence_timeout: int | None = None
    persistence_granularity: str | None = None
    persistence_engine: str | None = None
    quorum: int = 1
    hysteresis: int = 0
    weight: int = 1
    """default weight of its real servers"""
    quorum_up: Script | None = None
    quorum_down: Script | None = None
    sorry_server: SorryServer | None = None
    sorry_server_inhibit: bool = False
    sorry_server_lvs_method: str | None = None
    inhibit_on_failure: bool = False
    alpha: bool = False
    omega: bool = False
    ha_suspend: bool = False
    delay_loop: float = 60.0
    virtualhost: str | None = None
    smtp_alert: bool | None = None
    real_servers: tuple[RealServer, ...] = ()
    location: Location | None = _loc()
    locations: dict[str, Location] = _locs()
    """keyword → Location of the line that set it"""

    @property
    def key(self) -> str:
        """Identity used by reload diffs: ``IP:PORT/PROTO``, ``fwmark:N/FAMILY`` or ``group:NAME``
        (IPv6 addresses in brackets)."""
        if self.group is not None:
            return f"group:{self.group}/{self.protocol}"
        if self.fwmark is not None:
            return f"fwmark:{self.fwmark}/{self.ip_family or 4}"
        addr = self.address or ""
        if ":" in addr:
            addr = f"[{addr}]"
        return f"{addr}:{self.port}/{self.protocol}"


@dataclass(frozen=True, kw_only=True)
class SslConfig(Node):
    """Global ``SSL { password; ca; certificate; key }`` used by SSL_GET."""

    password: str | None = None
    ca: str | None = None
    certificate: str | None = None
    key: str | None = None
    location: Location | None = _loc()


# --------------------------------------------------------------------------------------------
# root
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Config(Node):
    """The whole configuration."""

    global_defs: GlobalDefs = field(default_factory=GlobalDefs)
    vrrp_scripts: tuple[VrrpScript, ...] = ()
    track_files: tuple[TrackFile, ...] = ()
    vrrp_track_processes: tuple[VrrpTrackProcess, ...] = ()
    bfd_instances: tuple[BfdInstance, ...] = ()
    vrrp_sync_groups: tuple[VrrpSyncGroup, ...] = ()
    vrrp_instances: tuple[VrrpInstance, ...] = ()
    static_ipaddress: tuple[IpAddress, ...] = ()
    static_routes: tuple[IpRoute, ...] = ()
    static_rules: tuple[IpRule, ...] = ()
    virtual_server_groups: tuple[VirtualServerGroup, ...] = ()
    virtual_servers: tuple[VirtualServer, ...] = ()
    ssl: SslConfig | None = None

    def vrrp_instance(self, name: str) -> VrrpInstance | None:
        """The instance called ``name`` or None."""
        return next((i for i in self.vrrp_instances if i.name == name), None)

    def vrrp_script(self, name: str) -> VrrpScript | None:
        """The vrrp_script called ``name`` or None."""
        return next((s for s in self.vrrp_scripts if s.name == name), None)

    def virtual_server(self, key: str) -> VirtualServer | None:
        """The virtual server whose :attr:`VirtualServer.key` is ``key`` or None."""
        return next((v for v in self.virtual_servers if v.key == key), None)

    @property
    def has_scripts(self) -> bool:
        """True when any script (tracker, notify, MISC_CHECK, quorum ...) is configured."""
        return any(True for _ in self.scripts())

    def scripts(self) -> Iterator[Script]:
        """Every configured :class:`Script` (notify, vrrp_script, MISC_CHECK, quorum, fifo ...)."""
        gd = self.global_defs
        for s in (
            gd.startup_script,
            gd.shutdown_script,
            gd.notify_fifo_script,
            gd.vrrp_notify_fifo_script,
            gd.lvs_notify_fifo_script,
        ):
            if s is not None:
                yield s
        for vs_ in self.vrrp_scripts:
            if vs_.script is not None:
                yield vs_.script
        for sg in self.vrrp_sync_groups:
            yield from _scripts_of(sg, SYNC_GROUP_NOTIFY_SCRIPTS)
        for vi in self.vrrp_instances:
            yield from _scripts_of(vi, VRRP_INSTANCE_NOTIFY_SCRIPTS)
        for v in self.virtual_servers:
            yield from _scripts_of(v, ("quorum_up", "quorum_down"))
            for rs in v.real_servers:
                yield from _scripts_of(rs, ("notify_up", "notify_down"))
                for c in rs.checkers:
                    if isinstance(c, MiscCheck) and c.misc_path is not None:
                        yield c.misc_path


def _scripts_of(obj: Any, names: tuple[str, ...]) -> Iterator[Script]:
    for n in names:
        s = getattr(obj, n)
        if s is not None:
            yield s
