"""nftables backend (python3-nftables / libnftables): the default LVS data path.

Layout (see hadaemon/lvs/README.md and reference/datapath.md §1–2)::

    table ip hadaemon {                                  # NAT services
      map svc { type ipv4_addr . inet_proto . inet_service : verdict }  # VIP·proto·port → vs_*
      map fwm { type mark : verdict }                                   # fwmark → jump vs_*
      chain prerouting { type nat hook prerouting priority dstnat; policy accept;
        ip daddr . meta l4proto . th dport vmap @svc
        meta mark vmap @fwm }
      set rsin/rsout/rsnew { …; flags dynamic; counter }   # per-server NAT counters
      chain forward { type filter hook forward …; ct status dnat update @rsin { … } … }
      chain vs_<vs> {                        # NAT without persistence: servers in the map
        meta l4proto tcp dnat ip to <numgen inc | numgen random | jhash …> mod N
            map { slot : <rs> . <port> }
        counter                              # packets that found no server
      }
      set p_<vs>__<rs> { type ipv4_addr; flags dynamic,timeout; timeout <persistence>s }
      chain vs_<vs> {                        # with persistence: per-server chains
        ip saddr & <granularity> @p_<vs>__<rs> goto rs_<vs>__<rs>
        <scheduler key> mod N vmap { slot : goto rs_… }
        counter
      }
      chain rs_<vs>__<rs> { update @p_… { ip saddr & <granularity> } counter dnat to <rs>:<port> }
    }
    table ip6 hadaemon { … }                      # IPv6 NAT services: the same objects with
                                                  # ipv6_addr keys, ip6 saddr/daddr, dnat ip6
    table netdev hadaemon {                       # DR services (stateless, before conntrack)
      map svc { … }  chain ing_<dev> { type filter hook ingress device <dev> … vmap @svc }
      chain vs_<vs> { jhash ip saddr . th sport mod N vmap { … } }     # flow hash, never numgen
      chain rs_<vs>__<rs> { counter fwd ip to <rs> device <dev> }  # IPv6: map svc6, fwd ip6
    }

Design rules forced by nftables 1.0.6 (datapath.md §1 caveats): no ``typeof`` sets/maps, no
named maps with concatenated data, hash/numgen keys only in *anonymous* maps. No per-server
stateful objects (libnftables fetches every object before each batch). Every change
is one text buffer passed to one ``Nftables.cmd()`` call = one kernel transaction (all or nothing).

Every rule carries a comment ``hd <fingerprint> …`` so that :meth:`NftBackend.read_actual` can
tell, from a listing, whether a service is intact; a rule or element deleted by hand makes the
service "damaged" and the next reconcile rewrites it.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from hadaemon.lvs import sched
from hadaemon.lvs.backend import BackendError
from hadaemon.lvs.model import Match, Real, Service, real_tag, v6_granularity_mask
from hadaemon.lvs.reconcile import (
    ActualState,
    AddService,
    DeleteService,
    EnsureBase,
    Op,
    UpdateService,
)

log = logging.getLogger("hadaemon.lvs.nft")

TABLE = "hadaemon"
NAT_T = f"ip {TABLE}"
NAT6_T = f"ip6 {TABLE}"
DR_T = f"netdev {TABLE}"
#: NAT tables per address family: (nft family, table, address type, payload protocol)
NAT_FAMILIES = (("ip", NAT_T, "ipv4_addr", "ip"), ("ip6", NAT6_T, "ipv6_addr", "ip6"))
_COMMENT = re.compile(r"^hd ([0-9a-f]+) (\d+)/(\d+)(?: m=(\d+) r=(\d+))?$")
_RS_COMMENT = re.compile(r"^hd rs ([0-9a-f]+)$")


def vs_chain(name: str) -> str:
    return f"vs_{name}"


def rs_chain(name: str, r: Real) -> str:
    return f"rs_{name}__{real_tag(r)}"


def p_set(name: str, r: Real) -> str:
    return f"p_{name}__{real_tag(r)}"


def _table(svc: Service) -> str:
    return f"{_fam(svc)} {TABLE}"


def _fam(svc: Service) -> str:
    if svc.method == "DR":
        return "netdev"
    return "ip6" if svc.family == 6 else "ip"


def _proto(svc: Service) -> str:
    """The payload protocol keyword for addresses of ``svc`` (``ip`` or ``ip6``)."""
    return "ip6" if svc.family == 6 else "ip"


def _addr_type(svc: Service) -> str:
    return "ipv6_addr" if svc.family == 6 else "ipv4_addr"


def _norm(addr: str) -> str:
    """An address as nft lists it back (IPv6 compressed; anything else unchanged)."""
    if ":" not in addr:
        return addr
    try:
        return str(ipaddress.ip_address(addr))
    except ValueError:
        return addr


def _hostport(addr: str, port: int) -> str:
    """``addr:port`` for a dnat statement (``[addr]:port`` for IPv6)."""
    return f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}"


def _saddr_masked(svc: Service) -> str:
    """The persistence key: the client address under ``persistence_granularity``."""
    if svc.family != 6:
        return f"ip saddr & {svc.persistence_granularity}"
    mask = v6_granularity_mask(svc.persistence_granularity)
    if mask is None or mask == "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff":
        return "ip6 saddr"
    return f"ip6 saddr & {mask}"


def _q(s: str) -> str:
    return json.dumps(s)


def _elem_key(m: Match) -> str:
    return str(m.fwmark) if m.fwmark else f"{_norm(m.address)} . {m.protocol} . {m.port}"


def _elem_map(m: Match, svc: Service) -> str:
    if m.fwmark:
        return "fwm"
    # the netdev (DR) table has one dispatch map per address family
    return "svc6" if svc.method == "DR" and svc.family == 6 else "svc"


@dataclass
class _Owned:
    """Objects of one service in the kernel (or as last applied).

    Never changed once built (``render_service`` returns a new one), so ``apply`` copies only the
    dict that holds them.
    """

    family: str
    fingerprint: str = ""
    chains: set[str] = field(default_factory=set)
    sets: set[str] = field(default_factory=set)
    keys: set[tuple[str, str]] = field(default_factory=set)  # (map, element key text)
    #: rs chain -> digest of its one rule (unchanged servers are not rewritten)
    rs_hash: dict[str, str] = field(default_factory=dict)


def _hash_key(svc: Service, flow: bool) -> str:
    key = f"{_proto(svc)} saddr"
    if (svc.hash_port or flow) and not any(m.fwmark for m in svc.matches):
        key += " . th sport"
    return key


def direct(svc: Service) -> bool:
    """NAT without persistence: servers sit in the scheduler's map, no per-server chains.

    (libnftables fetches every chain and rule before each batch, so fewer chains = faster
    batches; per-server chains are kept where they are needed: persistence and DR.)
    """
    return svc.method == "NAT" and not svc.persistence_timeout_s


def _nat_form(svc: Service) -> tuple[str, bool]:
    """``(head, with_port)``: the dnat statement head and whether targets carry a port."""
    protos = {m.protocol for m in svc.matches if not m.fwmark}
    fwmark = any(m.fwmark for m in svc.matches)
    if not fwmark and len(protos) == 1 and all(r.port for r in svc.reals):
        return f"meta l4proto {protos.pop()} dnat {_proto(svc)} to", True
    return f"dnat {_proto(svc)} to", False


def scheduler_rule(svc: Service) -> str | None:
    """The scheduling statement of a service (None when no server may take new connections).

    Per-server chains: ``<key> vmap { slot : goto rs_… }``; direct NAT:
    ``meta l4proto tcp dnat ip to <key> map { slot : ip . port }``.
    """
    active = svc.active_reals
    if not active:
        return None
    is_direct = direct(svc)
    head, with_port = _nat_form(svc)
    if is_direct:
        targets = [f"{r.address} . {r.port}" if with_port else r.address for r in active]
    else:
        targets = [rs_chain(svc.name, r) for r in active]

    def wrap(key: str, ranges: Sequence[tuple[int, int, int]]) -> str:
        items = _ranges(ranges, targets, not is_direct)
        return f"{head} {key} map {{ {items} }}" if is_direct else f"{key} vmap {{ {items} }}"

    weights = [r.weight for r in active]
    dr = svc.method == "DR"
    s = svc.scheduler
    if s == "fo":
        best = max(range(len(active)), key=lambda i: (weights[i], -i))
        if not is_direct:
            return f"goto {targets[best]}"
        r = active[best]
        return f"{head} {_hostport(r.address, r.port)}" if with_port else f"{head} {r.address}"
    if s == "mh":
        size = sched.maglev_size(len(active))
        table = sched.maglev_table([str(r) for r in active], weights, size)
        key = f"jhash {_hash_key(svc, False)} mod {size} seed {svc.seed:#x}"
        return wrap(key, sched.compress(table))
    if s == "random" and not dr:
        mod, ranges = sched.random_ranges(weights)
        return wrap(f"numgen random mod {mod}", ranges)
    if s == "rr":
        slots = list(range(len(active)))
    else:
        slots = sched.smooth_wrr_slots(weights)
    if s == "sh" or dr:
        # sh, and every scheduler in DR: stateless, so hash the flow (never numgen per packet)
        key = f"jhash {_hash_key(svc, dr and s != 'sh')} mod {len(slots)} seed {svc.seed:#x}"
    else:
        key = f"numgen inc mod {len(slots)}"
    return wrap(key, sched.compress(slots))


def _ranges(
    ranges: Sequence[tuple[int, int, int]], targets: Sequence[str], verdict: bool = True
) -> str:
    parts = []
    for lo, hi, i in ranges:
        k = str(lo) if lo == hi else f"{lo}-{hi}"
        parts.append(f"{k} : goto {targets[i]}" if verdict else f"{k} : {targets[i]}")
    return ", ".join(parts)


def _rs_rule(svc: Service, r: Real) -> str:
    parts: list[str] = []
    if svc.persistence_timeout_s:
        parts.append(f"update @{p_set(svc.name, r)} {{ {_saddr_masked(svc)} }}")
    parts.append("counter")
    if svc.method == "DR":
        parts.append(f"fwd {_proto(svc)} to {r.address} device {_q(r.device)}")
    else:
        protos = {m.protocol for m in svc.matches if not m.fwmark}
        fwmark = any(m.fwmark for m in svc.matches)
        if r.port and not fwmark and len(protos) == 1:
            parts.append(f"meta l4proto {protos.pop()} dnat to {_hostport(r.address, r.port)}")
        else:
            parts.append(f"dnat to {r.address}")
    return " ".join(parts)


def render_service(
    svc: Service, old: _Owned | None, recreate_sets: bool
) -> tuple[list[str], _Owned]:
    """Commands making the kernel objects of ``svc`` exactly as desired, and its owned set."""
    t = _table(svc)
    fp = svc.fingerprint()
    vs = vs_chain(svc.name)
    new = _Owned(_fam(svc), fp)
    # an existing chain is only flushed: "add chain" would cost a parse and a kernel message
    cmds = [] if old is not None and vs in old.chains else [f"add chain {t} {vs}"]
    cmds.append(f"flush chain {t} {vs}")
    new.chains.add(vs)
    want_rs = {} if direct(svc) else {rs_chain(svc.name, r): r for r in svc.reals}
    want_sets = {p_set(svc.name, r): r for r in svc.reals} if svc.persistence_timeout_s else {}
    if old is not None:
        for ch in sorted(old.chains - set(want_rs) - {vs}):
            cmds.append(f"flush chain {t} {ch}")
    rs_rules = {ch: _rs_rule(svc, r) for ch, r in want_rs.items()}
    rewrite: list[str] = []
    for ch, rule in rs_rules.items():
        h = _digest(rule)
        new.chains.add(ch)
        new.rs_hash[ch] = h
        if old is not None and ch in old.chains and old.rs_hash.get(ch) == h:
            continue  # unchanged server: keep its chain (and counters) as they are
        cmds += [f"add chain {t} {ch}", f"flush chain {t} {ch}"]
        rewrite.append(ch)
    if old is not None:
        # only now: a kept server chain that referenced a persistence set has been flushed
        # (deleting a set a rule still uses fails the whole batch with EBUSY)
        for st in sorted(old.sets - set(want_sets)):
            cmds.append(f"delete set {t} {st}")
        for ch in sorted(old.chains - set(want_rs) - {vs}):
            cmds.append(f"delete chain {t} {ch}")
    for st, r in want_sets.items():
        exists = old is not None and st in old.sets
        if exists and recreate_sets:
            cmds.append(f"delete set {t} {st}")
        if not exists or recreate_sets:
            cmds.append(
                f"add set {t} {st} {{ type {_addr_type(svc)}; flags dynamic,timeout; "
                f"timeout {svc.persistence_timeout_s}s; }}"
            )
        if r.weight <= 0:
            cmds.append(f"flush set {t} {st}")
        new.sets.add(st)
    for ch in rewrite:
        cmds.append(f"add rule {t} {ch} {rs_rules[ch]} comment {_q('hd rs ' + new.rs_hash[ch])}")
    vs_rules: list[str] = []
    if svc.persistence_timeout_s:
        for r in svc.active_reals:
            vs_rules.append(
                f"{_saddr_masked(svc)} @{p_set(svc.name, r)} goto {rs_chain(svc.name, r)}"
            )
    sr = scheduler_rule(svc)
    if sr is not None:
        vs_rules.append(sr)
    n = len(vs_rules)
    for i, rule in enumerate(vs_rules):
        cmds.append(f"add rule {t} {vs} {rule} comment {_q(f'hd {fp} {i}/{n}')}")
    cmds.append(
        f"add rule {t} {vs} counter comment "
        f"{_q(f'hd {fp} {n}/{n} m={len(svc.matches)} r={len(want_rs)}')}"
    )
    want_keys = {(_elem_map(m, svc), _elem_key(m)) for m in svc.matches}
    old_keys = old.keys if old is not None else set()
    for mp, k in sorted(old_keys - want_keys):
        cmds.append(f"delete element {t} {mp} {{ {k} }}")
    for mp, k in sorted(want_keys - old_keys):
        cmds.append(f"add element {t} {mp} {{ {k} : jump {vs} }}")
    new.keys = want_keys
    return cmds, new


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=6).hexdigest()


def render_delete(owned: _Owned) -> list[str]:
    """Commands removing every object of one service."""
    t = f"{owned.family} {TABLE}"
    cmds = [f"delete element {t} {mp} {{ {k} }}" for mp, k in sorted(owned.keys)]
    cmds += [f"flush chain {t} {ch}" for ch in sorted(owned.chains)]
    cmds += [f"delete set {t} {st}" for st in sorted(owned.sets)]
    cmds += [f"delete chain {t} {ch}" for ch in sorted(owned.chains)]
    return cmds


def render_base(devices: Sequence[str], old_devices: Sequence[str]) -> list[str]:
    """Tables, dispatch maps and hook chains (``ip`` and ``ip6`` NAT tables, netdev DR table)."""
    cmds: list[str] = []
    for _f, t, atype, pr in NAT_FAMILIES:
        cmds += [
            f"add table {t}",
            f"add map {t} svc {{ type {atype} . inet_proto . inet_service : verdict; }}",
            f"add map {t} fwm {{ type mark : verdict; }}",
            f"add chain {t} prerouting {{ type nat hook prerouting priority dstnat; "
            "policy accept; }",
            f"flush chain {t} prerouting",
            f"add rule {t} prerouting {pr} daddr . meta l4proto . th dport vmap @svc "
            'comment "hd base"',
            f'add rule {t} prerouting meta mark vmap @fwm comment "hd base"',
            # per real server packet/byte/connection counters of NAT connections: dynamic sets
            # with a counter per element, filled by the packets themselves (no per-server
            # objects: a named counter per server would make libnftables fetch thousands of
            # objects per batch)
            *(
                f"add set {t} {st} {{ type {atype} . inet_proto . inet_service; "
                "size 65535; flags dynamic; counter; }"
                for st in ("rsin", "rsout", "rsnew")
            ),
            f"add chain {t} forward {{ type filter hook forward priority filter; "
            "policy accept; }",
            f"flush chain {t} forward",
            f"add rule {t} forward ct status dnat ct direction original "
            f'update @rsin {{ {pr} daddr . meta l4proto . th dport }} comment "hd base"',
            f"add rule {t} forward ct status dnat ct direction reply "
            f'update @rsout {{ {pr} saddr . meta l4proto . th sport }} comment "hd base"',
            f"add rule {t} forward ct state new ct status dnat "
            f'update @rsnew {{ {pr} daddr . meta l4proto . th dport }} comment "hd base"',
        ]
    cmds += [
        f"add table {DR_T}",
        f"add map {DR_T} svc {{ type ipv4_addr . inet_proto . inet_service : verdict; }}",
        f"add map {DR_T} svc6 {{ type ipv6_addr . inet_proto . inet_service : verdict; }}",
        f"add map {DR_T} fwm {{ type mark : verdict; }}",
    ]
    for dev in sorted(set(old_devices) - set(devices)):
        cmds.append(f"delete chain {DR_T} {_ing(dev)}")
    for dev in devices:
        cmds += [
            f"add chain {DR_T} {_ing(dev)} {{ type filter hook ingress device {_q(dev)} "
            "priority 0; policy accept; }",
            f"flush chain {DR_T} {_ing(dev)}",
            f"add rule {DR_T} {_ing(dev)} ip daddr . meta l4proto . th dport vmap @svc "
            f"comment {_q('hd base dev=' + dev)}",
            f"add rule {DR_T} {_ing(dev)} ip6 daddr . meta l4proto . th dport vmap @svc6 "
            f"comment {_q('hd base dev=' + dev)}",
        ]
    return cmds


CounterKey = tuple[str, str, int]  # (real server address, protocol, port)


def _ing(dev: str) -> str:
    # "?ing_x": a hook chain found in the kernel whose device is unknown (damaged comment)
    if dev.startswith("?"):
        return dev[1:]
    return "ing_" + re.sub(r"[^A-Za-z0-9]+", "_", dev)


class NftBackend:
    """The nftables data path. Loads libnftables lazily (only the LVS worker does)."""

    name = "nft"

    def __init__(self) -> None:
        import nftables  # python3-nftables

        self._nft = nftables.Nftables()
        self._nft.set_json_output(True)
        self._nft.set_handle_output(False)
        self._owned: dict[str, _Owned] = {}
        self._applied: dict[str, Service] = {}
        self._devices: tuple[str, ...] = ()
        self._base = False
        #: the text of the last batch (for logs and the listing test)
        self.last_batch = ""

    # -- low level -------------------------------------------------------------------------
    def run(self, text: str) -> str:
        """Run nft commands as one transaction; raise :class:`BackendError` with nft's error."""
        rc, out, err = self._nft.cmd(text)
        if rc != 0:
            raise BackendError((err or out or f"nft rc={rc}").strip())
        return str(out)

    def list_ruleset(self) -> list[dict[str, Any]]:
        """The hadaemon tables (ip, ip6, netdev) as nft JSON objects ([] when absent)."""
        objs: list[dict[str, Any]] = []
        for t in (NAT_T, NAT6_T, DR_T):
            rc, out, err = self._nft.cmd(f"list table {t}")
            if rc != 0:
                continue
            objs += [o for o in json.loads(out)["nftables"] if "metainfo" not in o]
        return objs

    # -- Backend protocol ------------------------------------------------------------------
    def cached_actual(self) -> ActualState:
        return ActualState(
            {n: o.fingerprint for n, o in self._owned.items()}, self._base, self._devices
        )

    def read_actual(self) -> ActualState:
        """Parse the kernel tables; damaged services get an empty fingerprint."""
        objs = self.list_ruleset()
        owned, base_ok, devices = _parse(objs)
        self._owned = owned
        self._base = base_ok
        self._devices = devices
        self._applied = {
            n: s
            for n, s in self._applied.items()
            if n in owned and owned[n].fingerprint == s.fingerprint()
        }
        return self.cached_actual()

    def apply(self, ops: Sequence[Op], desired: Sequence[Service]) -> None:
        """Render ``ops`` into one nft transaction; on failure nothing changes."""
        if not ops:
            return
        cmds: list[str] = []
        # shallow: render_service never mutates an _Owned, it returns a new one
        owned = dict(self._owned)
        devices, base = self._devices, self._base
        applied = dict(self._applied)
        # deletes first (frees dispatch keys), then the rest
        for op in ops:
            if isinstance(op, DeleteService):
                o = owned.pop(op.name, None)
                applied.pop(op.name, None)
                if o is not None:
                    cmds += render_delete(o)
        for op in ops:
            if isinstance(op, EnsureBase):
                cmds = render_base(op.devices, devices) + cmds
                devices, base = op.devices, True
            elif isinstance(op, AddService | UpdateService):
                svc = op.service
                old = owned.get(svc.name)
                if old is not None and old.family != _fam(svc):
                    cmds += render_delete(old)
                    old = None
                prev = applied.get(svc.name)
                recreate = prev is None or (
                    prev.persistence_timeout_s,
                    prev.persistence_granularity,
                ) != (svc.persistence_timeout_s, svc.persistence_granularity)
                c, new = render_service(svc, old, recreate)
                cmds += c
                owned[svc.name] = new
                applied[svc.name] = svc
        text = "\n".join(cmds) + "\n"
        self.last_batch = text
        try:
            self.run(text)
        except BackendError as e:
            log.error("nft transaction failed, previous rules kept: %s", e)
            raise
        self._owned, self._devices, self._base, self._applied = owned, devices, base, applied

    def counters(self) -> dict[str, dict[str, dict[str, int]]]:
        """Per real server counters, keyed by service name and ``"ip:port"``.

        NAT (dynamic counter sets fed from the forward hook, per server address·protocol·port,
        shared when one server is in several services): ``conns`` new connections,
        ``inpkts/inbytes`` client → server and ``outpkts/outbytes`` back. DR: the ``rs_*``
        netdev chain sees every client packet, so ``inpkts/inbytes`` (IPVS's InPkts/InBytes;
        replies bypass the director). ``packets``/``bytes`` are the sums of both directions.
        """
        objs = self.list_ruleset()
        stats: dict[str, dict[CounterKey, tuple[int, int]]] = {}
        for o in objs:
            st = o.get("set")
            if (
                not st
                or st.get("family") not in ("ip", "ip6")
                or st.get("name") not in ("rsin", "rsout", "rsnew")
            ):
                continue
            per = stats.setdefault(st["name"], {})
            for e in st.get("elem", []) or []:
                inner = e.get("elem", {}) if isinstance(e, dict) else {}
                val, c = inner.get("val", {}), inner.get("counter") or {}
                if isinstance(val, dict) and "concat" in val:
                    a, p, port = val["concat"]
                    per[(_norm(str(a)), str(p), int(port))] = (
                        int(c.get("packets", 0)),
                        int(c.get("bytes", 0)),
                    )
        chain_counter: dict[str, dict[str, Any]] = {}
        for o in objs:
            rule = o.get("rule")
            if rule and rule["family"] == "netdev" and rule["chain"].startswith("rs_"):
                c = next((e["counter"] for e in rule["expr"] if "counter" in e), None)
                if c is not None:
                    chain_counter[rule["chain"]] = c
        out: dict[str, dict[str, dict[str, int]]] = {}
        for name, svc in self._applied.items():
            for r in svc.reals:
                entry = {"conns": 0, "inpkts": 0, "inbytes": 0, "outpkts": 0, "outbytes": 0}
                if svc.method == "DR":
                    c = chain_counter.get(rs_chain(name, r))
                    if c is not None:
                        entry["inpkts"], entry["inbytes"] = int(c["packets"]), int(c["bytes"])
                else:
                    for m in svc.matches:
                        if m.fwmark:
                            continue
                        k = (_norm(r.address), m.protocol, r.port or m.port)
                        for st, what in (("rsin", "in"), ("rsout", "out")):
                            pk, by = stats.get(st, {}).get(k, (0, 0))
                            entry[f"{what}pkts"] += pk
                            entry[f"{what}bytes"] += by
                        entry["conns"] += stats.get("rsnew", {}).get(k, (0, 0))[0]
                entry["packets"] = entry["inpkts"] + entry["outpkts"]
                entry["bytes"] = entry["inbytes"] + entry["outbytes"]
                out.setdefault(name, {})[str(r)] = entry
        return out

    def destroy(self) -> None:
        """Delete the hadaemon tables (idempotent)."""
        for t in (NAT_T, NAT6_T, DR_T):
            self._nft.cmd(f"delete table {t}")
        self._owned.clear()
        self._applied.clear()
        self._devices = ()
        self._base = False

    def check(self, svc: Service) -> list[str]:
        return check_service(svc)

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, "services": sorted(self._owned), "devices": self._devices}


def _parse(objs: list[dict[str, Any]]) -> tuple[dict[str, _Owned], bool, tuple[str, ...]]:
    """Rebuild the owned-object view from a listing of both tables."""
    tables = {o["table"]["family"] for o in objs if "table" in o}
    chains: dict[tuple[str, str], list[dict[str, Any]]] = {}
    hooks: dict[tuple[str, str], dict[str, Any]] = {}
    sets: dict[tuple[str, str], dict[str, Any]] = {}
    maps: dict[tuple[str, str], dict[str, Any]] = {}
    for o in objs:
        if "chain" in o:
            c = o["chain"]
            chains[(c["family"], c["name"])] = []
            if "hook" in c:
                hooks[(c["family"], c["name"])] = c
        elif "rule" in o:
            r = o["rule"]
            chains.setdefault((r["family"], r["chain"]), []).append(r)
        elif "set" in o:
            sets[(o["set"]["family"], o["set"]["name"])] = o["set"]
        elif "map" in o:
            maps[(o["map"]["family"], o["map"]["name"])] = o["map"]
    base_ok = {"ip", "ip6", "netdev"} <= tables and all(
        (f, m) in maps for f in ("ip", "ip6", "netdev") for m in ("svc", "fwm")
    )
    base_ok = base_ok and ("netdev", "svc6") in maps
    base_ok = base_ok and all(
        (f, st) in sets for f in ("ip", "ip6") for st in ("rsin", "rsout", "rsnew")
    )
    for fam in ("ip", "ip6"):
        for hook, n_rules in (("prerouting", 2), ("forward", 3)):
            rules = chains.get((fam, hook))
            if (
                rules is None
                or len(rules) != n_rules
                or any(r.get("comment") != "hd base" for r in rules)
            ):
                base_ok = False
    devices: list[str] = []
    for (fam, name), _c in hooks.items():
        if fam == "netdev" and name.startswith("ing_"):
            # nft 1.0.6 JSON does not list a netdev chain's device: it is kept in the comment
            rules = chains.get((fam, name), [])
            comments = {str(r.get("comment", "")) for r in rules}
            comment = comments.pop() if len(rules) == 2 and len(comments) == 1 else ""
            if not comment.startswith("hd base dev="):
                base_ok = False
                devices.append("?" + name)
            else:
                devices.append(comment[len("hd base dev=") :])
    owned: dict[str, _Owned] = {}

    def get(fam: str, svc: str) -> _Owned:
        return owned.setdefault(svc, _Owned(fam))

    for (fam, name), mp in maps.items():
        if name not in ("svc", "svc6", "fwm"):
            continue
        for elem in mp.get("elem", []) or []:
            key, verdict = elem
            target = verdict.get("jump", {}).get("target", "")
            if not target.startswith("vs_"):
                continue
            get(fam, target[3:]).keys.add((name, _key_text(key)))
    for fam, name in sets:
        if name.startswith("p_"):
            get(fam, name[2:].partition("__")[0]).sets.add(name)
    counts: dict[str, tuple[int, int]] = {}
    damaged: set[str] = set()
    fps: dict[str, set[str]] = {}
    for (fam, name), rules in chains.items():
        if name.startswith("vs_"):
            svc = name[3:]
            get(fam, svc).chains.add(name)
            seen = []
            for r in rules:
                mt = _COMMENT.match(r.get("comment", ""))
                if not mt:
                    damaged.add(svc)
                    continue
                fps.setdefault(svc, set()).add(mt.group(1))
                seen.append((int(mt.group(2)), int(mt.group(3))))
                if mt.group(4) is not None:
                    counts[svc] = (int(mt.group(4)), int(mt.group(5)))
            if not seen or seen != [(i, seen[0][1]) for i in range(seen[0][1] + 1)]:
                damaged.add(svc)
        elif name.startswith("rs_"):
            svc = name[3:].partition("__")[0]
            get(fam, svc).chains.add(name)
            mt = _RS_COMMENT.match(rules[0].get("comment", "")) if len(rules) == 1 else None
            if not mt:
                damaged.add(svc)
            else:
                get(fam, svc).rs_hash[name] = mt.group(1)
    for svc, ow in owned.items():
        f = fps.get(svc, set())
        m_r = counts.get(svc)
        ok = (
            svc not in damaged
            and len(f) == 1
            and m_r is not None
            and len(ow.keys) == m_r[0]
            and len([c for c in ow.chains if c.startswith("rs_")]) == m_r[1]
        )
        ow.fingerprint = f.pop() if ok else ""
    return owned, base_ok, tuple(sorted(devices))


def _key_text(key: Any) -> str:
    if isinstance(key, dict) and "concat" in key:
        a, p, port = key["concat"]
        return f"{_norm(str(a))} . {p} . {port}"
    return str(key)


def check_service(svc: Service) -> list[str]:
    """What this backend cannot do for ``svc`` (empty list when it can)."""
    problems: list[str] = []
    where = ", ".join(str(m) for m in svc.matches)
    if svc.method == "TUN":
        problems.append(
            f"virtual server {where}: lvs_method TUN is not supported by the nftables "
            "data path (use NAT or DR, or a kernel with IPVS)"
        )
    fam: set[int] = set()
    for addr in [m.address for m in svc.matches if not m.fwmark] + [r.address for r in svc.reals]:
        with contextlib.suppress(ValueError):  # a bad address is reported by validate_service
            fam.add(ipaddress.ip_address(addr).version)
    if len(fam) > 1 or (fam and svc.family not in fam):
        problems.append(
            f"virtual server {where}: mixes IPv4 and IPv6 addresses (virtual server, real "
            "servers, sorry server and ip_family must all be one family; the nftables data "
            "path does not translate between families)"
        )
    if svc.method == "DR" and any(m.fwmark for m in svc.matches):
        problems.append(
            f"virtual server {where}: fwmark with lvs_method DR is not supported by "
            "the nftables data path (marks are set after netdev ingress)"
        )
    return problems
