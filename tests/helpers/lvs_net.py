"""LVS test topology: client — director — LAN of real servers, all in fresh namespaces.

```
client  eth0 10.77.1.2/24 (+ 10.77.1.100-163 extra sources), default via 10.77.1.1
director eth0 10.77.1.1/24 (+ NAT VIP /32)  |  eth1 10.77.2.1/24, ip_forward=1
rs1..rs3 eth0 10.77.2.11-13/24, default via 10.77.2.1, VIPs on lo, arp_ignore=1 arp_announce=2
sorry    eth0 10.77.2.50/24
```
Real servers run tests/helpers/lvs_rs_server.py (answer their name); the LVS objects run in the
director under tests/helpers/lvs_driver.py. Everything is removed by :meth:`LvsLab.close`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from helpers.netns import Topology

HERE = Path(__file__).resolve().parent
PY = sys.executable
NAT_VIP = "10.77.100.1"
DR_VIP = "10.77.100.2"
RS = {"rs1": "10.77.2.11", "rs2": "10.77.2.12", "rs3": "10.77.2.13"}
SORRY = "10.77.2.50"
CLIENT_SRCS = [f"10.77.1.{i}" for i in range(100, 164)]


class Driver:
    """The LVS objects running in the director namespace (JSON lines over a pipe)."""

    def __init__(self, topo: Topology, ns: str) -> None:
        self.proc = topo.popen(
            ns,
            [PY, str(HERE / "lvs_driver.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )

    def __call__(self, op: str, **kw: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"op": op, **kw}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError(f"lvs driver died (rc={self.proc.poll()})")
        return json.loads(line)

    def ok(self, op: str, **kw: Any) -> dict[str, Any]:
        r = self(op, **kw)
        assert r["ok"], r.get("trace") or r
        return r

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()


class LvsLab:
    """The namespaces, addresses and real servers."""

    def __init__(self) -> None:
        self.topo = Topology("lv")
        t = self.topo
        try:
            self.client = t.ns("cl")
            self.director = t.ns("dir")
            self.rs = {name: t.ns(name) for name in RS}
            self.sorry = t.ns("sorry")
            t.lan(
                [
                    (self.client, "eth0", ["10.77.1.2/24"]),
                    (self.director, "eth0", ["10.77.1.1/24"]),
                ],
                name="cli",
            )
            t.lan(
                [
                    (self.director, "eth1", ["10.77.2.1/24"]),
                    *[(ns, "eth0", [f"{RS[n]}/24"]) for n, ns in self.rs.items()],
                    (self.sorry, "eth0", [f"{SORRY}/24"]),
                ],
                name="srv",
            )
            t.exec(self.client, "ip", "route", "add", "default", "via", "10.77.1.1")
            for a in CLIENT_SRCS:
                t.exec(self.client, "ip", "addr", "add", f"{a}/24", "dev", "eth0")
            t.exec(self.director, "sysctl", "-qw", "net.ipv4.ip_forward=1")
            # the NAT VIP is local on the director (as VRRP would add it); the DR VIP is not:
            # the real servers' replies (source = VIP) come back through the director, which
            # would drop them as martians if it held the VIP itself (in production they leave
            # through the clients' router). DR finds eth0 through the config's vrrp_instance.
            t.exec(self.director, "ip", "addr", "add", f"{NAT_VIP}/32", "dev", "eth0")
            for ns in (*self.rs.values(), self.sorry):
                t.exec(ns, "ip", "route", "add", "default", "via", "10.77.2.1")
                t.exec(
                    ns,
                    "sysctl",
                    "-qw",
                    "net.ipv4.conf.all.arp_ignore=1",
                    "net.ipv4.conf.all.arp_announce=2",
                )
                for vip in (NAT_VIP, DR_VIP):
                    t.exec(ns, "ip", "addr", "add", f"{vip}/32", "dev", "lo")
            self.servers: dict[str, subprocess.Popen[str]] = {}
            for n, ns in self.rs.items():
                self.start_server(n, ns)
            self.start_server("sorry", self.sorry)
        except BaseException:
            t.close()
            raise

    def start_server(self, name: str, ns: str) -> None:
        p = self.topo.popen(
            ns,
            [PY, str(HERE / "lvs_rs_server.py"), name, "80", "8080"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert p.stdout is not None
        line = p.stdout.readline()
        assert line.strip() == "ready", line
        self.servers[name] = p

    def stop_server(self, name: str) -> None:
        import os
        import signal

        p = self.servers.pop(name)
        os.killpg(p.pid, signal.SIGKILL)
        p.wait(timeout=5)

    def driver(self) -> Driver:
        return Driver(self.topo, self.director)

    def client_run(
        self,
        vip: str,
        port: int,
        count: int,
        srcs: list[str] | None = None,
        until: str = "",
        background: bool = False,
    ) -> Any:
        args = [PY, str(HERE / "lvs_client.py"), vip, str(port), str(count)]
        if srcs:
            args += ["--src", ",".join(srcs)]
        if until:
            args += ["--until", until]
        p = self.topo.popen(
            self.client, args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        if background:
            return p
        return self.client_result(p)

    @staticmethod
    def client_result(p: subprocess.Popen[str]) -> dict[str, Any]:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        return json.loads(out)

    def nft_json(self) -> dict[str, Any]:
        r = self.topo.exec(self.director, "nft", "-j", "list", "ruleset")
        return json.loads(r.stdout)

    def close(self) -> None:
        self.topo.close()
