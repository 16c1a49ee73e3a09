"""What each speed change bought: the InfoNet call at N = 1000, 28 pairs, step by step.

    python bench/speed_steps.py --out bench/results/speed_steps.md

One run, one set of inputs (28 pairs of the speed benchmark), one torch thread, medians
over interleaved repeats (every variant is timed in turn, round after round, so machine
noise hits them alike; the order is shuffled every round since 2026-12-03, as in
``speed.time_interleaved``: before, each variant ran right after the one above it, which
favours variants that share code with their predecessor). The variants retrace the changes of issue 6 (older code and weights
are read from git, so the history must be present):

1. the first shipped model (v4 weights and forward pass at ``--v4-commit``), torch ranks;
2. the same with numpy's argsort for the ranks;
3. the second round's forward pass (``--r2-commit``: one scatter per grid for both halves,
   one gather for the read-out, blur as matrix products) with the v4 weights;
4. the second round's shipped model (v5 weights, its forward pass and argsort ranks);
5. this round's forward pass and ranks (head-major fused GEMMs with the layer norms folded
   in, contiguous O(N) layouts, the read-out as table . histogram, SIMD-sorted rank keys)
   with the v5 weights: the same function as 4 (estimates agree to ~1e-6);
6. the shipped model through ``InfoNetEstimator.estimate_batch``.

KSG (k = 3, the same 28 pairs in a loop) is timed in the same rounds for the ratio.
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
from infonet_ros.model import InfoNet, InfoNetConfig  # noqa: E402
from infonet_ros.runtime import tune_malloc  # noqa: E402
from accuracy import machine_info  # noqa: E402
from speed import make_inputs  # noqa: E402

V4_COMMIT = "1e5f746"
R2_COMMIT = "7ee7c1b"


def git_show(commit: str, path: str) -> bytes:
    return subprocess.run(["git", "-C", str(ROOT), "show", f"{commit}:{path}"], check=True,
                          capture_output=True).stdout


def module_at(commit: str, path: str, name: str, tmp: Path):
    """The module ``path`` as it was at ``commit``, imported as ``name``."""
    (tmp / f"{name}.py").write_bytes(git_show(commit, path))
    spec = importlib.util.spec_from_file_location(name, tmp / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


def weights_at(commit: str, tmp: Path) -> tuple[dict, str]:
    """(state dict, config json) of the weights shipped at ``commit``."""
    from safetensors.torch import load_file
    f = tmp / f"weights_{commit}.safetensors"
    f.write_bytes(git_show(commit, "infonet_ros/weights/infonet.safetensors"))
    return load_file(f), read_metadata(f)["config"]


def model_at(code_commit: str, weights: tuple[dict, str], tmp: Path):
    """The InfoNet class at ``code_commit`` with the given weights, in eval mode."""
    mod = module_at(code_commit, "infonet_ros/model.py", f"model_{code_commit}", tmp)
    state, cfg = weights
    model = mod.InfoNet(mod.InfoNetConfig.from_json(cfg))
    model.load_state_dict(state)
    return model.eval()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--pairs", type=int, default=28)
    ap.add_argument("--rounds", type=int, default=60)
    ap.add_argument("--v4-commit", default=V4_COMMIT)
    ap.add_argument("--r2-commit", default=R2_COMMIT)
    ap.add_argument("--out", default="")
    args = ap.parse_args(argv)
    tune_malloc()
    torch.set_num_threads(1)
    xs, ys = make_inputs(args.n)
    xs, ys = xs[: args.pairs], ys[: args.pairs]
    current = InfoNetEstimator.pretrained(device="cpu")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        w_v4, w_v5 = weights_at(args.v4_commit, tmp), weights_at(args.r2_commit, tmp)
        v4 = model_at(args.v4_commit, w_v4, tmp)
        r2_v4 = model_at(args.r2_commit, w_v4, tmp)
        r2_v5 = model_at(args.r2_commit, w_v5, tmp)
        r2_rank = module_at(args.r2_commit, "infonet_ros/copula.py", f"copula_{args.r2_commit}", tmp).rank_transform_numpy
    now_v5 = InfoNet(InfoNetConfig.from_json(w_v5[1]))
    now_v5.load_state_dict(w_v5[0])
    now_v5.eval()

    def ranks_torch():
        return torch.stack([rank_transform(torch.from_numpy(xs)).float(),
                            rank_transform(torch.from_numpy(ys)).float()], -1)

    def ranks_argsort():
        return torch.from_numpy(np.stack([r2_rank(xs), r2_rank(ys)], -1))

    def ranks_now():  # [P, N, 2] view of [P, 2, N], as the estimator passes them
        return torch.from_numpy(rank_transform_numpy(np.stack([xs, ys], 1))).transpose(1, 2)

    ksg = KSG()
    variants = {
        "1. v4 model, torch ranks": lambda: v4(ranks_torch())["mi"],
        "2. v4 model, numpy argsort ranks": lambda: v4(ranks_argsort())["mi"],
        "3. round-2 forward pass, v4 weights": lambda: r2_v4(ranks_argsort())["mi"],
        "4. round-2 shipped: v5 weights, round-2 forward and ranks": lambda: r2_v5(ranks_argsort())["mi"],
        "5. round-3 forward pass and ranks, v5 weights": lambda: now_v5(ranks_now())["mi"],
        f"6. shipped model ({current.path.name}, estimate_batch)": lambda: current.estimate_batch(xs, ys),
        "KSG k=3 (loop over the pairs)": lambda: [ksg.estimate(x, y) for x, y in zip(xs, ys)],
    }
    times = {k: [] for k in variants}
    with torch.inference_mode():
        same = float((r2_v5(ranks_argsort())["mi"] - now_v5(ranks_now())["mi"]).abs().max())
        for f in variants.values():  # warm-up
            f()
            f()
        order = np.random.default_rng(0)  # shuffled every round: see speed.time_interleaved
        items = list(variants.items())
        for _ in range(args.rounds):
            for i in order.permutation(len(items)):
                k, f = items[i]
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
        f"{args.rounds} interleaved rounds; v4 = commit {args.v4_commit}, round 2 = commit {args.r2_commit}",
        f"- command: `bench/speed_steps.py{' --out ' + args.out if args.out else ''}`",
        f"- rows 4 and 5 compute the same function: largest difference of their estimates {same:.1e} nats",
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
