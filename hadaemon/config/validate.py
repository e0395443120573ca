"""Semantic checks that keepalived misses or reports only when the VRRP child starts.

Errors (``hadaemon -t`` exit 4; a reload is refused):
duplicate VRID on the same interface and family; mixed address families in
``virtual_ipaddress``; unicast keywords without any peer; ``track_*`` naming an undefined
tracker; a sync group naming an unknown instance (or an instance in two groups); a real server
without a port in an IP virtual server; duplicate names/keys; an instance with neither an
interface nor unicast peers; a reference to an unknown virtual_server_group / track_file / BFD.

An interface that does not exist (checked in ``/sys/class/net``, so it is right inside a
network namespace) named by a ``vrrp_instance`` (``interface``, an address's or route's
``dev``, ``track_interface``): without ``dynamic_interfaces`` an error that disables only that
instance (:attr:`~hadaemon.config.errors.Diagnostic.disables`: the daemon runs the others;
keepalived 2.2.7 stops its whole VRRP process); with ``dynamic_interfaces`` a warning (the
instance waits in FAULT for the interface). :func:`missing_interfaces` is the same check for
the VRRP worker.

Warnings: scripts configured without ``enable_script_security``, an instance without virtual
addresses.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from hadaemon.config.errors import Diagnostics, did_you_mean
from hadaemon.config.model import Config, Location, Script, VrrpInstance

__all__ = [
    "validate",
    "sys_interface_exists",
    "configured_scripts",
    "script_exists",
    "InterfaceRef",
    "instance_interfaces",
    "missing_interfaces",
    "vmac_names",
]


def sys_interface_exists(name: str) -> bool:
    """True when network interface ``name`` exists in this network namespace."""
    if not name or "/" in name or name in (".", ".."):
        return False
    return os.path.exists(os.path.join("/sys/class/net", name))


@dataclass(frozen=True)
class InterfaceRef:
    """An interface a ``vrrp_instance`` names; ``what`` says where ("" for the instance's
    own ``interface``, else e.g. ``track_interface``)."""

    name: str
    what: str
    location: Location | None

    def __str__(self) -> str:
        return f"interface {self.name}" + (f" ({self.what})" if self.what else "")


def vmac_names(config: Config) -> frozenset[str]:
    """The ``use_vmac`` macvlans the daemon creates itself (never "missing" at start-up)."""
    prefix = config.global_defs.vmac_prefix or "vrrp"
    return frozenset(
        (vi.vmac_name or f"{prefix}.{vi.virtual_router_id}")[:15]
        for vi in config.vrrp_instances
        if vi.use_vmac
    )


def instance_interfaces(vi: VrrpInstance) -> list[InterfaceRef]:
    """Every interface ``vi`` names, once each: its ``interface``, the ``dev`` of its
    addresses and routes, its ``track_interface`` entries."""
    out: list[InterfaceRef] = []
    seen: set[str] = set()

    def add(name: str | None, what: str, loc: Location | None) -> None:
        if name and name not in seen:
            seen.add(name)
            out.append(InterfaceRef(name, what, loc))

    add(vi.interface, "", vi.locations.get("interface", vi.location))
    for a in (*vi.virtual_ipaddress, *vi.virtual_ipaddress_excluded):
        add(a.dev, f"dev of ip address {a.address}", a.location)
    for r in vi.virtual_routes:
        add(r.dev, f"dev of route {r.dst}", r.location)
    for t in vi.track_interface:
        add(t.name, "track_interface", t.location)
    return out


def missing_interfaces(
    vi: VrrpInstance,
    exists: Callable[[str], bool] | None = None,
    own: Collection[str] = (),
) -> list[InterfaceRef]:
    """The interfaces ``vi`` names that do not exist now (``own``: interfaces the daemon
    creates itself, see :func:`vmac_names`). Without ``dynamic_interfaces`` an instance with
    any is not started; with it, it starts in FAULT until its ``interface`` appears."""
    exists = exists or sys_interface_exists
    return [r for r in instance_interfaces(vi) if r.name not in own and not exists(r.name)]


def validate(
    config: Config,
    diags: Diagnostics,
    interface_exists: Callable[[str], bool] | None = None,
) -> None:
    """Run every semantic check, adding diagnostics to ``diags``."""
    exists = interface_exists or sys_interface_exists
    _check_names(config, diags)
    _check_instances(config, diags, exists)
    _check_sync_groups(config, diags)
    _check_virtual_servers(config, diags)
    _check_scripts(config, diags)
    _check_bfd(config, diags)


def _dupes(items: Any, key: Callable[[Any], Any], what: str, diags: Diagnostics) -> None:
    seen: dict[Any, Location | None] = {}
    for it in items:
        k = key(it)
        if k in seen:
            first = seen[k]
            where = f" (first defined at {first})" if first else ""
            diags.error(f"duplicate {what} '{k}'{where}", it.location)
        else:
            seen[k] = it.location


def _check_names(config: Config, diags: Diagnostics) -> None:
    _dupes(config.vrrp_instances, lambda i: i.name, "vrrp_instance", diags)
    _dupes(config.vrrp_scripts, lambda s: s.name, "vrrp_script", diags)
    _dupes(config.track_files, lambda s: s.name, "track_file", diags)
    _dupes(config.vrrp_track_processes, lambda s: s.name, "vrrp_track_process", diags)
    _dupes(config.bfd_instances, lambda s: s.name, "bfd_instance", diags)
    _dupes(config.vrrp_sync_groups, lambda s: s.name, "vrrp_sync_group", diags)
    _dupes(config.virtual_server_groups, lambda s: s.name, "virtual_server_group", diags)
    _dupes(config.virtual_servers, lambda s: s.key, "virtual_server", diags)


def _check_instances(config: Config, diags: Diagnostics, exists: Callable[[str], bool]) -> None:
    trackers = {
        "track_script": ("vrrp_script", {s.name for s in config.vrrp_scripts}),
        "track_file": ("track_file", {s.name for s in config.track_files}),
        "track_process": ("vrrp_track_process", {s.name for s in config.vrrp_track_processes}),
        "track_bfd": ("bfd_instance", {s.name for s in config.bfd_instances}),
    }
    vrids: dict[tuple[str, int, int], VrrpInstance] = {}
    gd = config.global_defs
    own = vmac_names(config)
    for vi in config.vrrp_instances:
        tag = f"({vi.name})"
        loc = vi.location
        # family mix
        fams = {a.family for a in vi.virtual_ipaddress}
        if len(fams) > 1:
            odd = next(
                a for a in vi.virtual_ipaddress if a.family != vi.virtual_ipaddress[0].family
            )
            diags.error(
                f"{tag} virtual_ipaddress mixes IPv4 and IPv6 ({odd.address})",
                odd.location,
                "put the other family in virtual_ipaddress_excluded or in its own vrrp_instance",
            )
        if not vi.virtual_ipaddress and not vi.no_virtual_ipaddress:
            if vi.strict_mode:
                diags.error(f"{tag} strict mode needs at least one virtual_ipaddress", loc)
            else:
                diags.warning(f"{tag} has no virtual_ipaddress", loc)
        if len(vi.virtual_ipaddress) > 255:
            diags.error(
                f"{tag} {len(vi.virtual_ipaddress)} virtual addresses do not fit in one advert "
                "(at most 255)",
                vi.locations.get("virtual_ipaddress", loc),
                "move the extra addresses to virtual_ipaddress_excluded",
            )
        for kw_name in ("mcast_src_ip", "unicast_src_ip"):
            src = getattr(vi, kw_name)
            if src is not None and (6 if ":" in src else 4) != vi.family:
                diags.error(
                    f"{tag} {kw_name} {src} is not IPv{vi.family} like the instance's addresses",
                    vi.locations.get(kw_name, loc),
                )
        if vi.strict_mode and (vi.unicast_peer or vi.authentication is not None):
            diags.error(
                f"{tag} strict mode does not allow unicast peers or authentication",
                vi.locations.get("strict_mode", loc),
                "remove vrrp_strict/strict_mode (often copied from the sample by accident)",
            )
        # unicast
        has_unicast_kw = vi.unicast_src_ip is not None or vi.unicast_fault_no_peer
        if has_unicast_kw and not vi.unicast_peer:
            diags.error(
                f"{tag} unicast_src_ip is set but there is no unicast_peer; keepalived would "
                "silently send multicast",
                vi.locations.get("unicast_src_ip", loc),
                "add a unicast_peer { ... } block or remove unicast_src_ip",
            )
        if vi.unicast_peer:
            for peer in vi.unicast_peer:
                fam = 6 if ":" in peer.address else 4
                if fam != vi.family:
                    diags.error(
                        f"{tag} unicast_peer {peer.address} is not IPv{vi.family} like the "
                        "instance's addresses",
                        peer.location,
                    )
        # interface
        if vi.interface is None and not vi.unicast_peer and gd.default_interface is None:
            diags.error(f"{tag} no interface specified", loc, "add 'interface IF' to the instance")
        for ref in missing_interfaces(vi, exists, own):
            if gd.dynamic_interfaces:
                diags.warning(
                    f"{tag} {ref} doesn't exist yet; dynamic_interfaces: used once it is created",
                    ref.location,
                )
            else:
                diags.error(
                    f"{tag} {ref} doesn't exist; the instance is not started",
                    ref.location,
                    "add 'dynamic_interfaces' to global_defs to start it in FAULT until the "
                    "interface appears",
                    disables=vi.name,
                )
        for r in vi.virtual_routes:
            if r.dev is None and not r.no_track:
                diags.warning(
                    f"{tag} cannot track route {r.dst} with no interface specified, not tracking",
                    r.location,
                    "add 'dev IF' or 'no_track'",
                )
        # duplicate VRID per (interface, family); unicast instances are keyed by their peers
        if vi.virtual_router_id:
            ifname = vi.interface or gd.default_interface or ""
            if vi.unicast_peer:
                ifname += "|unicast:" + ",".join(sorted(p.address for p in vi.unicast_peer))
            key = (ifname, vi.family, vi.virtual_router_id)
            other = vrids.get(key)
            if other is not None:
                diags.error(
                    f"{tag} virtual_router_id {vi.virtual_router_id} is already used by "
                    f"({other.name}) on interface {vi.interface} for IPv{vi.family}",
                    vi.locations.get("virtual_router_id", loc),
                    "each VRID must be unique per interface and address family",
                )
            else:
                vrids[key] = vi
        # trackers
        for field_name, (what, names) in trackers.items():
            for t in getattr(vi, field_name):
                _check_ref(diags, f"{tag} {field_name}", t.name, what, names, t.location)
    if gd.lvs_sync_daemon is not None and gd.lvs_sync_daemon.vrrp_instance:
        names = {i.name for i in config.vrrp_instances}
        if gd.lvs_sync_daemon.vrrp_instance not in names:
            diags.error(
                f"lvs_sync_daemon names unknown vrrp_instance "
                f"'{gd.lvs_sync_daemon.vrrp_instance}'",
                gd.lvs_sync_daemon.location,
                did_you_mean(gd.lvs_sync_daemon.vrrp_instance, names),
            )


def _check_ref(
    diags: Diagnostics,
    subject: str,
    name: str,
    what: str,
    names: Collection[str],
    location: Location | None,
) -> None:
    """Error ``<subject> '<name>': no <what> with that name`` unless ``name`` is in ``names``."""
    if name not in names:
        diags.error(
            f"{subject} '{name}': no {what} with that name", location, did_you_mean(name, names)
        )


def _check_sync_groups(config: Config, diags: Diagnostics) -> None:
    names = {i.name for i in config.vrrp_instances}
    member_of: dict[str, str] = {}
    for sg in config.vrrp_sync_groups:
        if not sg.group:
            diags.warning(
                f"vrrp_sync_group {sg.name} has no group {{ }} of instances; it is ignored",
                sg.location,
            )
        for inst in sg.group:
            if inst not in names:
                diags.error(
                    f"vrrp_sync_group {sg.name} names unknown vrrp_instance '{inst}'",
                    sg.location,
                    did_you_mean(inst, names),
                )
            elif inst in member_of:
                diags.error(
                    f"vrrp_instance {inst} is in sync groups {member_of[inst]} and {sg.name}",
                    sg.location,
                )
            else:
                member_of[inst] = sg.name
        if not sg.sync_group_tracking_weight:
            own_weight = {s.name: s.weight for s in config.vrrp_scripts}
            own_weight.update({f.name: f.weight for f in config.track_files})
            own_weight.update({t.name: t.weight for t in config.vrrp_track_processes})
            for inst in sg.group:
                vi = config.vrrp_instance(inst)
                if vi is None:
                    continue
                for kind in ("track_interface", "track_script", "track_file", "track_process"):
                    for t in getattr(vi, kind):
                        w = t.weight if t.weight is not None else own_weight.get(t.name, 0)
                        if w:
                            diags.warning(
                                f"({vi.name}) ignoring weight of {kind} '{t.name}' due to SYNC "
                                f"group {sg.name} (a failure puts the group in FAULT)",
                                t.location,
                                "set sync_group_tracking_weight in the group to use weights",
                            )
        scripts = {s.name for s in config.vrrp_scripts}
        for t in sg.track_script:
            _check_ref(
                diags,
                f"vrrp_sync_group {sg.name} track_script",
                t.name,
                "vrrp_script",
                scripts,
                t.location,
            )


def _check_bfd(config: Config, diags: Diagnostics) -> None:
    """``bfd_instance``: a neighbor, one address family, one session per neighbor; the
    ``track_bfd`` of sync groups name existing instances."""
    sessions: dict[tuple[str, str | None, bool], str] = {}
    for b in config.bfd_instances:
        if not b.neighbor_ip:
            diags.error(f"bfd_instance {b.name} has no neighbor_ip", b.location)
            continue
        neighbor = ipaddress.ip_address(b.neighbor_ip.split("%", 1)[0])
        if b.source_ip:
            source = ipaddress.ip_address(b.source_ip.split("%", 1)[0])
            if source.version != neighbor.version:
                diags.error(
                    f"bfd_instance {b.name}: source_ip {b.source_ip} and neighbor_ip "
                    f"{b.neighbor_ip} are of different address families",
                    b.location,
                )
        key = (str(neighbor), b.source_ip, b.multihop)
        if key in sessions:
            diags.error(
                f"bfd_instance {b.name}: neighbor {b.neighbor_ip} already has a session "
                f"(bfd_instance {sessions[key]})",
                b.location,
            )
        else:
            sessions[key] = b.name
    names = {b.name for b in config.bfd_instances}
    for sg in config.vrrp_sync_groups:
        for t in sg.track_bfd:
            _check_ref(
                diags,
                f"vrrp_sync_group {sg.name} track_bfd",
                t.name,
                "bfd_instance",
                names,
                t.location,
            )


def _check_virtual_servers(config: Config, diags: Diagnostics) -> None:
    groups = {g.name for g in config.virtual_server_groups}
    track_files = {t.name for t in config.track_files}
    bfds = {b.name for b in config.bfd_instances}
    for vs in config.virtual_servers:
        if vs.group is not None:
            _check_ref(
                diags,
                "virtual_server group",
                vs.group,
                "virtual_server_group",
                groups,
                vs.location,
            )
        if vs.fwmark is not None and "protocol" in vs.locations:
            diags.warning(
                f"virtual_server fwmark {vs.fwmark}: protocol specified for fwmark - protocol "
                "will be ignored",
                vs.locations["protocol"],
            )
        if not vs.real_servers and vs.sorry_server is None:
            diags.warning(f"virtual_server {vs.key} has no real_server", vs.location)
        total = sum(rs.weight for rs in vs.real_servers)
        if vs.real_servers and vs.quorum > total:
            diags.warning(
                f"virtual_server {vs.key} quorum {vs.quorum} is more than the total weight "
                f"{total} of its real servers; it can never be up",
                vs.locations.get("quorum", vs.location),
            )
        _dupes(vs.real_servers, lambda r: f"{r.address} {r.port}", "real_server", diags)
        for rs in vs.real_servers:
            if rs.port is None and vs.fwmark is None:
                diags.error(
                    f"real_server {rs.address} has no port (virtual_server {vs.key})",
                    rs.location,
                    "write 'real_server IP PORT'",
                )
            if (
                vs.ip_family is not None
                and (6 if ":" in rs.address else 4) != vs.ip_family
                and (rs.lvs_method != "TUN")
            ):
                diags.error(
                    f"real_server {rs.address} is not IPv{vs.ip_family} like virtual_server "
                    f"{vs.key}",
                    rs.location,
                )
            for c in rs.checkers:
                tf = getattr(c, "track_file", None)
                if c.CHECKER_TYPE == "FILE_CHECK" and tf:
                    _check_ref(
                        diags, "FILE_CHECK track_file", tf, "track_file", track_files, c.location
                    )
                bn = getattr(c, "name", None)
                if c.CHECKER_TYPE == "BFD_CHECK" and bn:
                    _check_ref(diags, "BFD_CHECK name", bn, "bfd_instance", bfds, c.location)


def _check_scripts(config: Config, diags: Diagnostics) -> None:
    gd = config.global_defs
    if config.has_scripts and not gd.enable_script_security:
        diags.warning(
            "scripts are configured but enable_script_security is not set; scripts will "
            "run as root without the permission checks",
            gd.location,
            "add 'enable_script_security' (and 'script_user') to global_defs",
        )
    for s in config.vrrp_scripts:
        if s.script is None:
            diags.warning(f"vrrp_script {s.name} has no 'script'; it is ignored", s.location)


def configured_scripts(config: Config) -> list[Script]:
    """Every :class:`Script` in the model (notify, track, MISC_CHECK, quorum, fifo ...)."""
    return list(config.scripts())


def script_exists(script: Script) -> bool:
    """True when the script's program exists (absolute path, or found on ``$PATH``).
    keepalived disables a script it cannot find, and only counts existing scripts for the
    ``-t`` exit code 5."""
    prog = script.args[0] if script.args else ""
    if os.path.isabs(prog):
        return os.path.isfile(prog)
    return bool(prog) and shutil.which(prog) is not None
