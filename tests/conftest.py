"""Shared test configuration.

Markers ``root``, ``netns``, ``bpf``, ``nft`` and ``keepalived`` declare what a test needs.
When the need cannot be met the test is skipped on a developer machine, but under ``CI=true``
it *fails*: a privileged suite that silently skips would count as green while testing nothing.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _is_root() -> bool:
    return os.geteuid() == 0


def _have_netns() -> bool:
    return _is_root() and shutil.which("ip") is not None and os.path.exists("/proc/self/ns/net")


def _have_bcc() -> bool:
    try:
        import bcc  # noqa: F401
    except Exception:
        return False
    return _is_root()


def _have_nft() -> bool:
    try:
        import nftables  # noqa: F401
    except Exception:
        return False
    return _is_root()


def _have_keepalived() -> bool:
    return shutil.which("keepalived") is not None or os.path.exists("/usr/sbin/keepalived")


REQUIREMENTS = {
    "root": (_is_root, "needs root"),
    "netns": (_have_netns, "needs root and network namespaces"),
    "bpf": (_have_bcc, "needs root and bcc (python3-bpfcc)"),
    "nft": (_have_nft, "needs root and python3-nftables"),
    "keepalived": (_have_keepalived, "needs keepalived (apt install keepalived)"),
}


def pytest_runtest_setup(item: pytest.Item) -> None:
    for name, (check, why) in REQUIREMENTS.items():
        if item.get_closest_marker(name) is not None and not check():
            if IN_CI:
                pytest.fail(f"CI=true and this {name} test cannot run: {why}", pytrace=False)
            pytest.skip(why)
