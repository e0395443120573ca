"""Acceptance compared with the real keepalived: whatever ``keepalived -t`` accepts (exit 0),
``hadaemon -t`` must accept too, and neither may crash. Both run inside a network namespace
that has eth0-eth3 (veth), as the sample configs expect."""

from __future__ import annotations

import io
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.netns import Topology

from hadaemon.config.check import config_test

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "configs"
ROOT = Path(__file__).resolve().parents[3]
CONFIGS = sorted(GOLDEN.glob("samples/*.conf")) + sorted(GOLDEN.glob("*.conf"))

pytestmark = [pytest.mark.root, pytest.mark.netns, pytest.mark.keepalived]


@pytest.fixture(scope="module")
def netns_with_eths() -> Iterator[tuple[Topology, str]]:
    topo = Topology("cfg")
    try:
        ns = topo.ns("kt")
        for i in range(4):
            topo.exec(ns, "ip", "link", "add", f"eth{i}", "type", "veth", "peer", f"peer{i}")
            topo.exec(ns, "ip", "link", "set", f"eth{i}", "up")
        yield topo, ns
    finally:
        topo.close()


def _run(ns: str, *args: str) -> subprocess.CompletedProcess[str] | None:
    try:
        return subprocess.run(
            ["ip", "netns", "exec", ns, *args],
            cwd=ROOT,
            text=True,
            capture_output=True,
            timeout=60,
        )
    except subprocess.TimeoutExpired:
        return None


@pytest.mark.parametrize("conf", CONFIGS, ids=lambda p: p.name)
def test_hadaemon_accepts_what_keepalived_accepts(
    netns_with_eths: tuple[Topology, str], conf: Path
) -> None:
    _topo, ns = netns_with_eths
    keepalived = shutil.which("keepalived") or "/usr/sbin/keepalived"
    k = _run(ns, keepalived, "-t", "-f", str(conf), "-i", "main")
    # hadaemon in-process, with the namespace's interfaces (a subprocess per file is slow)
    links = _run(ns, "ip", "-o", "link", "show")
    assert links is not None
    names = {ln.split(":")[1].strip().split("@")[0] for ln in links.stdout.splitlines()}
    out = io.StringIO()
    code = config_test(str(conf), "main", stream=out, interface_exists=names.__contains__)
    assert code in (0, 4, 5)
    if k is not None and k.returncode == 0:
        assert code == 0, out.getvalue()
    # no interface warnings: eth0-eth3 exist in this namespace
    assert "doesn't exist" not in out.getvalue()
