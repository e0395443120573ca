"""Reload planning: ``diff(old, new) -> ReloadPlan``, pure.

Objects are matched by identity key: VRRP instances, scripts, trackers, sync groups and
virtual_server_groups by name; virtual servers by :attr:`VirtualServer.key`
(``IP:PORT/PROTO``, ``fwmark:N/FAMILY``, ``group:NAME/PROTO``); real servers inside a changed
virtual server by ``(address, port)``. "Changed" means the objects compare unequal; locations are
excluded from equality, so moving a block in the file is not a change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from hadaemon.config.model import Config

__all__ = ["SectionDiff", "ReloadPlan", "diff"]


@dataclass(frozen=True)
class SectionDiff:
    """Keys added, removed and changed in one section (each tuple in the new file's order)."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        """True when nothing differs."""
        return not (self.added or self.removed or self.changed)

    @property
    def touched(self) -> set[str]:
        """Every key added, removed or changed."""
        return set(self.changed) | set(self.removed) | set(self.added)

    def to_dict(self) -> dict[str, list[str]]:
        """JSON-able form."""
        return {
            "added": list(self.added),
            "removed": list(self.removed),
            "changed": list(self.changed),
        }


_SECTIONS = (
    "vrrp_instances",
    "vrrp_sync_groups",
    "vrrp_scripts",
    "track_files",
    "vrrp_track_processes",
    "bfd_instances",
    "virtual_server_groups",
    "virtual_servers",
)
"""The :class:`ReloadPlan` fields that are a :class:`SectionDiff` of one config section."""


@dataclass(frozen=True)
class ReloadPlan:
    """What a reload must do. ``real_servers`` details the changed virtual servers."""

    vrrp_instances: SectionDiff = SectionDiff()
    vrrp_sync_groups: SectionDiff = SectionDiff()
    vrrp_scripts: SectionDiff = SectionDiff()
    track_files: SectionDiff = SectionDiff()
    vrrp_track_processes: SectionDiff = SectionDiff()
    bfd_instances: SectionDiff = SectionDiff()
    virtual_server_groups: SectionDiff = SectionDiff()
    virtual_servers: SectionDiff = SectionDiff()
    real_servers: dict[str, SectionDiff] = field(default_factory=dict)
    """virtual server key → its real-server diff (only for changed virtual servers)"""
    global_defs_changed: bool = False
    static_changed: bool = False
    """static_ipaddress / static_routes / static_rules differ"""
    ssl_changed: bool = False
    affected_vrrp_instances: tuple[str, ...] = ()
    """unchanged instances whose tracked scripts/files/processes/BFD or sync group changed"""

    @property
    def empty(self) -> bool:
        """True when the new config is equivalent to the old one."""
        return all(getattr(self, n).empty for n in _SECTIONS) and not (
            self.global_defs_changed or self.static_changed or self.ssl_changed
        )

    @property
    def vrrp_changed(self) -> bool:
        """True when the VRRP worker has something to do."""
        return not (
            self.vrrp_instances.empty
            and self.vrrp_sync_groups.empty
            and self.vrrp_scripts.empty
            and self.track_files.empty
            and self.vrrp_track_processes.empty
            and self.bfd_instances.empty
            and not self.static_changed
            and not self.global_defs_changed
        )

    @property
    def lvs_changed(self) -> bool:
        """True when the checker/LVS workers have something to do."""
        return not (
            self.virtual_servers.empty
            and self.virtual_server_groups.empty
            and not self.ssl_changed
            and not self.global_defs_changed
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON/msgpack-able form (for logs and IPC)."""
        out: dict[str, Any] = {}
        for n in _SECTIONS:
            out[n] = getattr(self, n).to_dict()
        out["real_servers"] = {k: v.to_dict() for k, v in self.real_servers.items()}
        out["global_defs_changed"] = self.global_defs_changed
        out["static_changed"] = self.static_changed
        out["ssl_changed"] = self.ssl_changed
        out["affected_vrrp_instances"] = list(self.affected_vrrp_instances)
        return out


def _section(old: Iterable[Any], new: Iterable[Any], key: Callable[[Any], str]) -> SectionDiff:
    o = {key(x): x for x in old}
    n = {key(x): x for x in new}
    return SectionDiff(
        added=tuple(k for k in n if k not in o),
        removed=tuple(k for k in o if k not in n),
        changed=tuple(k for k in n if k in o and o[k] != n[k]),
    )


def _by_name(x: Any) -> str:
    return str(x.name)


def diff(old: Config, new: Config) -> ReloadPlan:
    """Compare two configs and say what a reload has to add, remove and change."""
    vi = _section(old.vrrp_instances, new.vrrp_instances, _by_name)
    sg = _section(old.vrrp_sync_groups, new.vrrp_sync_groups, _by_name)
    scripts = _section(old.vrrp_scripts, new.vrrp_scripts, _by_name)
    tfiles = _section(old.track_files, new.track_files, _by_name)
    tprocs = _section(old.vrrp_track_processes, new.vrrp_track_processes, _by_name)
    bfds = _section(old.bfd_instances, new.bfd_instances, _by_name)
    vsg = _section(old.virtual_server_groups, new.virtual_server_groups, _by_name)
    vs = _section(old.virtual_servers, new.virtual_servers, lambda v: str(v.key))
    rs: dict[str, SectionDiff] = {}
    old_vs = {v.key: v for v in old.virtual_servers}
    for v in new.virtual_servers:
        if v.key in vs.changed:
            rs[v.key] = _section(
                old_vs[v.key].real_servers, v.real_servers, lambda r: f"{r.address}:{r.port}"
            )
    # unchanged instances touched through what they track or their sync group
    touched = {
        "track_script": scripts.touched,
        "track_file": tfiles.touched,
        "track_process": tprocs.touched,
        "track_bfd": bfds.touched,
    }
    sg_members = {
        m
        for g in new.vrrp_sync_groups
        if g.name in sg.changed or g.name in sg.added
        for m in g.group
    } | {
        m
        for g in old.vrrp_sync_groups
        if g.name in sg.removed or g.name in sg.changed
        for m in g.group
    }
    affected = []
    direct = set(vi.added) | set(vi.changed)
    for inst in new.vrrp_instances:
        if inst.name in direct:
            continue
        hit = inst.name in sg_members or any(
            t.name in touched[f] for f in touched for t in getattr(inst, f)
        )
        if hit:
            affected.append(inst.name)
    return ReloadPlan(
        vrrp_instances=vi,
        vrrp_sync_groups=sg,
        vrrp_scripts=scripts,
        track_files=tfiles,
        vrrp_track_processes=tprocs,
        bfd_instances=bfds,
        virtual_server_groups=vsg,
        virtual_servers=vs,
        real_servers=rs,
        global_defs_changed=old.global_defs != new.global_defs,
        static_changed=(old.static_ipaddress, old.static_routes, old.static_rules)
        != (new.static_ipaddress, new.static_routes, new.static_rules),
        ssl_changed=old.ssl != new.ssl,
        affected_vrrp_instances=tuple(affected),
    )
