"""Start the real supervisor (with the test worker) as a child process for process tests."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from hadaemon.supervisor.status_cli import query
from helpers.netns import wait_for

HARNESS = Path(__file__).with_name("supervisor_harness.py")


def is_our_worker(pid: int) -> bool:
    """True when ``pid`` is alive and is a hadaemon process (guards against pid reuse)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmd = f.read()
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z" and (b"hadaemon" in cmd or b"supervisor_harness" in cmd)


class Sup:
    """One supervisor process with its own run dir and log file."""

    def __init__(
        self,
        tmp: Path,
        conf: dict[str, Any],
        *flags: str,
        env: dict[str, str] | None = None,
        prefix: list[str] | None = None,
    ) -> None:
        self.tmp = tmp
        self.conf_path = tmp / "conf.json"
        self.run_dir = tmp / "run"
        self.log_path = tmp / "supervisor.log"
        self.write_conf(conf)
        self.flags = flags
        self.env = {**os.environ, **(env or {})}
        self.prefix = prefix or []
        self.proc: subprocess.Popen[bytes] | None = None
        self.seen_pids: set[int] = set()

    def write_conf(self, conf: dict[str, Any] | str) -> None:
        text = conf if isinstance(conf, str) else json.dumps(conf, indent=1)
        self.conf_path.write_text(text)

    def argv(self) -> list[str]:
        return [
            *self.prefix,
            sys.executable,
            str(HARNESS),
            "-f",
            str(self.conf_path),
            "-n",
            "--run-dir",
            str(self.run_dir),
            "-i",
            f"t{os.getpid()}",
            *self.flags,
        ]

    def start(self) -> Sup:
        self.log_file = open(self.log_path, "ab")  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen(
            self.argv(),
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
            env=self.env,
            start_new_session=True,
        )
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def status(self) -> dict[str, Any] | None:
        try:
            doc = query(str(self.run_dir / "status.sock"), timeout_s=5.0)
        except (OSError, ValueError):
            return None
        for w in doc.get("workers", {}).values():
            if w.get("pid"):
                self.seen_pids.add(int(w["pid"]))
        self.seen_pids.update(doc["hadaemon"].get("standby_pids", {}).values())
        return doc

    def wait_running(
        self,
        names: set[str] | None = None,
        timeout_s: float = 20.0,
        min_uptime_s: float = 0.0,
        warm_standby: bool = False,
    ) -> dict[str, Any]:
        def ok() -> dict[str, Any] | None:
            assert self.proc is not None and self.proc.poll() is None, (
                f"supervisor exited ({self.proc.returncode if self.proc else '?'}): {self.log()}"
            )
            doc = self.status()
            if not doc:
                return None
            ws = doc["workers"]
            if names is not None and set(ws) != names:
                return None
            if warm_standby and doc["hadaemon"].get("standby_warm") != ["vrrp"]:
                return None
            if all(
                w["state"] == "RUNNING" and (w["running_s"] or 0) >= min_uptime_s
                for w in ws.values()
            ):
                return doc
            return None

        return wait_for(ok, timeout_s, 0.05, "workers RUNNING")  # type: ignore[no-any-return]

    def signal(self, signum: int) -> None:
        os.kill(self.pid, signum)

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        deadline = time.monotonic() + 3
        for pid in self.seen_pids:  # workers die with the supervisor (PDEATHSIG); make sure
            while is_our_worker(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if is_our_worker(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        if getattr(self, "log_file", None) is not None:
            self.log_file.close()
