#!/usr/bin/env python3
"""Run every ``bench/bench_*.py`` in turn, each within a time budget; print their tables.

    .venv/bin/python bench/run_all.py [--budget-s 900] [--quick] [--only vrrp,lvs]
                                      [--skip bpf] [--readme-only]

``make bench`` calls this. Each benchmark runs as its own process group (so a budget overrun
kills it and whatever it started, and nothing else); its output streams through unchanged.
At the end a summary table is printed and ``bench/README.md`` is regenerated from the
``bench/results/*.md`` files the benchmarks write.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
README = BENCH / "README.md"

_README_HEAD = """\
# Benchmarks

Speed is measured here, not in the tests (the tests assert protocol behaviour only). Every
script prints markdown tables and writes its latest results to `bench/results/<area>.md`; this
file is regenerated from those by `bench/run_all.py` (edit the head in `run_all.py`; everything
under "Latest results" is generated).

## How to run

```
make bench                                   # every bench/bench_*.py in turn, budget each
.venv/bin/python bench/run_all.py --quick    # smoke run: --quick passed to scripts that take it
.venv/bin/python bench/run_all.py --only vrrp,lvs --budget-s 1200
.venv/bin/python bench/run_all.py --readme-only   # just rebuild this file from bench/results
.venv/bin/python bench/bench_vrrp.py --help       # one benchmark, its own options
```

Most benchmarks need root (network namespaces; they create uniquely named namespaces and
delete them on the way out, and only signal processes they started). They compare against
keepalived 2.2.7 from Debian where it can run on this kernel (no IPVS here, so not the LVS
and checker data paths).

Machine note: the numbers below come from a 2-CPU shared VM with other jobs running at the same
time (each result file records the load average); treat them as noisy, compare rows of one run
(hadaemon and keepalived are measured in the same run), not runs with each other.

## Latest results

"""


def scripts(only: set[str], skip: set[str]) -> list[Path]:
    """The benchmark scripts to run, sorted by name, filtered by area (``bench_<area>.py``)."""
    out = []
    for p in sorted(BENCH.glob("bench_*.py")):
        area = p.stem.removeprefix("bench_")
        if (only and area not in only) or area in skip:
            continue
        out.append(p)
    return out


def takes_quick(path: Path) -> bool:
    """True if the script declares a ``--quick`` option."""
    return '"--quick"' in path.read_text(errors="replace")


def run_one(path: Path, budget_s: float, quick: bool) -> tuple[str, float]:
    """Run one benchmark within ``budget_s``; returns (outcome, seconds)."""
    argv = [sys.executable, str(path)] + (["--quick"] if quick and takes_quick(path) else [])
    print(f"\n{'=' * 20} {path.name} (budget {budget_s:.0f} s) {'=' * 20}", flush=True)
    t0 = time.monotonic()
    p = subprocess.Popen(argv, cwd=str(ROOT), start_new_session=True)
    try:
        rc = p.wait(timeout=budget_s)
        outcome = "ok" if rc == 0 else f"exit {rc}"
    except subprocess.TimeoutExpired:
        outcome = "over budget, stopped"
    finally:
        if p.poll() is None:  # over budget or Ctrl-C: its whole group (started here) goes;
            try:  # SIGINT first so the script's finally blocks delete its namespaces
                os.killpg(p.pid, signal.SIGINT)
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
            except ProcessLookupError:
                pass
    return outcome, time.monotonic() - t0


def build_readme() -> None:
    """Rewrite bench/README.md: the fixed head, then every results file (headings demoted)."""
    parts = [_README_HEAD]
    for f in sorted(RESULTS.glob("*.md")):
        text = f.read_text(errors="replace").strip()
        lines = [("#" + ln if ln.startswith("#") else ln) for ln in text.splitlines()]
        if not lines or not lines[0].startswith("##"):
            lines[:0] = [f"## {f.stem} (bench/bench_{f.stem}.py)", ""]
        parts.append(f"<!-- from bench/results/{f.name} -->\n" + "\n".join(lines) + "\n\n")
    README.write_text("".join(parts).rstrip() + "\n")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks, print a summary, rebuild the README."""
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--budget-s", type=float, default=900.0, help="wall-clock cap per script")
    ap.add_argument("--quick", action="store_true", help="pass --quick where a script takes it")
    ap.add_argument("--only", default="", help="comma list of areas (bench_<area>.py)")
    ap.add_argument("--skip", default="", help="comma list of areas to leave out")
    ap.add_argument("--readme-only", action="store_true", help="only rebuild bench/README.md")
    a = ap.parse_args(argv)
    # a handled (not ignored) SIGINT is reset to default in the children, so the SIGINT sent
    # on a budget overrun reaches them even when make bench runs in the background
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if a.readme_only:
        build_readme()
        print(f"written {README.relative_to(ROOT)}")
        return 0
    todo = scripts(set(a.only.split(",")) - {""}, set(a.skip.split(",")) - {""})
    if not todo:
        print("no benchmark matches", file=sys.stderr)
        return 2
    print(
        f"# make bench: {len(todo)} scripts, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
        f", load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
        flush=True,
    )
    summary = []
    try:
        for path in todo:
            summary.append((path.name, *run_one(path, a.budget_s, a.quick)))
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
    print("\n## Summary\n\n| script | outcome | wall s |\n|---|---|---|")
    for name, outcome, secs in summary:
        print(f"| {name} | {outcome} | {secs:.0f} |")
    build_readme()
    print(f"\nresults: bench/results/*.md, collected in {README.relative_to(ROOT)}")
    return 0 if len(summary) == len(todo) and all(o == "ok" for _, o, _ in summary) else 1


if __name__ == "__main__":
    sys.exit(main())
