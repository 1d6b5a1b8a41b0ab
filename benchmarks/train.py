"""The main job (`graphflow-train`, also `python -m benchmarks.train`): the classic tutorial MLP
(64 -> 256 -> 128 -> 10, ReLU, dropout 0.2, Adam, cross-entropy) trained on scikit-learn's digits
in each of graphflow's modes, from the same initial weights and on the same batches.

It prints per-epoch loss, accuracy and time per mode and a final comparison, saves each mode's
trained model with `gf.save`, and plots the loss curves of all modes on one chart. A mode that this
version of graphflow does not have yet is listed as skipped with the reason."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from benchmarks import machine
from benchmarks.trainers import TRAINERS, Trainer, TrainingSetup, init_params

MODE_NAMES = tuple(TRAINERS)


def load_digits_split(seed: int, test_fraction: float = 0.2) -> tuple[np.ndarray, ...]:
    """scikit-learn's 8x8 digits (1797 images, shipped with the package), scaled to [0, 1] and
    split at random into train and test sets."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:
        raise SystemExit("graphflow-train needs scikit-learn: pip install -e '.[bench]'") from exc
    data = load_digits()
    x = (data.data / 16.0).astype(np.float32)
    y = data.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(x))
    n_test = int(round(len(x) * test_fraction))
    test, train = order[:n_test], order[n_test:]
    return x[train], y[train], x[test], y[test]


@dataclass
class ModeRun:
    """What one mode did: per-step losses, per-epoch figures, and how it ended."""

    mode: str
    status: str = "pending"  # ok, skipped, failed, interrupted
    reason: str = ""
    step_losses: list[float] = field(default_factory=list)
    epochs: list[dict] = field(default_factory=list)
    checkpoint: str | None = None

    def as_dict(self) -> dict:
        return {"mode": self.mode, "status": self.status, "reason": self.reason, "epochs": self.epochs,
                "step_losses": self.step_losses, "checkpoint": self.checkpoint}


def _batches(n: int, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Shuffled full batches (the last partial batch is dropped, so every step has one shape and a
    compiled step is never re-specialised mid-epoch)."""
    order = rng.permutation(n)
    return [order[i:i + batch_size] for i in range(0, n - batch_size + 1, batch_size)]


def train_mode(trainer: Trainer, run: ModeRun, data: tuple[np.ndarray, ...], epochs: int, batch_size: int,
               seed: int, out: Path, log=print) -> None:
    """Train one mode for `epochs`, logging one line per epoch; save its checkpoint at the end."""
    xtr, ytr, xte, yte = data
    rng = np.random.default_rng(seed + 1)  # the same batch order in every mode
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        losses = [trainer.train_step(xtr[idx], ytr[idx]) for idx in _batches(len(xtr), batch_size, rng)]
        train_time = time.perf_counter() - t0
        t1 = time.perf_counter()
        test_loss, test_acc = trainer.evaluate(xte, yte)
        eval_time = time.perf_counter() - t1
        run.step_losses += losses
        rec = {"epoch": epoch, "train_loss": float(np.mean(losses)), "test_loss": test_loss, "test_acc": test_acc,
               "train_s": train_time, "eval_s": eval_time, "steps": len(losses)}
        run.epochs.append(rec)
        log(f"  {run.mode:<8} epoch {epoch:>2}/{epochs}  train loss {rec['train_loss']:.4f}  "
            f"test loss {test_loss:.4f}  test acc {100 * test_acc:5.1f}%  {train_time:6.2f} s "
            f"(+{eval_time:.2f} s eval)")
    run.status = "ok"
    run.checkpoint = trainer.save(out / f"digits_mlp_{run.mode}.gf", epochs, run.epochs[-1])


def comparison_table(runs: Sequence[ModeRun]) -> str:
    """Modes side by side: first epoch (with any compile), steady epoch (median of the others),
    final test loss and accuracy."""
    lines = [f"{'mode':<9}{'first epoch':>12}{'steady epoch':>14}{'steps/s':>10}{'test loss':>11}{'test acc':>10}"
             "  status"]
    for r in runs:
        if not r.epochs:
            lines.append(f"{r.mode:<9}{'-':>12}{'-':>14}{'-':>10}{'-':>11}{'-':>10}  {r.status}: {r.reason}")
            continue
        first = r.epochs[0]["train_s"]
        rest = [e["train_s"] for e in r.epochs[1:]] or [first]
        steady = float(np.median(rest))
        steps = r.epochs[-1]["steps"]
        last = r.epochs[-1]
        note = r.status + (f": {r.reason}" if r.reason else "")
        lines.append(f"{r.mode:<9}{first:>11.2f}s{steady:>13.3f}s{steps / steady:>10.0f}{last['test_loss']:>11.4f}"
                     f"{100 * last['test_acc']:>9.1f}%  {note}")
    return "\n".join(lines)


def plot_losses(runs: Sequence[ModeRun], path: Path, title: str) -> Path | None:
    """Training loss per step (smoothed) and test loss per epoch, every mode on one chart."""
    done = [r for r in runs if r.step_losses]
    if not done:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from benchmarks.plots import _MODE_COLORS, save_figure

    fig, ax = plt.subplots(figsize=(8, 4.5))
    for r in done:
        steps_per_epoch = r.epochs[0]["steps"]
        losses = np.asarray(r.step_losses)
        k = max(1, min(10, len(losses) // 5))
        smooth = np.convolve(losses, np.ones(k) / k, mode="valid")
        x = (np.arange(len(smooth)) + k) / steps_per_epoch
        color = _MODE_COLORS.get(r.mode, None)
        ax.plot(x, smooth, color=color, lw=1.4, label=f"{r.mode}: training loss (moving mean of {k} steps)")
        ax.plot([e["epoch"] for e in r.epochs], [e["test_loss"] for e in r.epochs], color=color, ls="--",
                marker="o", ms=4, label=f"{r.mode}: test loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("cross-entropy")
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title(title, fontsize=8)
    return save_figure(plt, fig, np.array([ax]), 1, "", path)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="graphflow-train", description=__doc__.split("\n\n")[0])
    p.add_argument("-m", "--modes", default="all", help=f"comma-separated: {', '.join(MODE_NAMES)} (default all)")
    p.add_argument("--backend", default=None, help="CPU backend: numpy or llvm (default: llvm when available)")
    p.add_argument("--epochs", type=int, default=None, help="epochs per mode (default 10, --quick 2)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="2 epochs on a quarter of the training set")
    p.add_argument("--out", type=Path, default=Path("runs"), help="folder for checkpoints, JSON and the chart")
    p.add_argument("--plot", type=Path, default=None, help="chart path (default OUT/train_loss.png)")
    p.add_argument("--no-plot", action="store_true")
    return p


def _default_backend() -> str:
    import graphflow as gf

    return "llvm" if gf.backends.available().get("llvm") == "available" else "numpy"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    modes = list(MODE_NAMES) if args.modes == "all" else [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = [m for m in modes if m not in TRAINERS]
    if unknown:
        parser.error(f"unknown mode {', '.join(map(repr, unknown))}; valid modes: {', '.join(MODE_NAMES)} (or 'all')")
    backend = args.backend or _default_backend()
    epochs = args.epochs or (2 if args.quick else 10)
    xtr, ytr, xte, yte = load_digits_split(args.seed)
    if args.quick:
        xtr, ytr = xtr[: len(xtr) // 4], ytr[: len(ytr) // 4]
    setup = TrainingSetup(params=init_params(args.seed), lr=args.lr, backend=backend, seed=args.seed)
    desc = machine.describe()
    print(f"graphflow-train: MLP 64-256-128-10 (ReLU, dropout 0.2, Adam lr {args.lr:g}, cross-entropy) on digits: "
          f"{len(xtr)} train / {len(xte)} test images, batch {args.batch_size}, {epochs} epochs, backend {backend}")
    print(f"machine: {machine.one_line(desc)}")
    warning = machine.busy_warning(desc)
    if warning:
        print(warning)
    runs = [ModeRun(m) for m in modes]
    interrupted = False
    for run in runs:
        if interrupted:
            run.status, run.reason = "interrupted", "not started"
            continue
        trainer_cls = TRAINERS[run.mode]
        ok, reason = trainer_cls.availability(backend)
        if not ok:
            run.status, run.reason = "skipped", reason
            print(f"  {run.mode:<8} skipped: {reason}")
            continue
        try:
            trainer = trainer_cls(setup)
            train_mode(trainer, run, (xtr, ytr, xte, yte), epochs, args.batch_size, args.seed, args.out)
        except KeyboardInterrupt:
            run.status, run.reason, interrupted = "interrupted", "Ctrl-C", True
        except Exception as exc:  # noqa: BLE001 - one failing mode must not hide the others
            run.status, run.reason = "failed", f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            print(f"  {run.mode:<8} failed: {run.reason}")
    print()
    print(comparison_table(runs))
    args.out.mkdir(parents=True, exist_ok=True)
    summary = {"format": "graphflow-train/1", "machine": desc, "backend": backend, "epochs": epochs,
               "batch_size": args.batch_size, "lr": args.lr, "seed": args.seed, "quick": args.quick,
               "train_size": len(xtr), "test_size": len(xte), "runs": [r.as_dict() for r in runs]}
    (args.out / "train.json").write_text(json.dumps(summary, indent=1))
    for r in runs:
        if r.checkpoint:
            print(f"checkpoint ({r.mode}): {r.checkpoint}")
    if not args.no_plot:
        chart = plot_losses(runs, args.plot or args.out / "train_loss.png",
                            f"digits MLP, every mode from the same start ({backend} backend)\n{machine.one_line(desc)}")
        if chart:
            print(f"chart: {chart}")
    print(f"figures: {args.out / 'train.json'}")
    if interrupted:
        return 130
    return 0 if any(r.status == "ok" for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
