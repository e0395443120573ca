"""Run the real supervisor with the test worker and a JSON config (for process tests).

``python tests/helpers/supervisor_harness.py [hadaemon daemon flags]``. The config is JSON::

    {"workers": {"vrrp": {...}, "checker": {...}, "lvs": {...}}, "metrics_listen": "ADDR:PORT"}

JSON syntax errors are reported as ``file:line:col: message`` (a real location), so reload
error handling is tested without depending on the keepalived.conf parser.
Environment: ``HADAEMON_TEST_WEDGE_TIMEOUT_S``, ``HADAEMON_TEST_WEDGE_KILL_S``,
``HADAEMON_TEST_PING_INTERVAL_S`` tune the liveness checks.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from hadaemon.cli import build_parser
from hadaemon.supervisor.main import ConfigLoadError, WorkerSpec, run

HERE = os.path.dirname(os.path.abspath(__file__))


class JsonLoader:
    """Loads the test JSON config."""

    def load(self, path: str, config_id: str | None) -> dict[str, Any]:
        try:
            with open(path) as f:
                text = f.read()
        except OSError as exc:
            raise ConfigLoadError(f"{path}: {exc.strerror}") from None
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigLoadError(f"{path}:{exc.lineno}:{exc.colno}: {exc.msg}") from None
        if not isinstance(obj, dict) or not isinstance(obj.get("workers"), dict):
            raise ConfigLoadError(f"{path}:1:1: a 'workers' map is required")
        return obj

    def metrics_listen(self, config: dict[str, Any]) -> str | None:
        return config.get("metrics_listen")

    def lvs_sync_instance(self, config: dict[str, Any]) -> str | None:
        return config.get("lvs_sync_instance")

    def instance_vips(self, config: dict[str, Any], name: str) -> list[str]:
        return list(config["workers"].get("vrrp", {}).get("vips", {}).get(name, []))

    def vrrp_instance_names(self, config: dict[str, Any]) -> set[str]:
        return set(config["workers"].get("vrrp", {}).get("instances", {}))

    def plan(self, old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
        changed = sorted(k for k in new["workers"] if old["workers"].get(k) != new["workers"][k])
        return {"changed": changed}


def _needed(name: str) -> Any:
    def needed(config: dict[str, Any], args: Any) -> bool:
        if name == "vrrp" and args.check:
            return False
        if name != "vrrp" and args.vrrp:
            return False
        return name in config["workers"]

    return needed


REGISTRY = {
    n: WorkerSpec("supervisor_worker", _needed(n), lambda c, n=n: c["workers"][n])
    for n in ("vrrp", "checker", "lvs")
}


def main() -> int:
    os.environ["PYTHONPATH"] = HERE + os.pathsep + os.environ.get("PYTHONPATH", "")
    args = build_parser().parse_args(sys.argv[1:])
    args.config_id = args.config_id or "test"
    for env, attr in (
        ("HADAEMON_TEST_WEDGE_TIMEOUT_S", "wedge_timeout_s"),
        ("HADAEMON_TEST_WEDGE_KILL_S", "wedge_kill_s"),
        ("HADAEMON_TEST_PING_INTERVAL_S", "ping_interval_s"),
        ("HADAEMON_TEST_MIN_HEALTHY_S", "min_healthy_s"),
        ("HADAEMON_TEST_STANDBY_DELAY_S", "standby_delay_s"),
    ):
        if env in os.environ:
            setattr(args, attr, float(os.environ[env]))
    return run(args, registry=REGISTRY, loader=JsonLoader())


if __name__ == "__main__":
    sys.exit(main())
