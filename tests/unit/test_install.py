"""``pip install .`` into a fresh venv gives a ``hadaemon`` that runs.

Offline-friendly: the venv uses the system site packages (Debian's setuptools builds the wheel,
``--no-build-isolation --no-index --no-deps``), and the tree is copied first so that the build
leaves no ``build/`` or ``*.egg-info`` in the work tree.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SYSTEM_PYTHON = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("install")
    src = base / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE", "COPYING"):
        if (ROOT / name).exists():
            shutil.copy(ROOT / name, src / name)
    shutil.copytree(
        ROOT / "hadaemon", src / "hadaemon", ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )
    env_dir = base / "venv"
    r = subprocess.run(
        [SYSTEM_PYTHON, "-m", "venv", "--system-site-packages", str(env_dir)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if r.returncode != 0:
        pytest.fail(f"cannot create a venv (apt install python3-venv): {r.stderr}")
    r = subprocess.run(
        [
            str(env_dir / "bin/python"),
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            str(src),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    return env_dir


def _run(venv: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(venv / "bin/hadaemon"), *args], cwd=cwd, capture_output=True, text=True, timeout=60
    )


def test_installed_hadaemon_version_runs(venv: Path, tmp_path: Path) -> None:
    r = _run(venv, "--version", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    from hadaemon import __version__

    assert r.stdout.strip() == f"hadaemon {__version__}"


def test_installed_package_is_the_copy_in_the_venv(venv: Path, tmp_path: Path) -> None:
    r = subprocess.run(
        [str(venv / "bin/python"), "-c", "import hadaemon.lab.main as m; print(m.__file__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().startswith(str(venv)), r.stdout


def test_installed_lab_help_runs(venv: Path, tmp_path: Path) -> None:
    r = _run(venv, "lab", "--help", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "--short" in r.stdout and "--cleanup" in r.stdout
