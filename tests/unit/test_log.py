"""hadaemon.log: the one logging set-up (console formats, syslog, levels, quiet libraries)."""

from __future__ import annotations

import io
import logging
import os
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from hadaemon import log as hlog


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    yield
    for h in list(root.handlers):
        root.removeHandler(h)
        h.close()
    for h in saved[0]:
        root.addHandler(h)
    root.setLevel(saved[1])
    logging.getLogger("hadaemon.vrrp.pkt").setLevel(logging.NOTSET)


def test_untagged_console_is_keepalived_line() -> None:
    out = io.StringIO()
    assert hlog.setup_logging("stderr", tagged=False, stream=out) == "stderr"
    logging.getLogger("hadaemon.vrrp.proto").info("(VI_1) Entering MASTER STATE")
    # keepalived: "%c: message", e.g. "Fri Nov 27 05:50:01 2026: (VI_1) Entering MASTER STATE"
    assert re.fullmatch(
        r"[A-Z][a-z]{2} [A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d \d{4}: \(VI_1\) Entering MASTER STATE\n",
        out.getvalue(),
    ), out.getvalue()


def test_tagged_console_names_process_and_logger() -> None:
    out = io.StringIO()
    hlog.setup_logging("stderr", ident="hadaemon_vrrp", stream=out)
    logging.getLogger("hadaemon.vrrp.proto").info("(VI_1) Entering BACKUP STATE")
    line = out.getvalue()
    assert (
        f" hadaemon_vrrp[{os.getpid()}] hadaemon.vrrp.proto: (VI_1) Entering BACKUP STATE\n"
        in (line)
    ), line


@pytest.mark.parametrize("debug", [False, True])
def test_debug_level_and_quiet_libraries(debug: bool) -> None:
    import pyroute2.netlink.core  # noqa: F401 - pyroute2 resets its own logger level on import

    out = io.StringIO()
    hlog.setup_logging("stderr", debug, stream=out)
    logging.getLogger("hadaemon.vrrp.proto").debug("decision detail")
    logging.getLogger("hadaemon.vrrp.proto").info("decision")
    logging.getLogger("hadaemon.vrrp.pkt").debug("hex dump")
    logging.getLogger("pyroute2.netlink.core").debug("netlink chatter")
    logging.getLogger("pyroute2.netlink.core").info("netlink info")
    logging.getLogger("pyroute2").warning("netlink trouble")
    text = out.getvalue()
    assert ("decision detail" in text) is debug
    assert "decision" in text
    assert "hex dump" not in text  # pkt_debug is off
    assert "netlink chatter" not in text and "netlink info" not in text
    assert "netlink trouble" in text


def test_pkt_debug_turns_hex_dumps_on() -> None:
    out = io.StringIO()
    hlog.setup_logging("stderr", True, pkt_debug=True, stream=out)
    logging.getLogger("hadaemon.vrrp.pkt").debug("hex dump")
    assert "hex dump" in out.getvalue()


def test_setup_is_idempotent() -> None:
    out = io.StringIO()
    hlog.setup_logging("stderr", stream=out)
    hlog.setup_logging("stderr", stream=out)
    logging.getLogger("hadaemon").info("once")
    assert out.getvalue().count("once") == 1


def test_syslog_target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = str(tmp_path / "log")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.bind(path)
        s.settimeout(5)
        monkeypatch.setattr(hlog, "_SYSLOG_SOCKET", path)
        assert hlog.setup_logging("syslog", ident="hadaemon_vrrp") == "syslog"
        logging.getLogger("hadaemon.vrrp.proto").warning("(VI_1) received lower priority")
        got = s.recv(4096).decode()
    # facility daemon (3) * 8 + warning (4) = <28>
    assert got.startswith(f"<28>hadaemon_vrrp[{os.getpid()}]: (VI_1) received lower priority")


def test_syslog_without_socket_falls_back_to_console(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(hlog, "_SYSLOG_SOCKET", str(tmp_path / "missing"))
    assert hlog.setup_logging("syslog", tagged=False) == "stderr"
    logging.getLogger("hadaemon").info("to the console")
    assert "to the console" in capsys.readouterr().err


def test_unknown_target_is_refused() -> None:
    with pytest.raises(ValueError, match="log target 'file'"):
        hlog.setup_logging("file")


def test_rate_limiter() -> None:
    rl = hlog.RateLimiter(burst=2, period_s=10.0)
    assert [rl.allow("ttl", now=t) for t in (0.0, 1.0, 2.0, 3.0)] == [True, True, False, False]
    assert rl.suppressed == {"ttl": 2}
    assert rl.allow("ttl", now=10.5)
