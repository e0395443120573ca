"""``hadaemon -t`` exit codes and ``hadaemon config dump`` through a real subprocess."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from hadaemon.config.check import config_test

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "configs"
ROOT = Path(__file__).resolve().parents[3]


def _ok_here(*ifnames: str) -> int:
    """0, or 4 on a host without these interfaces (a vrrp_instance naming an interface that
    does not exist is an error without dynamic_interfaces, as keepalived -t)."""
    return 0 if all(Path("/sys/class/net", n).exists() for n in ifnames) else 4


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hadaemon", *args],
        cwd=ROOT,
        text=True,
        capture_output=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("path", "code"),
    [
        (GOLDEN / "seed-master.conf", _ok_here("eth1")),
        (GOLDEN / "bad" / "duplicate_vrid.conf", 4),
        (GOLDEN / "bad" / "script_security.conf", 5),
        (GOLDEN / "samples" / "ka-conditional.conf", _ok_here("eth2", "eth3")),
        (GOLDEN, 3),
        (GOLDEN / "does-not-exist.conf", 3),
    ],
    ids=lambda v: v.name if isinstance(v, Path) else str(v),
)
def test_config_test_exit_codes(path: Path, code: int) -> None:
    p = run("-t", str(path), "-i", "main")
    assert p.returncode == code, p.stderr
    assert "Traceback" not in p.stderr + p.stdout
    if code == 4:
        lines = p.stderr.splitlines()
        assert lines[0].startswith(f"{path}:")
        assert any(ln.startswith(f"{path}:") and ": error: " in ln for ln in lines)


@pytest.mark.parametrize("conf", sorted(GOLDEN.glob("samples/*.conf")), ids=lambda p: p.name)
def test_samples_in_keepalived_style_are_valid(conf: Path) -> None:
    out = io.StringIO()
    code = config_test(str(conf), "main", stream=out, interface_exists=lambda n: True)
    assert code == 0, out.getvalue()


def test_error_output_has_location_source_caret_and_hint() -> None:
    p = run("-t", str(GOLDEN / "bad" / "typo_keyword.conf"))
    assert p.returncode == 4
    lines = p.stderr.splitlines()
    i = next(n for n, ln in enumerate(lines) if "Unknown keyword 'virtual_router_idd'" in ln)
    assert lines[i].startswith(f"{GOLDEN}/bad/typo_keyword.conf:4:5: warning: ")
    assert lines[i + 1] == "        virtual_router_idd 51"
    assert lines[i + 2] == "        ^"
    assert lines[i + 3] == "    hint: did you mean 'virtual_router_id'?"


def test_pathological_inputs_never_traceback(tmp_path: Path) -> None:
    braces = tmp_path / "braces.conf"
    braces.write_text("{" * 10_000_000)
    loop = tmp_path / "loop.conf"
    loop.write_text("include loop.conf\n")
    garbage = tmp_path / "garbage.conf"
    garbage.write_bytes(bytes(range(256)) * 64)
    for path in (braces, garbage):
        p = run("-t", str(path))
        assert p.returncode in (3, 4), (path, p.stderr[-2000:])
        assert "Traceback" not in p.stderr


def test_config_dump_json_and_text() -> None:
    p = run("config", "dump", "--json", "-f", str(GOLDEN / "seed-master.conf"))
    assert p.returncode == _ok_here("eth1"), p.stderr
    data = json.loads(p.stdout)
    vi = data["vrrp_instances"][0]
    assert (vi["name"], vi["priority"], vi["advert_int"], vi["accept"]) == ("VI_1", 100, 5.0, True)
    assert vi["location"][1:] == [13, 1]
    rs = data["virtual_servers"][0]["real_servers"][0]
    assert rs["checkers"][0]["retry"] == 3 and rs["checkers"][0]["delay_loop"] == 6.0
    assert "Unknown keyword 'lvs_sync_daemon_inteface'" in p.stderr


def test_config_dump_text_and_missing_file(capsys: pytest.CaptureFixture[str]) -> None:
    from hadaemon.config.cli import main

    assert main(["dump", "-f", str(GOLDEN / "seed-master.conf")]) == _ok_here("eth1")
    out = capsys.readouterr().out
    assert "  virtual_router_id 151" in out and "    lvs_method DR" in out
    assert main(["dump", "-f", str(GOLDEN / "nope.conf")]) == 3
    assert "No such file" in capsys.readouterr().err
