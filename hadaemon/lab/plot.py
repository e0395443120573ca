"""Draw a lab run's timeline with matplotlib (optional dependency).

One row per router showing its master runs as seen on the wire, the client's connections as
dots coloured by the real server that answered (red crosses: failed), failover windows shaded and
the actions as vertical lines.
"""

from __future__ import annotations

from typing import Any


def plot(doc: dict[str, Any], path: str) -> None:
    """Write a PNG of the lab run ``doc`` (the ``--json`` document) to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t0 = float(doc["t0"])
    rep = doc["report"]
    fig, ax = plt.subplots(figsize=(12, 4))
    rows = {"r1": 3, "r2": 2, "client": 1}
    colors = {"r1": "tab:blue", "r2": "tab:orange"}
    for name, s, e in rep["master_runs"]:
        ax.broken_barh(
            [(s - t0, max(e - s, 0.01))],
            (rows.get(name, 0) - 0.3, 0.6),
            color=colors.get(name, "grey"),
        )
    for st in rep["steps"]:
        ax.axvline(st["t_action"] - t0, color="black", lw=0.6, ls="--")
        ax.text(st["t_action"] - t0, 3.4, f" {st['n']}", fontsize=8)
        if st["window"]:
            w0, w1 = st["window"]
            ax.axvspan(w0 - t0, w1 - t0, color="grey", alpha=0.15)
    rs_color = {"rs1": "tab:blue", "rs2": "tab:orange"}
    ok = [e for e in doc["events"] if e["ev"] == "conn" and e["ok"]]
    bad = [e for e in doc["events"] if e["ev"] == "conn" and not e["ok"]]
    ax.scatter(
        [e["t"] - t0 for e in ok],
        [1 + (0.1 if e["rs"] == "rs1" else -0.1) for e in ok],
        s=4,
        c=[rs_color.get(e["rs"], "grey") for e in ok],
    )
    ax.scatter([e["t"] - t0 for e in bad], [1] * len(bad), s=20, c="red", marker="x")
    ax.set_yticks([1, 2, 3], ["client (rs1/rs2/failed)", "r2 master", "r1 master"])
    ax.set_xlabel("seconds since the start of the lab")
    ax.set_title("hadaemon lab: masters on the wire, client connections, failover windows")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
