from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from hadaemon import __version__
from hadaemon.cli import build_parser, main, signum


def test_version_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    assert __version__ in capsys.readouterr().out


def test_unknown_flag_is_usage_error() -> None:
    r = subprocess.run(
        [sys.executable, "-m", "hadaemon", "--no-such-flag"], capture_output=True, text=True
    )
    assert r.returncode == 2
    assert "usage:" in r.stderr


def test_signum_names() -> None:
    assert signum("RELOAD") == signal.SIGHUP
    assert signum("STOP") == signal.SIGTERM
    assert signum("DATA") == signal.SIGUSR1
    assert signum("STATS") == signal.SIGUSR2
    assert signum("JSON") == signal.SIGRTMIN + 2
    assert signum("nonsense") is None


def test_keepalived_flags_parse() -> None:
    a = build_parser().parse_args(["-f", "x.conf", "-n", "-D", "-l", "-P", "-i", "n1"])
    assert (a.use_file, a.foreground, a.debug, a.log_console, a.vrrp, a.config_id) == (
        "x.conf",
        True,
        True,
        True,
        True,
        "n1",
    )


def test_config_test_reports_what_the_nft_data_path_cannot_do(tmp_path) -> None:  # type: ignore[no-untyped-def]
    conf = tmp_path / "tun.conf"
    conf.write_text(
        "virtual_server 10.0.0.1 80 {\n  lvs_method TUN\n  protocol TCP\n"
        "  real_server 10.0.0.2 80 {\n    TCP_CHECK { connect_timeout 3 }\n  }\n}\n"
    )
    r = subprocess.run(
        [sys.executable, "-m", "hadaemon", "-t", str(conf)], capture_output=True, text=True
    )
    assert r.returncode == 4, r.stderr
    assert f"{conf}:1:1: error: virtual server 10.0.0.1:tcp:80: lvs_method TUN" in r.stderr
