"""The terminal report: per workload, each runner's first call, median, spread, throughput and its
ratio to the fastest peer; then a summary matrix of those ratios."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from benchmarks.workloads import WORKLOADS


def fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if seconds >= scale or unit == "ns":
            value = seconds / scale
            return f"{value:.3g} {unit}" if value < 100 else f"{value:.0f} {unit}"
    return "-"


def fmt_ratio(ratio: float) -> str:
    """Time relative to the fastest peer, in words a reader does not have to invert."""
    if ratio <= 0:
        return "-"
    if ratio < 1:
        return f"{1 / ratio:.2f}x faster"
    return f"{ratio:.2f}x slower" if ratio > 1 else "same"


def fastest_peers(results: Iterable[dict]) -> dict[tuple[str, str], dict]:
    """(workload, size) -> the peer record with the lowest median time."""
    best: dict[tuple[str, str], dict] = {}
    for r in results:
        if r["family"] == "peer" and r["status"] == "ok":
            key = (r["workload"], r["size"])
            if key not in best or r["time"]["median"] < best[key]["time"]["median"]:
                best[key] = r
    return best


def ratio_to_peer(record: dict, best: dict[tuple[str, str], dict]) -> float | None:
    peer = best.get((record["workload"], record["size"]))
    if record["status"] != "ok" or peer is None:
        return None
    return record["time"]["median"] / peer["time"]["median"]


def _row_status(r: dict) -> str:
    return {"skipped": "skipped", "mismatch": "WRONG RESULT", "error": "ERROR"}.get(r["status"], r["status"])


def render(results: list[dict], show_skipped: bool = False) -> str:
    """The per-workload tables. Skipped runners are summarised in one line per workload unless asked."""
    best = fastest_peers(results)
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in results:
        groups[(r["workload"], r["size"])].append(r)
    lines: list[str] = []
    for (name, size), recs in groups.items():
        wl = WORKLOADS.get(name)
        peer = best.get((name, size))
        head = f"{wl.title if wl else name}  [{size}]"
        lines.append(head + ("  fastest peer: " + f"{peer['runner']} {fmt_time(peer['time']['median'])}"
                             if peer else "  (no peer ran)"))
        lines.append(f"  {'runner':<16}{'first call':>12}{'median':>12}{'IQR':>8}{'throughput':>16}  vs fastest peer")
        skipped = []
        for r in recs:
            if r["status"] == "skipped" and not show_skipped:
                skipped.append(r["runner"])
                continue
            if r["status"] != "ok":
                lines.append(f"  {r['runner']:<16}{fmt_time(r.get('first_call_s')):>12}  {_row_status(r)}: {r['reason']}")
                continue
            t = r["time"]
            spread = f"±{100 * (t['q3'] - t['q1']) / 2 / t['median']:.0f}%" if t["median"] > 0 else "-"
            tp = r.get("throughput")
            tp_text = f"{tp['value']:.3g} {tp['unit']}" if tp else ""
            ratio = ratio_to_peer(r, best)
            lines.append(f"  {r['runner']:<16}{fmt_time(r.get('first_call_s')):>12}{fmt_time(t['median']):>12}"
                         f"{spread:>8}{tp_text:>16}  {fmt_ratio(ratio) if ratio else '-'}")
        if skipped:
            lines.append(f"  skipped: {', '.join(skipped)}")
        lines.append("")
    return "\n".join(lines)


def render_matrix(results: list[dict]) -> str:
    """Runners x workloads: the time relative to the fastest peer (below 1 = faster than every peer)."""
    best = fastest_peers(results)
    cols: list[tuple[str, str]] = []
    rows: list[str] = []
    cells: dict[tuple[str, tuple[str, str]], str] = {}
    for r in results:
        key = (r["workload"], r["size"])
        if key not in cols:
            cols.append(key)
        if r["runner"] not in rows:
            rows.append(r["runner"])
        ratio = ratio_to_peer(r, best)
        cells[(r["runner"], key)] = (f"{ratio:.2f}" if ratio is not None else
                                     {"ok": "ok", "skipped": "-", "mismatch": "WRONG", "error": "ERR"}[r["status"]])
    multi_size = len({c[0] for c in cols}) != len(cols)
    names = [f"{w}@{s}" if multi_size else w for w, s in cols]
    width = max(8, *(len(n) + 1 for n in names))
    out = ["time / fastest peer's time (below 1: faster than every peer; - skipped, WRONG failed the check)",
           f"{'':<16}" + "".join(f"{n:>{width}}" for n in names)]
    for row in rows:
        if all(cells.get((row, c), "-") == "-" for c in cols):
            continue  # skipped everywhere: listed under "runners" with the reason
        out.append(f"{row:<16}" + "".join(f"{cells.get((row, c), ''):>{width}}" for c in cols))
    return "\n".join(out)


def render_runners(runners: dict[str, dict]) -> str:
    """Which runners were available, and why the others were skipped."""
    lines = ["runners:"]
    for name, info in runners.items():
        mark = "yes" if info["available"] else "no "
        lines.append(f"  {mark} {name:<16} {info['reason']}")
    return "\n".join(lines)
