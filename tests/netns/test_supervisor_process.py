"""The real supervisor with real worker processes, pipes and signals (test worker module).

Each test runs its own supervisor with a tmp_path run dir; only processes started here are
signalled. Workers are the small service in ``tests/helpers/supervisor_worker.py``, hosted by
the real ``hadaemon.workers.base``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers.netns import Topology, wait_for
from helpers.supervisor_proc import Sup, is_our_worker

ALL = {"vrrp", "checker", "lvs"}


def base_conf(tmp: Path, **vrrp: Any) -> dict[str, Any]:
    return {
        "workers": {
            "vrrp": {
                "instances": {"VI_1": "MASTER", "VI_2": "BACKUP"},
                "vips": {"VI_1": ["192.0.2.100"], "VI_2": ["192.0.2.200"]},
                **vrrp,
            },
            "checker": {"emit_rs": [["10.0.0.1:80", "10.0.1.1", 80, True]]},
            "lvs": {},
        }
    }


@pytest.fixture
def sups() -> Iterator[list[Sup]]:
    started: list[Sup] = []
    yield started
    for s in started:
        s.close()


def start(sups: list[Sup], tmp: Path, conf: dict[str, Any], *flags: str, **kw: Any) -> Sup:
    s = Sup(tmp, conf, *flags, **kw).start()
    sups.append(s)
    return s


def test_kill9_each_worker_20_times_respawned_with_state_handback(
    tmp_path: Path, sups: list[Sup]
) -> None:
    # a worker that served 0.3 s is not crash-looping here (default 1 s): faster rounds
    env = {"HADAEMON_TEST_MIN_HEALTHY_S": "0.3", "HADAEMON_TEST_STANDBY_DELAY_S": "0.1"}
    sup = start(sups, tmp_path, base_conf(tmp_path), env=env)
    doc = sup.wait_running(ALL, min_uptime_s=0.4, warm_standby=True)
    assert doc["vrrp_states"] == {"VI_1": "MASTER", "VI_2": "BACKUP"}
    for round_ in range(20):
        old = {n: w["pid"] for n, w in doc["workers"].items()}
        for pid in old.values():
            os.kill(pid, signal.SIGKILL)
        # every fifth round the vrrp worker is replaced by its warm standby
        doc = sup.wait_running(ALL, min_uptime_s=0.4, warm_standby=round_ % 5 == 0)
        new = {n: w["pid"] for n, w in doc["workers"].items()}
        assert all(new[n] != old[n] for n in ALL), (round_, old, new)
        assert sup.proc is not None and sup.proc.poll() is None
    for n, w in doc["workers"].items():
        assert w["restarts"] == 20, (n, w)
        assert w["last_exit"] == "killed by SIGKILL"
    assert "using the standby process" in sup.log()
    vrrp = doc["services"]["vrrp"]
    # the respawned vrrp worker was handed the states back and resumed from them
    assert vrrp["handback"] == {"VI_1": "MASTER", "VI_2": "BACKUP"}
    assert sorted(vrrp["resumed"]) == ["VI_1", "VI_2"] and vrrp["restart"] is True
    # checker -> supervisor -> lvs: the respawned lvs got the real-server state again
    assert ["10.0.0.1:80", "10.0.1.1", 80, True] in doc["services"]["lvs"]["rs_received"]
    # vrrp -> supervisor -> lvs/checker: VIP ownership from the instances' states
    seen = {"192.0.2.100": "owned", "192.0.2.200": "not owned"}
    assert doc["services"]["lvs"]["vrrp_seen"] == seen
    assert doc["services"]["checker"]["vrrp_seen"] == seen
    # worker pid files follow the processes
    assert int((sup.run_dir / "hadaemon_vrrp.pid").read_text()) == doc["workers"]["vrrp"]["pid"]


def test_malformed_frame_restarts_that_worker_only(tmp_path: Path, sups: list[Sup]) -> None:
    flag = tmp_path / "garbage-sent"
    sup = start(sups, tmp_path, base_conf(tmp_path, garbage_once=str(flag)))
    doc = wait_for(
        lambda: (
            (d := sup.status())
            and d["workers"].get("vrrp", {}).get("restarts") == 1
            and d["workers"]["vrrp"]["state"] == "RUNNING"
            and d
        ),
        20,
        0.05,
        "vrrp respawned after its malformed frame",
    )
    assert flag.exists()
    assert "sent a malformed frame" in sup.log()
    assert doc["workers"]["checker"]["restarts"] == 0 and doc["workers"]["lvs"]["restarts"] == 0
    assert sup.proc is not None and sup.proc.poll() is None


def test_permanent_error_is_fatal_not_a_respawn_loop(tmp_path: Path, sups: list[Sup]) -> None:
    conf = base_conf(tmp_path)
    conf["workers"]["checker"] = {"fail": "config"}
    sup = start(sups, tmp_path, conf)
    doc = wait_for(
        lambda: (
            (d := sup.status())
            and d["workers"].get("checker", {}).get("state") == "FATAL"
            and d["workers"]["vrrp"]["state"] == "RUNNING"
            and d
        ),
        20,
        0.05,
        "checker FATAL",
    )
    time.sleep(0.5)
    doc = sup.status()
    assert doc is not None
    assert doc["workers"]["checker"]["state"] == "FATAL"
    assert doc["workers"]["checker"]["restarts"] == 0
    assert "config rejected on purpose" in (doc["workers"]["checker"]["fatal_reason"] or "")
    assert "permanent error, not respawning" in sup.log()


def test_hup_broken_config_keeps_running_then_valid_reload(
    tmp_path: Path, sups: list[Sup]
) -> None:
    sup = start(sups, tmp_path, base_conf(tmp_path))
    doc = sup.wait_running(ALL)
    pids = {n: w["pid"] for n, w in doc["workers"].items()}
    # line 3, column 5 has the error
    sup.write_conf('{\n "workers": {\n    ]\n}\n')
    sup.signal(signal.SIGHUP)
    wait_for(lambda: "reload failed" in sup.log(), 10, 0.05, "reload error logged")
    line = next(x for x in sup.log().splitlines() if "reload failed" in x)
    assert f"{sup.conf_path}:3:5:" in line
    doc = sup.status()
    assert doc is not None and doc["hadaemon"]["generation"] == 0
    assert doc["hadaemon"]["last_reload"]["ok"] is False
    assert {n: w["pid"] for n, w in doc["workers"].items()} == pids
    assert doc["services"]["vrrp"]["applied"] == 0
    # a valid change: applied in place (same pids); workers no longer needed are stopped
    sup.write_conf({"workers": {"vrrp": {"instances": {"VI_1": "MASTER", "VI_3": "BACKUP"}}}})
    sup.signal(signal.SIGHUP)
    doc = wait_for(
        lambda: (
            (d := sup.status())
            and d["hadaemon"]["generation"] == 1
            and d["workers"]["checker"]["state"] == "STOPPED"
            and d["workers"]["lvs"]["state"] == "STOPPED"
            and d
        ),
        10,
        0.05,
        "reload applied",
    )
    assert doc["workers"]["vrrp"]["pid"] == pids["vrrp"]
    assert doc["services"]["vrrp"]["applied"] == 1
    assert doc["services"]["vrrp"]["config"]["instances"] == {"VI_1": "MASTER", "VI_3": "BACKUP"}
    # VI_2 left the config: its remembered state is dropped
    assert set(doc["vrrp_states"]) <= {"VI_1", "VI_3"}
    # a config without instances: the vrrp worker and its standby go away
    standby = wait_for(
        lambda: (d := sup.status()) and d["hadaemon"]["standby_pids"].get("vrrp"),
        10,
        0.05,
        "standby",
    )
    sup.write_conf({"workers": {}})
    sup.signal(signal.SIGHUP)
    doc = wait_for(
        lambda: (d := sup.status()) and d["workers"]["vrrp"]["state"] == "STOPPED" and d,
        10,
        0.05,
        "vrrp stopped",
    )
    assert doc["hadaemon"]["standby_pids"] == {}
    wait_for(lambda: not is_our_worker(standby), 10, 0.05, "standby gone")
    assert not is_our_worker(pids["vrrp"])


def test_term_stops_everything_and_cleans_up(tmp_path: Path, sups: list[Sup]) -> None:
    sup = start(sups, tmp_path, base_conf(tmp_path))
    doc = wait_for(
        lambda: (d := sup.wait_running(ALL)) and d["hadaemon"]["standby_pids"] and d,
        20,
        0.1,
        "a standby vrrp worker",
    )
    pids = [w["pid"] for w in doc["workers"].values()]
    pids += list(doc["hadaemon"]["standby_pids"].values())
    assert int((sup.run_dir / "hadaemon.pid").read_text()) == sup.pid
    sup.signal(signal.SIGTERM)
    assert sup.proc is not None
    assert sup.proc.wait(timeout=15) == 0
    for pid in pids:
        wait_for(lambda pid=pid: not is_our_worker(pid), 5, 0.05, f"worker {pid} gone")
    assert sorted(p.name for p in sup.run_dir.iterdir()) == []
    assert "worker vrrp" in sup.log() and "stopped" in sup.log()


def test_worker_dies_with_supervisor_kill9(tmp_path: Path, sups: list[Sup]) -> None:
    sup = start(sups, tmp_path, base_conf(tmp_path))
    doc = sup.wait_running(ALL)
    pids = [w["pid"] for w in doc["workers"].values()]
    sup.signal(signal.SIGKILL)
    for pid in pids:  # PR_SET_PDEATHSIG / pipe EOF
        wait_for(lambda pid=pid: not is_our_worker(pid), 10, 0.05, f"worker {pid} gone")


def test_second_instance_refused_and_flags_select_workers(tmp_path: Path, sups: list[Sup]) -> None:
    sup = start(sups, tmp_path, base_conf(tmp_path), "-P")
    doc = sup.wait_running({"vrrp"})
    assert set(doc["workers"]) == {"vrrp"}
    second = Sup(tmp_path, base_conf(tmp_path))
    second.log_path = tmp_path / "second.log"
    out = subprocess.run(second.argv(), capture_output=True, text=True, timeout=30)
    assert out.returncode == 1
    assert "already running" in out.stderr and f"pid {sup.pid}" in out.stderr
    assert sup.proc is not None and sup.proc.poll() is None
    other = tmp_path / "c"
    other.mkdir()
    sup_c = start(sups, other, base_conf(other), "-C")
    doc = sup_c.wait_running({"checker", "lvs"})
    assert set(doc["workers"]) == {"checker", "lvs"}


def test_status_socket_cli_and_dump_signals(tmp_path: Path, sups: list[Sup]) -> None:
    sup = start(sups, tmp_path, base_conf(tmp_path))
    doc = sup.wait_running(ALL)
    sock = sup.run_dir / "status.sock"
    assert stat.S_IMODE(sock.stat().st_mode) == 0o600
    assert doc["hadaemon"]["pid"] == sup.pid and doc["hadaemon"]["config_file"] == str(
        sup.conf_path
    )
    inst = {i["name"]: i for i in doc["instances"]}
    assert inst["VI_1"]["state"] == "MASTER" and inst["VI_2"]["state"] == "BACKUP"
    assert doc["real_server_states"] == [
        {
            "virtual_server": "10.0.0.1:80",
            "real_server": "10.0.1.1:80",
            "up": True,
            "weight": 1,
            "reason": "test",
        }
    ]
    assert inst["VI_1"]["virtual_ipaddress"] == ["192.0.2.100"]
    assert inst["VI_1"]["priority"] == 100
    cli = [sys.executable, "-m", "hadaemon", "status", "--run-dir", str(sup.run_dir)]
    table = subprocess.run(cli, capture_output=True, text=True, timeout=30, check=True).stdout
    assert "VI_1" in table and "MASTER" in table and "RUNNING" in table
    js = subprocess.run([*cli, "--json"], capture_output=True, text=True, timeout=30, check=True)
    assert '"VI_1"' in js.stdout
    missing = subprocess.run(
        [*cli[:-1], str(tmp_path / "nope")], capture_output=True, text=True, timeout=30
    )
    assert missing.returncode == 3 and "is hadaemon running?" in missing.stderr
    for signum, name, needle in (
        (signal.SIGUSR1, "hadaemon.data", "VRRP Instance = VI_1"),
        (signal.SIGUSR2, "hadaemon.stats", "advert_sent: 7"),
        (signal.SIGRTMIN + 2, "hadaemon.json", '"VI_1"'),
    ):
        sup.signal(signum)
        path = sup.run_dir / name
        wait_for(lambda p=path, n=needle: p.exists() and n in p.read_text(), 10, 0.05, name)


def _notify_socket(tmp: Path) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(str(tmp / "notify.sock"))
    s.settimeout(0.05)
    return s


def _drain(s: socket.socket, for_s: float) -> list[str]:
    got = []
    end = time.monotonic() + for_s
    while time.monotonic() < end:
        with contextlib.suppress(TimeoutError):
            got.append(s.recv(4096).decode())
    return got


def test_sd_notify_ready_and_watchdog_pauses_while_worker_wedged(
    tmp_path: Path, sups: list[Sup]
) -> None:
    ns = _notify_socket(tmp_path)
    try:
        env = {
            "NOTIFY_SOCKET": str(tmp_path / "notify.sock"),
            "WATCHDOG_USEC": "200000",
            "HADAEMON_TEST_WEDGE_TIMEOUT_S": "1.0",
            "HADAEMON_TEST_WEDGE_KILL_S": "1000",
            "HADAEMON_TEST_PING_INTERVAL_S": "0.2",
        }
        sup = start(sups, tmp_path, base_conf(tmp_path), env=env)
        doc = sup.wait_running(ALL)
        msgs = _drain(ns, 1.0)
        assert any(m.startswith("READY=1") for m in msgs), msgs
        assert "WATCHDOG=1" in msgs
        vrrp_pid = doc["workers"]["vrrp"]["pid"]
        os.kill(vrrp_pid, signal.SIGSTOP)
        try:
            wait_for(
                lambda: (d := sup.status()) and d["workers"]["vrrp"]["wedged"],
                15,
                0.1,
                "vrrp worker seen as wedged",
            )
            _drain(ns, 0.3)
            assert "WATCHDOG=1" not in _drain(ns, 1.0)
        finally:
            os.kill(vrrp_pid, signal.SIGCONT)
        wait_for(lambda: "WATCHDOG=1" in _drain(ns, 0.3), 15, 0.0, "watchdog pings resume")
        assert sup.status()["workers"]["vrrp"]["pid"] == vrrp_pid  # type: ignore[index]
    finally:
        ns.close()


@pytest.mark.root
@pytest.mark.netns
def test_metrics_endpoint_in_netns(tmp_path: Path, sups: list[Sup]) -> None:
    topo = Topology("sm")
    try:
        ns = topo.ns("r1")
        conf = base_conf(tmp_path)
        conf["metrics_listen"] = "127.0.0.1:9650"
        sup = start(sups, tmp_path, conf, prefix=["ip", "netns", "exec", ns])
        sup.wait_running(ALL)
        fetch = (
            "import urllib.request;"
            "print(urllib.request.urlopen('http://127.0.0.1:9650/metrics', timeout=5)"
            ".read().decode())"
        )
        text = topo.exec(ns, sys.executable, "-c", fetch).stdout
        lines = set(text.splitlines())
        assert "keepalived_up 1.0" in lines
        assert (
            'keepalived_vrrp_state{iname="VI_1",intf="eth1",ip_address="192.0.2.100",'
            'vrid="51"} 2.0'
        ) in lines
        assert (
            'keepalived_vrrp_state{iname="VI_2",intf="eth1",ip_address="192.0.2.200",'
            'vrid="52"} 1.0'
        ) in lines
        assert 'keepalived_advert_sent_total{iname="VI_1",intf="eth1",vrid="51"} 7.0' in lines
        assert 'keepalived_ip_ttl_err_total{iname="VI_1",intf="eth1",vrid="51"} 2.0' in lines
        assert 'hadaemon_worker_up{worker="vrrp"} 1.0' in lines
        assert (
            'hadaemon_real_server_up{real_server="10.0.1.1:80",virtual_server="10.0.0.1:80"} 1.0'
        ) in lines
    finally:
        for s in sups:
            s.close()
        topo.close()


def test_daemonizes_without_foreground(tmp_path: Path, sups: list[Sup]) -> None:
    sup = Sup(tmp_path, base_conf(tmp_path))
    sups.append(sup)
    argv = [a for a in sup.argv() if a != "-n"]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    pidfile = sup.run_dir / "hadaemon.pid"
    daemon_pid = wait_for(
        lambda: pidfile.exists() and pidfile.read_text().strip(), 20, 0.05, "pid file"
    )
    daemon_pid = int(daemon_pid)
    sup.seen_pids.add(daemon_pid)
    doc = wait_for(
        lambda: (
            (d := sup.status())
            and all(w["state"] == "RUNNING" for w in d["workers"].values())
            and len(d["workers"]) == 3
            and d
        ),
        20,
        0.05,
        "daemon running",
    )
    assert doc["hadaemon"]["pid"] == daemon_pid
    # detached: its own session, not a child of the launcher
    with open(f"/proc/{daemon_pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    session = int(fields[3])
    # double fork: a new session (setsid), and not its leader (cannot regain a terminal)
    assert session != os.getsid(0) and session != daemon_pid
    os.kill(daemon_pid, signal.SIGTERM)
    wait_for(lambda: not is_our_worker(daemon_pid), 20, 0.05, "daemon stopped")
    assert not pidfile.exists()
