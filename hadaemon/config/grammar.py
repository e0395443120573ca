"""keepalived.conf grammar: token lines → statement tree → model, through a keyword registry.

Layout (ExaBGP-style registry): each block is a :class:`Block` mapping keyword → :class:`Kw`
(handler, argument count, whether it takes a ``{ }`` block, deprecated replacement). Handlers
write field values into an accumulator dict; when a block ends its ``finish`` function builds the
frozen model object and applies keepalived's cross-derived defaults.

Behaviour kept from keepalived: an unknown keyword is a warning ``Unknown keyword 'x'`` and the
rest still loads (an unknown block is skipped whole); deprecated aliases (``nb_get_retry``,
``lb_algo``, ``lb_kind``, ``lvs_sync_daemon_interface`` ...) work with a warning naming the new
keyword. Deviation: in a block opened and closed on one line (``authentication { auth_type PASS
auth_pass X }``) keepalived reads everything after the first keyword as its arguments and so
silently drops ``auth_pass``; hadaemon splits such lines at known keywords and says so.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from hadaemon.config import model as m
from hadaemon.config import pcre
from hadaemon.config.errors import ConfigError, Diagnostics, did_you_mean
from hadaemon.config.lexer import Line, Token, split_script
from hadaemon.config.model import Location
from hadaemon.config.unsupported import warn_not_acted_on

__all__ = ["Stmt", "build_tree", "iter_tree", "Parser", "MAX_BLOCK_DEPTH"]

MAX_BLOCK_DEPTH = 256
_T = TypeVar("_T")


# ============================================================================================
# statement tree
# ============================================================================================


@dataclass(slots=True)
class Stmt:
    """``keyword args... [{ block }]``. ``one_line``: inside a block opened on the same line."""

    kw: Token
    args: list[Token]
    block: list[Stmt] | None = None
    one_line: bool = False
    block_loc: Location | None = None

    @property
    def loc(self) -> Location:
        """Location of the keyword."""
        return self.kw.loc

    def line_tokens(self) -> list[Token]:
        """keyword + arguments (for list blocks where each line is data)."""
        return [self.kw, *self.args]


def build_tree(lines: Iterable[Line], diags: Diagnostics) -> list[Stmt]:
    """Group token lines into statements and blocks (the whole file at once)."""
    return list(iter_tree(lines, diags))


def iter_tree(lines: Iterable[Line], diags: Diagnostics) -> Iterator[Stmt]:
    """Group token lines into statements and blocks, yielding each top-level statement as soon
    as it is complete (so a huge generated config is never held as one tree). Iterative: any
    nesting depth is safe."""
    root: list[Stmt] = []
    stack: list[tuple[list[Stmt], Stmt | None, Location | None]] = [(root, None, None)]
    for line in lines:
        cur: Stmt | None = None
        for tok in line:
            text = tok.text
            if text == "{" and not tok.quoted:
                target = cur
                if target is None:
                    lst = stack[-1][0]
                    if lst and lst[-1].block is None and lst[-1].kw.file == tok.file:
                        target = lst[-1]  # "keyword\n{" style
                if target is None or target.block is not None:
                    diags.error("unexpected '{' (no keyword before it)", tok.loc)
                    continue
                if len(stack) > MAX_BLOCK_DEPTH:
                    raise ConfigError(
                        f"blocks nested more than {MAX_BLOCK_DEPTH} deep",
                        tok.loc,
                        cannot_run=False,
                    )
                target.block = []
                target.block_loc = tok.loc
                stack.append((target.block, target, tok.loc))
                cur = None
            elif text == "}" and not tok.quoted:
                if len(stack) == 1:
                    diags.error("unexpected '}' (no block is open)", tok.loc)
                    continue
                stack.pop()
                cur = None
            elif cur is None:
                opened = stack[-1][2]
                one_line = (
                    opened is not None and opened.line == tok.line and opened.file == tok.file
                )
                cur = Stmt(tok, [], one_line=one_line)
                if len(stack) == 1 and root:
                    yield root.pop()  # the previous top-level statement can no longer change
                stack[-1][0].append(cur)
            else:
                cur.args.append(tok)
    while len(stack) > 1:
        _lst, opener, oloc = stack.pop()
        assert opener is not None
        diags.error(
            f"missing '}}' for the '{opener.kw.text}' block opened here", oloc or opener.loc
        )
    yield from root


# ============================================================================================
# registry
# ============================================================================================

Acc = dict[str, Any]
Handler = Callable[["Parser", Stmt, Acc], None]


@dataclass(slots=True)
class Kw:
    """One keyword: handler, argument count range, block use, deprecation."""

    handler: Handler
    min_args: int = 0
    max_args: int | None = None
    block: bool | None = False
    """True: needs ``{ }``; False: takes none; None: optional"""
    deprecated: str | None = None
    """the keyword to use instead (warning when used)"""


@dataclass(slots=True)
class Block:
    """A block type: its keywords."""

    name: str
    kws: dict[str, Kw] = field(default_factory=dict)

    def add(self, names: str | Iterable[str], kw: Kw) -> None:
        """Register ``kw`` under one or more names."""
        for n in [names] if isinstance(names, str) else names:
            self.kws[n] = kw

    def alias(self, old: str, new: str) -> None:
        """``old`` behaves as ``new`` with a deprecation warning."""
        k = self.kws[new]
        self.kws[old] = Kw(k.handler, k.min_args, k.max_args, k.block, deprecated=new)


_TRUE = {"on", "true", "yes", "1"}
_FALSE = {"off", "false", "no", "0"}


# ---------------------------------------------------------------------------- value parsers


_IPV4_RE = re.compile(
    r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}"
)


def _is_plain_ipv4(text: str) -> bool:
    """Fast check for a canonical dotted-quad (what ipaddress would accept unchanged)."""
    return _IPV4_RE.fullmatch(text) is not None


def _num_text(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else str(v)


class Parser:
    """Builds a :class:`~hadaemon.config.model.Config` from a statement tree."""

    def __init__(self, diags: Diagnostics) -> None:
        self.diags = diags
        self.global_acc: Acc = {}
        self.lists: dict[str, list[Any]] = {
            k: []
            for k in (
                "vrrp_scripts",
                "track_files",
                "vrrp_track_processes",
                "bfd_instances",
                "vrrp_sync_groups",
                "vrrp_instances",
                "static_ipaddress",
                "static_routes",
                "static_rules",
                "virtual_server_groups",
                "virtual_servers",
            )
        }
        self.ssl: m.SslConfig | None = None
        self.saw_global_defs = False
        self.instance_sync_daemon: list[tuple[str, Token]] = []

    # ------------------------------------------------------------------ value helpers
    def int_arg(self, tok: Token, lo: int, hi: int, what: str | None = None) -> int | None:
        """An integer in [lo, hi], or None after an error."""
        try:
            v = int(tok.text, 0) if tok.text.lower().startswith("0x") else int(tok.text)
        except ValueError:
            self.diags.error(f"{what or 'value'} '{tok.text}' is not an integer", tok.loc)
            return None
        if not lo <= v <= hi:
            self.diags.error(f"{what or 'value'} {v} is outside the range [{lo}, {hi}]", tok.loc)
            return None
        return v

    def float_arg(self, tok: Token, lo: float, hi: float, what: str | None = None) -> float | None:
        """A decimal (timer) value in [lo, hi], or None after an error."""
        try:
            v = float(tok.text)
            if v != v or v in (float("inf"), float("-inf")):
                raise ValueError
        except ValueError:
            self.diags.error(f"{what or 'value'} '{tok.text}' is not a number", tok.loc)
            return None
        if not lo <= v <= hi:
            self.diags.error(
                f"{what or 'value'} {tok.text} is outside the range [{_num_text(lo)}, "
                f"{_num_text(hi)}]",
                tok.loc,
            )
            return None
        return v

    def bool_arg(self, tok: Token) -> bool | None:
        """keepalived ``<BOOL>``."""
        t = tok.text.lower()
        if t in _TRUE:
            return True
        if t in _FALSE:
            return False
        self.diags.error(f"'{tok.text}' is not a boolean (on|off|true|false|yes|no)", tok.loc)
        return None

    def ip_arg(self, tok: Token, what: str = "IP address") -> str | None:
        """A single IPv4/IPv6 address (normalised), or None after an error."""
        if _is_plain_ipv4(tok.text):
            return tok.text
        try:
            return str(ipaddress.ip_address(tok.text.split("%", 1)[0]))
        except ValueError:
            self.diags.error(f"invalid {what} '{tok.text}'", tok.loc)
            return None

    def port_arg(self, tok: Token) -> int | None:
        """A TCP/UDP port 0..65535."""
        return self.int_arg(tok, 0, 65535, "port")

    def script_arg(self, st: Stmt) -> m.Script | None:
        """``keyword "cmd args" [user [group]]``."""
        if not st.args:
            return None
        argv = split_script(st.args[0].text)
        if not argv:
            self.diags.error(f"'{st.kw.text}' needs a script", st.loc)
            return None
        user = st.args[1].text if len(st.args) > 1 else None
        group = st.args[2].text if len(st.args) > 2 else None
        return m.Script(args=tuple(argv), user=user, group=group, location=st.args[0].loc)

    # ------------------------------------------------------------------ block runner
    def run(self, stmts: list[Stmt] | None, block: Block, acc: Acc) -> None:
        """Dispatch every statement of a block through ``block``'s registry."""
        for st in stmts or ():
            self.run_stmt(st, block, acc)

    def run_stmt(self, st: Stmt, block: Block, acc: Acc) -> None:
        """Dispatch one statement."""
        name = st.kw.text
        kw = block.kws.get(name)
        if kw is None:
            self.diags.warning(
                f"Unknown keyword '{name}'" + (" (its block is ignored)" if st.block else ""),
                st.loc,
                did_you_mean(name, block.kws),
            )
            return
        if kw.deprecated:
            self.diags.warning(f"'{name}' is deprecated, use '{kw.deprecated}'", st.loc)
        rest: Stmt | None = None
        split = self._one_line_split(st, kw, block)
        if split is not None:
            nxt = st.args[split]
            rest = Stmt(nxt, st.args[split + 1 :], st.block, one_line=True, block_loc=st.block_loc)
            self.diags.warning(
                f"'{nxt.text}' on the same line as '{name}' inside a one-line block: hadaemon "
                f"reads it as a separate keyword; keepalived would take it as an argument of "
                f"'{name}' and ignore it",
                nxt.loc,
            )
            st = Stmt(st.kw, st.args[:split], None, one_line=True)
        if len(st.args) < kw.min_args:
            need = "a value" if kw.min_args == 1 else f"{kw.min_args} values"
            self.diags.error(f"'{name}' needs {need}", st.loc)
        elif kw.block is True and st.block is None:
            self.diags.error(f"'{name}' needs a {{ }} block", st.loc)
        else:
            if kw.max_args is not None and len(st.args) > kw.max_args:
                extra = st.args[kw.max_args]
                self.diags.warning(
                    f"extra arguments after '{name}' ignored from '{extra.text}'", extra.loc
                )
                st = Stmt(st.kw, st.args[: kw.max_args], st.block, st.one_line, st.block_loc)
            if kw.block is False and st.block is not None:
                self.diags.warning(
                    f"'{name}' takes no {{ }} block; block ignored", st.block_loc or st.loc
                )
            kw.handler(self, st, acc)
            locs = acc.get("__locs__")
            if locs is None:
                locs = acc["__locs__"] = {}
            locs[name] = st.loc
        if rest is not None:
            self.run_stmt(rest, block, acc)

    @staticmethod
    def _one_line_split(st: Stmt, kw: Kw, block: Block) -> int | None:
        """Where a one-line block's statement runs into the next keyword, or None.

        Only inside ``{ ... }`` opened on the same line; the first unquoted argument after the
        keyword's minimum that is itself a keyword of the block starts a new statement.
        """
        if not st.one_line:
            return None
        limit = len(st.args) if kw.max_args is None else min(len(st.args), kw.max_args + 1)
        for i in range(max(kw.min_args, 1 if kw.min_args else 0), limit):
            a = st.args[i]
            if not a.quoted and a.text in block.kws:
                return i
        return None

    # ------------------------------------------------------------------ top level
    def parse(self, tree: Iterable[Stmt]) -> m.Config:
        """Walk the top-level statements and build the Config."""
        for st in tree:
            self.run_stmt(st, TOP, self.global_acc)
        gd = _finish_global(self)
        return _finish_config(self, gd)


# ============================================================================================
# handler factories
# ============================================================================================


def flag(fieldname: str) -> Kw:
    """``keyword [BOOL]`` → True (or the given boolean)."""

    def h(p: Parser, st: Stmt, acc: Acc) -> None:
        v = p.bool_arg(st.args[0]) if st.args else True
        if v is not None:
            acc[fieldname] = v

    return Kw(h, 0, 1)


def set_const(fieldname: str, value: Any, max_args: int = 0) -> Kw:
    """``keyword`` → fixed value."""

    def h(p: Parser, st: Stmt, acc: Acc) -> None:
        acc[fieldname] = value

    return Kw(h, 0, max_args)


def integer(fieldname: str, lo: int, hi: int) -> Kw:
    """``keyword N`` with N in [lo, hi]."""

    def h(p: Parser, st: Stmt, acc: Acc) -> None:
        v = p.int_arg(st.args[0], lo, hi, f"'{st.kw.text}'")
        if v is not None:
            acc[fieldname] = v

    return Kw(h, 1, 1)


def timer(fieldname: str, lo: float, hi: float) -> Kw:
    """``keyword SECONDS`` (decimal) in [lo, hi]."""

    def h(p: Parser, st: Stmt, acc: Acc) -> None:
        v = p.float_arg(st.args[0], lo, hi, f"'{st.kw.text}'")
        if v is not None:
            acc[fieldname] = v

    return Kw(h, 1, 1)


def garp_extra_if(fieldname: str) -> Kw:
    """``[vrrp_]garp_extra_if [all] SECONDS``: sets ``fieldname`` and ``<fieldname>_all``."""

    def h(p: Parser, st: Stmt, acc: Acc) -> None:
        args = st.args
        if args and args[0].text == "all":
            acc[f"{fieldname}_all"] = True
            args = args[1:]
        if args:
            v = p.float_arg(args[0], 0, 86400, f"'{fieldname}'")
            if v is not None:
                acc[fieldname] = v

    return Kw(h, 1, 2)


def word(
    fieldname: str,
    choices: Iterable[str] | None = None,
    upper: bool = False,
    optional: str | None = None,
) -> Kw:
    """``keyword WORD`` (optionally one of ``choices``, case-insensitive)."""
    ch = {c.lower(): c for c in choices} if choices else None

    def h(p: Parser, st: Stmt, acc: Acc) -> None:
        if not st.args:
            acc[fieldname] = optional
            return
        t = st.args[0]
        val = t.text
        if ch is not None:
            if val.lower() not in ch:
                p.diags.error(
                    f"'{st.kw.text}' must be one of {', '.join(ch.values())}, not '{val}'",
                    t.loc,
                    did_you_mean(val, ch.values()),
                )
                return
            val = ch[val.lower()]
        acc[fieldname] = val.upper() if upper else val

    return Kw(h, 0 if optional is not None else 1, 1)


def address(fieldname: str) -> Kw:
    """``keyword IP``."""

    def h(p: Parser, st: Stmt, acc: Acc) -> None:
        v = p.ip_arg(st.args[0])
        if v is not None:
            acc[fieldname] = v

    return Kw(h, 1, 1)


def words(fieldname: str, conv: Callable[[str], Any] = str) -> Kw:
    """``keyword W1 W2 ...`` → tuple."""

    def h(p: Parser, st: Stmt, acc: Acc) -> None:
        try:
            acc[fieldname] = tuple(conv(t.text) for t in st.args)
        except ValueError:
            p.diags.error(f"bad value in '{st.kw.text}'", st.loc)

    return Kw(h, 1, None)


def script(fieldname: str) -> Kw:
    """``keyword "command args" [user [group]]``."""

    def h(p: Parser, st: Stmt, acc: Acc) -> None:
        s = p.script_arg(st)
        if s is not None:
            acc[fieldname] = s

    return Kw(h, 1, 3)


def name_list(fieldname: str) -> Kw:
    """``keyword { NAME ... }`` → tuple of names (one or more per line)."""

    def h(p: Parser, st: Stmt, acc: Acc) -> None:
        names = list(acc.get(fieldname, ()))
        for s in st.block or ():
            names.extend(t.text for t in s.line_tokens())
        acc[fieldname] = tuple(names)

    return Kw(h, 0, 0, True)


def ignored(
    max_args: int | None = None,
    block: bool | None = None,
    deprecated: str | None = None,
    *,
    instead: str | None = None,
) -> Kw:
    """A keyword keepalived knows that hadaemon accepts and does not model. ``instead``: the
    keyword has an effect in keepalived that hadaemon lacks: warn, saying what to do instead."""

    def h(p: Parser, st: Stmt, acc: Acc) -> None:
        if instead is not None:
            warn_not_acted_on(p.diags, st.kw.text, st.loc, instead)

    return Kw(h, 0, max_args, block, deprecated)


def track_list(fieldname: str, what: str) -> Kw:
    """``track_X { NAME [weight N [reverse]] ... }``."""

    def h(p: Parser, st: Stmt, acc: Acc) -> None:
        items = list(acc.get(fieldname, ()))
        for s in st.block or ():
            toks = s.line_tokens()
            weight: int | None = None
            reverse = False
            i = 1
            while i < len(toks):
                t = toks[i].text
                if t == "weight" and i + 1 < len(toks):
                    weight = p.int_arg(toks[i + 1], -253, 253, "weight")
                    i += 2
                elif t == "reverse":
                    reverse = True
                    i += 1
                elif t == "noreverse":
                    i += 1
                else:
                    p.diags.warning(f"unknown {what} option '{t}' ignored", toks[i].loc)
                    i += 1
            items.append(
                m.Track(name=toks[0].text, weight=weight, reverse=reverse, location=toks[0].loc)
            )
        acc[fieldname] = tuple(items)

    return Kw(h, 0, 0, True)


def weight_kw() -> Kw:
    """``weight N [reverse]`` for trackers (fields weight, weight_reverse)."""

    def h(p: Parser, st: Stmt, acc: Acc) -> None:
        v = p.int_arg(st.args[0], -253, 253, "weight")
        if v is not None:
            acc["weight"] = v
        if len(st.args) > 1:
            if st.args[1].text == "reverse":
                acc["weight_reverse"] = True
            else:
                p.diags.warning(f"unknown weight option '{st.args[1].text}'", st.args[1].loc)

    return Kw(h, 1, 2)


def sub_block(
    block_fn: Callable[[], Block],
    finish: Callable[[Parser, Stmt, Acc], Any],
    store: Callable[[Parser, Acc, Any], None],
    min_args: int = 0,
    max_args: int | None = 1,
) -> Kw:
    """A keyword with a ``{ }`` block that builds a model object."""

    def h(p: Parser, st: Stmt, acc: Acc) -> None:
        sub: Acc = {}
        p.run(st.block, block_fn(), sub)
        obj = finish(p, st, sub)
        if obj is not None:
            store(p, acc, obj)

    return Kw(h, min_args, max_args, True)


def _append(fieldname: str) -> Callable[[Parser, Acc, Any], None]:
    def s(p: Parser, acc: Acc, obj: Any) -> None:
        acc[fieldname] = (*acc.get(fieldname, ()), obj)

    return s


def _set(fieldname: str) -> Callable[[Parser, Acc, Any], None]:
    def s(p: Parser, acc: Acc, obj: Any) -> None:
        acc[fieldname] = obj

    return s


def _to_top(listname: str) -> Callable[[Parser, Acc, Any], None]:
    def s(p: Parser, acc: Acc, obj: Any) -> None:
        p.lists[listname].append(obj)

    return s


def _build(cls: type[_T], st: Stmt, acc: Acc, **extra: Any) -> _T:
    kw = {**acc, **extra}
    locs = kw.pop("__locs__", None)
    if locs is not None and "locations" in _field_names(cls):  # type: ignore[arg-type]
        kw["locations"] = locs
    return cls(**kw, location=st.loc)  # type: ignore[call-arg]


@functools.cache
def _field_names(cls: type[Any]) -> frozenset[str]:
    import dataclasses

    return frozenset(f.name for f in dataclasses.fields(cls))


def _named(cls: type[Any]) -> Callable[[Parser, Stmt, Acc], Any]:
    """Finisher for ``keyword NAME { ... }`` blocks: builds ``cls(name=NAME, ...)``."""

    def f(p: Parser, st: Stmt, acc: Acc) -> Any:
        if not st.args:
            p.diags.error(f"'{st.kw.text}' needs a name", st.loc)
            return None
        return _build(cls, st, acc, name=st.args[0].text)

    return f


# ============================================================================================
# addresses, routes, rules
# ============================================================================================


def parse_ip_line(p: Parser, toks: list[Token]) -> m.IpAddress | None:
    """``IP[/LEN] [brd IP] [dev IF] [scope S] [label L] [peer IP] [home] [-nodad] ...``."""
    first = toks[0]
    addr_text, slash, plen_text = first.text.partition("/")
    if _is_plain_ipv4(addr_text) and (not slash or (plen_text.isdigit() and int(plen_text) <= 32)):
        address, version = addr_text, 4
        plen = int(plen_text) if slash else 32
    else:
        try:
            iface = ipaddress.ip_interface(first.text)
        except ValueError:
            p.diags.error(f"invalid IP address '{first.text}'", first.loc)
            return None
        address, version = str(iface.ip), iface.version
        plen = iface.network.prefixlen if slash else (32 if version == 4 else 128)
    kw: Acc = {}
    i = 1
    flags = {
        "mngtmpaddr": "mngtmpaddr",
        "home": "home",
        "-nodad": "nodad",
        "nodad": "nodad",
        "noprefixroute": "noprefixroute",
        "autojoin": "autojoin",
        "no_track": "no_track",
        "use_vmac": "use_vmac",
    }
    while i < len(toks):
        t = toks[i].text
        if t in flags:
            kw[flags[t]] = True
            i += 1
            continue
        if t in ("brd", "broadcast", "dev", "scope", "label", "peer", "preferred_lft"):
            if i + 1 >= len(toks):
                p.diags.error(f"'{t}' needs a value", toks[i].loc)
                break
            v = toks[i + 1]
            if t in ("brd", "broadcast"):
                if v.text != "+" and v.text != "-":
                    ipv = p.ip_arg(v, "broadcast address")
                    if ipv is not None:
                        kw["brd"] = ipv
                else:
                    kw["brd"] = v.text
            elif t == "peer":
                kw["peer"] = v.text
            elif t == "preferred_lft":
                if v.text in ("forever", "infinite"):
                    kw["preferred_lft"] = None
                else:
                    lft = p.int_arg(v, 0, 2**32 - 1, "preferred_lft")
                    if lft is not None:
                        kw["preferred_lft"] = lft
            else:
                kw[t] = v.text
            i += 2
            continue
        p.diags.error(
            f"unknown option '{t}' for IP address {first.text}",
            toks[i].loc,
            did_you_mean(t, ["brd", "dev", "scope", "label", "peer", "preferred_lft", *flags]),
        )
        i += 1
    return m.IpAddress(address=address, prefixlen=plen, location=first.loc, **kw)


_ROUTE_TYPES = {
    "unicast",
    "blackhole",
    "unreachable",
    "prohibit",
    "throw",
    "local",
    "broadcast",
    "multicast",
    "nat",
    "anycast",
}


def parse_route_line(p: Parser, toks: list[Token]) -> m.IpRoute | None:
    """``[TYPE] [to] DST [src IP] [via|gw IP] [dev IF] [table T] [metric N] ... [nexthop ...]``."""
    i = 0
    kw: Acc = {}
    rtype = "unicast"
    if toks[0].text in _ROUTE_TYPES:
        rtype = toks[0].text
        i = 1
    dst: str | None = None
    opts: list[str] = []
    nexthops: list[tuple[str, ...]] = []
    while i < len(toks):
        t = toks[i].text
        nxt = toks[i + 1] if i + 1 < len(toks) else None
        if t == "nexthop":
            j = i + 1
            while j < len(toks) and toks[j].text != "nexthop":
                j += 1
            nexthops.append(tuple(x.text for x in toks[i + 1 : j]))
            i = j
            continue
        if t in ("onlink", "no_track"):
            kw[t] = True
            i += 1
            continue
        if t == "to" and nxt is not None and dst is None:
            i += 1
            continue
        if t in (
            "src",
            "via",
            "gw",
            "dev",
            "oif",
            "table",
            "metric",
            "preference",
            "priority",
            "scope",
            "proto",
            "protocol",
        ):
            if nxt is None:
                p.diags.error(f"'{t}' needs a value", toks[i].loc)
                break
            if t in ("src", "via", "gw"):
                if t == "gw":
                    p.diags.warning('"gw" for routes is deprecated, use "via"', toks[i].loc)
                addr = nxt.text.split()[-1] if nxt.text not in ("inet", "inet6") else None
                if addr is None and i + 2 < len(toks):
                    addr = toks[i + 2].text
                    i += 1
                if addr is not None and p.ip_arg(nxt._replace(text=addr)) is not None:
                    kw["src" if t == "src" else "via"] = str(ipaddress.ip_address(addr))
            elif t in ("metric", "preference", "priority"):
                met = p.int_arg(nxt, 0, 2**32 - 1, "metric")
                if met is not None:
                    kw["metric"] = met
            elif t in ("dev", "oif"):
                kw["dev"] = nxt.text
            elif t in ("proto", "protocol"):
                kw["protocol"] = nxt.text
            else:
                kw[t] = nxt.text
            i += 2
            continue
        if dst is None:
            if t != "default":
                try:
                    dst = str(ipaddress.ip_network(t, strict=False))
                except ValueError:
                    p.diags.error(f"invalid route destination '{t}'", toks[i].loc)
                    return None
            else:
                dst = t
            i += 1
            continue
        opts.append(t)
        i += 1
    if dst is None:
        p.diags.error("route needs a destination", toks[0].loc)
        return None
    return m.IpRoute(
        dst=dst,
        type=rtype,
        nexthops=tuple(nexthops),
        options=tuple(opts),
        location=toks[0].loc,
        **kw,
    )


def parse_rule_line(p: Parser, toks: list[Token]) -> m.IpRule | None:
    """``from X to Y [table T] [priority N] [fwmark M] [iif I] [oif O] [ACTION] [no_track]``."""
    kw: Acc = {}
    opts: list[str] = []
    i = 0
    while i < len(toks):
        t = toks[i].text
        nxt = toks[i + 1] if i + 1 < len(toks) else None
        if t == "no_track":
            kw["no_track"] = True
            i += 1
            continue
        if t in ("-4", "inet"):
            kw["family"] = 4
            i += 1
            continue
        if t in ("-6", "inet6"):
            kw["family"] = 6
            i += 1
            continue
        if t in ("blackhole", "prohibit", "unreachable", "nop"):
            kw["action"] = t
            i += 1
            continue
        if (
            t
            in (
                "from",
                "to",
                "table",
                "lookup",
                "priority",
                "preference",
                "pref",
                "fwmark",
                "iif",
                "oif",
                "goto",
            )
            and nxt is not None
        ):
            if t in ("from", "to") and nxt.text != "all":
                try:
                    ipaddress.ip_network(nxt.text, strict=False)
                except ValueError:
                    p.diags.error(f"invalid rule '{t}' prefix '{nxt.text}'", nxt.loc)
                    return None
            if t == "from":
                kw["from_"] = nxt.text
            elif t in ("table", "lookup"):
                kw["table"] = nxt.text
            elif t in ("priority", "preference", "pref"):
                pr = p.int_arg(nxt, 0, 2**32 - 1, "rule priority")
                if pr is not None:
                    kw["priority"] = pr
            elif t == "goto":
                kw["action"] = f"goto {nxt.text}"
            else:
                kw[t] = nxt.text
            i += 2
            continue
        opts.append(t)
        i += 1
    if not kw and not opts:
        return None
    return m.IpRule(options=tuple(opts), location=toks[0].loc, **kw)


def line_list(
    fieldname: str, parse: Callable[[Parser, list[Token]], Any], to_top: str | None = None
) -> Kw:
    """A ``{ }`` block of data lines (virtual_ipaddress, virtual_routes, static_rules ...)."""

    def h(p: Parser, st: Stmt, acc: Acc) -> None:
        items: list[Any] = []
        for s in st.block or ():
            obj = parse(p, s.line_tokens())
            if obj is not None:
                items.append(obj)
            if s.block is not None:
                p.diags.warning("unexpected { } block in a list; ignored", s.block_loc or s.loc)
        if to_top is not None:
            p.lists[to_top].extend(items)
        else:
            acc[fieldname] = (*acc.get(fieldname, ()), *items)

    return Kw(h, 0, 0, True)


# ============================================================================================
# global_defs
# ============================================================================================


def _global_block() -> Block:
    b = Block("global_defs")
    for name in (
        "router_id",
        "instance",
        "process_name",
        "vrrp_process_name",
        "checker_process_name",
        "bfd_process_name",
        "notification_email_from",
        "smtp_helo_name",
        "default_interface",
        "lvs_flush_on_stop",
        "net_namespace",
        "net_namespace_ipvs",
        "vmac_addr_prefix",
        "reload_time_file",
        "reload_file",
        "config_save_dir",
        "state_file_location",
        "stats_file_location",
        "json_file_location",
        "tmp_config_directory",
        "snmp_socket",
        "dbus_service_name",
        "dbus_no_interface_name",
        "iproute_usr_dir",
        "iproute_etc_dir",
        "notify_fifo",
        "vrrp_notify_fifo",
        "lvs_notify_fifo",
        "script_group",
        "vrrp_rx_bufs_policy",
        "vmac_prefix",
    ):
        b.add(name, word(name))
    b.add("lvs_process_name", word("checker_process_name"))
    for name in (
        "use_pid_dir",
        "process_names",
        "no_email_faults",
        "v3_checksum_as_v2",
        "vrrp_min_garp",
        "vrrp_lower_prio_no_advert",
        "vrrp_higher_prio_send_advert",
        "vrrp_skip_check_adv_addr",
        "vrrp_check_unicast_src",
        "vrrp_strict",
        "vrrp_notify_priority_changes",
        "log_unknown_vrids",
        "nftables_counters",
        "nftables_ifindex",
        "lvs_flush",
        "vrrp_no_swap",
        "checker_no_swap",
        "bfd_no_swap",
        "enable_script_security",
        "use_symlink_paths",
        "set_supplementary_groups",
        "fifo_write_vrrp_states_on_reload",
        "linkbeat_use_polling",
        "vrrp_netlink_cmd_rcv_bufs_force",
        "vrrp_netlink_monitor_rcv_bufs_force",
        "lvs_netlink_cmd_rcv_bufs_force",
        "lvs_netlink_monitor_rcv_bufs_force",
        "process_monitor_rcv_bufs_force",
        "namespace_with_ipsets",
        "reload_repeat",
        "data_use_instance",
        "enable_snmp_vrrp",
        "enable_snmp_checker",
        "enable_snmp_rfc",
        "enable_snmp_rfcv2",
        "enable_snmp_rfcv3",
        "enable_traps",
        "enable_dbus",
        "rs_init_notifies",
        "no_checker_emails",
        "checker_log_all_failures",
        "smtp_alert",
        "smtp_alert_vrrp",
        "smtp_alert_checker",
    ):
        b.add(name, flag(name))
    b.add("vrrp_owner_ignore_adverts", flag("vrrp_owner_ignore_adverts"))
    b.add(
        "disable_local_igmp",
        ignored(1, instead="with use_vmac, filter IGMP/MLD on the VMAC yourself (nftables)"),
    )
    b.alias("enable_snmp_keepalived", "enable_snmp_vrrp")
    b.add("smtp_connect_timeout", timer("smtp_connect_timeout", 0, 3600))
    b.add("vrrp_version", integer("vrrp_version", 2, 3))
    b.add(["vrrp_mcast_group4"], address("vrrp_mcast_group4"))
    b.add(["vrrp_mcast_group6"], address("vrrp_mcast_group6"))
    for name in (
        "vrrp_garp_master_delay",
        "vrrp_garp_lower_prio_delay",
        "vrrp_garp_master_refresh",
    ):
        b.add(name, timer(name, 0, 86400))
    for name in ("vrrp_garp_interval", "vrrp_gna_interval"):
        b.add(name, timer(name, 0, 1))
    for name in (
        "vrrp_garp_master_repeat",
        "vrrp_garp_lower_prio_repeat",
        "vrrp_garp_master_refresh_repeat",
    ):
        b.add(name, integer(name, 0, 2**31 - 1))
    b.add("vrrp_down_timer_adverts", integer("vrrp_down_timer_adverts", 1, 100))
    b.add("vrrp_startup_delay", timer("vrrp_startup_delay", 0, 3600))
    b.add("vrrp_delay_after_boot", timer("vrrp_delay_after_boot", 0, 3600))

    b.add("vrrp_garp_extra_if", garp_extra_if("vrrp_garp_extra_if"))
    b.alias("vrrp_vmac_garp_intvl", "vrrp_garp_extra_if")
    b.add("nftables", word("nftables", optional="keepalived"))
    b.add("nftables_ipvs", word("nftables_ipvs", optional="keepalived_ipvs"))
    b.add("nftables_priority", integer("nftables_priority", -(2**31), 2**31 - 1))
    b.add("nftables_ipvs_priority", integer("nftables_ipvs_priority", -(2**31), 2**31 - 1))
    b.add("nftables_ipvs_start_fwmark", integer("nftables_ipvs_start_fwmark", 1, 2**32 - 1))
    b.add(
        "vrrp_iptables",
        Kw(
            lambda p, st, acc: acc.__setitem__("vrrp_iptables", tuple(t.text for t in st.args)),
            0,
            2,
        ),
    )
    b.add(
        "vrrp_ipsets",
        Kw(
            lambda p, st, acc: acc.__setitem__("vrrp_ipsets", tuple(t.text for t in st.args)), 0, 5
        ),
    )

    def lvs_sync_daemon(p: Parser, st: Stmt, acc: Acc) -> None:
        kw: Acc = {"interface": st.args[0].text}
        args = st.args[1:]
        i = 0
        if args and args[0].text not in ("id", "maxlen", "port", "ttl", "group"):
            kw["vrrp_instance"] = args[0].text
            i = 1
        keys = {
            "id": ("sync_id", 0, 255),
            "maxlen": ("maxlen", 1, 65507),
            "port": ("port", 1, 65535),
            "ttl": ("ttl", 1, 255),
        }
        while i < len(args):
            t = args[i].text
            if i + 1 >= len(args):
                p.diags.error(f"lvs_sync_daemon '{t}' needs a value", args[i].loc)
                break
            if t in keys:
                f, lo, hi = keys[t]
                v = p.int_arg(args[i + 1], lo, hi, f"lvs_sync_daemon {t}")
                if v is not None:
                    kw[f] = v
            elif t == "group":
                ipv = p.ip_arg(args[i + 1])
                if ipv is not None:
                    kw["group"] = ipv
            else:
                p.diags.error(f"unknown lvs_sync_daemon option '{t}'", args[i].loc)
            i += 2
        acc["lvs_sync_daemon"] = m.LvsSyncDaemon(**kw, location=st.loc)

    b.add("lvs_sync_daemon", Kw(lvs_sync_daemon, 1, None))

    def lvs_timeouts(p: Parser, st: Stmt, acc: Acc) -> None:
        kw: Acc = {}
        a = st.args
        for i in range(0, len(a) - 1, 2):
            if a[i].text in ("tcp", "tcpfin", "udp"):
                v = p.int_arg(a[i + 1], 0, 86400 * 31, f"lvs_timeouts {a[i].text}")
                if v is not None:
                    kw[a[i].text] = v
            else:
                p.diags.error(f"unknown lvs_timeouts option '{a[i].text}'", a[i].loc)
        acc["lvs_timeouts"] = m.LvsTimeouts(**kw, location=st.loc)

    b.add("lvs_timeouts", Kw(lvs_timeouts, 2, 6))
    b.alias("lvs_flush_onstop", "lvs_flush_on_stop")
    for pfx in ("vrrp", "checker", "bfd"):
        b.add(f"{pfx}_priority", integer(f"{pfx}_priority", -20, 19))
        b.add(f"{pfx}_rt_priority", integer(f"{pfx}_rt_priority", 1, 99))
        b.add(f"{pfx}_rlimit_rttime", integer(f"{pfx}_rlimit_rttime", 1, 2**31 - 1))
        b.alias(f"{pfx}_rlimit_rtime", f"{pfx}_rlimit_rttime")
        b.add(f"{pfx}_cpu_affinity", words(f"{pfx}_cpu_affinity", int))
    b.add(
        "max_auto_priority",
        Kw(
            lambda p, st, acc: acc.__setitem__(
                "max_auto_priority",
                p.int_arg(st.args[0], -1, 99, "max_auto_priority") if st.args else 99,
            ),
            0,
            1,
        ),
    )
    b.add("min_auto_priority_delay", integer("min_auto_priority_delay", 1, 2**31 - 1))

    def script_user(p: Parser, st: Stmt, acc: Acc) -> None:
        acc["script_user"] = st.args[0].text
        if len(st.args) > 1:
            acc["script_group"] = st.args[1].text

    b.add("script_user", Kw(script_user, 1, 2))
    for name in (
        "startup_script",
        "shutdown_script",
        "notify_fifo_script",
        "vrrp_notify_fifo_script",
        "lvs_notify_fifo_script",
    ):
        b.add(name, script(name))
    b.add("startup_script_timeout", timer("startup_script_timeout", 1, 1000))
    b.add("shutdown_script_timeout", timer("shutdown_script_timeout", 1, 1000))

    def dynamic_interfaces(p: Parser, st: Stmt, acc: Acc) -> None:
        acc["dynamic_interfaces"] = True
        if st.args:
            if st.args[0].text == "allow_if_changes":
                acc["dynamic_interfaces_allow_if_changes"] = True
            else:
                p.diags.error(
                    f"unknown dynamic_interfaces option '{st.args[0].text}'", st.args[0].loc
                )

    b.add("dynamic_interfaces", Kw(dynamic_interfaces, 0, 1))
    for name in (
        "vrrp_netlink_cmd_rcv_bufs",
        "vrrp_netlink_monitor_rcv_bufs",
        "lvs_netlink_cmd_rcv_bufs",
        "lvs_netlink_monitor_rcv_bufs",
        "process_monitor_rcv_bufs",
    ):
        b.add(name, integer(name, 0, 2**31 - 1))
    b.add("vrrp_rx_bufs_multiplier", integer("vrrp_rx_bufs_multiplier", 1, 1000))
    b.add("reload_check_config", word("reload_check_config", optional=""))
    b.add("json_version", integer("json_version", 1, 2))
    b.alias("state_dump_file", "state_file_location")
    b.alias("stats_dump_file", "stats_file_location")
    b.alias("json_dump_file", "json_file_location")
    for name in ("snmp_vs_stats_update_interval", "snmp_rs_stats_update_interval"):
        b.add(name, timer(name, 0, 86400))

    def umask(p: Parser, st: Stmt, acc: Acc) -> None:
        try:
            acc["umask"] = int(st.args[0].text, 8)
        except ValueError:
            p.diags.error(f"umask '{st.args[0].text}' is not an octal number", st.args[0].loc)

    b.add("umask", Kw(umask, 1, 1))
    b.add("child_wait_time", timer("child_wait_time", 0, 3600))
    b.add("random_seed", integer("random_seed", 0, 2**32 - 1))
    b.add(
        "include_check",
        ignored(None, instead="the include files are read at every load; check them with -t"),
    )

    def metrics_listen(p: Parser, st: Stmt, acc: Acc) -> None:
        t = st.args[0]
        host, sep, port = t.text.rpartition(":")
        if not sep or not port.isdigit() or not 0 < int(port) < 65536:
            p.diags.error(
                f"metrics_listen '{t.text}' is not ADDR:PORT",
                t.loc,
                "e.g. 'metrics_listen 127.0.0.1:9650' or '[::1]:9650'",
            )
            return
        if host.strip("[]") and p.ip_arg(t._replace(text=host.strip("[]"))) is None:
            return
        acc["metrics_listen"] = t.text

    b.add("metrics_listen", Kw(metrics_listen, 1, 1))
    b.add("vrrp_bpf", flag("vrrp_bpf"))
    b.add("vrrp_realtime", flag("vrrp_realtime"))

    def notification_email(p: Parser, st: Stmt, acc: Acc) -> None:
        emails = list(acc.get("notification_email", ()))
        for s in st.block or ():
            emails.extend(t.text for t in s.line_tokens())
        acc["notification_email"] = tuple(emails)

    b.add("notification_email", Kw(notification_email, 0, 0, True))

    def smtp_server(p: Parser, st: Stmt, acc: Acc) -> None:
        ipv = st.args[0].text
        acc["smtp_server"] = ipv
        if len(st.args) > 1:
            port = p.port_arg(st.args[1])
            if port is not None:
                acc["smtp_server_port"] = port

    b.add("smtp_server", Kw(smtp_server, 1, 2))

    def linkbeat_interfaces(p: Parser, st: Stmt, acc: Acc) -> None:
        acc["linkbeat_interfaces"] = tuple(t.text for s in st.block or () for t in s.line_tokens())

    b.add("linkbeat_interfaces", Kw(linkbeat_interfaces, 0, 0, True))
    return b


# ============================================================================================
# VRRP blocks
# ============================================================================================


@functools.cache
def _vrrp_script_block() -> Block:
    b = Block("vrrp_script")
    b.add("script", script("script"))
    b.add("interval", timer("interval", 0.001, 86400))
    b.add("timeout", timer("timeout", 0.001, 86400))
    b.add("weight", weight_kw())
    b.add("rise", integer("rise", 1, 2**31 - 1))
    b.add("fall", integer("fall", 1, 2**31 - 1))

    def user(p: Parser, st: Stmt, acc: Acc) -> None:
        acc["user"] = st.args[0].text
        if len(st.args) > 1:
            acc["group"] = st.args[1].text

    b.add("user", Kw(user, 1, 2))
    b.add("init_fail", flag("init_fail"))
    return b


@functools.cache
def _track_file_block() -> Block:
    b = Block("track_file")
    b.add("file", word("file"))
    b.add("weight", weight_kw())

    def init_file(p: Parser, st: Stmt, acc: Acc) -> None:
        acc["init_file"] = 0
        for t in st.args:
            if t.text == "overwrite":
                acc["init_file_overwrite"] = True
            else:
                v = p.int_arg(t, -(2**31), 2**31 - 1, "init_file value")
                if v is not None:
                    acc["init_file"] = v

    b.add("init_file", Kw(init_file, 0, 2))
    return b


@functools.cache
def _track_process_block() -> Block:
    b = Block("vrrp_track_process")

    def process(p: Parser, st: Stmt, acc: Acc) -> None:
        argv = [t.text for t in st.args]
        if len(argv) == 1 and " " in argv[0]:
            argv = split_script(argv[0])
        acc["process"] = tuple(argv)

    b.add("process", Kw(process, 1, None))
    b.add("param_match", word("param_match", ["initial", "partial"], optional=None))
    b.add("weight", weight_kw())
    b.add("quorum", integer("quorum", 0, 65535))
    b.add("quorum_max", integer("quorum_max", 0, 65535))
    for name in ("fork_delay", "terminate_delay", "delay"):
        b.add(name, timer(name, 0, 3600))
    b.add("full_command", flag("full_command"))
    return b


@functools.cache
def _bfd_block() -> Block:
    b = Block("bfd_instance")
    b.add("neighbor_ip", address("neighbor_ip"))
    b.alias("neighbour_ip", "neighbor_ip")
    b.add("source_ip", address("source_ip"))
    b.add("min_rx", integer("min_rx_ms", 1, 1000000))
    b.add("min_tx", integer("min_tx_ms", 1, 1000000))
    b.add("idle_tx", integer("idle_tx_ms", 1, 1000000))
    b.add("multiplier", integer("multiplier", 1, 255))
    b.add("passive", flag("passive"))
    b.add("ttl", integer("ttl", 1, 255))
    b.alias("hoplimit", "ttl")
    b.add("max_hops", integer("max_hops", 0, 255))
    b.add("multihop", flag("multihop"))
    b.add("vrf", word("vrf"))
    b.add("weight", weight_kw())
    b.add("vrrp", ignored(0))
    b.add("checker", ignored(0))
    return b


@functools.cache
def _sync_group_block() -> Block:
    b = Block("vrrp_sync_group")
    b.add("group", name_list("group"))
    for t in ("interface", "script", "file", "process", "bfd"):
        b.add(f"track_{t}", track_list(f"track_{t}", f"track_{t}"))
    for n in m.SYNC_GROUP_NOTIFY_SCRIPTS:
        b.add(n, script(n))
    b.add("smtp_alert", flag("smtp_alert"))
    b.add("sync_group_tracking_weight", flag("sync_group_tracking_weight"))
    b.alias("global_tracking", "sync_group_tracking_weight")
    b.add("notify_priority_changes", ignored(1))
    return b


@functools.cache
def _auth_block() -> Block:
    b = Block("authentication")
    b.add("auth_type", word("auth_type", ["PASS", "AH"], upper=True))

    def auth_pass(p: Parser, st: Stmt, acc: Acc) -> None:
        pw = st.args[0].text
        if len(pw) > 8:
            p.diags.warning(
                f"auth_pass is {len(pw)} characters; truncating to 8 as keepalived "
                f"does ('{pw[:8]}')",
                st.args[0].loc,
            )
            pw = pw[:8]
        acc["auth_pass"] = pw
        acc["_pass_loc"] = st.args[0].loc

    b.add("auth_pass", Kw(auth_pass, 1, 1))
    return b


@functools.cache
def _auth_hmac_block() -> Block:
    b = Block("auth_hmac")

    def key(p: Parser, st: Stmt, acc: Acc) -> None:
        kid = p.int_arg(st.args[0], 1, 255, "auth_hmac key id")
        if kid is None:
            return
        value = st.args[1].text
        if value.startswith("hex:"):
            hexpart = value[4:]
            try:
                raw_len = len(bytes.fromhex(hexpart))
            except ValueError:
                p.diags.error(
                    f"auth_hmac key {kid}: '{hexpart[:16]}...' is not hex", st.args[1].loc
                )
                return
        elif value.startswith("file:"):
            raw_len = 32  # checked when the file is read
        else:
            raw_len = len(value.encode())
        if not 32 <= raw_len <= 64:
            p.diags.error(
                f"auth_hmac key {kid} is {raw_len} bytes; it must be 32 to 64 bytes",
                st.args[1].loc,
            )
            return
        acc["keys"] = (*acc.get("keys", ()), m.HmacKey(key_id=kid, value=value, location=st.loc))

    b.add("key", Kw(key, 2, 2))
    b.add("active_key", integer("active_key", 1, 255))
    b.add("anti_replay", word("anti_replay", ["time", "monotonic"]))
    b.add("time_window", timer("time_window", 1, 300))
    b.add("mode", word("mode", ["enforce", "permissive", "receive-only"]))
    return b


def _finish_auth_hmac(p: Parser, st: Stmt, acc: Acc) -> m.AuthHmac | None:
    keys = acc.get("keys", ())
    if not keys:
        p.diags.error("auth_hmac without any key", st.loc)
        return None
    ids = [k.key_id for k in keys]
    if len(set(ids)) != len(ids):
        p.diags.error("auth_hmac defines the same key id twice", st.loc)
    active = acc.get("active_key")
    if active is None and len(keys) > 1:
        p.diags.error("auth_hmac has several keys but no active_key", st.loc)
    elif active is not None and active not in ids:
        p.diags.error(f"auth_hmac active_key {active} is not a defined key", st.loc)
    return _build(m.AuthHmac, st, acc)


def _unicast_peer(p: Parser, st: Stmt, acc: Acc) -> None:
    peers = list(acc.get("unicast_peer", ()))
    for s in st.block or ():
        toks = s.line_tokens()
        ipv = p.ip_arg(toks[0], "unicast peer address")
        if ipv is None:
            continue
        kw: Acc = {}
        i = 1
        while i < len(toks):
            t = toks[i].text
            if t in ("min_ttl", "max_ttl") and i + 1 < len(toks):
                v = p.int_arg(toks[i + 1], 0, 255, t)
                if v is not None:
                    kw[t] = v
                i += 2
            else:
                p.diags.warning(f"unknown unicast_peer option '{t}' ignored", toks[i].loc)
                i += 1
        peers.append(m.UnicastPeer(address=ipv, location=toks[0].loc, **kw))
    acc["unicast_peer"] = tuple(peers)


def _instance_block() -> Block:
    b = Block("vrrp_instance")
    b.add("state", word("state", ["MASTER", "BACKUP"], upper=True))
    b.add("interface", word("interface"))
    b.add("vrf", word("vrf"))

    def vrid(p: Parser, st: Stmt, acc: Acc) -> None:
        acc["_vrid_seen"] = True
        v = p.int_arg(st.args[0], 1, 255, "'virtual_router_id'")
        if v is not None:
            acc["virtual_router_id"] = v

    b.add("virtual_router_id", Kw(vrid, 1, 1))
    b.add("priority", integer("priority", 1, 255))

    def advert_int(p: Parser, st: Stmt, acc: Acc) -> None:
        v = p.float_arg(st.args[0], 0, 86400, "'advert_int'")
        if v is not None:
            acc["advert_int"] = v
            acc["_advert_int_loc"] = st.args[0].loc

    b.add("advert_int", Kw(advert_int, 1, 1))
    b.add("version", integer("version", 2, 3))
    b.add("nopreempt", flag("nopreempt"))
    b.add("preempt", set_const("nopreempt", False))
    b.add("preempt_delay", timer("preempt_delay", 0, 1000))
    b.add(
        "authentication", sub_block(_auth_block, _finish_auth, _set("authentication"), max_args=0)
    )
    b.add("virtual_ipaddress", line_list("virtual_ipaddress", parse_ip_line))
    b.add("virtual_ipaddress_excluded", line_list("virtual_ipaddress_excluded", parse_ip_line))
    b.add("no_virtual_ipaddress", flag("no_virtual_ipaddress"))
    b.add("promote_secondaries", flag("promote_secondaries"))
    b.add("virtual_routes", line_list("virtual_routes", parse_route_line))
    b.add("virtual_rules", line_list("virtual_rules", parse_rule_line))
    for t in ("interface", "script", "file", "process", "bfd"):
        b.add(f"track_{t}", track_list(f"track_{t}", f"track_{t}"))
    for name in (
        "dont_track_primary",
        "linkbeat_use_polling",
        "unicast_fault_no_peer",
        "check_unicast_src",
        "track_src_ip",
        "vmac_xmit_base",
        "use_vmac_addr",
        "native_ipv6",
        "strict_mode",
        "lower_prio_no_advert",
        "higher_prio_send_advert",
        "skip_check_adv_addr",
        "owner_ignore_adverts",
        "timer_expired_backup",
        "smtp_alert",
        "notify_priority_changes",
    ):
        b.add(name, flag(name))
    b.kws["native_ipv6"].deprecated = "an IPv6 virtual_ipaddress"
    b.alias("thread_timer_expired", "timer_expired_backup")
    b.add("accept", flag("accept"))
    b.add("no_accept", set_const("accept", False))
    b.add("unicast_src_ip", address("unicast_src_ip"))
    b.add("mcast_src_ip", address("mcast_src_ip"))
    b.add("mcast_dst_ip", address("mcast_dst_ip"))
    b.add("unicast_peer", Kw(_unicast_peer, 0, 0, True))
    b.add("unicast_ttl", integer("unicast_ttl", 1, 255))
    b.add("old_unicast_checksum", word("old_unicast_checksum", ["never"], optional="always"))

    def use_vmac(p: Parser, st: Stmt, acc: Acc) -> None:
        acc["use_vmac"] = True
        for t in st.args:
            if ":" in t.text and len(t.text) == 17:
                acc["vmac_mac"] = t.text.lower()
            elif t.text in ("netlink_notify_msg",):
                continue
            elif "vmac_name" not in acc:
                acc["vmac_name"] = t.text

    b.add("use_vmac", Kw(use_vmac, 0, 3))

    def use_ipvlan(p: Parser, st: Stmt, acc: Acc) -> None:
        acc["use_ipvlan"] = True
        for t in st.args:
            if t.text in ("bridge", "private", "vepa"):
                acc["ipvlan_mode"] = t.text
            elif "/" in t.text or t.text.count(".") == 3 or ":" in t.text:
                acc["ipvlan_address"] = t.text
            else:
                acc["ipvlan_name"] = t.text

    b.add("use_ipvlan", Kw(use_ipvlan, 0, 3))
    for name in ("garp_master_delay", "garp_master_refresh", "garp_lower_prio_delay"):
        b.add(name, timer(name, 0, 86400))
    for name in ("garp_master_repeat", "garp_master_refresh_repeat", "garp_lower_prio_repeat"):
        b.add(name, integer(name, 0, 2**31 - 1))

    b.add("garp_extra_if", garp_extra_if("garp_extra_if"))
    b.alias("vmac_garp_intvl", "garp_extra_if")
    b.add("down_timer_adverts", integer("down_timer_adverts", 1, 100))
    b.add("kernel_rx_buf_size", integer("kernel_rx_buf_size", 0, 2**31 - 1))
    b.add(
        "debug",
        Kw(
            lambda p, st, acc: acc.__setitem__(
                "debug", p.int_arg(st.args[0], 0, 4, "debug") if st.args else 1
            ),
            0,
            1,
        ),
    )
    for n in m.VRRP_INSTANCE_NOTIFY_SCRIPTS:
        b.add(n, script(n))
    b.add("v3_checksum_as_v2", flag("v3_checksum_as_v2"))

    def lvs_sync_daemon_interface(p: Parser, st: Stmt, acc: Acc) -> None:
        p.instance_sync_daemon.append((acc.get("__name__", ""), st.args[0]))

    b.add(
        "lvs_sync_daemon_interface",
        Kw(lvs_sync_daemon_interface, 1, 1, deprecated="lvs_sync_daemon (in global_defs)"),
    )
    b.add(
        "auth_hmac", sub_block(_auth_hmac_block, _finish_auth_hmac, _set("auth_hmac"), max_args=0)
    )
    return b


# ============================================================================================
# LVS blocks
# ============================================================================================

_LVS_SCHEDS = [
    "rr",
    "wrr",
    "lc",
    "wlc",
    "lblc",
    "sh",
    "mh",
    "dh",
    "fo",
    "ovf",
    "lblcr",
    "sed",
    "nq",
    "twos",
]
_LVS_METHODS = ["NAT", "DR", "TUN"]


def _lvs_method(fieldname: str = "lvs_method") -> Kw:
    def h(p: Parser, st: Stmt, acc: Acc) -> None:
        t = st.args[0]
        v = t.text.upper()
        if v == "PAT":
            v = "NAT"
        if v not in _LVS_METHODS:
            p.diags.error(
                f"'{st.kw.text}' must be one of NAT, DR, TUN, not '{t.text}'",
                t.loc,
                did_you_mean(v, _LVS_METHODS),
            )
            return
        acc[fieldname] = v
        if v == "TUN" and len(st.args) > 1:
            acc["tunnel_type"] = " ".join(a.text for a in st.args[1:])

    return Kw(h, 1, None)


def _common_checker_kws(b: Block) -> None:
    """Options valid in virtual_server, real_server and every checker (inherited)."""
    b.add("retry", integer("retry", 0, 2**31 - 1))
    b.alias("nb_get_retry", "retry")
    b.add("delay_before_retry", timer("delay_before_retry", 0, 86400))
    b.add("warmup", timer("warmup", 0, 86400))
    b.add("connect_timeout", timer("connect_timeout", 0.001, 86400))
    b.add("delay_loop", timer("delay_loop", 0.001, 86400 * 365))
    b.add("alpha", flag("alpha"))


@functools.cache
def _checker_block(kind: str) -> Block:
    b = Block(kind)
    _common_checker_kws(b)
    b.add("connect_ip", address("connect_ip"))
    b.add("connect_port", Kw(lambda p, st, acc: _set_port(p, st, acc, "connect_port"), 1, 1))
    b.add("bindto", address("bindto"))
    b.add("bind_port", Kw(lambda p, st, acc: _set_port(p, st, acc, "bind_port"), 1, 1))
    b.add("bind_if", word("bind_if"))
    b.add("fwmark", integer("fwmark", 0, 2**32 - 1))
    b.add("log_all_failures", flag("log_all_failures"))
    if kind in ("HTTP_GET", "SSL_GET"):
        b.add("url", sub_block(_url_block, _finish_url, _append("url"), max_args=0))
        b.add("http_protocol", word("http_protocol", ["1.0", "1.0C", "1.1", "1.0c"]))
        b.add("virtualhost", word("virtualhost"))
        b.add("fast_recovery", flag("fast_recovery"))
        b.add("enable_sni", flag("enable_sni"))
        b.add("sni_name", word("sni_name"))
        b.add("tls_compliant", flag("tls_compliant"))
    elif kind == "MISC_CHECK":
        b.add("misc_path", script("misc_path"))
        b.add("misc_timeout", timer("misc_timeout", 0.001, 86400))
        b.add("misc_dynamic", flag("misc_dynamic"))

        def user(p: Parser, st: Stmt, acc: Acc) -> None:
            acc["user"] = st.args[0].text
            if len(st.args) > 1:
                acc["group"] = st.args[1].text

        b.add("user", Kw(user, 1, 2))
    elif kind == "SMTP_CHECK":
        b.add("helo_name", word("helo_name"))
        b.add("host", ignored(0, True, deprecated="one SMTP_CHECK per host"))
    elif kind == "DNS_CHECK":
        b.add("type", word("type", ["A", "NS", "CNAME", "SOA", "MX", "TXT", "AAAA"], upper=True))
        b.add("name", word("name"))
    elif kind == "UDP_CHECK":
        b.add("payload", word("payload"))

        def require_reply(p: Parser, st: Stmt, acc: Acc) -> None:
            acc["require_reply"] = True
            if st.args:
                acc["require_reply_data"] = st.args[0].text

        b.add("require_reply", Kw(require_reply, 0, 1))
        b.add("min_reply_length", integer("min_reply_length", 0, 65535))
        b.add("max_reply_length", integer("max_reply_length", 0, 65535))
    elif kind == "FILE_CHECK":
        b.add("track_file", word("track_file"))
        b.add("dynamic", flag("dynamic"))
        b.add("weight", weight_kw())
    elif kind == "BFD_CHECK":
        b.add("name", word("name"))
        b.add("weight", weight_kw())
    return b


def _set_port(p: Parser, st: Stmt, acc: Acc, fieldname: str) -> None:
    v = p.port_arg(st.args[0])
    if v is not None:
        acc[fieldname] = v


@functools.cache
def _url_block() -> Block:
    b = Block("url")
    b.add("path", word("path"))
    b.add("digest", word("digest"))

    def status_code(p: Parser, st: Stmt, acc: Acc) -> None:
        ranges = list(acc.get("status_code", ()))
        for t in st.args:
            for part in t.text.split(","):
                if not part:
                    continue
                lo_s, _, hi_s = part.partition("-")
                try:
                    lo, hi = int(lo_s), int(hi_s or lo_s)
                except ValueError:
                    p.diags.error(f"invalid status_code '{part}'", t.loc)
                    continue
                if not (100 <= lo <= hi <= 599):
                    p.diags.error(f"status_code '{part}' is outside 100-599", t.loc)
                    continue
                ranges.append((lo, hi))
        acc["status_code"] = tuple(ranges)

    b.add("status_code", Kw(status_code, 1, None))
    b.add("virtualhost", word("virtualhost"))

    def regex(p: Parser, st: Stmt, acc: Acc) -> None:
        acc["regex"] = st.args[0].text
        acc["_regex_loc"] = st.args[0].loc

    b.add("regex", Kw(regex, 1, 1))
    b.add("regex_no_match", flag("regex_no_match"))

    def regex_options(p: Parser, st: Stmt, acc: Acc) -> None:
        acc["regex_options"] = (*acc.get("regex_options", ()), *(t.text for t in st.args))
        acc["_regex_option_locs"] = {
            **acc.get("_regex_option_locs", {}),
            **{t.text: t.loc for t in st.args},
        }

    b.add("regex_options", Kw(regex_options, 1, None))

    def regex_stack(p: Parser, st: Stmt, acc: Acc) -> None:
        # keepalived: regex_stack START MAX (PCRE2's JIT stack); Python's re has none
        vals = [p.int_arg(t, 1, 2**31 - 1, "'regex_stack'") for t in st.args]
        if None in vals:
            return
        if len(vals) == 2 and vals[0] > vals[1]:  # type: ignore[operator]
            p.diags.error("regex_stack START cannot exceed MAX", st.args[0].loc)
            return
        acc["regex_stack"] = vals[-1]
        p.diags.warning(
            "regex_stack ignored: Python's re has no JIT stack to size",
            st.kw.loc,
            "remove it; deep patterns need no stack setting here",
        )

    b.add("regex_stack", Kw(regex_stack, 1, 2))
    b.add("regex_min_offset", integer("regex_min_offset", 0, 2**31 - 1))
    b.add("regex_max_offset", integer("regex_max_offset", 0, 2**31 - 1))
    return b


def _finish_url(p: Parser, st: Stmt, acc: Acc) -> m.Url:
    regex_loc = acc.pop("_regex_loc", None)
    option_locs = acc.pop("_regex_option_locs", {})
    pattern = acc.get("regex")
    options = tuple(acc.get("regex_options", ()))
    for prob in pcre.problems(pattern, options):
        report = p.diags.error if prob.severity == "error" else p.diags.warning
        report(prob.message, option_locs.get(prob.option, st.loc), prob.hint)
    if pattern is not None:
        try:
            pcre.compile_pattern(pattern, options)
        except re.error as exc:
            p.diags.error(f"invalid regex {pattern!r}: {exc}", regex_loc or st.loc)
    lo, hi = acc.get("regex_min_offset"), acc.get("regex_max_offset")
    if lo is not None and hi is not None and lo > hi:
        p.diags.error(
            f"regex_min_offset {lo} is beyond regex_max_offset {hi}: nothing can match",
            st.loc,
        )
    return _build(m.Url, st, acc)


_CHECKER_KINDS = tuple(m.CHECKER_TYPES)


def _add_checkers(b: Block) -> None:
    for kind in _CHECKER_KINDS:
        b.add(
            kind,
            sub_block(
                functools.partial(_checker_block, kind),
                functools.partial(_pending_checker, kind),
                _append("__checkers__"),
                max_args=0,
            ),
        )


def _pending_checker(kind: str, p: Parser, st: Stmt, acc: Acc) -> Any:
    return ("checker", kind, st, acc)


@functools.cache
def _real_server_block() -> Block:
    b = Block("real_server")
    _common_checker_kws(b)
    b.add("weight", integer("weight", 0, 65535))
    b.add("lvs_method", _lvs_method())
    b.alias("lb_kind", "lvs_method")
    b.add("notify_up", script("notify_up"))
    b.add("notify_down", script("notify_down"))
    b.add("uthreshold", integer("uthreshold", 0, 2**31 - 1))
    b.add("lthreshold", integer("lthreshold", 0, 2**31 - 1))
    b.add("inhibit_on_failure", flag("inhibit_on_failure"))
    b.add("smtp_alert", flag("smtp_alert"))
    b.add("virtualhost", word("virtualhost"))
    b.add("snmp_name", ignored(1))
    _add_checkers(b)
    return b


def _virtual_server_block() -> Block:
    b = Block("virtual_server")
    _common_checker_kws(b)
    b.add("ip_family", word("ip_family", ["inet", "inet6"]))
    b.add("lvs_sched", word("lvs_sched", _LVS_SCHEDS))
    b.alias("lb_algo", "lvs_sched")
    b.add("lvs_method", _lvs_method())
    b.alias("lb_kind", "lvs_method")
    for fl in (
        "hashed",
        "flag-1",
        "flag-2",
        "flag-3",
        "sh-port",
        "sh-fallback",
        "mh-port",
        "mh-fallback",
    ):
        b.add(
            fl,
            Kw(
                lambda p, st, acc, fl=fl: acc.__setitem__(  # type: ignore[misc]
                    "sched_flags",
                    (*acc.get("sched_flags", ()), "flag-1" if fl == "hashed" else fl),
                ),
                0,
                0,
            ),
        )
    b.add("ops", flag("ops"))
    b.add("persistence_engine", word("persistence_engine"))
    b.add(
        "persistence_timeout",
        Kw(
            lambda p, st, acc: acc.__setitem__(
                "persistence_timeout",
                p.int_arg(st.args[0], 1, 2**31 - 1, "persistence_timeout") if st.args else 360,
            ),
            0,
            1,
        ),
    )
    b.add("persistence_granularity", word("persistence_granularity"))
    b.add("protocol", word("protocol", ["TCP", "UDP", "SCTP"], upper=True))
    b.add("ha_suspend", flag("ha_suspend"))
    b.add("smtp_alert", flag("smtp_alert"))
    b.add("virtualhost", word("virtualhost"))
    b.add("snmp_name", ignored(1))
    b.add("alpha", flag("alpha"))
    b.add("omega", flag("omega"))
    b.add("quorum_up", script("quorum_up"))
    b.add("quorum_down", script("quorum_down"))
    b.add("quorum", integer("quorum", 0, 2**31 - 1))
    b.add("hysteresis", integer("hysteresis", 0, 2**31 - 1))
    b.add("weight", integer("weight", 1, 65535))
    b.add("inhibit_on_failure", flag("inhibit_on_failure"))

    def sorry_server(p: Parser, st: Stmt, acc: Acc) -> None:
        ipv = p.ip_arg(st.args[0], "sorry_server address")
        port = p.port_arg(st.args[1]) if len(st.args) > 1 else 0
        if ipv is not None and port is not None:
            acc["sorry_server"] = m.SorryServer(address=ipv, port=port, location=st.loc)

    b.add("sorry_server", Kw(sorry_server, 1, 2))
    b.add("sorry_server_inhibit", flag("sorry_server_inhibit"))
    b.add("sorry_server_lvs_method", _lvs_method("sorry_server_lvs_method"))
    b.add(
        "real_server",
        sub_block(
            _real_server_block, _rs_pending, _append("__real_servers__"), min_args=1, max_args=2
        ),
    )
    return b


def _rs_pending(p: Parser, st: Stmt, acc: Acc) -> Any:
    return ("rs", st, acc)


def _vsg_entry(p: Parser, toks: list[Token]) -> m.VsgEntry | None:
    first = toks[0]
    if first.text == "fwmark":
        if len(toks) < 2:
            p.diags.error("'fwmark' needs a value", first.loc)
            return None
        v = p.int_arg(toks[1], 1, 2**32 - 1, "fwmark")
        return None if v is None else m.VsgEntry(fwmark=v, location=first.loc)
    text = first.text
    kw: Acc = {}
    if "-" in text and "/" not in text:
        base, _, last = text.rpartition("-")
        try:
            b_ip = ipaddress.ip_address(base)
            if b_ip.version == 4:
                end = ipaddress.ip_address(".".join(base.split(".")[:-1] + [last]))
            else:
                end = ipaddress.ip_address(base.rsplit(":", 1)[0] + ":" + last)
            kw.update(address=str(b_ip), range_end=str(end))
        except ValueError:
            p.diags.error(f"invalid address range '{text}'", first.loc)
            return None
    elif "/" in text:
        try:
            net = ipaddress.ip_network(text, strict=False)
        except ValueError:
            p.diags.error(f"invalid prefix '{text}'", first.loc)
            return None
        kw.update(address=str(net.network_address), prefixlen=net.prefixlen)
    else:
        ipv = p.ip_arg(first)
        if ipv is None:
            return None
        kw["address"] = ipv
    if len(toks) > 1:
        port = p.port_arg(toks[1])
        if port is None:
            return None
        kw["port"] = port
    return m.VsgEntry(location=first.loc, **kw)


def _vsg_kw() -> Kw:
    def h(p: Parser, st: Stmt, acc: Acc) -> None:
        if not st.args:
            p.diags.error("'virtual_server_group' needs a name", st.loc)
            return
        entries = []
        for s in st.block or ():
            e = _vsg_entry(p, s.line_tokens())
            if e is not None:
                entries.append(e)
        p.lists["virtual_server_groups"].append(
            m.VirtualServerGroup(name=st.args[0].text, entries=tuple(entries), location=st.loc)
        )

    return Kw(h, 1, 1, True)


def _vs_kw() -> Kw:
    def h(p: Parser, st: Stmt, acc: Acc) -> None:
        sub: Acc = {}
        p.run(st.block, VIRTUAL_SERVER, sub)
        vs = _finish_vs(p, st, sub)
        if vs is not None:
            p.lists["virtual_servers"].append(vs)

    return Kw(h, 1, 2, True)


@functools.cache
def _ssl_block() -> Block:
    b = Block("SSL")
    for n in ("password", "ca", "certificate", "key"):
        b.add(n, word(n))
    return b


# ============================================================================================
# finishing: model objects + cross-derived defaults
# ============================================================================================


def _finish_auth(p: Parser, st: Stmt, acc: Acc) -> m.Authentication | None:
    acc.pop("_pass_loc", None)
    if "auth_type" not in acc:
        p.diags.error("authentication block without auth_type", st.loc)
        return None
    if not acc.get("auth_pass"):
        p.diags.warning(
            "authentication specified but no auth_pass given; authentication "
            "disabled (as keepalived)",
            st.loc,
        )
        return None
    return _build(m.Authentication, st, acc)


def _finish_instance(p: Parser, st: Stmt, acc: Acc) -> m.VrrpInstance | None:
    if not st.args:
        p.diags.error("'vrrp_instance' needs a name", st.loc)
        return None
    acc.pop("__name__", None)
    name = st.args[0].text
    acc["name"] = name
    gd: Acc = p.global_acc.get("__gd__", {})
    vips = acc.get("virtual_ipaddress", ())
    fams = {a.family for a in vips}
    family = 6 if fams == {6} else 4
    if not vips:
        ev = acc.get("virtual_ipaddress_excluded", ())
        if ev and {a.family for a in ev} == {6}:
            family = 6
    if vips and vips[0].family == 6:
        family = 6
    acc["family"] = family
    if "version" not in acc:
        acc["version"] = 3 if family == 6 else gd.get("vrrp_version", 2)
    elif family == 6 and acc["version"] == 2:
        p.diags.error(f"({name}) IPv6 instances must use VRRP version 3", st.loc)
        acc["version"] = 3
    strict = acc.get("strict_mode", gd.get("vrrp_strict", False))
    acc["strict_mode"] = strict
    # priority / state cross-derivation (keepalived vrrp.c vrrp_complete_instance)
    if "priority" not in acc:
        acc["priority"] = 255 if acc.get("state") == "MASTER" else 100
    if "state" not in acc:
        acc["state"] = "MASTER" if acc["priority"] == 255 else "BACKUP"
    elif strict and (acc["state"] == "MASTER") != (acc["priority"] == 255):
        p.diags.warning(
            f"({name}) strict mode: state MASTER must match being address owner "
            "(priority 255); state reset",
            st.loc,
        )
        acc["state"] = "MASTER" if acc["priority"] == 255 else "BACKUP"
    klocs: dict[str, Location] = acc.get("__locs__", {})
    if acc["priority"] == 255 and acc.get("nopreempt"):
        p.diags.warning(
            f"({name}) nopreempt is incompatible with priority 255; resetting nopreempt",
            klocs.get("nopreempt", st.loc),
        )
        acc["nopreempt"] = False
    if acc["state"] == "MASTER":
        if acc.get("nopreempt"):
            p.diags.warning(
                f"({name}) nopreempt will not work with initial state MASTER - clearing",
                klocs.get("nopreempt", st.loc),
                "use 'state BACKUP' on every node with nopreempt",
            )
            acc["nopreempt"] = False
        if acc.get("preempt_delay"):
            p.diags.warning(
                f"({name}) preempt_delay will not work with initial state MASTER - clearing",
                klocs.get("preempt_delay", st.loc),
            )
            acc["preempt_delay"] = 0.0
    if acc.get("preempt_delay"):
        if strict:
            p.diags.warning(
                f"({name}) preempt_delay is incompatible with strict mode - resetting",
                klocs.get("preempt_delay", st.loc),
            )
            acc["preempt_delay"] = 0.0
        elif acc.get("nopreempt"):
            p.diags.warning(
                f"({name}) preempt_delay is incompatible with nopreempt - resetting",
                klocs.get("preempt_delay", st.loc),
            )
            acc["preempt_delay"] = 0.0
    # authentication: VRRPv2 only
    auth = acc.get("authentication")
    if auth is not None:
        if strict:
            p.diags.warning(
                f"({name}) strict mode does not support authentication; ignoring", auth.location
            )
            acc["authentication"] = None
        elif acc["version"] == 3:
            p.diags.warning(
                f"({name}) VRRP version 3 does not support authentication; ignoring", auth.location
            )
            acc["authentication"] = None
    if acc.get("auth_hmac") is not None and acc.get("authentication") is not None:
        p.diags.error(
            f"({name}) auth_hmac and authentication are mutually exclusive",
            acc["auth_hmac"].location,
        )
    # advertisement interval rounding (keepalived vrrp.c)
    adv = acc.get("advert_int", 1.0)
    adv_loc = acc.pop("_advert_int_loc", st.loc)
    adv_us = round(adv * 1_000_000)
    if acc["version"] == 2:
        if not 1_000_000 <= adv_us <= 255_000_000:
            p.diags.error(
                f"({name}) VRRPv2 advert_int {_num_text(adv)}s is outside 1-255 s",
                adv_loc,
                "VRRPv2 sends whole seconds; use 'version 3' for sub-second adverts"
                if adv_us < 1_000_000
                else None,
            )
            adv_us = min(max(adv_us, 1_000_000), 255_000_000)
        if adv_us % 1_000_000:
            rounded = max(1, (adv_us + 500_000) // 1_000_000)
            p.diags.warning(
                f"({name}) VRRPv2 advertisement interval {_num_text(adv)}s must be an integer; "
                f"rounding to {rounded}s",
                adv_loc,
                "use 'version 3' for sub-second adverts",
            )
            adv_us = rounded * 1_000_000
    else:
        if not 10_000 <= adv_us <= 40_950_000:
            p.diags.error(
                f"({name}) VRRPv3 advert_int {_num_text(adv)}s is outside 0.01-40.95 s", adv_loc
            )
            adv_us = min(max(adv_us, 10_000), 40_950_000)
        if adv_us % 10_000:
            rounded_cs = max(1, (adv_us + 5_000) // 10_000)
            p.diags.warning(
                f"({name}) VRRPv3 advertisement interval {_num_text(adv)}s must be "
                f"in units of 10ms - rounding to {_num_text(rounded_cs / 100)}s",
                adv_loc,
            )
            adv_us = rounded_cs * 10_000
    acc["advert_int"] = adv_us / 1_000_000
    # accept mode: default on unless strict (then only for the owner)
    if "accept" not in acc:
        acc["accept"] = (not strict) or acc["priority"] == 255
    for gname, iname in (
        ("vrrp_lower_prio_no_advert", "lower_prio_no_advert"),
        ("vrrp_higher_prio_send_advert", "higher_prio_send_advert"),
        ("vrrp_skip_check_adv_addr", "skip_check_adv_addr"),
        ("vrrp_check_unicast_src", "check_unicast_src"),
        ("vrrp_notify_priority_changes", "notify_priority_changes"),
    ):
        if iname not in acc:
            acc[iname] = gd.get(gname, False)
    if strict:
        acc["lower_prio_no_advert"] = True
    # GARP pacing: the global value unless the instance sets its own (vrrp_min_garp: one GARP,
    # no second burst)
    min_garp = gd.get("vrrp_min_garp", False)
    g_delay = gd.get("vrrp_garp_master_delay", 0.0 if min_garp else 5.0)
    g_repeat = gd.get("vrrp_garp_master_repeat", 1 if min_garp else 5)
    acc.setdefault("garp_master_delay", g_delay)
    acc.setdefault("garp_master_repeat", g_repeat)
    acc.setdefault("garp_master_refresh", gd.get("vrrp_garp_master_refresh", 0.0))
    acc.setdefault("garp_master_refresh_repeat", gd.get("vrrp_garp_master_refresh_repeat", 1))
    acc.setdefault(
        "garp_lower_prio_delay", gd.get("vrrp_garp_lower_prio_delay", acc["garp_master_delay"])
    )
    acc.setdefault(
        "garp_lower_prio_repeat", gd.get("vrrp_garp_lower_prio_repeat", acc["garp_master_repeat"])
    )
    if "garp_extra_if" not in acc and gd.get("vrrp_garp_extra_if") is not None:
        acc["garp_extra_if"] = gd["vrrp_garp_extra_if"]
        acc.setdefault("garp_extra_if_all", gd.get("vrrp_garp_extra_if_all", False))
    if "down_timer_adverts" not in acc:
        acc["down_timer_adverts"] = gd.get("vrrp_down_timer_adverts", 3)
    if "owner_ignore_adverts" not in acc:
        acc["owner_ignore_adverts"] = gd.get("vrrp_owner_ignore_adverts", False)
    if "v3_checksum_as_v2" not in acc:
        acc["v3_checksum_as_v2"] = gd.get("v3_checksum_as_v2", False)
    if "smtp_alert" not in acc:
        acc["smtp_alert"] = gd.get("smtp_alert_vrrp", gd.get("smtp_alert"))
    if "virtual_router_id" not in acc and not acc.pop("_vrid_seen", False):
        p.diags.error(
            f"({name}) virtual_router_id is not set",
            st.loc,
            "add 'virtual_router_id N' (1-255), the same on every router of the group",
        )
    acc.pop("_vrid_seen", None)
    if acc.get("timer_expired_backup") and not acc.get("nopreempt"):
        p.diags.warning(f"({name}) timer_expired_backup requires nopreempt - resetting", st.loc)
        acc["timer_expired_backup"] = False
    return _build(m.VrrpInstance, st, acc)


def _instance_kw() -> Kw:
    def h(p: Parser, st: Stmt, acc: Acc) -> None:
        sub: Acc = {"__name__": st.args[0].text if st.args else ""}
        p.run(st.block, VRRP_INSTANCE, sub)
        # finished at the end (global_defs may follow); keep only the header, not the tree
        p.lists["vrrp_instances"].append(("pending", Stmt(st.kw, st.args[:1]), sub))

    return Kw(h, 1, 1, True)


def _finish_checker(p: Parser, kind: str, st: Stmt, acc: Acc, rs: Acc, vs: Acc) -> m.CheckerBase:
    cls = m.CHECKER_TYPES[kind]
    inherited = ("retry", "delay_before_retry", "warmup", "connect_timeout", "delay_loop", "alpha")
    for k in inherited:
        if k not in acc:
            if k in rs:
                acc[k] = rs[k]
            elif k in vs:
                acc[k] = vs[k]
    if kind == "DNS_CHECK" and "delay_before_retry" not in acc:
        acc["delay_before_retry"] = acc.get("delay_loop", 60.0)
    if kind == "MISC_CHECK" and "misc_path" not in acc:
        p.diags.error("MISC_CHECK without misc_path", st.loc)
    if kind == "FILE_CHECK" and "track_file" not in acc:
        p.diags.error("FILE_CHECK without track_file", st.loc)
    if kind == "BFD_CHECK" and "name" not in acc:
        p.diags.error("BFD_CHECK without name", st.loc)
    if kind in ("HTTP_GET", "SSL_GET") and not acc.get("url"):
        p.diags.warning(f"{kind} without any url block; checking '/' for status 2xx", st.loc)
    return _build(cls, st, acc)


def _finish_vs(p: Parser, st: Stmt, acc: Acc) -> m.VirtualServer | None:
    args = st.args
    if args[0].text == "fwmark":
        if len(args) < 2:
            p.diags.error("'virtual_server fwmark' needs a mark", st.loc)
            return None
        fw = p.int_arg(args[1], 1, 2**32 - 1, "fwmark")
        if fw is None:
            return None
        acc["fwmark"] = fw
    elif args[0].text == "group":
        if len(args) < 2:
            p.diags.error("'virtual_server group' needs a group name", st.loc)
            return None
        acc["group"] = args[1].text
    else:
        ipv = p.ip_arg(args[0], "virtual server address")
        if ipv is None:
            return None
        acc["address"] = ipv
        if len(args) < 2:
            p.diags.error(
                f"virtual_server {args[0].text} needs a port",
                st.loc,
                "use 'virtual_server IP PORT', 'fwmark N' or 'group NAME'",
            )
            return None
        port = p.port_arg(args[1])
        if port is None:
            return None
        acc["port"] = port
    fam = acc.pop("ip_family", None)
    if fam is not None:
        acc["ip_family"] = 6 if fam == "inet6" else 4
    elif acc.get("address"):
        acc["ip_family"] = ipaddress.ip_address(acc["address"]).version
    vs_acc = dict(acc)
    for k in ("retry", "delay_before_retry", "warmup", "connect_timeout"):
        acc.pop(k, None)
    rss = []
    for _tag, rst, racc in acc.pop("__real_servers__", ()):
        rs = _finish_rs(p, rst, racc, vs_acc)
        if rs is not None:
            rss.append(rs)
    acc["real_servers"] = tuple(rss)
    if "alpha" in acc and not isinstance(acc["alpha"], bool):
        acc.pop("alpha")
    return _build(m.VirtualServer, st, acc)


def _finish_rs(p: Parser, st: Stmt, acc: Acc, vs: Acc) -> m.RealServer | None:
    ipv = p.ip_arg(st.args[0], "real server address")
    if ipv is None:
        return None
    port: int | None = None
    if len(st.args) > 1:
        port = p.port_arg(st.args[1])
        if port is None:
            return None
    rs_inherit = dict(acc)
    checkers: list[Any] = []
    for _tag, kind, cst, cacc in acc.pop("__checkers__", ()):
        checkers.append(_finish_checker(p, kind, cst, cacc, rs_inherit, vs))
    for k in ("retry", "delay_before_retry", "warmup", "connect_timeout"):
        acc.pop(k, None)
    acc.setdefault("lvs_method", vs.get("lvs_method", "NAT"))
    acc.setdefault("weight", vs.get("weight", 1))
    if "tunnel_type" not in acc and vs.get("tunnel_type") and acc["lvs_method"] == "TUN":
        acc["tunnel_type"] = vs["tunnel_type"]
    acc.setdefault("inhibit_on_failure", vs.get("inhibit_on_failure", False))
    acc.setdefault("delay_loop", vs.get("delay_loop", 60.0))
    acc.setdefault("alpha", vs.get("alpha", False))
    locs = acc.pop("__locs__", {})
    return m.RealServer(
        address=ipv,
        port=port,
        checkers=tuple(checkers),
        location=st.loc,
        locations=locs,
        **acc,
    )


def _finish_global(p: Parser) -> m.GlobalDefs:
    acc = dict(p.global_acc.get("__gd__", {}))
    loc = acc.pop("__loc__", None)
    locs = acc.pop("__locs__", {})
    return m.GlobalDefs(**acc, location=loc, locations=locs)


def _finish_config(p: Parser, gd: m.GlobalDefs) -> m.Config:
    instances = []
    for _tag, st, acc in p.lists["vrrp_instances"]:
        vi = _finish_instance(p, st, acc)
        if vi is not None:
            instances.append(vi)
    if p.instance_sync_daemon and gd.lvs_sync_daemon is None:
        iname, tok = p.instance_sync_daemon[0]
        gd = gd.replace(
            lvs_sync_daemon=m.LvsSyncDaemon(
                interface=tok.text, vrrp_instance=iname, location=tok.loc
            )
        )
    lists = {k: tuple(v) for k, v in p.lists.items() if k != "vrrp_instances"}
    return m.Config(global_defs=gd, vrrp_instances=tuple(instances), ssl=p.ssl, **lists)


# ============================================================================================
# top level
# ============================================================================================


def _global_defs_kw() -> Kw:
    def h(p: Parser, st: Stmt, acc: Acc) -> None:
        gd = acc.setdefault("__gd__", {})
        gd.setdefault("__loc__", st.loc)
        p.run(st.block, GLOBAL_DEFS, gd)

    return Kw(h, 0, 0, True)


def _top_block() -> Block:
    b = Block("top level")
    b.add("global_defs", _global_defs_kw())
    b.add(
        "vrrp_script",
        sub_block(
            _vrrp_script_block,
            _named(m.VrrpScript),
            _to_top("vrrp_scripts"),
            min_args=1,
        ),
    )
    b.add(
        "track_file",
        sub_block(
            _track_file_block,
            _named(m.TrackFile),
            _to_top("track_files"),
            min_args=1,
        ),
    )
    b.alias("vrrp_track_file", "track_file")
    b.add(
        "vrrp_track_process",
        sub_block(
            _track_process_block,
            _named(m.VrrpTrackProcess),
            _to_top("vrrp_track_processes"),
            min_args=1,
        ),
    )
    b.add(
        "bfd_instance",
        sub_block(_bfd_block, _named(m.BfdInstance), _to_top("bfd_instances"), min_args=1),
    )
    b.add(
        "vrrp_sync_group",
        sub_block(
            _sync_group_block,
            _named(m.VrrpSyncGroup),
            _to_top("vrrp_sync_groups"),
            min_args=1,
        ),
    )
    b.add("vrrp_instance", _instance_kw())
    b.add("static_ipaddress", line_list("", parse_ip_line, to_top="static_ipaddress"))
    b.add("static_routes", line_list("", parse_route_line, to_top="static_routes"))
    b.add("static_rules", line_list("", parse_rule_line, to_top="static_rules"))
    b.add("virtual_server_group", _vsg_kw())
    b.add("virtual_server", _vs_kw())

    def ssl(p: Parser, st: Stmt, acc: Acc) -> None:
        sub: Acc = {}
        p.run(st.block, _ssl_block(), sub)
        p.ssl = _build(m.SslConfig, st, sub)

    b.add("SSL", Kw(ssl, 0, 0, True))

    def garp_group(p: Parser, st: Stmt, acc: Acc) -> None:
        sub: Acc = {}
        gb = Block("garp_group")
        gb.add("garp_interval", timer("garp_interval", 0, 1))
        gb.add("gna_interval", timer("gna_interval", 0, 1))
        gb.add("interface", word("interface"))
        gb.add("interfaces", name_list("interfaces"))
        p.run(st.block, gb, sub)
        gd = acc.setdefault("__gd__", {})
        gd["garp_groups"] = (*gd.get("garp_groups", ()), _build(m.GarpGroup, st, sub))

    b.add("garp_group", Kw(garp_group, 0, 0, True))

    def linkbeat_interfaces(p: Parser, st: Stmt, acc: Acc) -> None:
        gd = acc.setdefault("__gd__", {})
        gd["linkbeat_interfaces"] = (
            *gd.get("linkbeat_interfaces", ()),
            *(t.text for s in st.block or () for t in s.line_tokens()),
        )

    b.add("linkbeat_interfaces", Kw(linkbeat_interfaces, 0, 0, True))

    def up_down_delays(p: Parser, st: Stmt, acc: Acc) -> None:
        gd = acc.setdefault("__gd__", {})
        items = list(gd.get("interface_up_down_delays", ()))
        for s in st.block or ():
            toks = s.line_tokens()
            if len(toks) < 2:
                p.diags.error("interface_up_down_delays line needs 'IF DOWN [UP]'", s.loc)
                continue
            down = p.float_arg(toks[1], 0, 255, "down delay")
            up = p.float_arg(toks[2], 0, 255, "up delay") if len(toks) > 2 else down
            if down is not None and up is not None:
                items.append(
                    m.InterfaceDelay(
                        interface=toks[0].text, down_delay=down, up_delay=up, location=s.loc
                    )
                )
        gd["interface_up_down_delays"] = tuple(items)

    b.add("interface_up_down_delays", Kw(up_down_delays, 0, 0, True))
    b.add("track_group", ignored(1, True, instead="use track_interface on each instance"))
    b.add(
        "net_namespace",
        Kw(
            lambda p, st, acc: acc.setdefault("__gd__", {}).__setitem__(
                "net_namespace", st.args[0].text
            ),
            1,
            1,
        ),
    )
    return b


GLOBAL_DEFS = _global_block()
VRRP_INSTANCE = _instance_block()
VIRTUAL_SERVER = _virtual_server_block()
TOP = _top_block()
TOP.add("vrrp_instance", _instance_kw())


def all_keywords() -> Iterator[tuple[str, str]]:
    """(block, keyword) for every registered keyword (docs and tests)."""
    for blk in (
        TOP,
        GLOBAL_DEFS,
        VRRP_INSTANCE,
        VIRTUAL_SERVER,
        _real_server_block(),
        _vrrp_script_block(),
        _track_file_block(),
        _track_process_block(),
        _bfd_block(),
        _sync_group_block(),
        _auth_block(),
        _url_block(),
        *(_checker_block(k) for k in _CHECKER_KINDS),
    ):
        for k in blk.kws:
            yield blk.name, k
