"""Accuracy versus training time from a run's metrics.jsonl: markdown table + PNG.

    python bench/learning_curve.py runs/infonet/metrics.jsonl --out docs/learning_curve.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("metrics", nargs="+", help="metrics.jsonl of one or more runs (label=path to name them)")
    ap.add_argument("--out", default="docs/learning_curve.png")
    ap.add_argument("--every", type=int, default=1000, help="table row every this many steps")
    args = ap.parse_args()

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for spec in args.metrics:
        label, _, path = spec.rpartition("=")
        rows = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
        label = label or Path(path).parent.name
        minutes = [r["elapsed_s"] / 60 for r in rows]
        ax.plot(minutes, [r["val_mae"] for r in rows], label=label)
        print(f"\n{label} ({path})\n")
        print("| step | wall time (min) | validation MAE (nats) | bias at independence (nats) |")
        print("|---:|---:|---:|---:|")
        for r in rows:
            if r["step"] % args.every == 0 or r is rows[-1]:
                print(f"| {r['step']} | {r['elapsed_s'] / 60:.1f} | {r['val_mae']:.3f} | {r['val_bias0']:+.3f} |")
    ax.set_xlabel("training wall time (min, 1 CPU core)")
    ax.set_ylabel("validation MAE (nats)")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=120)
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
