"""Prometheus ``/metrics`` (``global_defs { metrics_listen ADDR:PORT }``), via prometheus-client.

Metric names and labels follow mehdy/keepalived-exporter so existing dashboards keep working:
``keepalived_up``, ``keepalived_vrrp_state{iname,intf,vrid,ip_address}`` (0 INIT, 1 BACKUP,
2 MASTER, 3 FAULT, one sample per VIP), and per instance ``keepalived_<counter>_total{iname,
intf,vrid}`` for keepalived's vrrp counters (advert_rcvd, advert_sent, become_master,
release_master, packet_len_err, advert_interval_err, ip_ttl_err, invalid_type_rcvd,
addr_list_err, invalid_authtype, authtype_mismatch, auth_failure, pri_zero_rcvd,
pri_zero_sent). hadaemon's own: ``hadaemon_worker_up{worker}``,
``hadaemon_worker_restarts_total{worker}``, ``hadaemon_uptime_seconds``,
``hadaemon_real_server_up{virtual_server,real_server}``, ``hadaemon_bpf_drops_total{reason}``,
``hadaemon_receive_path{kind}``, ``hadaemon_vrrp_last_seen_age_seconds{ifindex,family,vrid,src}``
and ``hadaemon_failover_decision_seconds{iname}`` when the vrrp worker reports them.

The HTTP side is aiohttp on the supervisor's loop (no threads); every scrape asks the workers
for fresh status.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from hadaemon.supervisor.main import Supervisor

VRRP_STATE_VALUES = {"INIT": 0, "BACKUP": 1, "MASTER": 2, "FAULT": 3, "STOP": 4}
VRRP_COUNTERS = (
    "advert_rcvd",
    "advert_sent",
    "become_master",
    "release_master",
    "packet_len_err",
    "advert_interval_err",
    "ip_ttl_err",
    "invalid_type_rcvd",
    "addr_list_err",
    "invalid_authtype",
    "authtype_mismatch",
    "auth_failure",
    "pri_zero_rcvd",
    "pri_zero_sent",
)


def parse_listen(value: str) -> tuple[str, int]:
    """``ADDR:PORT`` or ``[V6ADDR]:PORT`` → (host, port); ValueError with a clear text."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"expected ADDR:PORT, got {value!r}")
    host = host.strip("[]") or "0.0.0.0"
    ipaddress.ip_address(host)  # ValueError if not an address
    return host, int(port)


def _instance_labels(inst: dict[str, Any]) -> tuple[str, str, str]:
    return (
        str(inst.get("name") or inst.get("iname") or ""),
        str(inst.get("interface") or inst.get("intf") or ""),
        str(inst.get("vrid", inst.get("virtual_router_id", "")) or ""),
    )


def _vips(inst: dict[str, Any]) -> list[str]:
    raw = inst.get("virtual_ipaddress") or inst.get("vips") or []
    out = []
    for v in raw:
        if isinstance(v, dict):
            v = v.get("address") or v.get("ip") or v.get("cidr") or ""
        out.append(str(v).split("/")[0])
    return out or [""]


class StatusCollector(Collector):
    """Builds every metric from one status document."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc

    def collect(self) -> Iterator[Metric]:
        """Yield the metric families."""
        doc = self.doc
        workers = doc.get("workers") or {}
        up = GaugeMetricFamily("keepalived_up", "Status of the daemon (1 = VRRP worker running)")
        vrrp_running = workers.get("vrrp", {}).get("state") == "RUNNING"
        any_running = any(w.get("state") == "RUNNING" for w in workers.values())
        up.add_metric(
            [], 1.0 if (vrrp_running or ("vrrp" not in workers and any_running)) else 0.0
        )
        yield up
        state = GaugeMetricFamily(
            "keepalived_vrrp_state",
            "State of vrrp (0 INIT, 1 BACKUP, 2 MASTER, 3 FAULT)",
            labels=["iname", "intf", "vrid", "ip_address"],
        )
        counters = {
            c: CounterMetricFamily(
                f"keepalived_{c}", f"VRRP {c.replace('_', ' ')}", labels=["iname", "intf", "vrid"]
            )
            for c in VRRP_COUNTERS
        }
        latency = GaugeMetricFamily(
            "hadaemon_failover_decision_seconds",
            "Time from the last master advert (kernel stamp) to the takeover decision",
            labels=["iname"],
        )
        for inst in doc.get("instances") or []:
            if not isinstance(inst, dict):
                continue
            labels = _instance_labels(inst)
            value = VRRP_STATE_VALUES.get(str(inst.get("state", "")).upper())
            if value is not None:
                for vip in _vips(inst):
                    state.add_metric([*labels, vip], float(value))
            stats = inst.get("stats") or {}
            for c, fam in counters.items():
                if isinstance(stats.get(c), int | float):
                    fam.add_metric(list(labels), float(stats[c]))
            lat = inst.get("failover_decision_s")
            if isinstance(lat, int | float):
                latency.add_metric([labels[0]], float(lat))
        yield state
        yield from counters.values()
        yield latency
        wup = GaugeMetricFamily("hadaemon_worker_up", "Worker process running", labels=["worker"])
        wrs = CounterMetricFamily("hadaemon_worker_restarts", "Worker respawns", labels=["worker"])
        for n, w in workers.items():
            wup.add_metric([n], 1.0 if w.get("state") == "RUNNING" else 0.0)
            wrs.add_metric([n], float(w.get("restarts") or 0))
        yield wup
        yield wrs
        uptime = GaugeMetricFamily("hadaemon_uptime_seconds", "Supervisor uptime")
        uptime.add_metric([], float((doc.get("hadaemon") or {}).get("uptime_s") or 0))
        yield uptime
        rs = GaugeMetricFamily(
            "hadaemon_real_server_up",
            "Real server health (1 = up)",
            labels=["virtual_server", "real_server"],
        )
        for r in doc.get("real_server_states") or []:
            rs.add_metric(
                [str(r["virtual_server"]), str(r["real_server"])], 1.0 if r.get("up") else 0.0
            )
        yield rs
        drops = CounterMetricFamily(
            "hadaemon_bpf_drops", "VRRP packets dropped in the kernel", labels=["reason"]
        )
        vrrp_svc = (doc.get("services") or {}).get("vrrp") or {}
        bpf = vrrp_svc.get("bpf_drops") if isinstance(vrrp_svc, dict) else None
        if isinstance(bpf, dict):
            for reason, n in sorted(bpf.items()):
                if isinstance(n, int | float):
                    drops.add_metric([str(reason)], float(n))
        yield drops
        yield from _receive_path_metrics(vrrp_svc.get("receive_path") if vrrp_svc else None)
        yield from _timer_metrics(vrrp_svc.get("timers") if vrrp_svc else None)
        yield from _bfd_metrics((doc.get("services") or {}).get("bfd"))


BFD_STATE_VALUES = {"AdminDown": 0, "Down": 1, "Init": 2, "Up": 3}
"""RFC 5880 §4.1 State field values."""


def _bfd_metrics(bfd: Any) -> Iterator[Metric]:
    """BFD sessions of the bfd worker: state, Detection Time, packets, transitions, drops."""
    state = GaugeMetricFamily(
        "hadaemon_bfd_state",
        "BFD session state (RFC 5880: 0 AdminDown, 1 Down, 2 Init, 3 Up)",
        labels=["name", "neighbor"],
    )
    detect = GaugeMetricFamily(
        "hadaemon_bfd_detection_time_seconds",
        "Current Detection Time of the session",
        labels=["name", "neighbor"],
    )
    counters = {
        key: CounterMetricFamily(f"hadaemon_bfd_{key}", help_, labels=["name", "neighbor"])
        for key, help_ in (
            ("rx_packets", "BFD control packets received"),
            ("tx_packets", "BFD control packets sent"),
            ("up_transitions", "Times the session came Up"),
            ("down_transitions", "Times the session left Up"),
        )
    }
    drops = CounterMetricFamily(
        "hadaemon_bfd_drops", "BFD packets dropped by reason", labels=["reason"]
    )
    sessions = bfd.get("sessions") if isinstance(bfd, dict) else None
    for s in sessions if isinstance(sessions, list) else ():
        if not isinstance(s, dict):
            continue
        labels = [str(s.get("name", "")), str(s.get("neighbor_ip", ""))]
        value = BFD_STATE_VALUES.get(str(s.get("state", "")))
        if value is not None:
            state.add_metric(labels, float(value))
        us = s.get("detection_time_us")
        if isinstance(us, int | float):
            detect.add_metric(labels, us / 1e6)
        stats = s.get("stats") or {}
        for key, fam in counters.items():
            if isinstance(stats.get(key), int | float):
                fam.add_metric(labels, float(stats[key]))
    raw = bfd.get("drops") if isinstance(bfd, dict) else None
    for reason, n in sorted((raw or {}).items()) if isinstance(raw, dict) else ():
        if isinstance(n, int | float):
            drops.add_metric([str(reason)], float(n))
    yield state
    yield detect
    yield from counters.values()
    yield drops


def _timer_metrics(timers: Any) -> Iterator[Metric]:
    """How late the VRRP worker's timers fired (keepalived logs "A thread timer expired")."""
    late = CounterMetricFamily(
        "hadaemon_vrrp_timer_late", "VRRP timers that fired more than 0.1 s late"
    )
    worst = GaugeMetricFamily(
        "hadaemon_vrrp_timer_max_lateness_seconds", "Largest VRRP timer lateness seen"
    )
    last = GaugeMetricFamily(
        "hadaemon_vrrp_timer_last_lateness_seconds", "Lateness of the last VRRP timer"
    )
    if isinstance(timers, dict):
        for fam, key in (
            (late, "timer_late_count"),
            (worst, "timer_max_lateness_s"),
            (last, "timer_last_lateness_s"),
        ):
            if isinstance(timers.get(key), int | float):
                fam.add_metric([], float(timers[key]))
    yield late
    yield worst
    yield last


def _receive_path_metrics(rx: Any) -> Iterator[Metric]:
    """The active VRRP receive path and, per (ifindex, family, VRID), the age of the last advert
    the kernel stamped (eBPF ``last_seen``)."""
    path = GaugeMetricFamily(
        "hadaemon_receive_path", "Active VRRP receive path (1 = active)", labels=["kind"]
    )
    age = GaugeMetricFamily(
        "hadaemon_vrrp_last_seen_age_seconds",
        "Seconds since the kernel stamped the last valid advert of this VRID",
        labels=["ifindex", "family", "vrid", "src"],
    )
    if isinstance(rx, dict):
        if rx.get("kind"):
            path.add_metric([str(rx["kind"])], 1.0)
        for e in rx.get("last_seen") or []:
            if isinstance(e, dict) and isinstance(e.get("age_s"), int | float):
                age.add_metric(
                    [
                        str(e.get("ifindex", "")),
                        str(e.get("family", "")),
                        str(e.get("vrid", "")),
                        str(e.get("src", "")),
                    ],
                    float(e["age_s"]),
                )
    yield path
    yield age


def render(doc: dict[str, Any]) -> bytes:
    """The Prometheus text exposition of a status document."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StatusCollector(doc))
    data: bytes = generate_latest(registry)
    return data


async def start_metrics_server(sup: Supervisor, listen: str) -> web.AppRunner:
    """Serve ``/metrics`` on ``listen``; returns the runner (``await runner.cleanup()``)."""
    host, port = parse_listen(listen)

    async def metrics(request: web.Request) -> web.Response:
        body = render(await sup.collect_status())
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner
