"""Status document renderers, Prometheus exposition, pid file lock and sd_notify (no root)."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from hadaemon.supervisor import os_ops
from hadaemon.supervisor.metrics import parse_listen, render
from hadaemon.supervisor.status_cli import format_data, format_stats, format_table

DOC: dict[str, Any] = {
    "hadaemon": {
        "version": "0.1.0",
        "pid": 10,
        "config_file": "/etc/k.conf",
        "config_id": "r1",
        "uptime_s": 12.5,
        "last_reload": None,
    },
    "workers": {
        "vrrp": {
            "pid": 11,
            "state": "RUNNING",
            "restarts": 2,
            "uptime_s": 3.0,
            "last_exit": "killed by SIGKILL",
            "wedged": False,
        },
        "checker": {
            "pid": None,
            "state": "FATAL",
            "restarts": 0,
            "uptime_s": None,
            "last_exit": "exited with status 78",
            "wedged": False,
        },
    },
    "instances": [
        {
            "name": "VI_1",
            "state": "MASTER",
            "base_priority": 150,
            "priority": 150,
            "effective_priority": 150,
            "vrid": 51,
            "interface": "eth1",
            "virtual_ipaddress": ["10.0.0.200", "10.0.0.201"],
            "stats": {
                "advert_rcvd": 4,
                "advert_sent": 99,
                "become_master": 1,
                "ip_ttl_err": 3,
                "pri_zero_sent": 0,
            },
            "failover_decision_s": 0.0004,
        },
        {
            "name": "VI_2",
            "state": "BACKUP",
            "priority": 100,
            "vrid": 52,
            "interface": "eth2",
            "virtual_ipaddress": [],
            "stats": {},
        },
    ],
    "real_server_states": [
        {
            "virtual_server": "10.0.0.200:80",
            "real_server": "10.0.1.2:8080",
            "up": True,
            "weight": 1,
        },
    ],
    "services": {
        "vrrp": {
            "bpf_drops": {"ttl": 7, "vrid": 1},
            "timers": {"timer_late_count": 2, "timer_max_lateness_s": 0.4},
            "receive_path": {
                "kind": "ebpf",
                "last_seen": [
                    {"ifindex": 3, "family": 4, "vrid": 51, "age_s": 0.25, "src": "10.0.0.1"}
                ],
            },
        }
    },
}


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_metrics_use_keepalived_exporter_names_and_labels() -> None:
    s = _samples(render(DOC).decode())
    lab = (("iname", "VI_1"), ("intf", "eth1"), ("vrid", "51"))
    assert s[("keepalived_up", ())] == 1.0
    assert s[("keepalived_vrrp_state", (*lab[:2], ("ip_address", "10.0.0.200"), lab[2]))] == 2.0
    assert s[("keepalived_vrrp_state", (*lab[:2], ("ip_address", "10.0.0.201"), lab[2]))] == 2.0
    assert (
        s[
            (
                "keepalived_vrrp_state",
                (("iname", "VI_2"), ("intf", "eth2"), ("ip_address", ""), ("vrid", "52")),
            )
        ]
        == 1.0
    )
    assert s[("keepalived_advert_sent_total", lab)] == 99.0
    assert s[("keepalived_advert_rcvd_total", lab)] == 4.0
    assert s[("keepalived_become_master_total", lab)] == 1.0
    assert s[("keepalived_ip_ttl_err_total", lab)] == 3.0
    assert s[("hadaemon_worker_restarts_total", (("worker", "vrrp"),))] == 2.0
    assert s[("hadaemon_worker_up", (("worker", "checker"),))] == 0.0
    assert (
        s[
            (
                "hadaemon_real_server_up",
                (("real_server", "10.0.1.2:8080"), ("virtual_server", "10.0.0.200:80")),
            )
        ]
        == 1.0
    )
    assert s[("hadaemon_bpf_drops_total", (("reason", "ttl"),))] == 7.0
    assert s[("hadaemon_failover_decision_seconds", (("iname", "VI_1"),))] == 0.0004
    assert s[("hadaemon_receive_path", (("kind", "ebpf"),))] == 1.0
    seen = (("family", "4"), ("ifindex", "3"), ("src", "10.0.0.1"), ("vrid", "51"))
    assert s[("hadaemon_vrrp_last_seen_age_seconds", seen)] == 0.25
    assert s[("hadaemon_vrrp_timer_late_total", ())] == 2.0
    assert s[("hadaemon_vrrp_timer_max_lateness_seconds", ())] == 0.4


def test_bfd_metrics_from_the_bfd_workers_status() -> None:
    doc = {
        **DOC,
        "services": {
            "bfd": {
                "sessions": [
                    {
                        "name": "gw",
                        "neighbor_ip": "10.0.0.2",
                        "state": "Up",
                        "detection_time_us": 150000,
                        "stats": {"rx_packets": 40, "tx_packets": 41, "up_transitions": 1},
                    },
                    {"name": "b2", "neighbor_ip": "fd00::2", "state": "Down", "stats": {}},
                ],
                "drops": {"bad_ttl": 3},
            }
        },
    }
    s = _samples(render(doc).decode())
    gw = (("name", "gw"), ("neighbor", "10.0.0.2"))
    assert s[("hadaemon_bfd_state", gw)] == 3.0
    assert s[("hadaemon_bfd_state", (("name", "b2"), ("neighbor", "fd00::2")))] == 1.0
    assert s[("hadaemon_bfd_detection_time_seconds", gw)] == 0.15
    assert s[("hadaemon_bfd_rx_packets_total", gw)] == 40.0
    assert s[("hadaemon_bfd_up_transitions_total", gw)] == 1.0
    assert s[("hadaemon_bfd_drops_total", (("reason", "bad_ttl"),))] == 3.0


def test_keepalived_up_zero_when_vrrp_worker_down() -> None:
    doc = {**DOC, "workers": {"vrrp": {**DOC["workers"]["vrrp"], "state": "BACKOFF"}}}
    assert _samples(render(doc).decode())[("keepalived_up", ())] == 0.0


def test_text_views() -> None:
    table = format_table(DOC)
    assert "VI_1" in table and "MASTER" in table and "killed by SIGKILL" in table
    assert "10.0.1.2:8080" in table and "FATAL" in table
    assert "VRRP Instance = VI_1" in format_data(DOC)
    stats = format_stats(DOC)
    assert "VRRP Instance: VI_1" in stats and "advert_sent: 99" in stats
    assert format_table({})  # an empty document still renders


def test_text_view_names_the_receive_path_and_its_hooks() -> None:
    assert "receive path: ebpf\n" in format_table(DOC)
    rx = {
        "kind": "ebpf",
        "hooks": {"eth1": "xdp", "eth0": "tc"},
        "vlan_hooks": {"eth0.100": {"hook": "eth0", "hook_ifindex": 2, "vlan": 100}},
    }
    doc = {**DOC, "services": {"vrrp": {"receive_path": rx}}}
    assert "receive path: ebpf (eth0 tc, eth1 xdp; eth0.100 on eth0 VLAN 100)" in format_table(doc)
    classic = {"kind": "classic", "ebpf_error": "bcc cannot be imported"}
    doc = {**DOC, "services": {"vrrp": {"receive_path": classic}}}
    assert "receive path: classic (eBPF: bcc cannot be imported)" in format_table(doc)
    assert "receive path" not in format_table({**DOC, "services": {}})


def test_text_view_names_instances_not_started() -> None:
    """An instance disabled for a missing interface (no dynamic_interfaces) is shown."""
    vrrp = {"disabled_instances": {"VI_2": "interface eth2 doesn't exist"}}
    table = format_table({**DOC, "services": {"vrrp": vrrp}})
    assert "(VI_2) not started: interface eth2 doesn't exist\n" in table
    assert "not started" not in format_table({**DOC, "services": {"vrrp": {}}})


@pytest.mark.parametrize(
    "value,expected",
    [
        ("127.0.0.1:9650", ("127.0.0.1", 9650)),
        ("[::1]:2112", ("::1", 2112)),
        (":9650", ("0.0.0.0", 9650)),
    ],
)
def test_parse_listen(value: str, expected: tuple[str, int]) -> None:
    assert parse_listen(value) == expected


@pytest.mark.parametrize("value", ["9650", "host:9650", "1.2.3.4:99999", "1.2.3.4:x"])
def test_parse_listen_errors(value: str) -> None:
    with pytest.raises(ValueError):
        parse_listen(value)


def test_pidfile_lock_refuses_second_holder(tmp_path: Path) -> None:
    path = str(tmp_path / "hadaemon.pid")
    first = os_ops.Pidfile(path)
    first.acquire()
    first.write(4242)
    second = os_ops.Pidfile(path)
    with pytest.raises(os_ops.PidfileLocked) as e:
        second.acquire()
    assert str(e.value) == "4242"
    first.release()
    assert not os.path.exists(path)
    second.acquire()  # free again
    second.release()


def test_sd_notify_and_watchdog_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert os_ops.sd_notify("READY=1") is False
    sock_path = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.bind(sock_path)
        monkeypatch.setenv("NOTIFY_SOCKET", sock_path)
        assert os_ops.sd_notify("READY=1\nSTATUS=x") is True
        assert s.recv(100) == b"READY=1\nSTATUS=x"
    monkeypatch.setenv("WATCHDOG_USEC", "10000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    assert os_ops.watchdog_interval_s() == 5.0
    monkeypatch.setenv("WATCHDOG_PID", "1")  # meant for another process
    assert os_ops.watchdog_interval_s() is None


def test_debug_logging_keeps_pyroute2_quiet(capsys: pytest.CaptureFixture[str]) -> None:
    import logging

    import pyroute2.netlink.core  # noqa: F401 - pyroute2 resets its own logger level on import

    from hadaemon.log import setup_logging

    setup_logging("stderr", True)
    try:
        logging.getLogger("pyroute2.netlink.core").debug("netlink chatter")
        logging.getLogger("pyroute2.netlink.core").warning("netlink trouble")
        logging.getLogger("hadaemon.vrrp.proto").debug("(VI_1) decision")
        err = capsys.readouterr().err
    finally:
        for h in list(logging.getLogger().handlers):
            logging.getLogger().removeHandler(h)
    assert "netlink chatter" not in err
    assert "netlink trouble" in err
    assert "(VI_1) decision" in err
