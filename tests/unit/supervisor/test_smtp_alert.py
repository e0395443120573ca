"""smtp_alert: which events mail whom, what the mail says, and the non-blocking sender."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from typing import Any

import pytest

from hadaemon.checkers.decisions import CheckerTransition, HealthEngine
from hadaemon.checkers.spec import CheckSpec, RealServerSpec, VirtualServerSpec, fmt_service
from hadaemon.config import loads
from hadaemon.supervisor.mailer import Mailer, SmtpAlerts
from hadaemon.supervisor.smtp_alert import Alert, AlertPolicy, SmtpSettings, format_message

BASE = """
global_defs {{
  router_id LVS_1
  {mail}
  {extra}
}}
vrrp_sync_group G1 {{
  group {{ VI_1 }}
  {group_opt}
}}
vrrp_instance VI_1 {{
  state BACKUP
  interface lo
  virtual_router_id 51
  priority 100
  virtual_ipaddress {{ 192.168.1.1/24 }}
  {inst_opt}
}}
vrrp_instance VI_2 {{
  state BACKUP
  interface lo
  virtual_router_id 52
  priority 100
  virtual_ipaddress {{ 192.168.2.1/24 }}
}}
virtual_server 192.168.1.1 80 {{
  delay_loop 5
  lb_kind NAT
  protocol TCP
  {vs_opt}
  real_server 10.0.0.11 80 {{
    {rs_opt}
    TCP_CHECK {{ connect_timeout 1 }}
  }}
  real_server 10.0.0.12 80 {{
    TCP_CHECK {{ connect_timeout 1 }}
  }}
}}
"""
MAIL = """notification_email { ops@example.com "Night Shift <night@example.com>" }
  notification_email_from hadaemon@example.com
  smtp_server 10.9.9.9 2525"""
VS = fmt_service("192.168.1.1", 80)
VS_KEY = "192.168.1.1:80/TCP"


def config(
    *,
    mail: str = MAIL,
    extra: str = "",
    group_opt: str = "",
    inst_opt: str = "",
    vs_opt: str = "",
    rs_opt: str = "",
) -> Any:
    text = BASE.format(
        mail=mail,
        extra=extra,
        group_opt=group_opt,
        inst_opt=inst_opt,
        vs_opt=vs_opt,
        rs_opt=rs_opt,
    )
    result = loads(text, "keepalived.conf", validate=False)
    return result.config


def policy(**kw: str) -> AlertPolicy:
    return AlertPolicy(config(**kw), "host1")


def checker(p: AlertPolicy, rs_ip: str = "10.0.0.11", **kw: Any) -> Alert | None:
    args: dict[str, Any] = {
        "vs_key": VS_KEY,
        "vs_name": VS,
        "rs_ip": rs_ip,
        "rs_port": 80,
        "rs_name": fmt_service(rs_ip, 80),
        "checker": "TCP_CHECK",
        "checker_up": False,
        "rs_up": False,
        "rs_changed": True,
    }
    args.update(kw)
    return p.checker_state(**args)


# -- VRRP instances and sync groups (Rules 1, 2, 5) -------------------------------------------
def test_instance_alert_text_is_keepalived_s() -> None:
    p = policy(extra="smtp_alert")
    assert p.instance_state("VI_1", "MASTER") == Alert(
        "[LVS_1] VRRP Instance VI_1 - Entering MASTER state",
        "=> VRRP Instance is now owning VRRP VIPs <=",
    )
    assert p.instance_state("VI_1", "BACKUP") == Alert(
        "[LVS_1] VRRP Instance VI_1 - Entering BACKUP state",
        "=> VRRP Instance is no longer owning VRRP VIPs <=",
    )
    assert p.instance_state("VI_1", "FAULT") == Alert(
        "[LVS_1] VRRP Instance VI_1 - Entering FAULT state",
        "=> VRRP Instance is no longer owning VRRP VIPs <=",
    )
    assert p.instance_state("VI_1", "STOP") == Alert(
        "[LVS_1] VRRP Instance VI_1 - Stopping", "=> VRRP Instance stopping <="
    )


def test_group_alert_text_is_keepalived_s() -> None:
    p = policy(extra="smtp_alert")
    assert p.group_state("G1", "MASTER") == Alert(
        "[LVS_1] VRRP Group G1 - Entering MASTER state",
        "=> All VRRP group instances are now in MASTER state <=",
    )
    assert p.group_state("G1", "STOP") == Alert(
        "[LVS_1] VRRP Group G1 - Stopping", "=> All VRRP group instances are now stopping <="
    )


def test_vrrp_alerts_are_off_by_default() -> None:
    p = policy()
    assert p.instance_state("VI_1", "MASTER") is None
    assert p.group_state("G1", "MASTER") is None


def test_no_mail_without_recipients_or_server() -> None:
    no_server = "notification_email { ops@example.com }"
    assert policy(mail=no_server, extra="smtp_alert").instance_state("VI_1", "MASTER") is None
    no_rcpt = "smtp_server 10.9.9.9"
    assert policy(mail=no_rcpt, extra="smtp_alert").instance_state("VI_1", "MASTER") is None
    assert checker(policy(mail=no_rcpt)) is None


@pytest.mark.parametrize(
    ("extra", "inst_opt", "expected"),
    [
        ("smtp_alert", "", True),
        ("smtp_alert_vrrp", "", True),
        ("smtp_alert\n  smtp_alert_vrrp off", "", False),  # smtp_alert_vrrp wins over smtp_alert
        ("smtp_alert_checker", "", False),  # checker default does not touch VRRP
        ("", "smtp_alert", True),
        ("smtp_alert", "smtp_alert off", False),  # the instance's own setting wins
    ],
)
def test_instance_resolution(extra: str, inst_opt: str, expected: bool) -> None:
    p = policy(extra=extra, inst_opt=inst_opt)
    assert (p.instance_state("VI_1", "MASTER") is not None) is expected


def test_group_own_setting_and_instance_without_one() -> None:
    p = policy(group_opt="smtp_alert")
    assert p.group_state("G1", "BACKUP") is not None
    assert p.instance_state("VI_1", "BACKUP") is None  # the group's setting is not inherited


def test_instance_is_mailed_once_per_state() -> None:
    p = policy(extra="smtp_alert")
    assert p.instance_state("VI_1", "BACKUP") is not None
    assert p.instance_state("VI_1", "BACKUP") is None
    assert p.instance_state("VI_2", "BACKUP") is not None  # per instance
    assert p.instance_state("VI_1", "MASTER") is not None
    assert p.instance_state("VI_1", "BACKUP") is not None


def test_no_email_faults() -> None:
    p = policy(extra="smtp_alert\n  no_email_faults")
    assert p.instance_state("VI_1", "FAULT") is None
    assert p.group_state("G1", "FAULT") is None
    assert p.instance_state("VI_1", "BACKUP") is not None


def test_unknown_instance_uses_the_global_default() -> None:
    assert policy(extra="smtp_alert").instance_state("VI_9", "MASTER") is not None


def test_router_id_defaults_to_the_host_name() -> None:
    cfg = config(extra="smtp_alert")
    cfg = cfg.replace(global_defs=cfg.global_defs.replace(router_id=None))
    alert = AlertPolicy(cfg, "gw1.example.com").instance_state("VI_1", "MASTER")
    assert alert is not None
    assert alert.subject.startswith("[gw1.example.com] VRRP Instance VI_1")


# -- checkers (Rules 4, 6) and quorum (Rule 3) -------------------------------------------------
def test_checker_alert_text_is_keepalived_s() -> None:
    p = policy()  # real servers mail by default (keepalived's backward-compatible default)
    assert checker(p) == Alert(
        "[LVS_1] Realserver [10.0.0.11]:tcp:80 of virtual server [192.168.1.1]:tcp:80 - DOWN",
        "=> TCP CHECK failed on service <=",
    )
    assert checker(p, checker_up=True, rs_up=True) == Alert(
        "[LVS_1] Realserver [10.0.0.11]:tcp:80 of virtual server [192.168.1.1]:tcp:80 - UP",
        "=> TCP CHECK succeed on service <=",
    )
    http = checker(p, checker="HTTP_GET")
    assert http is not None
    assert http.body == "=> CHECK failed on service : HTTP/SSL request failed <="
    assert checker(p, checker="FILE_CHECK") is None  # keepalived does not mail FILE_CHECK


@pytest.mark.parametrize(
    ("extra", "rs_opt", "vs_opt", "expected"),
    [
        ("", "", "", True),
        ("smtp_alert off", "", "", False),
        ("smtp_alert_checker off", "", "", False),
        ("smtp_alert off\n  smtp_alert_checker", "", "", True),
        ("smtp_alert_vrrp off", "", "", True),  # the VRRP default does not touch checkers
        ("smtp_alert off", "smtp_alert", "", True),
        ("", "smtp_alert off", "", False),
        ("", "", "smtp_alert off", True),  # a real server does not inherit its VS's setting
    ],
)
def test_real_server_resolution(extra: str, rs_opt: str, vs_opt: str, expected: bool) -> None:
    p = policy(extra=extra, rs_opt=rs_opt, vs_opt=vs_opt)
    assert (checker(p) is not None) is expected


def test_real_server_setting_is_per_server() -> None:
    p = policy(rs_opt="smtp_alert off")
    assert checker(p, "10.0.0.11") is None
    assert checker(p, "10.0.0.12") is not None


def test_no_checker_emails_only_mails_real_server_changes() -> None:
    p = policy(extra="no_checker_emails")
    assert checker(p, rs_changed=False, rs_up=False) is None
    assert checker(p, rs_changed=True) is not None
    assert checker(policy(), rs_changed=False) is not None


def test_quorum_alerts() -> None:
    p = policy(vs_opt="smtp_alert")
    args: dict[str, Any] = {"vs_key": VS_KEY, "vs_name": VS, "quorum": 2, "hysteresis": 1}
    assert p.quorum_state(up=True, live_weight=3, init=True, **args) == Alert(
        "[LVS_1] Virtualserver [192.168.1.1]:tcp:80 - UP",
        "=> Starting with quorum up 2+1=3 <= 3 <=",
    )
    assert p.quorum_state(up=False, live_weight=0, init=False, **args) == Alert(
        "[LVS_1] Virtualserver [192.168.1.1]:tcp:80 - DOWN",
        "=> Lost quorum 2+1=1 <= 0 <=",
    )
    assert policy().quorum_state(up=True, live_weight=3, init=False, **args) is None


def test_engine_reports_each_checker_transition() -> None:
    def spec(ip: str) -> CheckSpec:
        return CheckSpec(kind="TCP_CHECK", connect_ip=ip, connect_port=80, delay_loop_s=5.0)

    rs = RealServerSpec(ip="10.0.0.11", port=80, checkers=(spec("10.0.0.11"), spec("10.0.0.11")))
    e = HealthEngine((VirtualServerSpec(key=VS, ip="192.168.1.1", port=80, real_servers=(rs,)),))
    assert not [a for a in e.start(0.0) if isinstance(a, CheckerTransition)]

    def transitions(ci: int, ok: bool, now: float) -> list[CheckerTransition]:
        acts = e.checker_result((0, 0, ci), ok, now)
        return [a for a in acts if isinstance(a, CheckerTransition)]

    assert transitions(0, True, 1.0) == []  # already up: nothing to mail
    assert transitions(0, False, 2.0) == []  # retry 1 absorbs the first failure
    assert transitions(0, False, 3.0) == [
        CheckerTransition(
            VS, "10.0.0.11", 80, "[10.0.0.11]:tcp:80", "TCP_CHECK", False, False, True
        )
    ]
    # the second checker failing changes the checker, not the (already down) real server
    transitions(1, False, 4.0)
    [t] = transitions(1, False, 5.0)
    assert (t.up, t.rs_up, t.rs_changed) == (False, False, False)
    [t] = transitions(0, True, 6.0)
    assert (t.up, t.rs_up, t.rs_changed) == (True, False, False)
    [t] = transitions(1, True, 7.0)
    assert (t.up, t.rs_up, t.rs_changed) == (True, True, True)


# -- the mail itself ---------------------------------------------------------------------------
SETTINGS = SmtpSettings(
    server="10.9.9.9",
    port=2525,
    helo_name="gw1",
    from_addr="hadaemon@example.com",
    recipients=("ops@example.com", "Night Shift <night@example.com>"),
    connect_timeout_s=3.0,
)


def test_settings_defaults_are_keepalived_s() -> None:
    gd = config().global_defs
    s = SmtpSettings.from_global_defs(gd, "gw1", "root")
    assert s is not None
    assert (s.server, s.port, s.helo_name, s.from_addr) == (
        "10.9.9.9",
        2525,
        "gw1",
        "hadaemon@example.com",
    )
    assert s.recipients == ("ops@example.com", "Night Shift <night@example.com>")
    assert s.connect_timeout_s == 30.0
    bare = gd.replace(notification_email_from=None, smtp_server_port=25)
    s2 = SmtpSettings.from_global_defs(bare, "gw1", "root")
    assert s2 is not None and s2.from_addr == "root@gw1" and s2.port == 25
    assert SmtpSettings.from_global_defs(gd.replace(smtp_server=None), "gw1", "root") is None


def test_format_message() -> None:
    when = datetime(2021, 3, 1, 9, 44, 8, tzinfo=timezone(timedelta(hours=1)))
    msg = format_message(SETTINGS, Alert("[R] VRRP Instance VI_1 - Stopping", "=> x <="), when)
    assert msg["Date"] == "Mon, 01 Mar 2021 09:44:08 +0100"
    assert msg["From"] == "hadaemon@example.com"
    assert msg["To"] == "ops@example.com, Night Shift <night@example.com>"
    assert msg["Subject"] == "[R] VRRP Instance VI_1 - Stopping"
    assert msg["X-Mailer"].startswith("Keepalived")
    assert msg.get_content().strip() == "=> x <="
    assert b"\r\n\r\n=> x <=\r\n" in msg.as_bytes()


# -- the sender ----------------------------------------------------------------------------------
def test_mailer_never_blocks_and_logs_failures(caplog: pytest.LogCaptureFixture) -> None:
    release = threading.Event()
    sent: list[str] = []

    def slow_send(settings: SmtpSettings, msg: EmailMessage) -> None:
        release.wait(30)
        if "fail" in str(msg["Subject"]):
            raise ConnectionRefusedError(111, "Connection refused")
        sent.append(str(msg["Subject"]))

    mailer = Mailer(send=slow_send, queue_max=2)
    when = datetime.now().astimezone()
    t0 = time.monotonic()
    results = [
        mailer.submit(SETTINGS, format_message(SETTINGS, Alert(f"s{i}", "b"), when))
        for i in range(4)
    ]
    results.append(mailer.submit(SETTINGS, format_message(SETTINGS, Alert("fail", "b"), when)))
    # submit only queues: the sender is stuck in the first mail, the queue holds two more
    assert time.monotonic() - t0 < 5.0
    assert results.count(False) >= 2 and mailer.dropped == results.count(False)
    assert "SMTP alert queue full" in caplog.text
    release.set()
    assert mailer.close(10.0)
    assert sent[0] == "s0"
    assert len(sent) + mailer.failed == results.count(True) == mailer.sent + mailer.failed


def test_mailer_failure_names_the_server_and_reason(caplog: pytest.LogCaptureFixture) -> None:
    def refuse(settings: SmtpSettings, msg: EmailMessage) -> None:
        raise ConnectionRefusedError(111, "Connection refused")

    mailer = Mailer(send=refuse)
    when = datetime.now().astimezone()
    mailer.submit(SETTINGS, format_message(SETTINGS, Alert("subj", "b"), when))
    assert mailer.close(10.0)
    assert mailer.failed == 1
    assert "[10.9.9.9]:2525" in caplog.text and "Connection refused" in caplog.text


def test_smtp_alerts_glue_with_a_non_keepalived_config() -> None:
    alerts = SmtpAlerts({"workers": {}})  # the supervisor test harness's JSON config
    assert not alerts.active
    alerts.instance_state("VI_1", "MASTER")
    alerts.event("checker_state", {})  # ignored, not a KeyError
    alerts.close(1.0)


def test_smtp_alerts_glue_submits_and_survives_bad_events() -> None:
    subjects: list[str] = []

    class FakeMailer(Mailer):
        def submit(self, settings: SmtpSettings, msg: EmailMessage) -> bool:
            subjects.append(str(msg["Subject"]))
            return True

    alerts = SmtpAlerts(config(extra="smtp_alert", vs_opt="smtp_alert"), mailer=FakeMailer())
    assert alerts.active
    alerts.instance_state("VI_1", "MASTER")
    alerts.event("sync_group_state", {"group": "G1", "state": "MASTER"})
    quorum = {"vs": VS, "vs_key": VS_KEY, "live_weight": 2, "quorum": 1, "hysteresis": 0}
    alerts.event("quorum_state", {**quorum, "up": True})
    alerts.event("quorum_state", {**quorum, "up": True})  # a respawned checker: no news
    alerts.event("quorum_state", {**quorum, "up": False, "live_weight": 0})
    alerts.event("checker_state", {"vs": VS})  # malformed: logged, not raised
    assert subjects == [
        "[LVS_1] VRRP Instance VI_1 - Entering MASTER state",
        "[LVS_1] VRRP Group G1 - Entering MASTER state",
        "[LVS_1] Virtualserver [192.168.1.1]:tcp:80 - UP",
        "[LVS_1] Virtualserver [192.168.1.1]:tcp:80 - DOWN",
    ]
