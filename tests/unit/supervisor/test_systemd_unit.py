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


def _exec_start_pre(conf: Path) -> int:
    """Run the unit's ExecStartPre with this tree's hadaemon and ``conf``; its exit status."""
    cmd = _unit()["Service"]["ExecStartPre"]
    cmd = cmd.replace("/usr/local/bin/hadaemon", f"{sys.executable} -m hadaemon")
    cmd = cmd.replace("/etc/hadaemon/hadaemon.conf", str(conf))
    argv = cmd.split(" ", 2)  # /bin/sh -c '...'
    assert argv[:2] == ["/bin/sh", "-c"], cmd
    script = argv[2].strip("'").replace("$$", "$")  # systemd's literal dollar
    assert "$" not in argv[2].replace("$$", ""), "a lone $ would be expanded by systemd"
    return subprocess.run(["/bin/sh", "-c", script], capture_output=True, timeout=60).returncode


def test_exec_start_pre_refuses_errors_but_not_the_script_security_warning(
    tmp_path: Path,
) -> None:
    good = tmp_path / "good.conf"
    good.write_text(
        "vrrp_instance VI_1 {\n interface lo\n virtual_router_id 5\n priority 100\n"
        " virtual_ipaddress {\n  10.9.9.9/32\n }\n}\n"
    )
    assert _exec_start_pre(good) == 0
    script = tmp_path / "notify.sh"
    script.write_text("#!/bin/sh\nexit 0\n")
    script.chmod(0o755)
    insecure = tmp_path / "insecure.conf"
    insecure.write_text(
        good.read_text().replace(" priority 100\n", f" priority 100\n notify_master {script}\n")
    )
    assert _exec_start_pre(insecure) == 0  # exit 5 of -t: a warning, keepalived starts too
    bad = tmp_path / "bad.conf"
    bad.write_text(good.read_text().replace("virtual_router_id 5", "virtual_router_id 300"))
    assert _exec_start_pre(bad) != 0
    assert _exec_start_pre(tmp_path / "missing.conf") != 0
