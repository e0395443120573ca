"""systemd/hadaemon.service: the required settings, and ``systemd-analyze verify`` passes."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[3] / "systemd" / "hadaemon.service"


def _unit() -> configparser.RawConfigParser:
    cp = configparser.RawConfigParser(strict=False)
    cp.optionxform = str  # type: ignore[assignment,method-assign]
    cp.read_string(UNIT.read_text())
    return cp


def test_unit_settings() -> None:
    svc = _unit()["Service"]
    assert svc["Type"] == "notify"
    assert "/usr/local/bin/hadaemon -t -f /etc/hadaemon/hadaemon.conf" in svc["ExecStartPre"]
    assert "--foreground" in svc["ExecStart"]
    assert svc["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert svc["KillMode"] == "mixed"
    assert svc["WatchdogSec"]
    caps = set(svc["CapabilityBoundingSet"].split())
    assert caps == {
        "CAP_NET_ADMIN",
        "CAP_NET_RAW",
        "CAP_BPF",
        "CAP_PERFMON",
        "CAP_SYS_ADMIN",
        "CAP_SYS_NICE",
        "CAP_IPC_LOCK",
    }


def test_systemd_analyze_verify(tmp_path: Path) -> None:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze not installed")
    # the unit names /usr/local/bin/hadaemon (make install); verify checks that the binary
    # exists, so point a copy at this tree's entry point
    exe = Path(sys.executable).with_name("hadaemon")
    assert exe.exists(), exe
    unit = tmp_path / "hadaemon.service"
    unit.write_text(UNIT.read_text().replace("/usr/local/bin/hadaemon", str(exe)))
    out = subprocess.run([tool, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    # verify only warns about unknown keys / bad values: any output is a failure
    assert out.stderr.strip() == "" and out.stdout.strip() == "", out.stderr + out.stdout
    # and it does catch a broken line
    bad = tmp_path / "bad.service"
    bad.write_text(unit.read_text().replace("Type=notify", "Type=notyfy"))
    out = subprocess.run([tool, "verify", str(bad)], capture_output=True, text=True, timeout=60)
    assert "notyfy" in out.stderr


def test_exec_start_pre_only_reports(tmp_path: Path) -> None:
    """ExecStartPre runs ``hadaemon -t`` for the journal but never blocks the start ("-"):
    the daemon decides, as keepalived (which has no pre-check) starts with what it accepts."""
    svc = _unit()["Service"]
    assert svc["ExecStartPre"].startswith("-/usr/local/bin/hadaemon -t ")
    assert set(svc["RestartPreventExitStatus"].split()) == {"1", "4"}


def _daemon(conf: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Start the daemon as the unit does (with this tree), expecting it to stop by itself."""
    return subprocess.run(
        [sys.executable, "-m", "hadaemon", "--foreground", "-l", "-f", str(conf)]
        + ["--run-dir", str(tmp_path / "run")],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_daemon_refuses_a_broken_config_with_the_no_restart_exit_status(tmp_path: Path) -> None:
    bad = tmp_path / "bad.conf"
    bad.write_text(
        "vrrp_instance VI_1 {\n interface lo\n virtual_router_id 300\n priority 100\n"
        " virtual_ipaddress {\n  10.9.9.9/32\n }\n}\n"
    )
    out = _daemon(bad, tmp_path)
    assert str(out.returncode) in _unit()["Service"]["RestartPreventExitStatus"].split()
    assert "bad.conf:3:" in out.stdout + out.stderr  # file:line:col of virtual_router_id
    missing = _daemon(tmp_path / "missing.conf", tmp_path)
    assert str(missing.returncode) in _unit()["Service"]["RestartPreventExitStatus"].split()
