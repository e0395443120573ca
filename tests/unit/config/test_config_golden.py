"""Golden tests: config files → model dump (JSON), bad configs → exact ``-t`` output.

``tests/golden/configs/*.conf`` ↔ ``*.json`` (``Config.to_dict(with_location=False)``) and
``tests/golden/configs/bad/*.conf`` ↔ ``*.err`` (what ``hadaemon -t`` prints, then ``exit: N``).
Interfaces named ``eth*`` count as existing so the output does not depend on the host.
Regenerate after an intended change with ``UPDATE_GOLDEN=1 pytest tests/unit/config``.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from hadaemon.config import Config, load
from hadaemon.config.check import config_test

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "configs"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


def _eth_exists(name: str) -> bool:
    return name.startswith("eth")


GOOD = sorted(GOLDEN.glob("*.conf"))
BAD = sorted((GOLDEN / "bad").glob("*.conf"))


def test_golden_sets_are_not_empty() -> None:
    assert len(GOOD) >= 4 and len(BAD) >= 15


@pytest.mark.parametrize("conf", GOOD, ids=lambda p: p.name)
def test_config_dump_matches_golden(conf: Path) -> None:
    result = load(str(conf), config_id="golden", interface_exists=_eth_exists)
    assert result.errors == [], [str(d) for d in result.errors]
    data = result.config.to_dict(with_location=False)
    text = json.dumps(data, indent=2, sort_keys=False) + "\n"
    expected = conf.with_suffix(".json")
    if UPDATE:
        expected.write_text(text)
    assert text == expected.read_text()
    # the dump is also a faithful serialisation
    assert Config.from_dict(json.loads(text)) == result.config


@pytest.mark.parametrize("conf", BAD, ids=lambda p: p.name)
def test_bad_config_error_text(conf: Path) -> None:
    out = io.StringIO()
    code = config_test(str(conf), "golden", stream=out, interface_exists=_eth_exists)
    text = out.getvalue().replace(str(GOLDEN) + "/", "") + f"exit: {code}\n"
    text = text.replace(
        str(conf.relative_to(Path.cwd()) if conf.is_relative_to(Path.cwd()) else conf),
        "bad/" + conf.name,
    )
    expected = conf.with_suffix(".err")
    if UPDATE:
        expected.write_text(text)
    assert text == expected.read_text()
