"""Plot a results file: voice-to-voice and lateness percentiles against concurrency.

python -m bench.plot bench/results/<date>.json   # writes <date>.png next to it
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def series(levels: dict[str, Any], metric: str, q: str) -> tuple[list[int], list[float]]:
    xs, ys = [], []
    for n, s in sorted(levels.items(), key=lambda kv: int(kv[0])):
        v = s[metric][q]
        if v is not None:
            xs.append(int(n))
            ys.append(v)
    return xs, ys


def plot(results_path: Path, out: Path | None = None) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = json.loads(results_path.read_text())
    modes = sorted({m for sysres in data["results"].values() for m in sysres})
    fig, axes = plt.subplots(2, len(modes), figsize=(6 * len(modes), 8), squeeze=False)
    styles = {"baseline": "tab:red", "switchboard": "tab:blue", "switchboard-no-gc-freeze": "tab:green"}
    for col, mode in enumerate(modes):
        for system, sysres in data["results"].items():
            res = sysres.get(mode) or {}
            levels = res.get("levels")
            if not levels:
                continue
            color = styles.get(system, "tab:gray")
            for row, metric in enumerate(("voice_to_voice_ms", "lateness_ms")):
                ax = axes[row][col]
                for q, ls in (("p50", ":"), ("p95", "--"), ("p99", "-")):
                    xs, ys = series(levels, metric, q)
                    ax.plot(xs, ys, ls, marker="o", color=color, label=f"{system} {q}")
        axes[0][col].set_title(f"voice-to-voice ({mode})")
        axes[1][col].set_title(f"bot audio lateness ({mode})")
        axes[1][col].axhline(40, color="black", lw=0.8, alpha=0.5)
        for row in (0, 1):
            axes[row][col].set_xlabel("concurrent calls (one core)")
            axes[row][col].set_ylabel("ms")
            axes[row][col].grid(alpha=0.3)
            axes[row][col].legend(fontsize=7)
    fig.suptitle(f"Switchboard vs bare pipecat — {data['date']} — {data['machine']['cpu']}")
    fig.tight_layout()
    out = out or results_path.with_suffix(".png")
    fig.savefig(out, dpi=110)
    return out


def plot_soak(results_path: Path, out: Path | None = None) -> Path:
    """Per-minute lateness, voice-to-voice and RSS of a ``bench.soak`` results file."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = json.loads(results_path.read_text())
    rows = data["per_minute"]
    xs = [m["minute"] for m in rows]
    fig, (lat, mem) = plt.subplots(2, 1, figsize=(8, 7), sharex=True)
    for q, ls in (("p50", ":"), ("p99", "-"), ("max", "--")):
        lat.plot(xs, [m["lateness_ms"][q] for m in rows], ls, marker="o", label=f"lateness {q}")
    lat.plot(xs, [m["v2v_p95_ms"] for m in rows], "-", color="tab:purple", label="v2v p95")
    for key, style, label in (("loop_lag_max_ms", "k-.", "server loop lag max"),
                              ("gc_full_ms_mean", "k:", "server full GC pause (mean)")):  # fmt: skip
        pts = [(x, m["server"].get(key)) for x, m in zip(xs, rows, strict=True)]
        pts = [(x, y) for x, y in pts if y is not None]
        if pts:
            lat.plot([x for x, _ in pts], [y for _, y in pts], style, marker=".", label=label)
    lat.axhline(40, color="black", lw=0.8, alpha=0.5)
    lat.set_ylabel("ms")
    lat.set_yscale("symlog", linthresh=10)
    lat.set_ylim(bottom=0)
    lat.legend(fontsize=7)
    lat.grid(alpha=0.3)
    mem.plot(xs, [m["server"].get("rss_mb") for m in rows], marker="o", label="server RSS (MB)")
    mem.set_xlabel("minute")
    mem.set_ylabel("MB")
    mem.grid(alpha=0.3)
    mem.legend(fontsize=7)
    fig.suptitle(f"Soak: {data['calls']} {data['pace']} callers ({data['turn']}) — {data['date']}")
    fig.tight_layout()
    out = out or results_path.with_suffix(".png")
    fig.savefig(out, dpi=110)
    return out


if __name__ == "__main__":
    path = Path(sys.argv[1])
    print(plot_soak(path) if path.name.startswith("soak-") else plot(path))
