"""smtp_alert end to end: the whole daemon mails a real SMTP server (aiosmtpd) in a namespace.

Router ``r1`` runs hadaemon (supervisor + vrrp + checker + lvs) alone on the segment, so its
instances go BACKUP -> MASTER; the ``client`` namespace hosts the SMTP server and the real
server of a TCP_CHECK. Mails must arrive with keepalived's subjects and bodies for the instance,
the sync group and the checker taking the real server down and up again. A second test points
``smtp_server`` at a server that accepts and never answers: VRRP, checks and the status socket
carry on, the failure is logged with the server and the reason, and the daemon stops cleanly.
"""

from __future__ import annotations

import email
import email.policy
import json
import re
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest
from helpers.netns import wait_for
from helpers.vrrp_lab import PYTHON, ROOT, Lab

from hadaemon.supervisor.status_cli import query

pytestmark = [
    pytest.mark.root,
    pytest.mark.netns,
    pytest.mark.nft,
    pytest.mark.lab_shape(routers=1),
]

SMTP_IP, SMTP_PORT = "10.0.0.100", 2525
RS_IP, RS_PORT = "10.0.0.100", 8080
HELPERS = ROOT / "tests" / "helpers"

CONF = """
global_defs {{
    router_id hd1
    vrrp_version 3
    vrrp_garp_master_delay 0
    notification_email {{
        ops@example.com
        "On Call <oncall@example.com>"
    }}
    notification_email_from "hadaemon on r1 <hadaemon@example.com>"
    smtp_server {smtp_ip} {smtp_port}
    smtp_helo_name r1.example.com
    smtp_connect_timeout {timeout}
    smtp_alert
}}
vrrp_sync_group G1 {{
    group {{
        VI_1
        VI_2
    }}
}}
vrrp_instance VI_1 {{
    state BACKUP
    interface eth1
    virtual_router_id 51
    priority 100
    advert_int 0.1
    virtual_ipaddress {{
        10.0.0.200/24 dev eth1
    }}
}}
vrrp_instance VI_2 {{
    state BACKUP
    interface eth1
    virtual_router_id 52
    priority 100
    advert_int 0.1
    virtual_ipaddress {{
        10.0.0.201/24 dev eth1
    }}
}}
virtual_server 10.0.0.200 80 {{
    delay_loop 0.5
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server {rs_ip} {rs_port} {{
        TCP_CHECK {{
            connect_timeout 1
            retry 0
        }}
    }}
}}
"""


def _conf(timeout: int) -> str:
    return CONF.format(
        smtp_ip=SMTP_IP, smtp_port=SMTP_PORT, timeout=timeout, rs_ip=RS_IP, rs_port=RS_PORT
    )


def _start(lab: Lab, args: list[str]) -> subprocess.Popen[Any]:
    p = lab.topo.popen(lab.ns["client"], [PYTHON, *args])
    assert p.stdout is not None
    line = p.stdout.readline()
    assert b"READY" in line, line
    return p


def _rs(lab: Lab) -> subprocess.Popen[Any]:
    return _start(lab, [str(HELPERS / "checker_servers.py"), "tcp", RS_IP, str(RS_PORT)])


def _mails(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        rec = json.loads(line)
        rec["msg"] = email.message_from_string(rec["data"], policy=email.policy.default)
        out.append(rec)
    return out


def _subjects(path: Path) -> list[str]:
    return [str(r["msg"]["Subject"]) for r in _mails(path)]


def _wait_mail(path: Path, subject: str, timeout_s: float = 20.0) -> dict[str, Any]:
    return wait_for(  # type: ignore[no-any-return]
        lambda: next((r for r in _mails(path) if r["msg"]["Subject"] == subject), None),
        timeout_s,
        0.1,
        f"a mail {subject!r} (got {_subjects(path)})",
    )


RS_NAME = f"[{RS_IP}]:tcp:{RS_PORT}"
VS_NAME = "[10.0.0.200]:tcp:80"


def test_vrrp_and_checker_transitions_are_mailed(lab: Lab, tmp_path: Path) -> None:
    box = tmp_path / "mailbox.jsonl"
    _start(lab, [str(HELPERS / "smtp_sink.py"), SMTP_IP, str(SMTP_PORT), str(box)])
    rs = _rs(lab)
    lab.start_hadaemon("r1", _conf(5), "--no-bpf", cli=True)
    lab.wait_holder("10.0.0.200", "r1", timeout_s=20)

    master = _wait_mail(box, "[hd1] VRRP Instance VI_1 - Entering MASTER state")
    assert master["helo"] == "r1.example.com"
    assert master["mail_from"] == "hadaemon@example.com"
    assert master["rcpt_tos"] == ["ops@example.com", "oncall@example.com"]
    msg = master["msg"]
    # MAIL FROM / RCPT TO carry the bare addresses, the headers the names (as keepalived)
    assert msg["From"] == "hadaemon on r1 <hadaemon@example.com>"
    assert msg["To"] == "ops@example.com, On Call <oncall@example.com>"
    assert msg["X-Mailer"].startswith("Keepalived")
    assert msg["Date"]
    assert msg.get_content().strip() == "=> VRRP Instance is now owning VRRP VIPs <="
    _wait_mail(box, "[hd1] VRRP Instance VI_2 - Entering MASTER state")
    group = _wait_mail(box, "[hd1] VRRP Group G1 - Entering MASTER state")
    assert (
        group["msg"].get_content().strip()
        == "=> All VRRP group instances are now in MASTER state <="
    )
    subjects = _subjects(box)
    # BACKUP at start-up comes first, once per instance and group
    assert subjects.count("[hd1] VRRP Instance VI_1 - Entering BACKUP state") == 1
    assert subjects.index("[hd1] VRRP Instance VI_1 - Entering BACKUP state") < subjects.index(
        "[hd1] VRRP Instance VI_1 - Entering MASTER state"
    )

    # the real server stops answering: one DOWN mail, then one UP mail when it is back
    rs.kill()
    rs.wait(timeout=10)
    down = _wait_mail(box, f"[hd1] Realserver {RS_NAME} of virtual server {VS_NAME} - DOWN")
    assert down["msg"].get_content().strip() == "=> TCP CHECK failed on service <="
    lost = _wait_mail(box, f"[hd1] Virtualserver {VS_NAME} - DOWN")
    assert lost["msg"].get_content().strip() == "=> Lost quorum 1+0=1 <= 0 <="
    _rs(lab)
    up = _wait_mail(box, f"[hd1] Realserver {RS_NAME} of virtual server {VS_NAME} - UP")
    assert up["msg"].get_content().strip() == "=> TCP CHECK succeed on service <="
    rs_subjects = [s for s in _subjects(box) if "Realserver" in s]
    assert rs_subjects == [
        f"[hd1] Realserver {RS_NAME} of virtual server {VS_NAME} - DOWN",
        f"[hd1] Realserver {RS_NAME} of virtual server {VS_NAME} - UP",
    ]

    # SIGTERM: the instances' "Stopping" mails still go out before the daemon exits
    assert lab.stop("r1", timeout_s=30) == 0
    _wait_mail(box, "[hd1] VRRP Instance VI_1 - Stopping", timeout_s=5)


def test_unanswering_smtp_server_blocks_nothing(lab: Lab, tmp_path: Path) -> None:
    # accepts the connection and never sends the 220 greeting: every mail takes the whole
    # smtp_connect_timeout (8 s), and about seven are queued at start-up
    _start(lab, [str(HELPERS / "checker_servers.py"), "hang", SMTP_IP, str(SMTP_PORT)])
    rs = _rs(lab)
    lab.start_hadaemon("r1", _conf(8), "--no-bpf", cli=True)
    sock = str(tmp_path / "run-r1" / "status.sock")

    def ask() -> dict[str, Any] | None:
        # a supervisor waiting on SMTP would not answer within 4 s: TimeoutError fails the test
        try:
            return query(sock, timeout_s=4.0)
        except (FileNotFoundError, ConnectionRefusedError):  # not listening yet
            return None

    def settled(up: bool) -> dict[str, Any] | None:
        d = ask()
        if d is None:
            return None
        inst = {i["name"]: i["state"] for i in d["instances"]}
        states = {r["real_server"]: r["up"] for r in d["real_server_states"]}
        ok = inst == {"VI_1": "MASTER", "VI_2": "MASTER"} and d["vrrp_states"] == inst
        return d if ok and states.get(f"{RS_IP}:{RS_PORT}") is up else None

    doc = wait_for(lambda: settled(True), 30, 0.1, "both instances MASTER, real server up")
    assert doc["hadaemon"]["smtp_alerts"]["server"] == "[10.0.0.100]:2525"
    lab.wait_holder("10.0.0.200", "r1", timeout_s=5)
    rs.kill()
    rs.wait(timeout=10)
    wait_for(lambda: settled(False), 30, 0.1, "real server down in the status")
    lab.wait_log(
        "r1",
        r"cannot send SMTP alert .* to SMTP server \[10\.0\.0\.100\]:2525: .*timed out",
        timeout_s=30,
    )
    assert "Traceback" not in lab.log("r1"), lab.log("r1")[-3000:]
    counters = wait_for(
        lambda: (c := ask()["hadaemon"]["smtp_alerts"])["failed"] >= 1 and c,  # type: ignore[index]
        30,
        0.2,
        "a failed mail in the status",
    )
    assert counters["sent"] == 0
    # mails are still queued: the stop waits for them only briefly
    lab.signal("r1", signal.SIGTERM)
    assert lab.procs["r1"].wait(timeout=30) == 0
    assert re.search(r"hadaemon.supervisor: stopped", lab.log("r1"))
