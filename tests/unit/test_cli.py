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
    r = subprocess.run([sys.executable, "-m", "hadaemon", "--no-such-flag"],
                       capture_output=True, text=True)
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
        "x.conf", True, True, True, True, "n1")
