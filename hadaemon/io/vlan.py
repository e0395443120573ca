"""Where the eBPF VRRP filter sits for an interface, and under which (ifindex, VLAN) key.

A router usually runs VRRP on VLAN sub-interfaces (``eth0.100``). The filter
(``bpf/vrrp_filter.bpf.c``) parses up to two 802.1Q/802.1ad tags and keys its ``vrid_bitmap``
and ``last_seen`` maps by (ifindex, innermost VLAN id, family[, VRID]), so one program on the
*lower* device judges every VLAN on it, before the kernel hands the frame to the VLAN device:

    instance on eth0.100        -> hook on eth0, key (ifindex(eth0), vlan 100)
    instance on eth0.100.200    -> hook on eth0, key (ifindex(eth0), vlan 200)   (QinQ)
    instance on eth0            -> hook on eth0, key (ifindex(eth0), vlan 0)

The raw socket stays on the instance's own interface (it receives the untagged advert after
the VLAN device took it), so the receive path translates between the socket's ifindex and the
hook's (ifindex, VLAN) key in both directions (:class:`HookTarget`).

Where that is not possible the filter sits on the interface itself with VLAN 0 (generic XDP
and tc both run on a VLAN device too, after the tag was taken off): more than two stacked tags
(the program skips two), a lower device in another network namespace, or a lower device that
cannot be found.

Which hook: generic XDP runs before the stack looks at tags, so it sees a tag in the frame
only if nothing before it moved the tag into the packet's metadata, and would otherwise key the
advert as VLAN 0 (and judge it by the untagged bitmap). Tags are moved by a NIC with
``rx-vlan-hw-parse`` on (``ethtool -k``: rx-vlan-offload), and by the receive path of any
device whose frames came through another device: a bridge, a bond, a veth whose peer sent from
a VLAN device. tc ingress sees both, the moved tag as ``skb->vlan_tci`` and any further tag in
the frame. So a device carrying VLAN instances gets the tc hook, unless it is a physical NIC
(no link kind) with tag offload off (:func:`hook_mode`).

:func:`hook_target` and :func:`hook_mode` are pure; :func:`read_links` and
:func:`rx_vlan_offload` ask the kernel.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("hadaemon.bpf")

#: tags the program skips (``VRRP_MAX_VLAN_DEPTH`` in ``bpf/vrrp_filter.h``)
MAX_VLAN_DEPTH = 2


@dataclass(frozen=True, slots=True)
class LinkInfo:
    """What :func:`hook_target` needs to know about one link (from ``RTM_NEWLINK``)."""

    ifindex: int
    ifname: str
    kind: str = ""
    """``IFLA_INFO_KIND``: "vlan", "veth", "macvlan", ... ("" for a physical NIC)."""
    lower_ifindex: int = 0
    """``IFLA_LINK``: the device a VLAN sits on (0: none)."""
    vlan_id: int = 0
    """``IFLA_VLAN_ID`` of a VLAN device (1..4094)."""
    lower_elsewhere: bool = False
    """``IFLA_LINK_NETNSID`` is set: the lower device lives in another network namespace."""


@dataclass(frozen=True, slots=True)
class HookTarget:
    """Where the filter runs for one interface, and the map key its adverts get there."""

    ifname: str
    """Device the XDP/tc program is attached to (the lowest device of a VLAN stack)."""
    ifindex: int
    vlan: int = 0
    """Innermost VLAN id the program sees on ``ifname`` for this interface (0: untagged)."""
    kind: str = ""
    """Link kind of ``ifname`` ("" for a physical NIC, "bridge", "bond", "veth", ...)."""

    @property
    def key(self) -> tuple[int, int]:
        """(ifindex, vlan) as the maps key it."""
        return (self.ifindex, self.vlan)


def hook_target(ifindex: int, links: Mapping[int, LinkInfo]) -> HookTarget:
    """The hook device and (ifindex, VLAN) key for adverts received on ``ifindex``.

    ``links`` maps ifindex to :class:`LinkInfo` for the namespace. An interface that is not a
    VLAN, a VLAN stack deeper than :data:`MAX_VLAN_DEPTH`, or a stack whose lower device is
    in another namespace or missing is its own target with VLAN 0.
    """
    me = links.get(ifindex)
    if me is None:
        raise KeyError(f"no link with ifindex {ifindex}")
    own = HookTarget(me.ifname, me.ifindex, 0, me.kind)
    if me.kind != "vlan" or not 1 <= me.vlan_id <= 4094:
        return own
    cur = me
    depth = 0
    seen = {me.ifindex}
    while cur.kind == "vlan":
        depth += 1
        if depth > MAX_VLAN_DEPTH or cur.lower_elsewhere or not cur.lower_ifindex:
            return own
        lower = links.get(cur.lower_ifindex)
        if lower is None or lower.ifindex in seen:
            return own
        seen.add(lower.ifindex)
        cur = lower
    return HookTarget(cur.ifname, cur.ifindex, me.vlan_id, cur.kind)


def hook_mode(requested: str, vlans: bool, rx_offload: bool | None, kind: str = "") -> str:
    """The attach mode for a hook device: ``requested`` ("auto", "xdp", "tc") unless "auto"
    must become "tc" because the device carries VLAN instances (``vlans``) and its tags may
    reach the hook outside the frame: it is not a physical NIC (``kind`` set), or it strips
    tags in hardware, or might (``rx_offload`` None: unknown)."""
    if requested == "auto" and vlans and (kind or rx_offload is not False):
        return "tc"
    return requested


# -- the kernel -------------------------------------------------------------------------------
def link_info(msg: Any) -> LinkInfo:
    """A :class:`LinkInfo` from a pyroute2 ``ifinfmsg``."""
    kind = ""
    vlan_id = 0
    li = msg.get_attr("IFLA_LINKINFO")
    if li is not None:
        kind = li.get_attr("IFLA_INFO_KIND") or ""
        data = li.get_attr("IFLA_INFO_DATA")
        if kind == "vlan" and data is not None and hasattr(data, "get_attr"):
            vlan_id = int(data.get_attr("IFLA_VLAN_ID") or 0)
    return LinkInfo(
        ifindex=int(msg["index"]),
        ifname=str(msg.get_attr("IFLA_IFNAME") or ""),
        kind=str(kind),
        lower_ifindex=int(msg.get_attr("IFLA_LINK") or 0),
        vlan_id=vlan_id,
        lower_elsewhere=msg.get_attr("IFLA_LINK_NETNSID") is not None,
    )


def read_links() -> dict[int, LinkInfo]:
    """Every link of this network namespace (pyroute2; call it outside a running loop)."""
    from pyroute2 import IPRoute

    with IPRoute() as ipr:
        return {li.ifindex: li for li in (link_info(m) for m in ipr.get_links())}


def rx_vlan_offload(ifname: str) -> bool | None:
    """Whether ``ifname`` strips VLAN tags in hardware (``rx-vlan-hw-parse`` or
    ``rx-vlan-stag-hw-parse`` on); None when the kernel cannot tell (ethtool netlink)."""
    try:
        from pyroute2.ethtool import Ethtool

        eth = Ethtool()
        try:
            feats = eth.get_features(ifname).features
        finally:
            eth.close()
    except Exception as exc:  # no ethtool netlink, device gone, ...
        log.debug("cannot read the offload features of %s: %s", ifname, exc)
        return None
    names = ("rx-vlan-hw-parse", "rx-vlan-stag-hw-parse")
    on = [bool(feats[n].enable) for n in names if n in feats]
    return any(on) if on else None


def resolve_target(ifname: str, ifindex: int) -> HookTarget:
    """:func:`hook_target` for ``ifname`` from the kernel's link table (own target, VLAN 0,
    when the table cannot be read). Safe to call from inside a running event loop."""
    from hadaemon.io.bpf import _outside_event_loop

    try:
        links = _outside_event_loop(read_links)
        return hook_target(ifindex, links)
    except Exception as exc:  # netlink error, link gone meanwhile
        log.debug("cannot resolve the eBPF hook for %s: %s", ifname, exc)
        return HookTarget(ifname, ifindex, 0, "?")


def rx_vlan_offload_safe(ifname: str) -> bool | None:
    """:func:`rx_vlan_offload`, callable from inside a running event loop."""
    from hadaemon.io.bpf import _outside_event_loop

    try:
        return _outside_event_loop(rx_vlan_offload, ifname)  # type: ignore[no-any-return]
    except Exception:
        return None
