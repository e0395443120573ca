"""FILE_CHECK: read the integer in a track_file; ``value * weight`` decides.

With ``weight 0`` any non-zero value is down. Otherwise the result is ``value * weight``
(negated with ``reverse``): down at -254 or below (keepalived's "fault" threshold for tracked
files); with ``dynamic`` it is also added to the real server's weight.
"""

from __future__ import annotations

from hadaemon.checkers.probes import ProbeResult
from hadaemon.checkers.spec import CheckSpec, FileSpec
from hadaemon.vrrp.trackers import track_file_value

FAULT_THRESHOLD = -254


def evaluate(value: int, f: FileSpec) -> tuple[bool, int | None]:
    """Pure: (up, dynamic weight delta or None) for a value read from the file."""
    if f.weight == 0:
        return value == 0, None
    eff = value * f.weight * (-1 if f.reverse else 1)
    if eff <= FAULT_THRESHOLD:
        return False, None
    return True, (eff if f.dynamic else None)


async def probe(spec: CheckSpec) -> ProbeResult:
    """Read and judge the tracked file (a tiny synchronous read)."""
    f = spec.file or FileSpec()
    try:
        with open(f.path, "rb") as fh:
            text = fh.read(64).decode("ascii", "replace").strip()
        value = track_file_value(text)
    except (OSError, ValueError) as exc:
        return ProbeResult(False, f"FILE_CHECK {f.path} unreadable: {exc}")
    up, weight = evaluate(value, f)
    word = "up" if up else "down"
    return ProbeResult(up, f"FILE_CHECK {f.path} value {value}: {word}", weight=weight)
