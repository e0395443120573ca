"""HTTP_GET / SSL_GET against a real HTTP(S) server in a namespace, plus ``hadaemon genhash``."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.checker_harness import ROOT, CheckerRun, start_server, stop_server
from helpers.checker_servers import BIG_BYTES, OK_BODY
from helpers.netns import Topology

from hadaemon.checkers.spec import (
    CheckerConfig,
    CheckSpec,
    HttpSpec,
    RealServerSpec,
    UrlSpec,
    VirtualServerSpec,
    fmt_service,
)

pytestmark = [pytest.mark.root, pytest.mark.netns]

RS = "10.0.0.11"
OK_MD5 = hashlib.md5(OK_BODY).hexdigest()


def big_md5() -> str:
    h = hashlib.md5()
    chunk = b"\0" * (1024 * 1024)
    for _ in range(BIG_BYTES // len(chunk)):
        h.update(chunk)
    return h.hexdigest()


def http(
    port: int,
    url: UrlSpec,
    *,
    kind: str = "HTTP_GET",
    retry: int = 0,
    delay_loop_s: float = 0.2,
    timeout_s: float = 3.0,
    **hkw: object,
) -> CheckSpec:
    return CheckSpec(
        kind=kind,
        connect_ip=RS,
        connect_port=port,
        connect_timeout_s=timeout_s,
        retry=retry,
        delay_before_retry_s=0.1,
        delay_loop_s=delay_loop_s,
        http=HttpSpec(urls=(url,), **hkw),
    )  # type: ignore[arg-type]


@pytest.fixture
def lab(tmp_path: Path):
    topo = Topology("ch")
    try:
        lb, rs1 = topo.ns("lb"), topo.ns("rs1")
        topo.lan([(lb, "eth1", ["10.0.0.1/24"]), (rs1, "eth1", [f"{RS}/24"])])
        cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                str(key),
                "-out",
                str(cert),
                "-days",
                "1",
                "-subj",
                "/CN=rs1.example",
            ],
            check=True,
            capture_output=True,
        )
        yield topo, lb, rs1, cert, key
    finally:
        topo.close()


def test_http_and_ssl_checks(lab, tmp_path: Path) -> None:
    topo, lb, rs1, cert, key = lab
    checks = [
        http(80, UrlSpec("/ok", digest=OK_MD5, regex="hel+o"), retry=1),  # 0 good
        http(80, UrlSpec("/503")),  # 1 status
        http(80, UrlSpec("/ok", digest="0" * 32)),  # 2 digest
        http(80, UrlSpec("/ok", regex="nomatch")),  # 3 regex
        http(80, UrlSpec("/ok", regex="hello", regex_no_match=True)),  # 4 no_match
        http(80, UrlSpec("/garbage")),  # 5 garbage
        http(80, UrlSpec("/big", digest=big_md5()), delay_loop_s=30, timeout_s=5),  # 6 100 MB
        http(80, UrlSpec("/hang"), timeout_s=0.5),  # 7 silent
        http(80, UrlSpec("/reset")),  # 8 RST
        http(80, UrlSpec("/chunked", digest=OK_MD5), http_protocol="1.1"),  # 9 chunked
        http(80, UrlSpec("/503", status_code=((500, 503),))),  # 10 ranges
        http(443, UrlSpec("/ok", digest=OK_MD5), kind="SSL_GET"),  # 11 TLS ok
        http(80, UrlSpec("/ok"), kind="SSL_GET", timeout_s=0.5),  # 12 no TLS
        http(
            443,
            UrlSpec("/sni", regex="^rs1[.]example$"),
            kind="SSL_GET",  # 13 SNI
            enable_sni=True,
            sni_name="rs1.example",
        ),
        http(443, UrlSpec("/sni", regex="^none$"), kind="SSL_GET"),  # 14 no SNI
        http(443, UrlSpec("/ok"), kind="SSL_GET", ssl_ca=str(cert)),  # 15 verify
        http(8443, UrlSpec("/ok"), kind="SSL_GET"),  # 16 TLS EOF
    ]
    good = {0, 6, 9, 10, 11, 13, 14, 15}
    rss = tuple(RealServerSpec(ip=RS, port=8000 + i, checkers=(c,)) for i, c in enumerate(checks))
    cfg = CheckerConfig(
        virtual_servers=(
            VirtualServerSpec(
                key=fmt_service("192.168.100.100", 80),
                ip="192.168.100.100",
                port=80,
                real_servers=rss,
            ),
        )
    )
    web = start_server(topo, rs1, "http", RS, "80")
    tls = start_server(topo, rs1, "http", RS, "443", str(cert), str(key))
    closer = start_server(topo, rs1, "tcp", RS, "8443")
    run = CheckerRun(topo, lb, cfg, tmp_path)
    try:
        firsts = run.first_attempts(len(checks), 20)
        for i, first in enumerate(firsts):
            assert first["ok"] == (i in good), (i, first["reason"])
        reasons = {i: first["reason"] for i, first in enumerate(firsts)}
        assert "status_code [503]" in reasons[1]
        assert reasons[2].startswith("MD5 digest error to [10.0.0.11]:tcp:80 url[/ok]")
        assert reasons[3].startswith("Regex match failed")
        assert reasons[4].startswith("Regex match failed")
        assert "garbage HTTP header" in reasons[5]
        assert "Timeout" in reasons[7]
        assert "Timeout" in reasons[12]  # plain server waits for a request that never comes
        assert "SSL handshake failed" in reasons[16], reasons[16]
        for i in range(len(checks)):
            if i not in good:
                run.wait(
                    lambda i=i: (
                        run.rs_states(RS, 8000 + i) and not run.rs_states(RS, 8000 + i)[-1]["up"]
                    ),
                    5,
                    f"check {i} DOWN",
                )
        # the 100 MB body was streamed, not held: the checker's peak RSS stays far below it
        vm_hwm_kb = next(
            int(line.split()[1])
            for line in Path(f"/proc/{run.proc.pid}/status").read_text().splitlines()
            if line.startswith("VmHWM:")
        )
        assert vm_hwm_kb < 90 * 1024, vm_hwm_kb

        # server stops: the good checker (retry 1) goes DOWN on its 2nd failed attempt
        stop_server(web)
        run.wait(lambda: not run.rs_states(RS, 8000)[-1]["up"], 20, "good check DOWN")
        atts = run.attempts((0, 0, 0))
        last_ok = max(i for i, a in enumerate(atts) if a["ok"])
        assert len(atts) - last_ok - 1 == 2
        web = start_server(topo, rs1, "http", RS, "80")
        run.wait(lambda: run.rs_states(RS, 8000)[-1]["up"], 20, "good check UP again")
    finally:
        run.stop()
        stop_server(web)
        stop_server(tls)
        stop_server(closer)


def _genhash(topo: Topology, ns: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ip", "netns", "exec", ns, sys.executable, "-m", "hadaemon", "genhash", *args],
        capture_output=True,
        text=True,
        cwd=str(ROOT),
        timeout=30,
    )


def test_genhash_matches_the_checker_digest(lab) -> None:
    topo, lb, rs1, cert, key = lab
    web = start_server(topo, rs1, "http", RS, "80")
    tls = start_server(topo, rs1, "http", RS, "443", str(cert), str(key))
    try:
        r = _genhash(topo, lb, "-s", RS, "-p", "80", "-u", "/ok")
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip().splitlines()[-1] == f"MD5SUM = {OK_MD5}"
        r = _genhash(topo, lb, "-s", RS, "-p", "443", "-u", "/ok", "--ssl")
        assert r.returncode == 0 and f"MD5SUM = {OK_MD5}" in r.stdout, r.stderr
        r = _genhash(topo, lb, "-s", RS, "-p", "81", "-u", "/ok")
        assert r.returncode == 1 and "genhash:" in r.stderr and "Traceback" not in r.stderr
        r = _genhash(topo, lb, "-s", RS, "-p", "80", "-u", "/garbage")
        assert r.returncode == 1 and "garbage" in r.stderr and "Traceback" not in r.stderr
    finally:
        stop_server(web)
        stop_server(tls)
