"""keepalived's ``smtp_alert`` e-mails: which events mail, and what the mail says (pure).

keepalived (``core/smtp.c``, ``vrrp/vrrp_notify.c``, ``check/check_*.c``, ``ipwrapper.c``) mails
the ``notification_email`` list, from ``notification_email_from``, through ``smtp_server`` when

* a VRRP instance enters MASTER / BACKUP / FAULT / STOP (or is DELETED at reload): subject
  ``[router_id] VRRP Instance VI_1 - Entering MASTER state``, body
  ``=> VRRP Instance is now owning VRRP VIPs <=``;
* a sync group does the same: ``[router_id] VRRP Group G1 - Entering MASTER state``,
  ``=> All VRRP group instances are now in MASTER state <=``;
* a checker goes up or down: ``[router_id] Realserver [10.0.0.11]:tcp:80 of virtual server
  [192.168.1.1]:tcp:80 - DOWN`` (the *real server's* state), body naming the checker
  (``=> TCP CHECK failed on service <=``);
* a virtual server's quorum changes (also at start-up): ``[router_id] Virtualserver
  [192.168.1.1]:tcp:80 - UP``, ``=> Gained quorum 1+0=1 <= 2 <=``.

Which objects mail (keepalived's ``-1`` = unset resolution):

Rule 1. Nothing is mailed unless both ``notification_email`` and ``smtp_server`` are set.
Rule 2. vrrp_instance / vrrp_sync_group: their ``smtp_alert``, else ``smtp_alert_vrrp``, else
        ``smtp_alert``, else off.
Rule 3. virtual_server (quorum mails): its ``smtp_alert``, else ``smtp_alert_checker``, else
        ``smtp_alert``, else off.
Rule 4. real_server (checker mails): its ``smtp_alert``, else ``smtp_alert_checker``, else
        ``smtp_alert``, else **on** (keepalived keeps this inconsistent default for backward
        compatibility). A real server does not inherit its virtual server's ``smtp_alert``.
Rule 5. ``no_email_faults`` suppresses FAULT mails; an instance or group is mailed once per state
        (keepalived's ``last_email_state``).
Rule 6. A checker mails each of its own transitions; with ``no_checker_emails`` only those that
        change the real server's state.

Nothing here does I/O or reads a clock: :func:`format_message` takes the time, and the sender
lives in :mod:`hadaemon.supervisor.mailer`.
"""

from __future__ import annotations

import email.utils
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from typing import Any

from hadaemon import __version__

#: keepalived's subject and body for each VRRP instance state (vrrp_notify.c)
INSTANCE_TEXT: dict[str, tuple[str, str]] = {
    "MASTER": ("Entering MASTER state", "=> VRRP Instance is now owning VRRP VIPs <="),
    "BACKUP": ("Entering BACKUP state", "=> VRRP Instance is no longer owning VRRP VIPs <="),
    "FAULT": ("Entering FAULT state", "=> VRRP Instance is no longer owning VRRP VIPs <="),
    "STOP": ("Stopping", "=> VRRP Instance stopping <="),
    "DELETED": ("Deleted", "=> VRRP Deleted at reload <="),
}

#: keepalived's subject and body for each sync group state (vrrp_notify.c)
GROUP_TEXT: dict[str, tuple[str, str]] = {
    "MASTER": ("Entering MASTER state", "=> All VRRP group instances are now in MASTER state <="),
    "BACKUP": ("Entering BACKUP state", "=> All VRRP group instances are now in BACKUP state <="),
    "FAULT": ("Entering FAULT state", "=> All VRRP group instances are now in FAULT state <="),
    "STOP": ("Stopping", "=> All VRRP group instances are now stopping <="),
}

#: keepalived's body per checker type and result (check_tcp.c, check_http.c, ...)
CHECKER_TEXT: dict[str, tuple[str, str]] = {
    "TCP_CHECK": ("=> TCP CHECK succeed on service <=", "=> TCP CHECK failed on service <="),
    "HTTP_GET": (
        "=> CHECK succeed on service <=",
        "=> CHECK failed on service : HTTP/SSL request failed <=",
    ),
    "SSL_GET": (
        "=> CHECK succeed on service <=",
        "=> CHECK failed on service : HTTP/SSL request failed <=",
    ),
    "SMTP_CHECK": ("=> CHECK succeed on service <=", "=> CHECK failed on service <="),
    "DNS_CHECK": ("=> DNS_CHECK: succeed on service <=", "=> DNS_CHECK: failed on service <="),
    "PING_CHECK": ("=> ICMP CHECK succeed on service <=", "=> ICMP CHECK failed on service <="),
    "UDP_CHECK": ("=> UDP CHECK succeed on service <=", "=> UDP CHECK failed on service <="),
    "MISC_CHECK": (
        "=> MISC CHECK succeeded on service <=",
        "=> MISC CHECK failed on service <=",
    ),
}

#: what keepalived puts in ``X-Mailer``; hadaemon's version follows for who reads it
X_MAILER = f"Keepalived (hadaemon {__version__})"


@dataclass(frozen=True)
class SmtpSettings:
    """Where and as whom alerts are sent (``global_defs``, with keepalived's defaults)."""

    server: str
    """``smtp_server`` address (or host name)."""
    port: int
    """``smtp_server`` port, 25 by default."""
    helo_name: str
    """``smtp_helo_name``, else the local host name."""
    from_addr: str
    """``notification_email_from``, else ``user@hostname``."""
    recipients: tuple[str, ...]
    """``notification_email``."""
    connect_timeout_s: float
    """``smtp_connect_timeout``: connection and each reply (keepalived's default 30 s)."""

    @classmethod
    def from_global_defs(cls, gd: Any, local_name: str, user: str) -> SmtpSettings | None:
        """The settings, or None when alerts cannot be sent (Rule 1)."""
        if not gd.notification_email or not gd.smtp_server:
            return None
        return cls(
            server=str(gd.smtp_server),
            port=int(gd.smtp_server_port),
            helo_name=gd.smtp_helo_name or local_name,
            from_addr=gd.notification_email_from or f"{user}@{local_name}",
            recipients=tuple(gd.notification_email),
            connect_timeout_s=float(gd.smtp_connect_timeout),
        )

    @property
    def where(self) -> str:
        """``[server]:port`` as keepalived logs it."""
        return f"[{self.server}]:{self.port}"


@dataclass(frozen=True)
class Alert:
    """One mail to send: its subject (with the ``[router_id]`` prefix) and body line."""

    subject: str
    body: str


def format_message(settings: SmtpSettings, alert: Alert, now: datetime) -> EmailMessage:
    """The mail keepalived's ``body_cmd`` writes: Date, From, Subject, X-Mailer, To, the body.

    ``now`` should be an aware local time (keepalived uses ``localtime`` with ``%z``).
    """
    msg = EmailMessage(policy=SMTP)
    msg["Date"] = email.utils.format_datetime(now)
    msg["From"] = settings.from_addr
    msg["Subject"] = alert.subject
    msg["X-Mailer"] = X_MAILER
    msg["To"] = ", ".join(settings.recipients)
    msg.set_content(alert.body + "\n")
    return msg


def _resolve(own: bool | None, *fallbacks: bool | None, default: bool) -> bool:
    for v in (own, *fallbacks):
        if v is not None:
            return bool(v)
    return default


class AlertPolicy:
    """Decides which events mail, and builds their :class:`Alert` (Rules 1-6).

    ``config`` is the model (:class:`hadaemon.config.model.Config`); ``router_id`` defaults to
    ``local_name`` as in keepalived. Per instance/group it remembers the last state mailed.
    """

    def __init__(self, config: Any, local_name: str) -> None:
        self.local_name = local_name
        self._last_mailed: dict[tuple[str, str], str] = {}
        self.config = config

    def reconfigure(self, config: Any) -> None:
        """A reload: the new config (the states already mailed are kept)."""
        self.config = config

    @property
    def _gd(self) -> Any:
        return self.config.global_defs

    @property
    def enabled(self) -> bool:
        """Rule 1: recipients and a server are configured."""
        return bool(self._gd.notification_email) and bool(self._gd.smtp_server)

    @property
    def router_id(self) -> str:
        """``router_id``, else the host name."""
        return str(self._gd.router_id or self.local_name)

    def _vrrp_default(self, own: bool | None) -> bool:
        gd = self._gd
        return _resolve(own, gd.smtp_alert_vrrp, gd.smtp_alert, default=False)

    def _state_alert(
        self, kind: str, label: str, name: str, state: str, own: bool | None
    ) -> Alert | None:
        texts = INSTANCE_TEXT if kind == "instance" else GROUP_TEXT
        if not self.enabled or not self._vrrp_default(own) or state not in texts:
            return None
        if state == "FAULT" and self._gd.no_email_faults:
            return None
        if self._last_mailed.get((kind, name)) == state:
            return None
        self._last_mailed[(kind, name)] = state
        subject, body = texts[state]
        return Alert(f"[{self.router_id}] {label} {name} - {subject}", body)

    def instance_state(self, name: str, state: str) -> Alert | None:
        """A VRRP instance entered ``state`` (Rules 2 and 5)."""
        inst = self.config.vrrp_instance(name)
        own = inst.smtp_alert if inst is not None else None
        return self._state_alert("instance", "VRRP Instance", name, state, own)

    def group_state(self, name: str, state: str) -> Alert | None:
        """A sync group entered ``state`` (Rules 2 and 5)."""
        sg = next((g for g in self.config.vrrp_sync_groups if g.name == name), None)
        own = sg.smtp_alert if sg is not None else None
        return self._state_alert("group", "VRRP Group", name, state, own)

    def _checker_default(self, own: bool | None, default: bool) -> bool:
        gd = self._gd
        return _resolve(own, gd.smtp_alert_checker, gd.smtp_alert, default=default)

    def checker_state(
        self,
        *,
        vs_key: str | None,
        vs_name: str,
        rs_ip: str,
        rs_port: int | None,
        rs_name: str,
        checker: str,
        checker_up: bool,
        rs_up: bool,
        rs_changed: bool,
    ) -> Alert | None:
        """A checker of a real server went up or down (Rules 4 and 6).

        ``vs_name``/``rs_name`` are keepalived's ``[ip]:tcp:port`` texts, ``vs_key`` the model's
        ``VirtualServer.key``; ``rs_up`` is the real server's state after the transition.
        """
        if not self.enabled or checker not in CHECKER_TEXT:
            return None
        vs = self.config.virtual_server(vs_key) if vs_key else None
        rs = None
        if vs is not None:
            rs = next((r for r in vs.real_servers if r.key == (rs_ip, rs_port)), None)
        if not self._checker_default(rs.smtp_alert if rs is not None else None, True):
            return None
        if self._gd.no_checker_emails and not rs_changed:
            return None
        body = CHECKER_TEXT[checker][0 if checker_up else 1]
        word = "UP" if rs_up else "DOWN"
        return Alert(
            f"[{self.router_id}] Realserver {rs_name} of virtual server {vs_name} - {word}", body
        )

    def quorum_state(
        self,
        *,
        vs_key: str | None,
        vs_name: str,
        up: bool,
        live_weight: int,
        quorum: int,
        hysteresis: int,
        init: bool,
    ) -> Alert | None:
        """A virtual server gained or lost its quorum, or started with it (Rule 3)."""
        if not self.enabled:
            return None
        vs = self.config.virtual_server(vs_key) if vs_key else None
        if not self._checker_default(vs.smtp_alert if vs is not None else None, False):
            return None
        if up:
            what = "Starting with quorum up" if init else "Gained quorum"
            threshold = quorum + hysteresis
        else:
            what = "Starting with quorum down" if init else "Lost quorum"
            threshold = quorum - hysteresis
        # keepalived writes "+" for both directions: "=> %s %u+%u=%ld <= %ld <="
        body = f"=> {what} {quorum}+{hysteresis}={threshold} <= {live_weight} <="
        return Alert(
            f"[{self.router_id}] Virtualserver {vs_name} - {'UP' if up else 'DOWN'}", body
        )
