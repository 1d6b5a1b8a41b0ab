"""PNG charts of a benchmark run (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from benchmarks.workloads import WORKLOADS

_MODE_COLORS = {"eager": "#1f77b4", "compile": "#2ca02c", "static": "#9467bd", "graph": "#17becf"}
_PEER_COLORS = {"numpy": "#7f7f7f", "torch": "#ff7f0e", "torch.compile": "#d62728", "jax.jit": "#e377c2"}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def color_of(record: dict) -> str:
    if record["family"] == "peer":
        return _PEER_COLORS.get(record["runner"], "#bcbd22")
    return _MODE_COLORS.get(record.get("mode") or "", "#17becf")


def plot_times(results: list[dict], path: Path, title: str = "") -> Path | None:
    """One panel per workload (its main size): median time per runner, whiskers at the quartiles."""
    ok = [r for r in results if r["status"] == "ok"]
    by_wl: dict[str, list[dict]] = defaultdict(list)
    for r in ok:
        by_wl[r["workload"]].append(r)
    # the main size of a workload is the one most runners measured (sweeps add the others)
    panels = []
    for name, recs in by_wl.items():
        counts: dict[str, int] = defaultdict(int)
        for r in recs:
            counts[r["size"]] += 1
        main = max(counts, key=counts.get)
        panels.append((name, main, [r for r in recs if r["size"] == main]))
    if not panels:
        return None
    plt = _pyplot()
    cols = min(3, len(panels))
    rows = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 0.9 + 0.32 * max(len(p[2]) for p in panels) * rows + rows),
                             squeeze=False)
    for ax, (name, size, recs) in zip(axes.flat, panels):
        recs = sorted(recs, key=lambda r: r["time"]["median"])
        med = np.array([r["time"]["median"] for r in recs])
        lo = med - np.array([r["time"]["q1"] for r in recs])
        hi = np.array([r["time"]["q3"] for r in recs]) - med
        y = np.arange(len(recs))
        ax.barh(y, med, xerr=[lo, hi], color=[color_of(r) for r in recs], capsize=2)
        ax.set_yticks(y, [r["runner"] for r in recs], fontsize=8)
        ax.invert_yaxis()
        ax.set_xscale("log")
        wl = WORKLOADS.get(name)
        ax.set_title(f"{wl.title if wl else name} [{size}]", fontsize=9)
        ax.set_xlabel("seconds per call (median, log scale)", fontsize=8)
        ax.tick_params(axis="x", labelsize=7)
    return save_figure(plt, fig, axes, len(panels), title, path)


def save_figure(plt, fig, axes, used: int, title: str, path: Path) -> Path:
    """Blank the unused panels, title the figure and write it as a PNG."""
    for ax in list(axes.flat)[used:]:
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _size_number(record: dict) -> float:
    value = record["size_value"]
    return float(np.prod(value)) if isinstance(value, list) else float(value)


def plot_scaling(results: list[dict], path: Path, title: str = "") -> Path | None:
    """One panel per workload measured at several sizes: throughput (or calls per second) against size."""
    ok = [r for r in results if r["status"] == "ok"]
    by_wl: dict[str, list[dict]] = defaultdict(list)
    for r in ok:
        by_wl[r["workload"]].append(r)
    panels = [(n, recs) for n, recs in by_wl.items() if len({r["size"] for r in recs}) >= 2]
    if not panels:
        return None
    plt = _pyplot()
    cols = min(3, len(panels))
    rows = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 3.6 * rows), squeeze=False)
    for ax, (name, recs) in zip(axes.flat, panels):
        lines: dict[str, list[dict]] = defaultdict(list)
        for r in recs:
            lines[r["runner"]].append(r)
        unit = next((r["throughput"]["unit"] for r in recs if r.get("throughput")), None)
        for runner, pts in lines.items():
            pts.sort(key=_size_number)
            x = [_size_number(p) for p in pts]
            y = [p["throughput"]["value"] if unit else 1.0 / p["time"]["median"] for p in pts]
            ax.plot(x, y, marker="o", ms=3, color=color_of(pts[0]), label=runner,
                    linestyle="--" if pts[0]["family"] == "peer" else "-")
        ax.set_xscale("log")
        ax.set_yscale("log")
        wl = WORKLOADS.get(name)
        ax.set_title(wl.title if wl else name, fontsize=9)
        ax.set_xlabel("problem size (elements of the size tuple, multiplied)", fontsize=8)
        ax.set_ylabel(unit or "calls per second", fontsize=8)
        ax.legend(fontsize=6)
    return save_figure(plt, fig, axes, len(panels), title, path)
