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
    shutil.copytree(ROOT / "bpf", src / "bpf")
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


def test_installed_package_finds_its_ebpf_source(venv: Path, tmp_path: Path) -> None:
    """The eBPF source ships as data (``<prefix>/share/hadaemon/bpf``); the loader finds it."""
    r = subprocess.run(
        [
            str(venv / "bin/python"),
            "-c",
            "from hadaemon.io.bpf import source_path as s; print(s())",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    path = Path(r.stdout.strip())
    assert path == venv / "share/hadaemon/bpf/vrrp_filter.bpf.c"
    assert path.read_text() == (ROOT / "bpf/vrrp_filter.bpf.c").read_text()


def test_installed_lab_help_runs(venv: Path, tmp_path: Path) -> None:
    r = _run(venv, "lab", "--help", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "--short" in r.stdout and "--cleanup" in r.stdout


MAN = ROOT / "man"


@pytest.mark.parametrize("page", ["hadaemon.8", "hadaemon.conf.5"])
def test_man_pages_render_without_warnings(page: str) -> None:
    if shutil.which("groff") is None:
        pytest.skip("needs groff")
    r = subprocess.run(
        ["groff", "-man", "-ww", "-z", str(MAN / page)], capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0 and r.stderr == "", r.stderr


def test_man_page_documents_every_option_and_subcommand() -> None:
    """hadaemon(8) names every long option of the CLI and every subcommand."""
    from hadaemon.cli import SUBCOMMANDS, build_parser

    text = (MAN / "hadaemon.8").read_text().replace("\\-", "-")
    for action in build_parser()._actions:
        longs = [o for o in action.option_strings if o.startswith("--")]
        if longs and longs != ["--help"]:
            assert any(o in text for o in longs), f"{longs} missing from man/hadaemon.8"
    for sub in SUBCOMMANDS:
        assert f".B {sub}" in text or f".B config {sub}" in text or f"hadaemon {sub}" in text, sub
