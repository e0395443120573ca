"""The script security rule agrees with keepalived 2.2.7's on the same files.

Each case is a ``vrrp_script`` of one config; ``keepalived -t`` (in a namespace of its own, with
a veth to run the instance on) says "Disabling track script NAME due to insecure" for the
scripts it refuses, and :func:`hadaemon.io.scripts.script_refusal` must refuse exactly those.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from helpers.netns import Topology

from hadaemon.io.scripts import script_refusal

pytestmark = [pytest.mark.root, pytest.mark.netns, pytest.mark.keepalived]

USER = 1000


def _script(path: Path, mode: int = 0o755) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(mode)
    return path


def _cases(root: Path) -> dict[str, Path]:
    """name → script path, one per rule."""
    root.mkdir(mode=0o755)
    c: dict[str, Path] = {}
    c["plain"] = _script(root / "plain.sh")
    c["world_writable_file"] = _script(root / "ww.sh", 0o757)
    c["group_writable_root_group"] = _script(root / "gw0.sh", 0o775)
    c["group_writable_file"] = _script(root / "gwf.sh", 0o775)
    os.chown(c["group_writable_file"], 0, USER)
    c["group_writable_dir"] = _script(root / "gwd" / "s.sh")
    os.chown(root / "gwd", 0, USER)
    (root / "gwd").chmod(0o775)
    c["world_writable_dir"] = _script(root / "wwd" / "s.sh")
    (root / "wwd").chmod(0o777)
    c["sticky_dir"] = _script(root / "sticky" / "s.sh")
    (root / "sticky").chmod(0o1777)
    c["sticky_dir_other_owner"] = _script(root / "sticky2" / "s.sh")
    (root / "sticky2").chmod(0o1777)
    os.chown(root / "sticky2", USER, USER)
    c["file_other_owner"] = _script(root / "owned.sh")
    os.chown(c["file_other_owner"], USER, USER)
    c["dir_other_owner"] = _script(root / "odir" / "s.sh")
    os.chown(root / "odir", USER, USER)
    real = _script(root / "real" / "s.sh")
    (root / "dirlink").symlink_to(real.parent)
    c["root_dir_link"] = root / "dirlink" / "s.sh"
    (real.parent / "alias").symlink_to("s.sh")
    c["root_file_link"] = real.parent / "alias"
    (real.parent / "alias2").symlink_to("s.sh")
    os.lchown(real.parent / "alias2", USER, USER)
    c["file_link_other_owner"] = real.parent / "alias2"
    (real.parent / "toww").symlink_to(c["world_writable_dir"])
    c["link_into_world_writable_dir"] = real.parent / "toww"
    return c


def test_same_verdicts_as_keepalived(tmp_path: Path) -> None:
    keepalived = shutil.which("keepalived") or "/usr/sbin/keepalived"
    cases = _cases(tmp_path / "t")
    scripts = "".join(f'vrrp_script {n} {{\n  script "{p} x"\n}}\n' for n, p in cases.items())
    tracks = "".join(f"    {n}\n" for n in cases)
    conf = tmp_path / "ka.conf"
    conf.write_text(
        "global_defs {\n  enable_script_security\n  script_user root\n}\n"
        + scripts
        + "vrrp_instance VI_1 {\n  interface eth1\n  virtual_router_id 51\n  priority 100\n"
        + "  virtual_ipaddress {\n    10.9.9.9/32\n  }\n  track_script {\n"
        + tracks
        + "  }\n}\n"
    )
    with Topology("scs") as topo:
        ns = topo.ns("ka")
        topo.exec(ns, "ip", "link", "add", "eth1", "type", "veth", "peer", "name", "eth2")
        topo.exec(ns, "ip", "link", "set", "eth1", "up")
        out = subprocess.run(
            ["ip", "netns", "exec", ns, keepalived, "-t", "-l", "-n", "-f", str(conf)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    text = out.stdout + out.stderr
    ka_refused = set(re.findall(r"Disabling track script (\S+) due to insecure", text))
    assert ka_refused, text  # the cases include insecure scripts: keepalived must say so
    ours = {n for n, p in cases.items() if script_refusal([str(p)], enable_script_security=True)}
    assert ours == ka_refused, text
    assert "plain" not in ours and "sticky_dir" not in ours and "root_dir_link" not in ours
