"""net_namespace: run-dir choice, the config peek, reload refusal, and the clear error for a
namespace that does not exist (no namespace is entered here: that is tests/netns)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from hadaemon.config import loads
from hadaemon.io.netns import NetnsError, enter, netns_path
from hadaemon.supervisor.main import ConfigLoadError, Supervisor
from hadaemon.supervisor.namespace import (
    NamespacePinnedLoader,
    choose_run_dir,
    configured_namespace,
    namespace_change_error,
)

ROOT = Path(__file__).resolve().parents[3]

CONF = """global_defs {{
    router_id r1
{line}}}
vrrp_instance VI_1 {{
    interface eth1
    virtual_router_id 5
    priority 100
    virtual_ipaddress {{
        10.9.9.9/32
    }}
}}
"""


def _text(netns: str | None) -> str:
    return CONF.format(line=f"    net_namespace {netns}\n" if netns else "")


def _config(netns: str | None) -> Any:
    return loads(_text(netns), "k.conf", interface_exists=lambda n: True).config


def test_run_dir_explicit_wins_else_per_namespace_default() -> None:
    assert choose_run_dir(None, None) == "/run/hadaemon"
    assert choose_run_dir(None, "blue") == "/run/hadaemon/blue"
    assert choose_run_dir("/tmp/r", "blue") == "/tmp/r"
    assert choose_run_dir("/tmp/r", None) == "/tmp/r"


def test_cli_leaves_run_dir_unset_unless_given() -> None:
    from hadaemon.cli import build_parser

    assert build_parser().parse_args([]).run_dir is None
    assert build_parser().parse_args(["--run-dir", "/x"]).run_dir == "/x"


def test_configured_namespace_is_read_without_validation(tmp_path: Path) -> None:
    p = tmp_path / "k.conf"
    p.write_text(_text("blue"))  # eth1 need not exist: not validated
    assert configured_namespace(str(p), None) == ("blue", f"{p}:3:5")
    p.write_text(_text(None))
    assert configured_namespace(str(p), None) == (None, "")
    assert configured_namespace(str(tmp_path / "missing.conf"), None) == (None, "")


def test_namespace_change_error_names_both_and_the_line() -> None:
    assert namespace_change_error("blue", _config("blue"), "k.conf") is None
    assert namespace_change_error(None, _config(None), "k.conf") is None
    why = namespace_change_error("blue", _config("red"), "k.conf")
    assert why is not None and why.startswith("k.conf:3:5: ")
    assert "'blue'" in why and "'red'" in why and "restart" in why
    why = namespace_change_error("blue", _config(None), "k.conf")
    assert why is not None and "'blue' to none" in why


class _Inner:
    def __init__(self, config: Any) -> None:
        self.config = config

    def load(self, path: str, config_id: str | None) -> Any:
        return self.config

    def metrics_listen(self, config: Any) -> str | None:
        return None

    def vrrp_instance_names(self, config: Any) -> set[str]:
        return {i.name for i in config.vrrp_instances}


def test_pinned_loader_refuses_another_namespace_and_delegates() -> None:
    inner = _Inner(_config("blue"))
    pinned = NamespacePinnedLoader(inner, "blue")
    assert pinned.load("k.conf", None) is inner.config
    assert pinned.vrrp_instance_names(inner.config) == {"VI_1"}
    inner.config = _config("red")
    with pytest.raises(ConfigLoadError, match="net_namespace changed from 'blue' to 'red'"):
        pinned.load("k.conf", None)


def test_reload_changing_namespace_is_refused_and_keeps_running_config(
    caplog: pytest.LogCaptureFixture,
) -> None:
    running = _config("blue")
    inner = _Inner(_config("red"))
    args = argparse.Namespace(
        use_file="k.conf", config_id="r1", run_dir="/nonexistent", foreground=True,
        log_console=True,
    )  # fmt: skip
    sup = Supervisor(args, running, registry={}, loader=NamespacePinnedLoader(inner, "blue"))
    with caplog.at_level(logging.ERROR, logger="hadaemon.supervisor"):
        asyncio.run(sup.reload())
    assert sup.config is running and sup.generation == 0
    assert sup.last_reload is not None and sup.last_reload["ok"] is False
    assert "net_namespace changed" in sup.last_reload["error"]
    assert any(
        "reload failed, keeping the running configuration" in r.getMessage()
        and "restart hadaemon" in r.getMessage()
        for r in caplog.records
    ), caplog.text
    inner.config = _config("blue")  # the same namespace reloads normally
    asyncio.run(sup.reload())
    assert sup.generation == 1 and sup.last_reload["ok"] is True


def test_enter_missing_namespace_is_a_clear_error() -> None:
    name = f"hdnone{secrets.token_hex(4)}"
    with pytest.raises(NetnsError, match=f"net_namespace {name}: no such network namespace"):
        enter(name)
    for bad in ("", "a/b", "..", "."):
        with pytest.raises(NetnsError, match="not a namespace name"):
            netns_path(bad)


def _hadaemon(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hadaemon", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=str(ROOT),
    )


def test_daemon_and_config_test_exit_3_for_a_missing_namespace(tmp_path: Path) -> None:
    name = f"hdnone{secrets.token_hex(4)}"
    conf = tmp_path / "k.conf"
    conf.write_text(_text(name))
    run_dir = tmp_path / "run"
    for argv in (
        ["-n", "-l", "-f", str(conf), "--run-dir", str(run_dir)],
        ["-t", "-f", str(conf)],
        ["config", "check", str(conf)],
    ):
        r = _hadaemon(*argv)
        out = r.stdout + r.stderr
        assert r.returncode == 3, (argv, out)
        assert f"{conf}:3:5: " in out and "no such network namespace" in out, out
        assert "Traceback" not in out, out
    assert not run_dir.exists()  # nothing started
