"""The Vagrant lab: ``vagrant validate`` passes, the provisioning scripts parse, and the VM configs
are the seed's, adapted only in the real servers' addresses, and load in hadaemon and keepalived.

Validation runs on a copy of the tree in tmp_path so that vagrant's ``.vagrant/`` directory never
lands in the work tree. Debian's vagrant 2.3.4 validates the default provider (libvirt, whose
plugin is installed); VirtualBox is not installed here, so its configuration is validated with
``--ignore-provider``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SEED = {
    "router1": ("seed-master.conf", "192.168.10.18", "192.168.56.31"),
    "router2": ("seed-backup.conf", "192.168.10.23", "192.168.56.32"),
}

needs_vagrant = pytest.mark.skipif(
    shutil.which("vagrant") is None, reason="needs vagrant (apt install vagrant)"
)


@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    dst = tmp_path / "tree"
    dst.mkdir()
    shutil.copy(ROOT / "Vagrantfile", dst / "Vagrantfile")
    shutil.copytree(ROOT / "vagrant", dst / "vagrant")
    return dst


def _validate(tree: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    e = {**os.environ, "VAGRANT_CWD": str(tree), "VAGRANT_CHECKPOINT_DISABLE": "1", **env}
    return subprocess.run(
        ["vagrant", "validate", *args],
        cwd=tree,
        env=e,
        capture_output=True,
        text=True,
        timeout=120,
    )


@needs_vagrant
def test_vagrant_validate_default_provider(tree: Path) -> None:
    r = _validate(tree)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "validated successfully" in r.stdout


@needs_vagrant
def test_vagrant_validate_virtualbox_and_keepalived_router2(tree: Path) -> None:
    r = _validate(
        tree, "--ignore-provider", VAGRANT_DEFAULT_PROVIDER="virtualbox", LAB_ROUTER2="keepalived"
    )
    assert r.returncode == 0, r.stdout + r.stderr
    for host in ("router1", "router2", "rs1", "rs2", "client"):
        assert f"{host}: Ignoring provider config" in r.stdout


@needs_vagrant
def test_vagrant_rejects_a_bad_option(tree: Path) -> None:
    r = _validate(tree, LAB_ROUTER2="frr")
    assert r.returncode != 0
    assert "LAB_ROUTER2 must be hadaemon or keepalived" in r.stdout + r.stderr


@pytest.mark.parametrize("script", sorted(p.name for p in (ROOT / "vagrant").glob("*.sh")))
def test_provisioning_scripts_parse(script: str) -> None:
    r = subprocess.run(
        ["bash", "-n", str(ROOT / "vagrant" / script)], capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr
    if shutil.which("shellcheck"):
        r = subprocess.run(
            ["shellcheck", "-S", "error", str(ROOT / "vagrant" / script)],
            capture_output=True,
            text=True,
        )
        assert r.returncode == 0, r.stdout


@pytest.mark.parametrize("script", ["lab-db.py", "lab-probe.py"])
def test_vm_helpers_compile_and_show_help(script: str) -> None:
    r = subprocess.run(
        [sys.executable, str(ROOT / "vagrant" / script), "--help"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert r.returncode == 0, r.stderr
    assert "usage" in r.stdout


@pytest.mark.parametrize("router", sorted(SEED))
def test_vm_configs_are_the_seed_adapted_only_in_addresses(router: str) -> None:
    _seed_file, seed_rs, vm_rs = SEED[router]
    from hadaemon.lab import seedconf  # the seed texts, verbatim

    text = seedconf.SEED_MASTER if router == "router1" else seedconf.SEED_BACKUP
    vm = (ROOT / "vagrant/configs" / f"{router}.conf").read_text()
    body = "".join(vm.splitlines(keepends=True)[1:])  # first line: "! Adapted for ..."
    assert body.replace(f"real_server {vm_rs} ", f"real_server {seed_rs} ") == text
    assert f"real_server {vm_rs} 3306" in vm


@pytest.mark.parametrize("router", sorted(SEED))
def test_vm_configs_load_in_hadaemon(router: str) -> None:
    """``hadaemon -t`` accepts the config: only warnings; exit 5 (scripts without
    enable_script_security, keepalived(8)) when the seed's notify script exists here, else 0
    (4 where eth1 does not exist)."""
    conf = ROOT / "vagrant/configs" / f"{router}.conf"
    r = subprocess.run(
        [sys.executable, "-m", "hadaemon", "-t", str(conf)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "Traceback" not in r.stderr
    # 4 on a host without eth1 (an error that disables the instance, as keepalived -t)
    expected = 5 if Path("/data/sh/mysql.sh").exists() else 0
    if expected == 0 and not Path("/sys/class/net/eth1").exists():
        expected = 4
        assert "(VI_1) interface eth1 doesn't exist" in r.stderr
    assert r.returncode == expected, r.stdout + r.stderr


@pytest.mark.keepalived
@pytest.mark.parametrize("router", sorted(SEED))
def test_vm_configs_keepalived_config_test(router: str) -> None:
    """keepalived 2.2.7 finds nothing in the adapted configs beyond the seed's own two unknown
    keywords (and eth1 missing on this host)."""
    conf = ROOT / "vagrant/configs" / f"{router}.conf"
    r = subprocess.run(
        ["keepalived", "-t", "-f", str(conf)], capture_output=True, text=True, timeout=60
    )
    assert r.returncode != 3, r.stdout + r.stderr  # 3 = cannot run
    text = r.stdout + r.stderr
    unknown = sorted(set(re.findall(r"Unknown keyword '([^']+)'", text)))
    assert unknown == ["lvs_sync_daemon_inteface", "nb_get_retry"], text
    for line in text.splitlines():
        assert "real_server" not in line and "virtual_server" not in line, line


def test_router_unit_drop_in_verifies(tmp_path: Path) -> None:
    """The drop-in the router provisioning writes over systemd/hadaemon.service parses cleanly
    (``systemd-analyze verify``; the only complaint allowed is the binary not installed here)."""
    if shutil.which("systemd-analyze") is None or not (ROOT / "systemd/hadaemon.service").exists():
        pytest.skip("needs systemd-analyze and systemd/hadaemon.service")
    script = (ROOT / "vagrant/provision-router.sh").read_text()
    m = re.search(r"vagrant\.conf <<'UNIT'\n(.*?)\nUNIT\n", script, re.S)
    assert m, "drop-in heredoc not found in provision-router.sh"
    shutil.copy(ROOT / "systemd/hadaemon.service", tmp_path / "hadaemon.service")
    (tmp_path / "hadaemon.service.d").mkdir()
    (tmp_path / "hadaemon.service.d/vagrant.conf").write_text(m.group(1) + "\n")
    r = subprocess.run(
        ["systemd-analyze", "verify", str(tmp_path / "hadaemon.service")],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "SYSTEMD_UNIT_PATH": f"{tmp_path}:"},
    )
    bad = [
        line
        for line in (r.stdout + r.stderr).splitlines()
        if line.strip() and "is not executable" not in line
    ]
    assert not bad, bad
    assert "rc=$$?" in m.group(1)  # systemd would expand a single $ itself
