"""HTTP_GET ``regex_options`` / ``regex_min_offset`` / ``regex_max_offset`` against a real HTTP
server: keepalived.conf text goes through the parser, the checker adapter and the HTTP probe."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from helpers.checker_harness import CheckerRun
from helpers.netns import Topology

pytestmark = [pytest.mark.root, pytest.mark.netns]

RS = "10.0.0.11"
BODY = "Service Status\nstate: UP\n" + "." * 200 + "\nversion 1.2.3\n"
#: (regex, url options, first attempt succeeds)
CASES: list[tuple[str, str, bool]] = [
    ("STATE: up", "regex_options caseless", True),
    ("STATE: up", "", False),
    ("^state", "regex_options multiline", True),
    ("^state", "", False),
    ("Status.state", "regex_options dotall", True),
    ("Status.state", "", False),
    ("version", "regex_max_offset 50", False),
    ("version", "regex_min_offset 100\n regex_max_offset 300", True),
    ("Service", "regex_min_offset 5", False),
    ("state", "regex_options firstline", False),
    ("Status", "regex_options firstline", True),
    ("s t a t e : [ ] U P  # spaced out", "regex_options extended", True),
    ("state.*UP", "regex_options ungreedy no_auto_capture", True),
    ("state: UP", "regex_no_match\n regex_options caseless", False),
]


def _conf() -> str:
    reals = []
    for i, (regex, opts, _) in enumerate(CASES):
        reals.append(
            f"""
    real_server {RS} {8000 + i} {{
        HTTP_GET {{
            connect_port 80
            connect_timeout 3
            retry 0
            delay_loop 30
            url {{
                path /status.txt
                regex "{regex}"
                {opts}
            }}
        }}
    }}"""
        )
    return f"""
virtual_server 192.168.100.100 80 {{
    lb_algo rr
    lb_kind NAT
    protocol TCP
{"".join(reals)}
}}
"""


def test_regex_options_against_a_real_server(tmp_path: Path) -> None:
    topo = Topology("rx")
    run: CheckerRun | None = None
    try:
        lb, rs = topo.ns("lb"), topo.ns("rs")
        topo.lan([(lb, "eth1", ["10.0.0.1/24"]), (rs, "eth1", [f"{RS}/24"])])
        www = tmp_path / "www"
        www.mkdir()
        (www / "status.txt").write_text(BODY)
        web = topo.popen(
            rs,
            [sys.executable, "-u", "-m", "http.server", "80", "--bind", RS, "-d", str(www)],
        )
        assert web.stdout is not None
        assert b"Serving HTTP" in web.stdout.readline()
        run = CheckerRun(topo, lb, _conf(), tmp_path)
        firsts = run.first_attempts(len(CASES), 20)
        got = [(CASES[i][0], CASES[i][1], f["ok"]) for i, f in enumerate(firsts)]
        assert got == CASES, [f["reason"] for f in firsts]
        for (_, _, ok), f in zip(CASES, firsts, strict=True):
            if not ok:
                assert f["reason"].startswith("Regex match failed"), f["reason"]
    finally:
        if run is not None:
            run.stop()
        topo.close()
