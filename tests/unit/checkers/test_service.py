"""CheckerService lifecycle without network: FILE_CHECKs on files in tmp_path drive it."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

from hadaemon.checkers.service import CheckerService
from hadaemon.checkers.spec import (
    CheckerConfig,
    CheckSpec,
    FileSpec,
    RealServerSpec,
    VirtualServerSpec,
    fmt_service,
)


def file_check(path: Path, delay_loop_s: float = 0.05) -> CheckSpec:
    return CheckSpec(
        kind="FILE_CHECK",
        connect_ip="10.0.0.11",
        connect_port=None,
        retry=0,
        delay_before_retry_s=0.01,
        delay_loop_s=delay_loop_s,
        file=FileSpec(path=str(path), weight=0),
    )


def config(
    path: Path,
    *,
    ha_suspend: bool = False,
    omega: bool = False,
    notify_down: tuple[str, ...] | None = None,
    weight: int = 1,
) -> CheckerConfig:
    return CheckerConfig(
        virtual_servers=(
            VirtualServerSpec(
                key=fmt_service("192.0.2.1", 80),
                ip="192.0.2.1",
                port=80,
                ha_suspend=ha_suspend,
                omega=omega,
                real_servers=(
                    RealServerSpec(
                        ip="10.0.0.11",
                        port=80,
                        weight=weight,
                        notify_down=notify_down,
                        checkers=(file_check(path),),
                    ),
                ),
            ),
        )
    )


async def until(pred: Any, timeout_s: float = 5.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not pred():
            await asyncio.sleep(0.01)


def test_service_reports_changes_and_status_is_json(tmp_path: Path) -> None:
    f = tmp_path / "state"
    f.write_text("0")
    events: list[tuple[str, dict[str, Any]]] = []

    async def main() -> None:
        svc = CheckerService(config(f), lambda k, b: events.append((k, b)))
        await svc.start()
        await until(
            lambda: (
                svc.status()["virtual_servers"][0]["real_servers"][0]["checkers"][0]["attempts"]
                >= 1
            )
        )
        f.write_text("1")
        await until(lambda: any(k == "real_server_state" and not b["up"] for k, b in events))
        json.dumps(svc.status())
        await svc.stop()

    asyncio.run(main())
    states = [b for k, b in events if k == "real_server_state"]
    assert states[0]["up"] and states[-1] == states[-1] | {"up": False, "present": False}


def test_reload_keeps_state_of_unchanged_checkers_and_applies_new_weight(tmp_path: Path) -> None:
    f = tmp_path / "state"
    f.write_text("1")
    events: list[tuple[str, dict[str, Any]]] = []

    async def main() -> None:
        svc = CheckerService(config(f), lambda k, b: events.append((k, b)))
        await svc.start()
        await until(lambda: any(k == "real_server_state" and not b["up"] for k, b in events))
        n = len(events)
        await svc.apply_config(config(f))  # same config: stays DOWN, no flap to UP
        await asyncio.sleep(0.2)
        assert all(b["up"] is False for k, b in events[n:] if k == "real_server_state")
        f.write_text("0")
        await svc.apply_config(config(f, weight=7))

        def ups() -> list[dict[str, Any]]:
            return [b for k, b in events if k == "real_server_state" and b["up"]]

        await until(lambda: len(ups()) >= 2)
        assert ups()[-1]["weight"] == 7
        await svc.stop()

    asyncio.run(main())


def test_ha_suspend_pauses_checks_until_the_vip_is_here(tmp_path: Path) -> None:
    f = tmp_path / "state"
    f.write_text("0")

    async def main() -> None:
        svc = CheckerService(config(f, ha_suspend=True), lambda k, b: None)
        svc.set_address_state("192.0.2.1", False)
        await svc.start()
        await asyncio.sleep(0.3)
        chk = svc.status()["virtual_servers"][0]["real_servers"][0]["checkers"][0]
        assert chk["attempts"] == 0
        svc.set_address_state("192.0.2.1", True)
        await until(
            lambda: (
                svc.status()["virtual_servers"][0]["real_servers"][0]["checkers"][0]["attempts"]
                >= 1
            )
        )
        await svc.stop()

    asyncio.run(main())


def test_omega_runs_notify_down_at_stop(tmp_path: Path) -> None:
    f = tmp_path / "state"
    f.write_text("0")
    out = tmp_path / "omega"

    async def main() -> None:
        svc = CheckerService(
            config(f, omega=True, notify_down=("/bin/sh", "-c", f"echo bye > {out}")),
            lambda k, b: None,
        )
        await svc.start()
        await asyncio.sleep(0.1)
        await svc.stop()

    asyncio.run(main())
    assert out.read_text() == "bye\n"


def test_prepare_disables_missing_noexec_and_insecure_scripts(tmp_path: Path) -> None:
    from dataclasses import replace

    from hadaemon.checkers.service import prepare

    script = tmp_path / "n.sh"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    cfg = config(tmp_path / "x", notify_down=(str(script),))
    assert prepare(cfg).virtual_servers[0].real_servers[0].notify_down == (str(script),)
    assert prepare(replace(cfg, enable_script_security=True)).virtual_servers[0].real_servers[
        0
    ].notify_down == (str(script),)  # keepalived's rule: root's 0755 script under sticky /tmp
    # in a world-writable directory (no sticky bit) it is insecure with enable_script_security
    tmp_path.chmod(0o777)
    secure = prepare(replace(cfg, enable_script_security=True))
    if os.geteuid() == 0:  # keepalived's rule applies when scripts would run as root
        assert secure.virtual_servers[0].real_servers[0].notify_down is None
    missing = prepare(config(tmp_path / "x", notify_down=(str(tmp_path / "nope"),)))
    assert missing.virtual_servers[0].real_servers[0].notify_down is None
    assert prepare(config(tmp_path / "x", notify_down=("/bin/true",))).virtual_servers[
        0
    ].real_servers[0].notify_down == ("/bin/true",)


def test_lvs_notify_fifo_script_reads_the_fifo_lines(tmp_path: Path) -> None:
    from dataclasses import replace

    f = tmp_path / "state"
    f.write_text("0")
    fifo = tmp_path / "lvs.fifo"
    out = tmp_path / "fifo.out"
    cfg = replace(
        config(f),
        lvs_notify_fifo=str(fifo),
        lvs_notify_fifo_script=(
            "/bin/sh",
            "-c",
            f'while read l; do echo "$l" >> {out}; done < "$0"',
        ),
    )

    async def main() -> None:
        svc = CheckerService(cfg, lambda k, b: None)
        await svc.start()
        await asyncio.sleep(0.1)
        f.write_text("1")
        await until(lambda: out.exists() and "DOWN" in out.read_text())
        await svc.stop()

    asyncio.run(main())
    assert out.read_text().splitlines()[0] == "RS [10.0.0.11]:tcp:80 [192.0.2.1]:tcp:80 DOWN"


def test_asyncio_subprocesses_still_work_after_the_service_stopped(tmp_path: Path) -> None:
    import threading

    f = tmp_path / "state"
    f.write_text("0")

    async def service() -> None:
        svc = CheckerService(config(f), lambda k, b: None)
        await svc.start()
        await asyncio.sleep(0.05)
        await svc.stop()

    async def child() -> int:
        p = await asyncio.create_subprocess_exec("/bin/true")
        return await p.wait()

    asyncio.run(service())
    assert asyncio.run(child()) == 0
    rc: list[int] = []
    t = threading.Thread(target=lambda: rc.append(asyncio.run(child())))
    t.start()
    t.join(10)
    assert rc == [0]
