"""keepalived's script security rule: the pure core (every rule) and the stat wrapper."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from hadaemon.io.scripts import check_script_security, script_refusal
from hadaemon.script_security import (
    PathStat,
    component_problem,
    is_executable,
    needs_protection,
    path_components,
    walk_paths,
    walk_problem,
)

REG, DIR, LNK, FIFO = stat.S_IFREG, stat.S_IFDIR, stat.S_IFLNK, stat.S_IFIFO
USER = 1000  # a non-root user and group


def st(kind: int, perm: int, uid: int = 0, gid: int = 0) -> PathStat:
    return PathStat(kind | perm, uid, gid)


# -- the pure rule ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("s", "uid", "gid", "ok"),
    [
        (st(REG, 0o700), 0, 0, True),  # root: any execute bit
        (st(REG, 0o001, uid=USER), 0, 0, True),
        (st(REG, 0o644), 0, 0, False),
        (st(REG, 0o700, uid=USER), USER, USER, True),  # the owner: the user bit
        (st(REG, 0o070, uid=USER), USER, USER, False),
        (st(REG, 0o070, gid=USER), USER, USER, True),  # the group: the group bit
        (st(REG, 0o701, gid=USER), USER, USER, False),
        (st(REG, 0o001), USER, USER, True),  # anyone else: the other bit
        (st(REG, 0o770), USER, USER, False),
    ],
)
def test_is_executable(s: PathStat, uid: int, gid: int, ok: bool) -> None:
    assert is_executable(s, uid, gid) is ok


@pytest.mark.parametrize(
    ("s", "uid", "gid", "protect"),
    [
        (st(REG, 0o755), 0, 0, True),  # run by root
        (st(REG, 0o755), USER, 0, True),  # group root
        (st(REG, 0o755), 0, USER, True),
        (st(REG, 0o755), USER, USER, False),  # script_user: not protected
        (st(REG, 0o4755), USER, USER, True),  # set-uid root, user-executable
        (st(REG, 0o4655), USER, USER, False),  # set-uid but not user-executable
        (st(REG, 0o4755, uid=USER), USER, USER, False),  # set-uid to a non-root owner
        (st(REG, 0o2755), USER, USER, True),  # set-gid root, group-executable
        (st(REG, 0o2745), USER, USER, False),
        (st(REG, 0o2755, gid=USER), USER, USER, False),
    ],
)
def test_needs_protection(s: PathStat, uid: int, gid: int, protect: bool) -> None:
    assert needs_protection(s, uid, gid) is protect


def test_path_components() -> None:
    assert path_components("/usr/bin/true") == ["/", "/usr", "/usr/bin", "/usr/bin/true"]
    assert path_components("//etc//x") == ["/", "/etc", "/etc/x"]
    with pytest.raises(ValueError):
        path_components("bin/true")


@pytest.mark.parametrize(
    ("s", "last", "problem"),
    [
        (st(REG, 0o755), True, None),
        (st(REG, 0o757), True, "writable by others"),  # world-writable file
        (st(REG, 0o775), True, None),  # group write, group root
        (st(REG, 0o775, gid=USER), True, f"writable by group {USER}"),
        (st(REG, 0o755, uid=USER), True, f"owned by uid {USER}"),  # another owner
        (st(REG, 0o1757), True, "writable by others"),  # sticky means nothing on a file
        (st(DIR, 0o755), False, None),
        (st(DIR, 0o777), False, "writable by others"),  # world-writable directory
        (st(DIR, 0o775, gid=USER), False, f"writable by group {USER}"),  # group-writable dir
        (st(DIR, 0o775), False, None),  # group-writable, group root
        (st(DIR, 0o1777), False, None),  # sticky directory (/tmp)
        (st(DIR, 0o1775, gid=USER), False, None),  # sticky and group-writable
        (st(DIR, 0o1777, uid=USER), False, f"owned by uid {USER}"),  # sticky, not root's
        (st(DIR, 0o755, uid=USER), False, f"owned by uid {USER}"),
        (st(LNK, 0o777), True, None),  # a symlink's own mode does not count
        (st(LNK, 0o777, uid=USER), True, f"owned by uid {USER}"),  # ... its owner does
        (st(LNK, 0o777), False, "not a directory"),  # a symlink inside the walked path
        (st(REG, 0o755), False, "not a directory"),
        (st(DIR, 0o755), True, "not a regular file"),
        (st(FIFO, 0o755), True, "not a regular file"),
    ],
)
def test_component_problem(s: PathStat, last: bool, problem: str | None) -> None:
    got = component_problem("/x", s, last=last)
    if problem is None:
        assert got is None
    else:
        assert got is not None and problem in got and got.startswith("/x ")


def test_links_ok_allows_root_owned_directory_links_only() -> None:
    assert component_problem("/bin", st(LNK, 0o777), last=False, links_ok=True) is None
    why = component_problem("/l", st(LNK, 0o777, uid=USER), last=False, links_ok=True)
    assert why is not None and "owned by uid" in why


def test_walk_problem_reports_the_first_unsafe_component() -> None:
    walk = [
        ("/", st(DIR, 0o755)),
        ("/tmp", st(DIR, 0o1777)),
        ("/tmp/a", st(DIR, 0o777)),
        ("/tmp/a/b", st(DIR, 0o755, uid=USER)),
        ("/tmp/a/b/s", st(REG, 0o755)),
    ]
    assert walk_problem(walk) == "/tmp/a is writable by others"
    assert walk_problem(walk[:2] + [("/tmp/s", st(REG, 0o755))]) is None
    assert walk_problem([("/", st(DIR, 0o755)), ("/bin", st(LNK, 0o777))]) is None


def test_walk_paths() -> None:
    assert walk_paths("/usr/bin/true", "true", False) == ["/usr/bin/true"]
    assert walk_paths("/usr/bin/python3.11", "python3", True) == [
        "/usr/bin/python3",
        "/usr/bin/python3.11",
    ]
    assert walk_paths("/opt/x/real", "alias", False) == ["/opt/x/real"]


# -- the stat wrapper on real files (chown needs root) -----------------------------------------
def script(path: Path, mode: int = 0o755) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(mode)
    return path


def refused(p: Path | str, **kw: object) -> str | None:
    kw.setdefault("enable_script_security", True)
    return script_refusal([str(p), "arg"], **kw)  # type: ignore[arg-type]


@pytest.mark.root
def test_wrapper_secure_and_basic_refusals(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    assert refused(script(tmp_path / "ok.sh")) is None
    assert refused("/bin/true") is None  # /bin is a root-owned link to usr/bin
    assert refused("true") is None  # PATH search
    assert "not found" in (refused(tmp_path / "missing") or "")
    assert "not found" in (refused("no-such-command-anywhere") or "")
    assert "not executable" in (refused(script(tmp_path / "noexec.sh", 0o644)) or "")
    assert "not a regular file" in (refused(tmp_path) or "")
    assert script_refusal([], enable_script_security=True) == "empty command"


@pytest.mark.root
def test_wrapper_insecure_cases(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    ww = script(tmp_path / "ww.sh", 0o757)
    assert "insecure" in (refused(ww) or "") and "writable by others" in (refused(ww) or "")
    assert refused(ww, enable_script_security=False) is None  # keepalived only warns
    gw = script(tmp_path / "gw" / "s.sh")
    os.chown(gw.parent, 0, USER)
    gw.parent.chmod(0o775)
    assert f"writable by group {USER}" in (refused(gw) or "")
    sticky = script(tmp_path / "sticky" / "s.sh")
    sticky.parent.chmod(0o1777)
    assert refused(sticky) is None
    owned = script(tmp_path / "owned.sh")
    os.chown(owned, USER, USER)
    assert f"owned by uid {USER}" in (refused(owned) or "")
    # run as a non-root script_user: not protected, unless set-uid root
    assert refused(ww, uid=USER, gid=USER) is None
    suid = script(tmp_path / "open" / "suid.sh", 0o4755)
    suid.parent.chmod(0o777)
    assert "writable by others" in (refused(suid, uid=USER, gid=USER) or "")
    assert check_script_security([str(ww)], run_as_root=False) is None
    assert "writable" in (check_script_security([str(ww)]) or "")


@pytest.mark.root
def test_wrapper_symlinks(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    target = script(tmp_path / "real" / "s.sh")
    # a directory reached through a link: the resolved path is walked, the link's owner counts
    (tmp_path / "dirlink").symlink_to(target.parent)
    assert refused(tmp_path / "dirlink" / "s.sh") is None
    os.lchown(tmp_path / "dirlink", USER, USER)
    assert f"{tmp_path / 'dirlink'} is owned by uid {USER}" in (
        refused(tmp_path / "dirlink" / "s.sh") or ""
    )
    # the script itself a link in the same directory (keepalived walks the link and its target)
    alias = target.parent / "alias"
    alias.symlink_to("s.sh")
    assert refused(alias) is None
    os.lchown(alias, USER, USER)
    assert f"{alias} is owned by uid {USER}" in (refused(alias) or "")
    # a link to a script in an insecure directory: the target's path is walked
    bad = script(tmp_path / "open" / "s.sh")
    bad.parent.chmod(0o777)
    (tmp_path / "real" / "tobad").symlink_to(bad)
    assert "open is writable by others" in (refused(tmp_path / "real" / "tobad") or "")


# -- hadaemon -t ------------------------------------------------------------------------------
def _config_test(conf: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hadaemon", "-t", "-f", str(conf)],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.root
def test_config_test_reports_insecure_scripts_with_their_location(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    good = script(tmp_path / "good.sh")
    bad = script(tmp_path / "open" / "bad.sh")
    bad.parent.chmod(0o777)
    conf = tmp_path / "k.conf"

    def write(chk_script: Path, user: str = "") -> None:
        conf.write_text(
            "global_defs {\n  enable_script_security\n  script_user root\n"
            "  dynamic_interfaces\n}\n"  # eth1 need not exist on this host
            f'vrrp_script chk {{\n  script "{chk_script} x"\n{user}}}\n'
            "vrrp_instance VI_1 {\n  interface eth1\n  virtual_router_id 51\n  priority 100\n"
            "  virtual_ipaddress {\n    10.9.9.9/32\n  }\n  track_script {\n    chk\n  }\n}\n"
        )

    write(good)
    r = _config_test(conf)
    assert r.returncode == 0, r.stderr
    write(bad)
    r = _config_test(conf)
    assert r.returncode == 4, r.stderr
    assert (
        f"{conf}:7:10: error: script {bad} will not run (enable_script_security): insecure: "
        f"{bad.parent} is writable by others" in r.stderr
    ), r.stderr
    write(bad, user="  user nobody\n")  # run as nobody: no root privileges to protect
    r = _config_test(conf)
    assert r.returncode == 0, r.stderr
