"""``hadaemon lab``: replay the seed tutorial's walkthrough in network namespaces.

Builds two routers r1/r2 (the seed's master and backup configs, adapted only in addresses, the
notify script path and timers), two real servers rs1/rs2 running a TCP service on port 3306 that
answers with its name, and a client on the same LAN, all in namespaces with a prefix unique to
the run. Then it walks through the tutorial:

1. both up (master, then backup)       5. master back
2. master stopped (SIGTERM)            6. rs1's service stopped: TCP_CHECK fails, notify_down
3. master back (preempt)                  runs (and stops r1's daemon, as the seed's script
4. master killed (-9, whole group)        does), the VIP and traffic move to r2 / rs2
                                       7. service back, r1's daemon restarted (preempt)

while the client keeps opening connections to the VIP and watches the wire (ARP, VRRP adverts).
At the end it prints a timeline, a table per step and the checks (exactly one master, failover
times against Master_Down_Interval / Skew_Time, no failed connections outside the failover
windows, notify_down ran once). ``--json FILE`` writes everything as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hadaemon.lab import seedconf
from hadaemon.lab.routers import (
    IMPLS,
    STATE_RE,
    RouterImpl,
    hadaemon_missing,
    keepalived_path,
    make_impl,
)
from hadaemon.lab.timeline import (
    LabParams,
    Report,
    RouterInfo,
    StepRecord,
    analyse,
    checks_lines,
    master_down_interval_s,
    skew_time_s,
    step_table,
    timeline_lines,
)
from hadaemon.lab.topology import LabError, Topology, cleanup_leftovers, find_leftovers, new_prefix

VIP = seedconf.SEED_VIP
PORT = 3306
DEV = "eth1"
ADDRS = {
    "r1": seedconf.SEED_MASTER_ADDR,
    "r2": seedconf.SEED_BACKUP_ADDR,
    "rs1": "192.168.10.31",
    "rs2": "192.168.10.32",
    "client": "192.168.10.50",
}

Event = dict[str, Any]


@dataclass
class Options:
    """What the command line asked for."""

    impls: tuple[str, str] = ("hadaemon", "hadaemon")
    timers: seedconf.Timers = seedconf.DEFAULT_TIMERS
    short: bool = False
    standin_checker: bool = False
    standin_datapath: bool = False
    tolerance_s: float | None = None
    json_path: str | None = None
    plot_path: str | None = None
    keep: bool = False
    quiet: bool = False
    verbose: bool = False

    @property
    def client_interval_s(self) -> float:
        return 0.02 if self.short else 0.1

    @property
    def client_timeout_s(self) -> float:
        # 1 s = the kernel's initial SYN retransmission timeout: a connection that fails is one
        # whose SYN (or answer) was lost or refused, not one that a busy CPU made slow
        return 1.0

    @property
    def dwell_s(self) -> float:
        """Observation time after each step settles; it must outlast the failover window's
        grace (client timeout + 2 advert intervals) so that part of each step is judged."""
        return self.grace_s + (1.2 if self.short else 2.0)

    @property
    def grace_s(self) -> float:
        return self.client_timeout_s + 2 * self.timers.advert_int_s + 0.1

    @property
    def checker_budget_s(self) -> float:
        t = self.timers
        return (
            t.delay_loop_s + (t.retry + 1) * t.connect_timeout_s + t.retry * t.delay_before_retry_s
        )

    @property
    def settle_timeout_s(self) -> float:
        mdi = master_down_interval_s(1, self.timers.advert_int_s, self.timers.vrrp_version)
        # + start-up: hadaemon (supervisor, workers, eBPF compile) needs seconds on a busy host
        return 3 * mdi + self.checker_budget_s + (20.0 if self.short else 30.0)

    @property
    def tolerance(self) -> float:
        if self.tolerance_s is not None:
            return self.tolerance_s
        return max(0.25, self.timers.advert_int_s / 2)


@dataclass
class RouterRun:
    """One router of the lab and its current daemon process."""

    name: str
    impl: RouterImpl
    priority: int
    rs: str
    conf: Path
    rundir: Path
    script: Path
    proc: subprocess.Popen[Any] | None = None
    checker: subprocess.Popen[Any] | None = None
    threads: list[threading.Thread] = field(default_factory=list)


class Lab:
    """The namespaces, processes and recorded events of one lab run."""

    def __init__(self, opts: Options) -> None:
        self.opts = opts
        self.topo = Topology(new_prefix())
        self.tmp = Path(tempfile.mkdtemp(prefix=f"hadaemon-{self.topo.prefix}-"))
        self.events: list[Event] = []
        self._lock = threading.Lock()
        self.t0 = time.monotonic()
        self.t_client_start = float("inf")
        self.t_stop = 0.0
        self.routers: dict[str, RouterRun] = {}
        self.rs_procs: dict[str, subprocess.Popen[Any]] = {}
        self.client: subprocess.Popen[Any] | None = None
        self.steps: list[StepRecord] = []
        self.notify_log = self.tmp / "notify.log"
        self._notify_seen = 0
        self._readers: list[threading.Thread] = []

    # -- events -----------------------------------------------------------------------------
    def record(self, ev: str, **fields: Any) -> Event:
        fields.setdefault("t", time.monotonic())
        e = {"ev": ev, **fields}
        with self._lock:
            self.events.append(e)
        return e

    def snapshot(self, ev: str) -> list[Event]:
        with self._lock:
            return [e for e in self.events if e["ev"] == ev]

    def say(self, text: str) -> None:
        if not self.opts.quiet:
            print(f"[{time.monotonic() - self.t0:7.2f}s] {text}", flush=True)

    def _read_agent(self, proc: subprocess.Popen[Any], label: str, extra: dict[str, Any]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            line = line.rstrip("\n")
            try:
                e = json.loads(line)
                if not isinstance(e, dict) or "ev" not in e:
                    raise ValueError
            except ValueError:
                self.record("output", from_=label, line=line)
                if self.opts.verbose:
                    self.say(f"{label}: {line}")
                continue
            e.update(extra)
            e["from"] = label
            with self._lock:
                self.events.append(e)

    def _read_daemon(self, r: RouterRun, proc: subprocess.Popen[Any]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            line = line.rstrip("\n")
            t = time.monotonic()
            self.record("log", t=t, router=r.name, line=line)
            if self.opts.verbose:
                self.say(f"{r.name}: {line}")
            m = STATE_RE.search(line)
            if m:
                self.record(
                    "state",
                    t=t,
                    router=r.name,
                    impl=r.impl.name,
                    instance=m.group("instance"),
                    state=m.group("state"),
                )
        code = proc.wait()
        self.record("exit", router=r.name, code=code)
        if r.checker is not None and r.checker.poll() is None:
            self.topo.stop(r.checker)

    def _spawn(
        self, host: str, args: Sequence[str], label: str, **extra: Any
    ) -> subprocess.Popen[Any]:
        env = {**os.environ, "PYTHONPATH": _package_root(), "PYTHONUNBUFFERED": "1"}
        p = self.topo.popen(host, args, env=env, stdin=subprocess.PIPE)
        th = threading.Thread(target=self._read_agent, args=(p, label, extra), daemon=True)
        th.start()
        self._readers.append(th)
        return p

    def _agent(
        self, host: str, kind: str, *args: str, label: str = "", **extra: Any
    ) -> subprocess.Popen[Any]:
        return self._spawn(
            host,
            [sys.executable, "-m", "hadaemon.lab.agent", kind, *args],
            label or f"{kind}-{host}",
            **extra,
        )

    def wait(self, pred: Callable[[], Any], timeout_s: float, what: str) -> Any:
        deadline = time.monotonic() + timeout_s
        while True:
            self._poll_notify()
            v = pred()
            if v:
                return v
            if time.monotonic() > deadline:
                raise LabError(f"timed out after {timeout_s:g} s waiting for {what}")
            time.sleep(0.02)

    def _poll_notify(self) -> None:
        try:
            lines = self.notify_log.read_text().splitlines()
        except OSError:
            return
        offset = time.time() - time.monotonic()
        for line in lines[self._notify_seen :]:
            parts = line.split(" ", 2)
            try:
                t = float(parts[0]) - offset
            except (ValueError, IndexError):
                t = time.monotonic()
            router = parts[1] if len(parts) > 1 else "?"
            self.record("notify_run", t=t, router=router, line=line)
            self.say(f"{router}: notify_down script ran ({line.split(' ', 1)[-1]})")
        self._notify_seen = len(lines)

    # -- building -------------------------------------------------------------------------
    def setup(self) -> None:
        o = self.opts
        self.say(
            f"building the lab {self.topo.prefix} (r1={o.impls[0]}, r2={o.impls[1]}, "
            f"advert_int {o.timers.advert_int_s:g} s, VRRPv{o.timers.vrrp_version})"
        )
        self.topo.build_lan([(h, ADDRS[h]) for h in ("r1", "r2", "rs1", "rs2", "client")], dev=DEV)
        for rs in ("rs1", "rs2"):
            ns = self.topo.hosts[rs].ns
            self.topo.ip(ns, "addr", "add", f"{VIP}/32", "dev", "lo")
            for scope in ("all", DEV):
                self.topo.sysctl(ns, f"net.ipv4.conf.{scope}.arp_ignore", "1")
                self.topo.sysctl(ns, f"net.ipv4.conf.{scope}.arp_announce", "2")
        self.topo.ip(self.topo.hosts["client"].ns, "route", "add", f"{VIP}/32", "dev", DEV)
        seeds = {
            "r1": (seedconf.SEED_MASTER, seedconf.SEED_MASTER_ADDR, 100, "rs1"),
            "r2": (seedconf.SEED_BACKUP, seedconf.SEED_BACKUP_ADDR, 90, "rs2"),
        }
        for i, name in enumerate(("r1", "r2")):
            text, seed_rs, prio, rs = seeds[name]
            impl = make_impl(
                o.impls[i], standin_checker=o.standin_checker, standin_datapath=o.standin_datapath
            )
            rundir = self.tmp / name
            rundir.mkdir()
            script = rundir / "mysql.sh"
            script.write_text(
                "#!/bin/sh\n"
                "# notify_down of the seed (/data/sh/mysql.sh: 'pkill keepalived'): log the\n"
                "# arguments, then stop this router's daemon by its pid file.\n"
                f'echo "$(date +%s.%N) {name} args=[$*]" >> {self.notify_log}\n'
                f'pid=$(cat {impl.pidfile(rundir)} 2>/dev/null) && kill -TERM "$pid"\n'
                "exit 0\n"
            )
            script.chmod(0o755)
            conf = rundir / "keepalived.conf"
            conf.write_text(
                seedconf.adapt(
                    text,
                    real_server=ADDRS[rs],
                    notify_down=str(script),
                    timers=o.timers,
                    seed_real_server=seed_rs,
                )
            )
            self.routers[name] = RouterRun(name, impl, prio, rs, conf, rundir, script)
        for rs in ("rs1", "rs2"):
            self.start_rs(rs)
        self.client = self._agent(
            "client",
            "client",
            "--vip",
            VIP,
            "--port",
            str(PORT),
            "--dev",
            DEV,
            "--interval",
            str(o.client_interval_s),
            "--timeout",
            str(o.client_timeout_s),
            "--wait-start",
            label="client",
        )
        for name, r in self.routers.items():
            h = self.topo.hosts[name]
            args = [
                "--vip",
                VIP,
                "--port",
                str(PORT),
                "--dev",
                DEV,
                "--rs",
                ADDRS[r.rs],
                "--mac",
                h.mac,
            ]
            if not r.impl.has_datapath:
                args.append("--forward")
            self._agent(name, "director", *args, label=f"director-{name}", router=name)
        self.wait(
            lambda: len(self.snapshot("director_ready")) == 2 and self.snapshot("client_ready"),
            15,
            "the lab's helper processes",
        )
        self.say(f"lab ready: configs and logs in {self.tmp}")

    def start_rs(self, rs: str) -> None:
        n = len([e for e in self.snapshot("rs_listening") if e.get("name") == rs])
        self.rs_procs[rs] = self._agent(rs, "rs", "--name", rs, "--port", str(PORT), label=rs)
        self.wait(
            lambda: len([e for e in self.snapshot("rs_listening") if e.get("name") == rs]) > n,
            10,
            f"{rs}'s service",
        )

    def start_router(self, name: str) -> None:
        r = self.routers[name]
        for pf in r.impl.pidfiles(r.rundir):
            pf.unlink(missing_ok=True)
        env = {**os.environ, "PYTHONPATH": _package_root(), "PYTHONUNBUFFERED": "1"}
        p = self.topo.popen(name, r.impl.argv(r.conf, r.rundir), env=env, stdin=subprocess.DEVNULL)
        r.proc = p
        self.record("router_start", router=name, impl=r.impl.name, pid=p.pid)
        if not r.impl.has_checker:
            t = self.opts.timers
            r.checker = self._agent(
                name,
                "checker",
                "--rs",
                ADDRS[r.rs],
                "--port",
                str(PORT),
                "--delay-loop",
                str(t.delay_loop_s),
                "--connect-timeout",
                str(t.connect_timeout_s),
                "--retry",
                str(t.retry),
                "--delay-before-retry",
                str(t.delay_before_retry_s),
                "--notify-down",
                str(r.script),
                label=f"checker-{name}",
                router=name,
            )
        th = threading.Thread(target=self._read_daemon, args=(r, p), daemon=True)
        th.start()
        r.threads.append(th)

    def stop_router(self, name: str, sig: int) -> None:
        r = self.routers[name]
        if r.proc is not None:
            self.topo.stop(r.proc, sig)
        if r.checker is not None:
            self.topo.stop(r.checker, signal.SIGKILL if sig == signal.SIGKILL else signal.SIGTERM)

    # -- the walkthrough --------------------------------------------------------------------
    def _is_master(self, name: str, since: float) -> float | None:
        """Time of ``name``'s first priority>0 advert after ``since`` if it is master now."""
        addr = ADDRS[name]
        advs = self.snapshot("adv")
        mine = [a for a in advs if a["src"] == addr and a["prio"] > 0 and a["t"] >= since]
        if not mine:
            return None
        now = time.monotonic()
        recent = 2 * self.opts.timers.advert_int_s + 0.05
        others = [a for a in advs if a["src"] != addr and a["prio"] > 0 and a["t"] > now - recent]
        if others or now - mine[-1]["t"] > recent:
            return None
        return float(mine[0]["t"])

    def _answered_by(self, rs: str, since: float) -> bool:
        return any(c["ok"] and c["rs"] == rs and c["t"] >= since for c in self.snapshot("conn"))

    def step(
        self,
        kind: str,
        name: str,
        action: str,
        do: Callable[[], None],
        old: str | None,
        new: str,
        rs: str,
        also_up: str | None = None,
    ) -> None:
        """Run one step: ``do()``, then wait until ``new`` is master and ``rs`` answers (and
        ``also_up``'s daemon has logged its first state), then observe for the dwell time."""
        n = len(self.steps) + 1
        self.say(f"step {n}/7: {name}")
        t = time.monotonic()
        self.record("action", what=f"step {n}: {name} — {action}", step=n)
        rec = StepRecord(n, name, action, kind, t, old, new, rs)
        self.steps.append(rec)
        do()
        got: dict[str, float] = {}

        def settled() -> bool:
            tm = self._is_master(new, t)
            if tm is None:
                return False
            got["t_master"] = tm
            if also_up is not None and not any(
                e["router"] == also_up and e["t"] >= t for e in self.snapshot("state")
            ):
                return False
            return self.t_client_start == float("inf") or self._answered_by(rs, tm)

        try:
            self.wait(
                settled, self.opts.settle_timeout_s, f"{new} to become master and {rs} to answer"
            )
        except LabError as e:
            rec.t_end = time.monotonic()
            rec.note = str(e)
            hints = self._log_hints()
            fails = [c for c in self.snapshot("conn") if c["t"] >= t and not c["ok"]]
            if self._is_master(new, t) is not None and fails:
                r = self.routers[new]
                who = "the lab's stand-in" if not r.impl.has_datapath else f"{r.impl.name}'s"
                hints.append(
                    f"{new} holds the VIP but the client's connections fail ({fails[-1]['err']}):"
                    f" {who} load balancer does not forward VIP:{PORT} to {rs}"
                    + (" (try --standin-lvs)" if r.impl.has_datapath else "")
                )
            raise LabError(str(e) + "".join(f"\n  {h}" for h in hints)) from None
        rec.settled = True
        took = got["t_master"] - t
        self.say(
            f"  {new} is master ({took:.3f} s after the action); {rs} answers; "
            f"observing for {self.opts.dwell_s:g} s"
        )
        time.sleep(self.opts.dwell_s)
        self._poll_notify()
        rec.t_end = time.monotonic()

    def _log_hints(self, limit: int = 4) -> list[str]:
        """A few distinct error lines from the routers' logs (why a step did not settle)."""
        words = ("cannot run", "error", "Error", "Traceback", "FATAL", "exited with")
        out: list[str] = []
        for e in self.snapshot("log"):
            line = e["line"]
            if any(w in line for w in words):
                text = f"{e['router']}: {line.split(': ', 1)[-1][:160]}"
                if text not in out:
                    out.append(text)
        return out[-limit:]

    def walkthrough(self) -> None:
        def both_up() -> None:
            self.start_router("r1")
            self.start_router("r2")

        def rs_down() -> None:
            self.topo.stop(self.rs_procs["rs1"], signal.SIGTERM)

        def rs_back() -> None:
            self.start_rs("rs1")
            r1 = self.routers["r1"]
            if r1.proc is not None:
                self.wait(
                    lambda: r1.proc is not None and r1.proc.poll() is not None,
                    10,
                    "r1's daemon to stop (notify_down)",
                )
            self.start_router("r1")

        self.step(
            "start",
            "both up (master, then backup)",
            "start r1, then r2",
            both_up,
            None,
            "r1",
            "rs1",
            also_up="r2",
        )
        # start the client once the first election is over (the seed: "ip addr" shows the VIP)
        assert self.client is not None and self.client.stdin is not None
        t_go = time.monotonic()
        self.record("action", what="client starts connecting to the VIP")
        self.client.stdin.write("go\n")
        self.client.stdin.flush()
        self.wait(
            lambda: self._answered_by("rs1", t_go),
            self.opts.settle_timeout_s,
            "the client's first answer from rs1 (the load balancer of r1)",
        )
        # the service is up from the first answer on: failures before it are start-up, reported
        # in the timeline but not judged (the seed tests the service once both routers are up)
        first = min(c["t"] for c in self.snapshot("conn") if c["ok"] and c["t"] >= t_go)
        self.t_client_start = first
        failed = len([c for c in self.snapshot("conn") if c["t"] < first and c["t"] >= t_go])
        self.record("service_up", t=first, after_s=first - t_go, failed=failed)
        self.say(
            f"  the VIP answers {first - t_go:.3f} s after the client started ({failed} failed)"
        )
        time.sleep(self.opts.dwell_s)
        self.step(
            "sigterm",
            "master stopped (SIGTERM)",
            "kill -TERM r1's daemon",
            lambda: self.stop_router("r1", signal.SIGTERM),
            "r1",
            "r2",
            "rs2",
        )
        self.step(
            "preempt",
            "master back (preempt)",
            "start r1's daemon",
            lambda: self.start_router("r1"),
            "r2",
            "r1",
            "rs1",
        )
        self.step(
            "kill9",
            "master killed (-9)",
            "kill -9 all of r1's daemon processes (a crash)",
            lambda: self.stop_router("r1", signal.SIGKILL),
            "r1",
            "r2",
            "rs2",
        )
        self.step(
            "preempt",
            "master back",
            "start r1's daemon",
            lambda: self.start_router("r1"),
            "r2",
            "r1",
            "rs1",
        )
        self.step(
            "rs_down",
            "rs1's service stopped",
            "stop rs1's service (TCP_CHECK fails)",
            rs_down,
            "r1",
            "r2",
            "rs2",
        )
        self.step(
            "preempt",
            "service back, r1 restarted",
            "start rs1's service, restart r1",
            rs_back,
            "r2",
            "r1",
            "rs1",
        )

    def finish(self) -> None:
        """Stop the routers (SIGTERM) and remember when the walkthrough ended."""
        self.t_stop = time.monotonic()
        self.record("action", what="end: stopping the routers")
        for name in ("r1", "r2"):
            r = self.routers.get(name)
            if r and r.proc and r.proc.poll() is None:
                self.stop_router(name, signal.SIGTERM)
        self._poll_notify()

    def close(self) -> None:
        self.topo.close()
        for th in self._readers:
            th.join(timeout=1)
        if not self.opts.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)

    # -- results ----------------------------------------------------------------------------
    def params(self) -> LabParams:
        routers = tuple(
            RouterInfo(
                n,
                ADDRS[n],
                self.topo.hosts[n].mac if n in self.topo.hosts else "",
                r.priority,
                r.impl.name,
            )
            for n, r in self.routers.items()
        )
        return LabParams(
            self.opts.timers.advert_int_s,
            self.opts.timers.vrrp_version,
            self.opts.client_timeout_s,
            self.opts.tolerance,
            routers,
            self.opts.checker_budget_s,
        )

    def report(self) -> Report:
        with self._lock:
            events = sorted(self.events, key=lambda e: float(e["t"]))
        return analyse(
            events, self.steps, self.params(), self.t_client_start, self.t_stop or time.monotonic()
        )

    def to_json(self, rep: Report) -> dict[str, Any]:
        p = self.params()
        t = self.opts.timers
        with self._lock:
            events = sorted(self.events, key=lambda e: float(e["t"]))
        return {
            "version": 1,
            "prefix": self.topo.prefix,
            "t0": self.t0,
            "t_client_start": self.t_client_start if self.t_client_start != float("inf") else None,
            "t_stop": self.t_stop,
            "mode": {
                "short": self.opts.short,
                "routers": list(self.opts.impls),
                "standin_checker": [n for n, r in self.routers.items() if not r.impl.has_checker],
                "standin_datapath": [
                    n for n, r in self.routers.items() if not r.impl.has_datapath
                ],
            },
            "timers": {
                "vrrp_version": t.vrrp_version,
                "advert_int_s": t.advert_int_s,
                "delay_loop_s": t.delay_loop_s,
                "connect_timeout_s": t.connect_timeout_s,
                "retry": t.retry,
                "delay_before_retry_s": t.delay_before_retry_s,
                "client_timeout_s": self.opts.client_timeout_s,
                "client_interval_s": self.opts.client_interval_s,
                "tolerance_s": p.tolerance_s,
                "grace_s": p.grace_s,
            },
            "routers": {
                r.name: {
                    "addr": r.addr,
                    "mac": r.mac,
                    "priority": r.priority,
                    "impl": r.impl,
                    "skew_time_s": skew_time_s(r.priority, t.advert_int_s, t.vrrp_version),
                    "master_down_interval_s": master_down_interval_s(
                        r.priority, t.advert_int_s, t.vrrp_version
                    ),
                }
                for r in p.routers
            },
            "steps_recorded": [s.__dict__ for s in self.steps],
            "report": rep.to_json(),
            "events": events,
        }


def _package_root() -> str:
    return str(Path(__file__).resolve().parents[2])


# -- command line --------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """``hadaemon lab`` options."""
    p = argparse.ArgumentParser(
        prog="hadaemon lab",
        description="Replay the seed tutorial (VIP failover, preemption, kill -9, TCP_CHECK + "
        "notify_down) in network namespaces and print a timeline.",
    )
    p.add_argument(
        "--short",
        action="store_true",
        help="fast timers for tests: VRRPv3, 0.1 s adverts, fast checker",
    )
    p.add_argument(
        "--seed-timers",
        action="store_true",
        help="the seed's advert_int 5 (default mode uses 1 s adverts)",
    )
    p.add_argument(
        "--keepalived",
        action="store_true",
        help="run keepalived on r2 (the backup) to show interoperation",
    )
    p.add_argument(
        "--routers",
        metavar="IMPL,IMPL",
        default=None,
        help=f"implementations of r1,r2 among {', '.join(IMPLS)} (default hadaemon,hadaemon)",
    )
    p.add_argument(
        "--standin-checker",
        action="store_true",
        help="use the lab's stand-in TCP_CHECK instead of hadaemon's checker",
    )
    p.add_argument(
        "--standin-lvs",
        action="store_true",
        help="use the lab's stand-in DR forwarder instead of hadaemon's LVS",
    )
    p.add_argument(
        "--tolerance",
        type=float,
        default=None,
        metavar="SECONDS",
        help="allowed lateness of a failover vs the RFC value (default max(0.25 s, advert_int/2))",
    )
    p.add_argument("--json", metavar="FILE", help="write the timeline and checks as JSON")
    p.add_argument("--plot", metavar="FILE.png", help="draw the timeline (needs matplotlib)")
    p.add_argument(
        "--cleanup", action="store_true", help="remove leftovers of killed lab runs and exit"
    )
    p.add_argument("--keep", action="store_true", help="keep the configs and logs directory")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    p.add_argument("-v", "--verbose", action="store_true", help="echo the daemons' logs")
    return p


def options_from_args(a: argparse.Namespace) -> Options:
    """Validate the parsed arguments into :class:`Options` (raises LabError)."""
    impls: tuple[str, str] = ("hadaemon", "hadaemon")
    if a.routers:
        parts = [x.strip() for x in a.routers.split(",")]
        if len(parts) != 2 or any(x not in IMPLS for x in parts):
            raise LabError(
                f"--routers wants two of {', '.join(IMPLS)} separated by a comma, "
                f"e.g. --routers hadaemon,keepalived (got {a.routers!r})"
            )
        impls = (parts[0], parts[1])
    if a.keepalived:
        impls = (impls[0], "keepalived")
    if a.short and a.seed_timers:
        raise LabError("--short and --seed-timers exclude each other")
    timers = (
        seedconf.SHORT_TIMERS
        if a.short
        else seedconf.SEED_TIMERS
        if a.seed_timers
        else seedconf.DEFAULT_TIMERS
    )
    if a.tolerance is not None and a.tolerance < 0:
        raise LabError("--tolerance must be >= 0")
    return Options(
        impls,
        timers,
        a.short,
        a.standin_checker,
        a.standin_lvs,
        a.tolerance,
        a.json,
        a.plot,
        a.keep,
        a.quiet,
        a.verbose,
    )


def preflight(o: Options) -> list[str]:
    """Problems that stop the lab before it builds anything (empty: go)."""
    problems = []
    if os.geteuid() != 0:
        problems.append(
            "hadaemon lab needs root: it creates network namespaces, veth links "
            "and raw sockets. Run it as root (sudo hadaemon lab)."
        )
        return problems
    if shutil.which("ip") is None:
        problems.append("iproute2's `ip` is not installed (apt install iproute2).")
    if not os.path.exists("/proc/self/ns/net"):
        problems.append("this kernel has no network namespaces (CONFIG_NET_NS).")
    if "keepalived" in o.impls and keepalived_path() is None:
        problems.append(
            "keepalived is not installed (apt install keepalived) but was asked "
            "for one of the routers."
        )
    if "hadaemon" in o.impls:
        why = hadaemon_missing()
        if why:
            problems.append(
                f"hadaemon's daemon cannot run yet: {why}. Run the walkthrough with "
                "keepalived on both routers: hadaemon lab --routers "
                "keepalived,keepalived"
            )
    need_nft = "keepalived" in o.impls or o.standin_datapath
    if need_nft and shutil.which("nft") is None:
        problems.append(
            "nft is not installed (apt install nftables): the stand-in load balancer needs it."
        )
    if o.plot_path:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            problems.append(
                "--plot needs matplotlib, which is not installed "
                "(apt install python3-matplotlib, or pip install matplotlib)."
            )
    return problems


class _Terminated(Exception):
    pass


def _on_sigterm(signum: int, frame: object) -> None:
    raise _Terminated()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``hadaemon lab`` and ``make lab``; returns the exit code."""
    a = build_parser().parse_args(list(argv) if argv is not None else None)
    if a.cleanup:
        if os.geteuid() != 0:
            print(
                "hadaemon lab --cleanup needs root (it deletes network namespaces).",
                file=sys.stderr,
            )
            return 2
        done = cleanup_leftovers()
        print("\n".join(f"removed {d}" for d in done) or "no leftovers from killed lab runs")
        return 0
    try:
        opts = options_from_args(a)
    except LabError as e:
        print(f"hadaemon lab: {e}", file=sys.stderr)
        return 2
    problems = preflight(opts)
    if problems:
        for pr in problems:
            print(f"hadaemon lab: {pr}", file=sys.stderr)
        return 2
    lo = find_leftovers()
    if lo.namespaces:
        print(
            f"hadaemon lab: note: leftovers of killed lab runs: {', '.join(lo.namespaces)} "
            "(they do not disturb this run; remove them with `hadaemon lab --cleanup`)",
            file=sys.stderr,
        )
    old_term = signal.signal(signal.SIGTERM, _on_sigterm)
    # Ctrl-C must interrupt even when SIGINT came in ignored (a shell without job control
    # starts background commands that way, and Python then installs no handler of its own)
    old_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    lab = Lab(opts)
    rc = 0
    error = ""
    try:
        lab.setup()
        lab.walkthrough()
        lab.finish()
    except (KeyboardInterrupt, _Terminated):
        error = "interrupted"
        rc = 130
    except LabError as e:
        error = str(e)
        rc = 1
    finally:
        try:
            if not lab.t_stop:
                lab.t_stop = time.monotonic()
            lab.say("cleaning up the namespaces")
            lab.close()
        finally:
            signal.signal(signal.SIGTERM, old_term)
            signal.signal(signal.SIGINT, old_int)
    if rc == 130:
        print("hadaemon lab: interrupted; the lab was removed.", file=sys.stderr)
        return rc
    rep = lab.report()
    t0 = lab.t0
    print()
    print("Timeline (seconds since the start of the lab):")
    print(
        "\n".join(
            timeline_lines(sorted(lab.events, key=lambda e: float(e["t"])), lab.params(), t0)
        )
    )
    print()
    print("Steps:")
    print("\n".join(step_table(rep, t0)))
    print()
    print("Checks:")
    print("\n".join(checks_lines(rep)))
    if opts.json_path:
        doc = lab.to_json(rep)
        doc["error"] = error
        Path(opts.json_path).write_text(json.dumps(doc, indent=1, default=str))
    if opts.plot_path:
        from hadaemon.lab.plot import plot

        plot(lab.to_json(rep), opts.plot_path)
        print(f"plot written to {opts.plot_path}")
    if error:
        print(f"hadaemon lab: {error}", file=sys.stderr)
        return 1
    return 0 if rep.ok else 1


if __name__ == "__main__":
    sys.exit(main())
