"""What each speed change bought: the InfoNet call at N = 1000, 28 pairs, step by step.

    python bench/speed_steps.py --out bench/results/speed_steps.md

One run, one set of inputs (28 pairs of the speed benchmark), one torch thread, medians
over interleaved repeats (every variant is timed in turn, round after round, so machine
noise hits them alike). The variants retrace the changes of issue 6:

1. the first shipped model (v4 weights and forward pass, read from git ``--v4-commit``),
   ranks by torch's sort;
2. the same with numpy's sort for the ranks (what the estimator does on a CPU now);
3. the current forward pass (per-half ranks by counting, one scatter per grid for both
   halves, one gather for the cross-fitted read-out, blur as two small matrix products,
   numerator and denominator of the decoder in one product) with the v4 weights;
4. the shipped model (current weights: fewer latents, a smaller input grid, narrower).

KSG (k = 3, the same 28 pairs in a loop) is timed in the same rounds for the ratio.
Needs the git history (the v4 code and weights are read with ``git show``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from infonet_ros import InfoNetEstimator  # noqa: E402
from infonet_ros.baselines import KSG  # noqa: E402
from infonet_ros.checkpoint import read_metadata  # noqa: E402
from infonet_ros.copula import rank_transform, rank_transform_numpy  # noqa: E402
from infonet_ros.model import InfoNetConfig  # noqa: E402
from infonet_ros.runtime import tune_malloc  # noqa: E402
from accuracy import machine_info  # noqa: E402
from speed import make_inputs  # noqa: E402

V4_COMMIT = "1e5f746"


def git_show(commit: str, path: str) -> bytes:
    return subprocess.run(["git", "-C", str(ROOT), "show", f"{commit}:{path}"], check=True,
                          capture_output=True).stdout


def load_v4(commit: str, tmp: Path):
    """The v4 model class and weights as they were at ``commit``."""
    (tmp / "model_v4.py").write_bytes(git_show(commit, "infonet_ros/model.py"))
    (tmp / "v4.safetensors").write_bytes(git_show(commit, "infonet_ros/weights/infonet.safetensors"))
    spec = importlib.util.spec_from_file_location("model_v4", tmp / "model_v4.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["model_v4"] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    from safetensors.torch import load_file
    cfg = mod.InfoNetConfig.from_json(read_metadata(tmp / "v4.safetensors")["config"])
    old = mod.InfoNet(cfg)
    old.load_state_dict(load_file(tmp / "v4.safetensors"))
    return old.eval(), cfg


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--pairs", type=int, default=28)
    ap.add_argument("--rounds", type=int, default=60)
    ap.add_argument("--v4-commit", default=V4_COMMIT)
    ap.add_argument("--out", default="")
    args = ap.parse_args(argv)
    tune_malloc()
    torch.set_num_threads(1)
    xs, ys = make_inputs(args.n)
    xs, ys = xs[: args.pairs], ys[: args.pairs]
    current = InfoNetEstimator.pretrained(device="cpu")
    with tempfile.TemporaryDirectory() as tmp:
        old_model, old_cfg = load_v4(args.v4_commit, Path(tmp))
    # the current forward pass with the v4 weights
    from infonet_ros.model import InfoNet
    new_fwd_v4 = InfoNet(InfoNetConfig.from_json(old_cfg.to_json()))
    new_fwd_v4.load_state_dict(old_model.state_dict())
    new_fwd_v4.eval()

    def ranks_torch():
        return torch.stack([rank_transform(torch.from_numpy(xs)).float(),
                            rank_transform(torch.from_numpy(ys)).float()], -1)

    def ranks_numpy():
        return torch.from_numpy(np.stack([rank_transform_numpy(xs), rank_transform_numpy(ys)], -1))

    ksg = KSG()
    variants = {
        "v4 model, torch ranks": lambda: old_model(ranks_torch())["mi"],
        "v4 model, numpy ranks": lambda: old_model(ranks_numpy())["mi"],
        "current forward pass, v4 weights": lambda: new_fwd_v4(ranks_numpy())["mi"],
        "shipped model (estimate_batch)": lambda: current.estimate_batch(xs, ys),
        "KSG k=3 (loop over the pairs)": lambda: [ksg.estimate(x, y) for x, y in zip(xs, ys)],
    }
    times = {k: [] for k in variants}
    with torch.inference_mode():
        for f in variants.values():  # warm-up
            f()
            f()
        for _ in range(args.rounds):
            for k, f in variants.items():
                t = time.perf_counter()
                f()
                times[k].append(time.perf_counter() - t)
    ksg_ms = 1e3 * np.median(times["KSG k=3 (loop over the pairs)"])
    info = machine_info()
    lines = [
        "# InfoNet speed, step by step",
        "",
        f"- date: {dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')}",
        f"- machine: {info.get('cpu', '?')}, {info.get('cores', '?')} cores; torch {torch.__version__}, 1 thread",
        f"- N = {args.n}, {args.pairs} pairs per call (the inputs of bench/speed.py); "
        f"{args.rounds} interleaved rounds; v4 = commit {args.v4_commit}",
        f"- command: `bench/speed_steps.py{' --out ' + args.out if args.out else ''}`",
        "",
        "| variant | p50 (ms) | p90 (ms) | pairs / s | x KSG |",
        "|---|---:|---:|---:|---:|",
    ]
    for k, ts in times.items():
        ms = 1e3 * np.asarray(ts)
        p50 = np.median(ms)
        lines.append(f"| {k} | {p50:.2f} | {np.percentile(ms, 90):.2f} | "
                     f"{args.pairs / p50 * 1e3:.0f} | {ksg_ms / p50:.2f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
