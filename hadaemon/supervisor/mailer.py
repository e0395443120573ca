"""Sending ``smtp_alert`` mails without ever blocking the supervisor loop.

:class:`Mailer` owns one daemon thread and a bounded queue: :meth:`Mailer.submit` only puts a
message in the queue (a full queue drops the mail and says so); the thread sends each with
:mod:`smtplib` the way keepalived does: plain SMTP, ``HELO smtp_helo_name``, ``MAIL FROM``,
one ``RCPT TO`` per recipient, ``DATA``, ``QUIT``; ``smtp_connect_timeout`` bounds the
connection and each reply. A failure is logged with the server and the reason, never raised.
The thread is a daemon: a server that hangs cannot hold up the daemon's exit.

:class:`SmtpAlerts` is what the supervisor calls: it feeds the worker events into
:class:`~hadaemon.supervisor.smtp_alert.AlertPolicy` and submits the alerts it returns.
"""

from __future__ import annotations

import contextlib
import getpass
import logging
import queue
import smtplib
import socket
import threading
import time
from collections.abc import Callable
from datetime import datetime
from email.message import EmailMessage
from typing import Any

from hadaemon.supervisor.smtp_alert import Alert, AlertPolicy, SmtpSettings, format_message

log = logging.getLogger("hadaemon.smtp")

#: mails waiting to be sent; more are dropped (with a warning) rather than piling up
QUEUE_MAX = 100

SendFn = Callable[[SmtpSettings, EmailMessage], None]


def send_message(settings: SmtpSettings, msg: EmailMessage) -> None:
    """Send one mail (blocking); raises :class:`OSError` / :class:`smtplib.SMTPException`."""
    with smtplib.SMTP(
        settings.server,
        settings.port,
        local_hostname=settings.helo_name,
        timeout=settings.connect_timeout_s,
    ) as smtp:
        code, reply = smtp.helo(settings.helo_name)  # keepalived speaks HELO, not EHLO
        if code != 250:
            raise smtplib.SMTPHeloError(code, reply)
        refused = smtp.send_message(
            msg, from_addr=settings.from_addr, to_addrs=list(settings.recipients)
        )
        for rcpt, (rcode, rtext) in refused.items():
            log.warning(
                "SMTP server %s refused recipient %s: %d %s",
                settings.where,
                rcpt,
                rcode,
                rtext.decode(errors="replace"),
            )


def _reason(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error
        if isinstance(text, bytes):
            text = text.decode(errors="replace")
        return f"{exc.smtp_code} {text}"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "all recipients refused"
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timed out"
    return str(exc) or type(exc).__name__


class Mailer:
    """A bounded queue of mails and the one daemon thread that sends them."""

    def __init__(self, *, send: SendFn = send_message, queue_max: int = QUEUE_MAX) -> None:
        self._send = send
        self._queue: queue.Queue[tuple[SmtpSettings, EmailMessage] | None] = queue.Queue(queue_max)
        self.sent = 0
        self.failed = 0
        self.dropped = 0
        self._thread: threading.Thread | None = None

    def submit(self, settings: SmtpSettings, msg: EmailMessage) -> bool:
        """Queue ``msg`` (never blocks); False when the queue is full and the mail is dropped."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="smtp-alert", daemon=True)
            self._thread.start()
        try:
            self._queue.put_nowait((settings, msg))
        except queue.Full:
            self.dropped += 1
            log.warning(
                "SMTP alert queue full (%d mails waiting for %s): dropping %r",
                self._queue.maxsize,
                settings.where,
                msg["Subject"],
            )
            return False
        return True

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            settings, msg = job
            try:
                self._send(settings, msg)
            except Exception as exc:
                self.failed += 1
                log.error(
                    "cannot send SMTP alert %r to SMTP server %s: %s",
                    msg["Subject"],
                    settings.where,
                    _reason(exc),
                )
            else:
                self.sent += 1
                log.info("SMTP alert %r sent via %s", msg["Subject"], settings.where)

    @property
    def pending(self) -> int:
        """Mails waiting in the queue."""
        return self._queue.qsize()

    def close(self, timeout_s: float) -> bool:
        """Let the queued mails go for up to ``timeout_s`` (blocking); True if all were sent.

        Call it from a thread (``asyncio.to_thread``) when a loop is running.
        """
        if self._thread is None:
            return True
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                self._queue.put(None, timeout=max(0.0, deadline - time.monotonic()))
                break
            except queue.Full:
                if time.monotonic() >= deadline:
                    break
        self._thread.join(max(0.0, deadline - time.monotonic()))
        done = not self._thread.is_alive()
        if not done:
            log.warning(
                "SMTP alerts still unsent at exit (%d queued) to SMTP server", self.pending
            )
        return done


def local_identity() -> tuple[str, str]:
    """(host name, user name) for keepalived's defaults of router_id, helo and from."""
    host = socket.gethostname() or "localhost"
    try:
        user = getpass.getuser()
    except Exception:
        user = "root"
    return host, user


class SmtpAlerts:
    """The supervisor's side: events in, mails out (see the module docstring)."""

    def __init__(self, config: Any, *, mailer: Mailer | None = None) -> None:
        self.host, self.user = local_identity()
        self.policy = AlertPolicy(config, self.host)
        self.mailer = mailer or Mailer()
        self._quorum: dict[str, bool] = {}
        self._settings = self._make_settings(config)

    def _make_settings(self, config: Any) -> SmtpSettings | None:
        gd = getattr(config, "global_defs", None)
        if gd is None or not hasattr(gd, "notification_email"):
            return None
        return SmtpSettings.from_global_defs(gd, self.host, self.user)

    @property
    def active(self) -> bool:
        """Whether the config can send any alert at all."""
        return self._settings is not None

    def status(self) -> dict[str, Any] | None:
        """Counters for the status document, or None when no alert can be sent."""
        if self._settings is None:
            return None
        m = self.mailer
        return {
            "server": self._settings.where,
            "sent": m.sent,
            "failed": m.failed,
            "dropped": m.dropped,
            "queued": m.pending,
        }

    def reconfigure(self, config: Any) -> None:
        """A reload took effect."""
        self._settings = self._make_settings(config)
        self.policy.reconfigure(config)

    def _submit(self, alert: Alert | None) -> None:
        if alert is None or self._settings is None:
            return
        msg = format_message(self._settings, alert, datetime.now().astimezone())
        self.mailer.submit(self._settings, msg)

    def _guard(self, fn: Callable[[], Alert | None]) -> None:
        if self._settings is None:
            return
        try:
            self._submit(fn())
        except Exception:  # a mail must never take the supervisor down
            log.exception("SMTP alert not sent")

    def instance_state(self, name: str, state: str) -> None:
        """A :class:`~hadaemon.ipc.messages.StateChanged` arrived."""
        self._guard(lambda: self.policy.instance_state(name, state))

    def event(self, event: str, body: dict[str, Any]) -> None:
        """A worker's :class:`~hadaemon.ipc.messages.ServiceEvent`."""
        if event == "sync_group_state":
            self._guard(lambda: self.policy.group_state(str(body["group"]), str(body["state"])))
        elif event == "checker_state":
            self._guard(
                lambda: self.policy.checker_state(
                    vs_key=body.get("vs_key"),
                    vs_name=str(body["vs"]),
                    rs_ip=str(body["rs_ip"]),
                    rs_port=body.get("rs_port"),
                    rs_name=str(body["rs"]),
                    checker=str(body["checker"]),
                    checker_up=bool(body["up"]),
                    rs_up=bool(body["rs_up"]),
                    rs_changed=bool(body["rs_changed"]),
                )
            )
        elif event == "quorum_state":
            # every checker start reports each quorum: the first one is "Starting with quorum",
            # a repeat of the same state (a respawned checker worker) is not news
            vs, up = str(body.get("vs_key") or body.get("vs")), bool(body["up"])
            init = vs not in self._quorum
            if self._quorum.get(vs) == up:
                return
            self._quorum[vs] = up
            self._guard(
                lambda: self.policy.quorum_state(
                    vs_key=body.get("vs_key"),
                    vs_name=str(body["vs"]),
                    up=up,
                    live_weight=int(body["live_weight"]),
                    quorum=int(body["quorum"]),
                    hysteresis=int(body["hysteresis"]),
                    init=init,
                )
            )

    def close(self, timeout_s: float) -> None:
        """Flush for up to ``timeout_s`` (blocking; run it in a thread)."""
        with contextlib.suppress(Exception):
            self.mailer.close(timeout_s)
