"""`graphflow-bench` (also `python -m benchmarks`): every workload in every mode on every backend,
beside the peers that are installed, with checked results, robust timings, a JSON file and plots."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from benchmarks import machine, plots, report
from benchmarks.harness import Session, run_all
from benchmarks.progress import Progress
from benchmarks.runners import BACKENDS, MODE_HELP, MODES, PEERS, all_runners
from benchmarks.stats import TimingPlan
from benchmarks.workloads import WORKLOADS


def _names(text: str, valid: Sequence[str], what: str, parser: argparse.ArgumentParser) -> list[str]:
    """A comma-separated choice ('all' and 'none' allowed); unknown names list the valid ones."""
    if text.strip() == "all":
        return list(valid)
    if text.strip() == "none":
        return []
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in valid]
    if unknown:
        parser.error(f"unknown {what} {', '.join(map(repr, unknown))}; valid {what}s: {', '.join(valid)} "
                     f"(or 'all')")
    return names


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="graphflow-bench",
        description="Run graphflow's workloads in every mode and backend beside NumPy, PyTorch and JAX. "
                    "Every result is checked against a float64 NumPy reference before it is timed.")
    p.add_argument("-w", "--workloads", default="all", help=f"comma-separated: {', '.join(WORKLOADS)} (default all)")
    p.add_argument("-m", "--modes", default="all", help=f"comma-separated: {', '.join(MODES)} (default all)")
    p.add_argument("-b", "--backends", default="all",
                   help=f"comma-separated: {', '.join(BACKENDS)} (default all; unavailable ones are skipped)")
    p.add_argument("-p", "--peers", default="all", help=f"comma-separated: {', '.join(PEERS)}, or none (default all)")
    p.add_argument("--quick", action="store_true", help="small sizes and short timing: a fast look")
    p.add_argument("--sweep", action="store_true", help="also run each workload at a range of sizes (scaling plot)")
    p.add_argument("--out", type=Path, default=Path("bench-results"), help="folder for the JSON file and plots")
    p.add_argument("--json", type=Path, default=None, help="JSON path (default OUT/bench.json)")
    p.add_argument("--no-plots", action="store_true", help="do not draw PNG plots")
    p.add_argument("--seed", type=int, default=0, help="seed of the generated inputs")
    p.add_argument("--show-skipped", action="store_true", help="one table row per skipped runner, with the reason")
    p.add_argument("--progress", choices=("auto", "always", "never"), default="auto",
                   help="progress bar on stderr (auto: when stderr is a terminal)")
    p.add_argument("--list", action="store_true", help="list workloads, modes, backends and peers, then exit")
    return p


def _listing() -> str:
    lines = ["workloads:"]
    for w in WORKLOADS.values():
        lines.append(f"  {w.name:<14} {w.description}")
        lines.append(f"  {'':<14} quick {w.size_label(w.sizes['quick'])}, full {w.size_label(w.sizes['full'])}")
    lines.append("modes:")
    lines += [f"  {m:<14} {MODE_HELP[m]}" for m in MODES]
    lines.append("backends: " + ", ".join(BACKENDS))
    lines.append("peers: " + ", ".join(PEERS))
    return "\n".join(lines)


def _plan(workloads: Sequence[str], quick: bool, sweep: bool) -> list:
    plan = []
    for name in workloads:
        wl = WORKLOADS[name]
        main = wl.sizes["quick" if quick else "full"]
        sizes = [main]
        if sweep:
            sizes = sorted({main, *wl.sweep}, key=lambda s: (len(str(s)), s))
        plan += [(wl, s) for s in sizes]
    return plan


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.list:
        print(_listing())
        return 0
    workloads = _names(args.workloads, list(WORKLOADS), "workload", parser)
    modes = _names(args.modes, MODES, "mode", parser)
    backends = _names(args.backends, BACKENDS, "backend", parser)
    peers = _names(args.peers, PEERS, "peer", parser)
    runners = all_runners(modes, backends, peers)
    plan = _plan(workloads, args.quick, args.sweep)
    timing = TimingPlan.quick() if args.quick else TimingPlan()
    json_path = args.json or args.out / "bench.json"
    desc = machine.describe()
    session = Session(path=json_path, machine=desc, settings={
        "argv": list(sys.argv[1:] if argv is None else argv), "workloads": workloads, "modes": modes,
        "backends": backends, "peers": peers, "quick": args.quick, "sweep": args.sweep, "seed": args.seed,
        "timing": vars(timing) if hasattr(timing, "__dict__") else str(timing)})
    print(f"graphflow-bench on {machine.one_line(desc)}")
    warning = machine.busy_warning(desc)
    if warning:
        print(warning + " (watch the IQR column)")
    enabled = {"auto": None, "always": True, "never": False}[args.progress]
    interrupted = False
    with Progress(len(plan) * len(runners), enabled=enabled) as bar:
        try:
            run_all(session, plan, runners, timing, seed=args.seed, progress=bar)
        except KeyboardInterrupt:
            interrupted = True
    print(report.render_runners(session.runners))
    print()
    print(report.render(session.results, show_skipped=args.show_skipped))
    if session.results:
        print(report.render_matrix(session.results))
    if not args.no_plots and session.results:
        title = machine.one_line(desc)
        for made in (plots.plot_times(session.results, args.out / "times.png", title),
                     plots.plot_scaling(session.results, args.out / "scaling.png", title)):
            if made:
                print(f"plot: {made}")
    session.machine["load_average_after"] = machine.load_average()
    session.save()
    print(f"results: {json_path}")
    if interrupted:
        print("interrupted: the file holds the results collected so far", file=sys.stderr)
        return 130
    bad = [r for r in session.results if r["status"] in ("mismatch", "error")]
    return 1 if any(r["status"] == "mismatch" for r in bad) else 0


if __name__ == "__main__":
    sys.exit(main())
