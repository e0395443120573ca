"""``hadaemon status [--json] [--run-dir DIR]``: read the status socket, print it.

Also holds the text renderers used by the supervisor's USR1/USR2 dump files.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
from typing import Any

DEFAULT_RUN_DIR = "/run/hadaemon"
STATE_ORDER = ("MASTER", "BACKUP", "FAULT", "INIT", "STOP")


def query(path: str, timeout_s: float = 5.0) -> dict[str, Any]:
    """Fetch the status document from the socket at ``path``."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout_s)
        s.connect(path)
        s.sendall(b"status\n")
        chunks = []
        while True:
            data = s.recv(65536)
            if not data:
                break
            chunks.append(data)
    doc = json.loads(b"".join(chunks))
    if not isinstance(doc, dict):
        raise ValueError("status socket answered something that is not a JSON object")
    return doc


def _fmt_s(v: Any) -> str:
    if v is None:
        return "-"
    v = float(v)
    if v < 120:
        return f"{v:.1f}s"
    if v < 7200:
        return f"{v / 60:.1f}m"
    return f"{v / 3600:.1f}h"


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    cells = [headers] + [["-" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells
    )


def _iname(inst: dict[str, Any]) -> str:
    return str(inst.get("name") or inst.get("iname") or "?")


def _receive_path_line(vrrp: Any) -> str:
    """``receive path: ebpf (eth1 xdp, eth0 tc; eth0.100 on eth0 VLAN 100)`` or
    ``receive path: classic (eBPF: why not)``; "" when the VRRP worker did not say."""
    rx = vrrp.get("receive_path") if isinstance(vrrp, dict) else None
    if not isinstance(rx, dict) or not rx.get("kind"):
        return ""
    hooks = [f"{n} {h}" for n, h in sorted((rx.get("hooks") or {}).items())]
    vlans = [
        f"{n} on {v.get('hook')} VLAN {v.get('vlan')}"
        for n, v in sorted((rx.get("vlan_hooks") or {}).items())
        if isinstance(v, dict)
    ]
    detail = "; ".join(x for x in (", ".join(hooks), ", ".join(vlans)) if x)
    if rx.get("ebpf_error"):
        detail = "; ".join(x for x in (detail, f"eBPF: {rx['ebpf_error']}") if x)
    return f"receive path: {rx['kind']}" + (f" ({detail})" if detail else "")


def format_table(doc: dict[str, Any]) -> str:
    """The human view of the status document."""
    hd = doc.get("hadaemon", {})
    out = [
        f"hadaemon {hd.get('version', '?')}  pid {hd.get('pid', '?')}  "
        f"uptime {_fmt_s(hd.get('uptime_s'))}  config {hd.get('config_file', '?')}  "
        f"config-id {hd.get('config_id', '?')}",
    ]
    lr = hd.get("last_reload")
    if isinstance(lr, dict):
        out.append(f"last reload: {'ok' if lr.get('ok') else 'FAILED: ' + str(lr.get('error'))}")
    out.append("")
    workers = doc.get("workers", {})
    out.append(
        _table(
            ["WORKER", "PID", "STATE", "RESTARTS", "UPTIME", "LAST EXIT"],
            [
                [
                    n,
                    w.get("pid"),
                    w.get("state") + (" (wedged)" if w.get("wedged") else ""),
                    w.get("restarts"),
                    _fmt_s(w.get("uptime_s")),
                    w.get("last_exit"),
                ]
                for n, w in workers.items()
            ],
        )
    )
    instances = doc.get("instances") or []
    if instances:
        out.append("")
        out.append(
            _table(
                [
                    "INSTANCE",
                    "STATE",
                    "PRIO",
                    "EFF",
                    "VRID",
                    "INTERFACE",
                    "MASTER",
                    "SINCE",
                    "REASON",
                ],
                [
                    [
                        _iname(i),
                        i.get("state"),
                        i.get("priority"),
                        i.get("effective_priority"),
                        i.get("vrid", i.get("virtual_router_id")),
                        i.get("interface"),
                        i.get("master_address") or i.get("master"),
                        _fmt_s(i.get("last_transition_age_s")),
                        i.get("reason"),
                    ]
                    for i in instances
                    if isinstance(i, dict)
                ],
            )
        )
    elif doc.get("vrrp_states"):
        out.append("")
        out.append(_table(["INSTANCE", "STATE"], [[k, v] for k, v in doc["vrrp_states"].items()]))
    vrrp = (doc.get("services") or {}).get("vrrp")
    disabled = vrrp.get("disabled_instances") if isinstance(vrrp, dict) else None
    if isinstance(disabled, dict):  # an interface missing without dynamic_interfaces
        out.extend(f"({n}) not started: {why}" for n, why in sorted(disabled.items()))
    rx_line = _receive_path_line(vrrp)
    if rx_line:
        out.append(rx_line)
    bfd = (doc.get("services") or {}).get("bfd")
    sessions = bfd.get("sessions") if isinstance(bfd, dict) else None
    if sessions:
        out.append("")
        out.append(
            _table(
                ["BFD", "NEIGHBOR", "STATE", "REMOTE", "DIAG", "DETECT", "SINCE"],
                [
                    [
                        b.get("name"),
                        b.get("neighbor_ip"),
                        b.get("state"),
                        b.get("remote_state"),
                        b.get("local_diag"),
                        f"{b['detection_time_us'] / 1000:g}ms"
                        if b.get("detection_time_us")
                        else None,
                        _fmt_s(b.get("state_age_s")),
                    ]
                    for b in sessions
                    if isinstance(b, dict)
                ],
            )
        )
    rows = []
    for vs in doc.get("virtual_servers") or []:
        if not isinstance(vs, dict):
            continue
        vname = vs.get("name") or vs.get("key") or "?"
        rows.append([vname, "", vs.get("state", ""), ""])
        for rs in vs.get("real_servers") or []:
            if isinstance(rs, dict):
                rows.append(
                    [
                        "",
                        rs.get("name") or rs.get("key") or rs.get("address"),
                        rs.get("state", "up" if rs.get("up") else "down"),
                        rs.get("last_check") or rs.get("last_result"),
                    ]
                )
    if not rows:
        rows = [
            [r["virtual_server"], r["real_server"], "up" if r.get("up") else "down", ""]
            for r in doc.get("real_server_states") or []
        ]
    if rows:
        out.append("")
        out.append(_table(["VIRTUAL SERVER", "REAL SERVER", "STATE", "LAST CHECK"], rows))
    return "\n".join(out) + "\n"


def format_data(doc: dict[str, Any]) -> str:
    """``hadaemon.data`` (USR1): the table plus every instance's fields."""
    out = [format_table(doc), "------< VRRP Topology >------"]
    for inst in doc.get("instances") or []:
        if not isinstance(inst, dict):
            continue
        out.append(f" VRRP Instance = {_iname(inst)}")
        for k, v in sorted(inst.items()):
            if k not in ("name", "stats"):
                out.append(f"   {k} = {v}")
    out.append("------< Services >------")
    for name, svc in (doc.get("services") or {}).items():
        out.append(f" {name} = {json.dumps(svc, sort_keys=True, default=str)}")
    return "\n".join(out) + "\n"


def format_stats(doc: dict[str, Any]) -> str:
    """``hadaemon.stats`` (USR2): per-instance counters, keepalived's counter names."""
    out = []
    for inst in doc.get("instances") or []:
        if not isinstance(inst, dict):
            continue
        out.append(f"VRRP Instance: {_iname(inst)}")
        for k, v in sorted((inst.get("stats") or {}).items()):
            out.append(f"  {k}: {v}")
    for n, w in (doc.get("workers") or {}).items():
        out.append(f"Worker: {n}")
        out.append(f"  restarts: {w.get('restarts')}")
    return "\n".join(out) + "\n"


def main(argv: list[str]) -> int:
    """Entry point of ``hadaemon status``."""
    p = argparse.ArgumentParser(prog="hadaemon status", description="show hadaemon's state")
    p.add_argument("--json", action="store_true", help="print the raw JSON document")
    p.add_argument("--run-dir", default=DEFAULT_RUN_DIR, help="hadaemon's run directory")
    p.add_argument("--socket", help="status socket path (default <run-dir>/status.sock)")
    args = p.parse_args(argv)
    path = args.socket or f"{args.run_dir.rstrip('/')}/status.sock"
    try:
        doc = query(path)
    except FileNotFoundError:
        print(f"hadaemon status: {path} does not exist; is hadaemon running?", file=sys.stderr)
        return 3
    except ConnectionRefusedError:
        print(f"hadaemon status: nobody listens on {path}; is hadaemon running?", file=sys.stderr)
        return 3
    except PermissionError:
        print(f"hadaemon status: permission denied on {path} (root only)", file=sys.stderr)
        return 4
    except (OSError, ValueError) as exc:
        print(f"hadaemon status: cannot read {path}: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(doc, indent=2, sort_keys=True))
    else:
        sys.stdout.write(format_table(doc))
    return 0
