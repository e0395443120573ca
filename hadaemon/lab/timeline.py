"""Pure analysis of a lab run: recorded events in, steps, checks and a printed timeline out.

Input is the merged event list (dicts with ``t`` in monotonic seconds and ``ev``; see
:mod:`hadaemon.lab.agent`) plus the lab's step records. Nothing here touches the system, so the
checks are unit-tested with synthetic event streams.

Definitions (all from what the client saw on the wire, independent of the daemons' own logs):

* **master run**: a series of adverts with priority > 0 from one router, consecutive adverts less
  than ``Master_Down_Interval`` apart, lasting until one advertisement interval after its last
  advert (the master is master until its next advert is due); a priority-0 advert ends it.
* **exactly one master**: after the initial election, no two runs overlap by more than one
  advertisement interval plus the tolerance (the hand-over at preemption), and every moment
  without a master lies inside a failover window.
* **failover window** of a step: from its action to the new master's first advert plus a grace of
  the client's connect timeout + 2 advertisement intervals + 0.1 s (the client must see the
  gratuitous ARP and in-flight attempts to the old MAC must time out).
* **failover time**: SIGTERM (and the notify_down step): the old master's priority-0 advert to
  the new master's first advert, expected ``Skew_Time``; kill -9: the old master's last advert to
  the new master's first advert, expected ``Master_Down_Interval`` (RFC 3768 / 5798 §6.1).
  It must lie within [expected − advert_int/2, expected + tolerance].
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

Event = dict[str, Any]


def skew_time_s(priority: int, advert_int_s: float, version: int) -> float:
    """Skew_Time in seconds.

    RFC 3768 §6.1 (v2): (256 − Priority) / 256; RFC 5798 §6.1 (v3): that × Master_Adver_Interval.
    """
    if version == 2:
        return (256 - priority) / 256.0
    return (256 - priority) * advert_int_s / 256.0


def master_down_interval_s(priority: int, advert_int_s: float, version: int) -> float:
    """Master_Down_Interval = 3 × (Master_)Advertisement_Interval + Skew_Time."""
    return 3 * advert_int_s + skew_time_s(priority, advert_int_s, version)


@dataclass(frozen=True)
class RouterInfo:
    """A router of the lab as the analysis needs it."""

    name: str
    addr: str
    mac: str
    priority: int
    impl: str = ""


@dataclass(frozen=True)
class LabParams:
    """Timers and tolerances of a run (seconds)."""

    advert_int_s: float
    version: int
    client_timeout_s: float
    tolerance_s: float
    routers: tuple[RouterInfo, ...]
    checker_budget_s: float = 0.0

    def router_by_addr(self, addr: str) -> str:
        for r in self.routers:
            if r.addr == addr:
                return r.name
        return addr

    def router_by_mac(self, mac: str) -> str:
        for r in self.routers:
            if r.mac and r.mac.lower() == mac.lower():
                return r.name
        return mac or "-"

    def priority(self, name: str) -> int:
        for r in self.routers:
            if r.name == name:
                return r.priority
        raise KeyError(name)

    @property
    def grace_s(self) -> float:
        return self.client_timeout_s + 2 * self.advert_int_s + 0.1


@dataclass
class StepRecord:
    """What the lab did in one step (filled in by the orchestrator)."""

    n: int
    name: str
    action: str
    kind: str  # "start" | "sigterm" | "kill9" | "preempt" | "rs_down" | "rs_back"
    t_action: float
    old_master: str | None
    new_master: str
    expect_rs: str
    t_end: float = 0.0
    settled: bool = False
    note: str = ""


@dataclass
class StepResult:
    """Measured outcome of one step."""

    n: int
    name: str
    action: str
    t_action: float
    t_end: float
    master: str | None
    arp_owner: str
    answered: dict[str, int]
    failed_in_window: int
    failed_outside: int
    window: tuple[float, float] | None
    failover_s: float | None = None
    expected_s: float | None = None
    expected_what: str = ""
    failover_ok: bool | None = None
    detect_s: float | None = None
    settled: bool = False
    note: str = ""


@dataclass
class Report:
    """The whole analysis; ``ok`` is the conjunction of ``checks``."""

    steps: list[StepResult]
    master_runs: list[tuple[str, float, float]]
    overlaps: list[tuple[str, str, float, float]]
    masterless_gaps: list[tuple[float, float]]
    failed_outside: list[Event]
    notify_runs: list[Event]
    checks: dict[str, bool] = field(default_factory=dict)
    details: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(self.checks.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "steps": [asdict(s) for s in self.steps],
            "master_runs": [list(r) for r in self.master_runs],
            "overlaps": [list(o) for o in self.overlaps],
            "masterless_gaps": [list(g) for g in self.masterless_gaps],
            "failed_outside": self.failed_outside,
            "notify_runs": self.notify_runs,
            "checks": self.checks,
            "details": self.details,
            "ok": self.ok,
        }


def of_kind(events: Iterable[Event], ev: str) -> list[Event]:
    """Events of one kind, in time order."""
    return sorted((e for e in events if e.get("ev") == ev), key=lambda e: float(e["t"]))


def master_runs(adverts: Sequence[Event], p: LabParams) -> list[tuple[str, float, float]]:
    """Per-router runs of priority>0 adverts (see module docstring), sorted by start."""
    by_src: dict[str, list[Event]] = {}
    for a in adverts:
        by_src.setdefault(p.router_by_addr(a["src"]), []).append(a)
    runs: list[tuple[str, float, float]] = []
    for name, advs in by_src.items():
        limit = master_down_interval_s(
            p.priority(name) if name in {r.name for r in p.routers} else 100,
            p.advert_int_s,
            p.version,
        )
        start: float | None = None
        last = 0.0
        for a in sorted(advs, key=lambda e: float(e["t"])):
            t = float(a["t"])
            if int(a["prio"]) == 0:
                if start is not None:
                    runs.append((name, start, t))
                start = None
                continue
            if start is not None and t - last > limit:
                runs.append((name, start, last + p.advert_int_s))
                start = None
            if start is None:
                start = t
            last = t
        if start is not None:
            runs.append((name, start, last + p.advert_int_s))
    return sorted(runs, key=lambda r: r[1])


def _overlaps(runs: Sequence[tuple[str, float, float]]) -> list[tuple[str, str, float, float]]:
    out = []
    for i, (a, s1, e1) in enumerate(runs):
        for b, s2, e2 in runs[i + 1 :]:
            if a != b and min(e1, e2) > max(s1, s2):
                out.append((a, b, max(s1, s2), min(e1, e2)))
    return out


def _gaps(
    runs: Sequence[tuple[str, float, float]], t_from: float, t_to: float
) -> list[tuple[float, float]]:
    """Intervals in [t_from, t_to] covered by no run."""
    gaps = []
    cur = t_from
    for _name, s, e in sorted(runs, key=lambda r: r[1]):
        if e < cur:
            continue
        if s > cur:
            gaps.append((cur, min(s, t_to)))
        cur = max(cur, e)
        if cur >= t_to:
            break
    if cur < t_to:
        gaps.append((cur, t_to))
    return [(a, b) for a, b in gaps if b > a]


def _inside_any(a: float, b: float, windows: Sequence[tuple[float, float]]) -> bool:
    return any(w0 <= a and b <= w1 for w0, w1 in windows)


def _intersects_any(a: float, b: float, windows: Sequence[tuple[float, float]]) -> bool:
    return any(a <= w1 and b >= w0 for w0, w1 in windows)


def analyse(
    events: Sequence[Event],
    steps: Sequence[StepRecord],
    p: LabParams,
    t_client_start: float,
    t_stop: float,
) -> Report:
    """Compute step results and the checks from the recorded events."""
    adverts = of_kind(events, "adv")
    conns = of_kind(events, "conn")
    arps = of_kind(events, "arp")
    neighs = of_kind(events, "neigh")
    notifies = of_kind(events, "notify_run")
    runs = master_runs(adverts, p)

    results: list[StepResult] = []
    windows: list[tuple[float, float]] = []
    for s in steps:
        first_new = next(
            (
                a
                for a in adverts
                if float(a["t"]) >= s.t_action
                and int(a["prio"]) > 0
                and p.router_by_addr(a["src"]) == s.new_master
            ),
            None,
        )
        window = None
        if first_new is not None:
            window = (s.t_action, float(first_new["t"]) + p.grace_s)
        elif s.t_end:
            window = (s.t_action, s.t_end)  # never settled: the whole step is one window
        if window:
            windows.append(window)
        res = StepResult(
            s.n,
            s.name,
            s.action,
            s.t_action,
            s.t_end,
            None,
            "-",
            {},
            0,
            0,
            window,
            settled=s.settled,
            note=s.note,
        )
        # failover time against the RFC
        old = s.old_master
        if first_new is not None and old is not None and s.kind in ("sigterm", "rs_down", "kill9"):
            t_new = float(first_new["t"])
            prio_new = p.priority(s.new_master)
            if s.kind == "kill9":
                last_old = [
                    a
                    for a in adverts
                    if float(a["t"]) <= s.t_action
                    and p.router_by_addr(a["src"]) == old
                    and int(a["prio"]) > 0
                ]
                if last_old:
                    res.failover_s = t_new - float(last_old[-1]["t"])
                res.expected_s = master_down_interval_s(prio_new, p.advert_int_s, p.version)
                res.expected_what = "Master_Down_Interval"
            else:
                zero = [
                    a
                    for a in adverts
                    if s.t_action <= float(a["t"]) <= t_new
                    and p.router_by_addr(a["src"]) == old
                    and int(a["prio"]) == 0
                ]
                if zero:
                    res.failover_s = t_new - float(zero[0]["t"])
                res.expected_s = skew_time_s(prio_new, p.advert_int_s, p.version)
                res.expected_what = "Skew_Time (priority 0 received)"
            if res.failover_s is not None:
                lo = max(0.0, res.expected_s - p.advert_int_s / 2)
                res.failover_ok = lo <= res.failover_s <= res.expected_s + p.tolerance_s
            else:
                res.failover_ok = False
        elif first_new is not None and s.kind == "preempt":
            t_new = float(first_new["t"])
            starts = [
                float(e["t"])
                for e in of_kind(events, "router_start")
                if e.get("router") == s.new_master and s.t_action <= float(e["t"]) <= t_new
            ]
            res.failover_s = t_new - (starts[-1] if starts else s.t_action)
            res.expected_s = master_down_interval_s(
                p.priority(s.new_master), p.advert_int_s, p.version
            )
            res.expected_what = "start-up + Master_Down_Interval (info)"
        if s.kind == "rs_down":
            n = next((e for e in notifies if float(e["t"]) >= s.t_action), None)
            if n is not None:
                res.detect_s = float(n["t"]) - s.t_action
        results.append(res)

    # per-step counts (connections started inside the step)
    bounds = [
        (r.t_action, (results[i + 1].t_action if i + 1 < len(results) else t_stop))
        for i, r in enumerate(results)
    ]
    failed_outside: list[Event] = []
    for c in conns:
        t0, t1 = float(c["t"]), float(c.get("t_end") or c["t"])
        if t0 < t_client_start or t0 >= t_stop:
            continue
        if not c["ok"] and not _intersects_any(t0, t1, windows):
            failed_outside.append(c)
    for r, (b0, b1) in zip(results, bounds, strict=True):
        for c in conns:
            t0, t1 = float(c["t"]), float(c.get("t_end") or c["t"])
            if not b0 <= t0 < min(b1, t_stop):
                continue
            if c["ok"]:
                r.answered[c["rs"]] = r.answered.get(c["rs"], 0) + 1
            elif _intersects_any(t0, t1, windows):
                r.failed_in_window += 1
            else:
                r.failed_outside += 1
        here = [m for m in runs if m[1] <= b1 and m[2] >= b0]
        r.master = here[-1][0] if here else None
        owner = [a for a in arps if float(a["t"]) <= b1]
        ne = [n for n in neighs if float(n["t"]) <= b1 and n.get("mac")]
        if ne:
            r.arp_owner = p.router_by_mac(ne[-1]["mac"])
        elif owner:
            r.arp_owner = p.router_by_mac(owner[-1]["mac"])

    t_elected = runs[0][1] if runs else t_stop
    overlaps = [
        o
        for o in _overlaps(runs)
        if o[3] - o[2] > p.advert_int_s + p.tolerance_s and o[3] > t_elected
    ]
    gaps = [
        g
        for g in _gaps(runs, t_elected, t_stop)
        if not _inside_any(g[0], g[1], windows) and g[1] - g[0] > 0
    ]
    # the end of the run: the lab stops the routers itself, nothing to judge after t_stop
    rep = Report(results, runs, overlaps, gaps, failed_outside, notifies)
    rep.checks["all_steps_settled"] = all(s.settled for s in steps)
    rep.checks["exactly_one_master"] = bool(runs) and not overlaps and not gaps
    failover_steps = [r for r in results if r.failover_ok is not None]
    rep.checks["failover_within_rfc"] = bool(failover_steps) and all(
        r.failover_ok for r in failover_steps
    )
    rep.checks["no_failed_connections_outside_windows"] = not failed_outside
    rep.checks["notify_down_ran_once"] = len(notifies) == 1
    rep.details["tolerance"] = (
        f"failover in [expected - {p.advert_int_s / 2:g} s, "
        f"expected + {p.tolerance_s:g} s]; hand-over overlap <= "
        f"{p.advert_int_s + p.tolerance_s:g} s; window grace "
        f"{p.grace_s:g} s"
    )
    return rep


# -- rendering -----------------------------------------------------------------------------------


def _fmt(t: float | None, t0: float) -> str:
    return "     -  " if t is None else f"{t - t0:8.3f}"


def timeline_lines(events: Sequence[Event], p: LabParams, t0: float) -> list[str]:
    """Chronological notable events (state changes, first/last adverts, ARP, notify, ...)."""
    lines: list[tuple[float, str]] = []
    for e in events:
        ev, t = e.get("ev"), float(e["t"])
        if ev == "action":
            lines.append((t, f"== {e['what']}"))
        elif ev == "state":
            lines.append(
                (
                    t,
                    f"{e['router']:<6} ({e.get('instance', '?')}) Entering "
                    f"{e['state']} STATE  [{e.get('impl', '')} log]",
                )
            )
        elif ev == "vip":
            lines.append((t, f"{e['router']:<6} VIP {'added' if e['present'] else 'removed'}"))
        elif ev == "notify_run":
            lines.append((t, f"{e['router']:<6} notify_down ran: {e.get('line', '')}"))
        elif ev == "check":
            lines.append(
                (
                    t,
                    f"{e['router']:<6} TCP_CHECK {e['rs']} -> "
                    f"{'UP' if e['up'] else 'DOWN'} (stand-in checker)",
                )
            )
        elif ev == "service_up":
            lines.append(
                (
                    t,
                    f"client first answer from the VIP, {e['after_s']:.3f} s after it "
                    f"started ({e['failed']} failed before: start-up, not judged)",
                )
            )
        elif ev == "exit":
            lines.append((t, f"{e['router']:<6} daemon exited (status {e['code']})"))
    # adverts: first of each run, priority-0 adverts
    for name, s, _e in master_runs(of_kind(events, "adv"), p):
        lines.append((s, f"{name:<6} first advert as master (wire)"))
    for a in of_kind(events, "adv"):
        if int(a["prio"]) == 0:
            lines.append(
                (float(a["t"]), f"{p.router_by_addr(a['src']):<6} priority-0 advert (wire)")
            )
    # neighbour (ARP owner) changes in the client
    last = None
    for n in of_kind(events, "neigh"):
        owner = p.router_by_mac(n.get("mac", ""))
        if n.get("mac") and owner != last:
            lines.append((float(n["t"]), f"client ARP entry for VIP -> {owner} ({n['mac']})"))
            last = owner
    # connection result changes
    prev = None
    run_fail = 0
    for c in of_kind(events, "conn"):
        cur = c["rs"] if c["ok"] else "FAIL"
        if cur == "FAIL":
            run_fail += 1
        if cur != prev:
            if prev == "FAIL":
                lines.append(
                    (
                        float(c["t"]),
                        f"client connections answered by {cur} again after {run_fail} failed",
                    )
                )
                run_fail = 0
            elif cur == "FAIL":
                lines.append((float(c["t"]), f"client connection failed ({c.get('err')})"))
            else:
                lines.append((float(c["t"]), f"client connections answered by {cur}"))
            prev = cur
    lines.sort(key=lambda x: x[0])
    return [f"{t - t0:9.3f}s  {text}" for t, text in lines]


def step_table(rep: Report, t0: float) -> list[str]:
    """The per-step summary table."""
    hdr = (
        f"{'#':>2} {'step':<34} {'t':>8} {'master':<7} {'ARP':<6} {'answered':<18} "
        f"{'fail in/out':>11}  failover vs RFC"
    )
    out = [hdr, "-" * len(hdr)]
    for r in rep.steps:
        ans = " ".join(f"{k}:{v}" for k, v in sorted(r.answered.items())) or "-"
        fo = ""
        if r.failover_s is not None and r.expected_s is not None:
            mark = {True: "ok", False: "OUT OF RANGE", None: ""}[r.failover_ok]
            fo = (
                f"{r.failover_s * 1000:7.1f} ms vs {r.expected_what} "
                f"{r.expected_s * 1000:.1f} ms {mark}"
            )
        elif r.failover_ok is False:
            fo = "no failover observed"
        if r.detect_s is not None:
            fo += f"; notify_down {r.detect_s:.2f} s after the stop"
        if not r.settled:
            fo += " [did not settle]"
        out.append(
            f"{r.n:>2} {r.name:<34} {_fmt(r.t_action, t0)} {r.master or '-':<7} "
            f"{r.arp_owner:<6} {ans:<18} {r.failed_in_window:>5}/{r.failed_outside:<5}  "
            f"{fo}"
        )
    return out


def checks_lines(rep: Report) -> list[str]:
    """PASS/FAIL per check plus details."""
    out = [f"  {'PASS' if v else 'FAIL'}  {k}" for k, v in rep.checks.items()]
    for o in rep.overlaps:
        out.append(f"        two masters: {o[0]} and {o[1]} for {o[3] - o[2]:.3f} s")
    for g in rep.masterless_gaps:
        out.append(f"        no master outside a failover window for {g[1] - g[0]:.3f} s")
    for c in rep.failed_outside[:10]:
        out.append(f"        failed connection outside windows: {c.get('err')}")
    out.append(f"        notify_down runs: {len(rep.notify_runs)}")
    for k, v in rep.details.items():
        out.append(f"        {k}: {v}")
    return out
