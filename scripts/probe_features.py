"""Probe: do candidate rank statistics reduce the read-out's shape-dependent bias at large N?

Issue 12 (order accuracy >= 99 % on the 729 mixture pairs at N = 5000). The shipped
read-out (v5b) is off the oracle (the mean TRUE log density ratio on the same samples) by a
per-mixture systematic part (sd ~0.011 nats) larger than its noise (~0.0065): its features
misread some shapes. This script asks which extra statistics carry that missing information,
with one quick model per arm, identical across arms:

1. training sets at one N from the training families (``truth.draw(..., split="train")``,
   family weights of config/train_readout_v5.yaml, gmm etc. from the truth bank), their v5b
   features and v5b median, and every candidate statistic (cached in ``--cache``);
2. evaluation sets: the 40 order mixtures (``tasks.order_mixtures(40)``) x ``--repeats``
   seeds (``data_seed(name, n, r)``, r = 0 is bench/accuracy.py's sample), with the oracle
   ``GaussianMixture.log_ratio(x, y).mean()``;
3. per arm (the 12 v5b features + the v5b median + the arm's candidates): a correction of
   the v5b median, fitted on the training sets (ridge and a small MLP, L1 loss, 3 seeds),
   then on the mixtures: sd over mixtures of the mean error against the oracle (the
   systematic part), the within-mixture sd, rmse against the truth, order accuracy (pairs
   with |dI| >= 0.02, mean over repeats), and the MAE on held-back training sets.

    python scripts/probe_features.py --n 5000 --train-sets 12000 --repeats 4

Candidate statistics (all symmetric in (x, y), computed on ranks, so invariant to increasing
maps):

* ``vas_c{c}``: the Vasicek block entropy statistic of ``readout`` (v in u order, blocks of m
  neighbours, m-spacing a = sqrt(m)/2, both directions averaged) with an N-adaptive block
  m = round(c sqrt(N)): the block's u-width shrinks like N^(-1/2) while the within-block
  Vasicek bias (O(1/m) times a shape-dependent constant) shrinks too;
* ``vas_p{c}``: the same with m = round(c N^(2/3));
* ``hist_f0.5``, ``hist_f3.2``: the outer histogram resolutions the code already has;
* ``kde_c{c}``: a leave-one-out kernel plug-in of the copula density: mean log c_h(u_i, v_i)
  with a Gaussian product kernel of bandwidth h = c N^(-1/6) (copula units), reflected at
  0 and 1, evaluated on a G x G grid of rank bins (G = the smallest of 16, 32, 64, 128 with
  h >= 1.5 cells), divided by the (fixed) smoothed marginals. The bias of a kernel plug-in is
  ~ -a h^2 with a shape-dependent a; two bandwidths measure a (Richardson), which is the
  shape information the fixed-resolution features lack.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from infonet_ros import truth  # noqa: E402
from infonet_ros.readout import (ALL_FEATURES, SupervisedReadout, _tables, infonet_features,  # noqa: E402
                                 numpy_features, rank_random_ties, _default_infonet)
from infonet_ros.tasks import GaussianMixture, data_seed, order_mixtures  # noqa: E402
from accuracy import order_accuracy  # noqa: E402

FAMILY_WEIGHTS = {"gauss": 0.10, "additive_uniform": 0.08, "student_t": 0.16, "quantised_gauss": 0.10,
                  "clipped_gauss": 0.08, "gmm": 0.24, "functional": 0.12, "independent": 0.25}
VAS_SQRT = (1.0, 2.0, 4.0)
VAS_POW = (0.5, 1.0)
KDE_C = (0.1,)
BOX_C = (0.25, 0.5, 1.0)
HIST_EXTRA = (0.5, 3.2, 5.0, 8.0)


# ---------------------------------------------------------------- candidate statistics

def inverse_order(ru: np.ndarray, rv: np.ndarray) -> np.ndarray:
    """Ranks of v in u order: [R, N]."""
    r, n = ru.shape
    vi = np.empty_like(rv)
    np.put_along_axis(vi, ru, rv, -1)
    return vi


def vasicek_blocks(vi: np.ndarray, m: int) -> np.ndarray:
    """Minus the mean Vasicek m-spacing entropy of v within blocks of m neighbours in u order
    (same formula as readout's ``vasicek_m*``, any m): [R]."""
    r, n = vi.shape
    m = max(4, min(m, n))
    k = n // m
    log_max = _tables(n).log_max
    blk = np.sort(vi[:, : k * m].reshape(r, k, m), -1)
    a = max(1, int(round(math.sqrt(m) / 2)))
    total = np.take(log_max, blk[..., 2 * a:] - blk[..., : -2 * a]).sum((-1, -2))
    total += np.take(log_max, blk[..., a: 2 * a] - blk[..., :1]).sum((-1, -2))
    total += np.take(log_max, blk[..., -1:] - blk[..., -2 * a: -a]).sum((-1, -2))
    return -(total / (k * m) - math.log(n) + math.log(m / (2 * a)))


def hist_mm(ru, rv, b):
    """Miller-Madow plug-in MI of the b x b rank histogram (readout's ``hist_f*`` at any b)."""
    p, n = ru.shape
    bins = (np.arange(n) * b // n).astype(np.intp)
    cell = np.take(bins, ru) * b + np.take(bins, rv) + (np.arange(p) * b * b)[:, None]
    counts = np.bincount(cell.ravel(), minlength=p * b * b).reshape(p, b * b).astype(np.float64)
    marg = np.bincount(bins, minlength=b).astype(np.float64)
    clogc = lambda c: c * np.log(np.maximum(c, 1.0))  # noqa: E731
    plug = (clogc(counts).sum(-1) + n * math.log(n) - 2 * clogc(marg).sum()) / n
    m = np.count_nonzero(counts, -1)
    return plug + (2 * (b - 1) - (m - 1)) / (2.0 * n)


def kde_grid(n: int, c: float):
    """Grid size and reflected-kernel matrix for bandwidth h = c n^(-1/6)."""
    h = c * n ** (-1 / 6)
    g = next((g for g in (16, 32, 64, 128, 256) if h * g >= 1.5), 256)
    ctr = (np.arange(g) + 0.5) / g
    d = ctr[:, None]
    k = (np.exp(-0.5 * ((d - ctr) / h) ** 2) + np.exp(-0.5 * ((d + ctr) / h) ** 2)
         + np.exp(-0.5 * ((d + ctr - 2) / h) ** 2)) / (h * math.sqrt(2 * math.pi))
    bins = (np.arange(n) * g // n).astype(np.intp)
    marg = k @ np.bincount(bins, minlength=g) / n  # smoothed marginal density per cell (~1)
    return g, k, bins, marg


def kde_mi(ru: np.ndarray, rv: np.ndarray, c: float) -> np.ndarray:
    """Leave-one-out kernel plug-in MI on the rank grid: [P]."""
    p, n = ru.shape
    g, k, bins, marg = kde_grid(n, c)
    cell = np.take(bins, ru) * g + np.take(bins, rv) + (np.arange(p) * g * g)[:, None]
    counts = np.bincount(cell.ravel(), minlength=p * g * g).reshape(p, g, g).astype(np.float64)
    dens = (k @ counts @ k.T).reshape(p, g * g)  # sum over points of the kernel, per cell
    own = np.diag(k)[:, None] * np.diag(k)[None, :]  # a point's own kernel at its cell
    loo = (np.take_along_axis(dens, cell - (np.arange(p) * g * g)[:, None], -1)
           - np.take(own.ravel(), cell - (np.arange(p) * g * g)[:, None])) / (n - 1)
    norm = np.take((marg[:, None] * marg[None, :]).ravel(), cell - (np.arange(p) * g * g)[:, None])
    return np.log(np.maximum(loo / norm, 1e-6)).mean(-1)


def box_mi(ru: np.ndarray, rv: np.ndarray, c: float) -> np.ndarray:
    """Leave-one-out box-kernel plug-in MI: mean log of (points in the square of half-width
    b = c N^(-1/3) around each point, itself excluded) / ((N - 1) x the square's area inside
    [0, 1]^2), counted on a G x G rank grid (G = 256, 128 for N < 2000) by an integral image."""
    p, n = ru.shape
    g = 256 if n >= 2000 else 128
    w = max(1, int(round(c * n ** (-1 / 3) * g)))  # half-width in cells
    bins = (np.arange(n) * g // n).astype(np.intp)
    bu, bv = np.take(bins, ru), np.take(bins, rv)
    cell = bu * g + bv + (np.arange(p) * g * g)[:, None]
    counts = np.bincount(cell.ravel(), minlength=p * g * g).reshape(p, g, g)
    sat = np.zeros((p, g + 1, g + 1), np.int64)
    sat[:, 1:, 1:] = counts.cumsum(1).cumsum(2)
    lo_u, hi_u = np.maximum(bu - w, 0), np.minimum(bu + w + 1, g)
    lo_v, hi_v = np.maximum(bv - w, 0), np.minimum(bv + w + 1, g)
    flat = sat.reshape(p, -1)
    gi = lambda a, b: np.take_along_axis(flat, a * (g + 1) + b, -1)  # noqa: E731
    cnt = gi(hi_u, hi_v) - gi(lo_u, hi_v) - gi(hi_u, lo_v) + gi(lo_u, lo_v) - 1
    area = (hi_u - lo_u) * (hi_v - lo_v) / (g * g)
    return np.log((cnt + 0.5) / ((n - 1) * area)).mean(-1)


ROUND1 = ([f"vas_c{c:g}" for c in VAS_SQRT] + [f"vas_p{c:g}" for c in VAS_POW] + [f"hist_f{f:g}" for f in HIST_EXTRA]
          + [f"box_c{c:g}" for c in BOX_C] + [f"kde_c{c:g}" for c in KDE_C])
# round 2: the local-count statistic as implemented in readout (``box_f5``, ``box_f10``)
ROUND2 = ["box_f5", "box_f10", "hist_f5", "hist_f8"]


def candidates(ru: np.ndarray, rv: np.ndarray, which=ROUND2) -> dict:
    p, n = ru.shape
    vi = inverse_order(np.concatenate([ru, rv]), np.concatenate([rv, ru]))
    out = {}
    for name in which:
        kind, c = name.rsplit("_", 1)
        c = float(c[1:])
        if kind == "vas" and name.startswith("vas_c"):
            v = vasicek_blocks(vi, int(round(c * math.sqrt(n))))
        elif kind == "vas":
            v = vasicek_blocks(vi, int(round(c * n ** (2 / 3))))
        if kind == "vas":
            out[name] = (v[:p] + v[p:]) / 2
        elif name in ALL_FEATURES:
            out[name] = numpy_features(ru, rv, [name])[:, 0]
        elif kind == "hist":
            out[name] = hist_mm(ru, rv, int(min(max(round(c * n ** (1 / 3)), 2), 256)))
        elif kind == "box":
            out[name] = box_mi(ru, rv, c)
        elif kind == "kde":
            out[name] = kde_mi(ru, rv, c)
    return out


# ---------------------------------------------------------------- data

WHICH = ROUND2


BASE_READOUT = "runs/readout_v5b/best.safetensors"  # the read-out the probe corrects (--base)


def base_readout():
    return SupervisedReadout.load(BASE_READOUT)


def featurize(xs, ys, rng, readout, model):
    ru, rv = rank_random_ties(xs, rng), rank_random_ties(ys, rng)
    base = np.concatenate([numpy_features(ru, rv, readout.feature_names), infonet_features(model, ru, rv)], -1)
    med = readout.estimate_interval(base)[1]
    return base, med, candidates(ru, rv, WHICH)


def build_train(n, sets, seed, chunk=64):
    bank = truth.load_bank()
    fams = sorted(FAMILY_WEIGHTS)
    probs = np.array([FAMILY_WEIGHTS[f] for f in fams])
    probs /= probs.sum()
    readout, model = base_readout(), _default_infonet()
    rng = np.random.default_rng([seed, 12, n])
    parts = []
    for _ in range(0, sets, chunk):
        fi = rng.choice(len(fams), size=chunk, p=probs)
        xs, ys, mi = np.empty((chunk, n)), np.empty((chunk, n)), np.empty(chunk)
        orc = np.full(chunk, np.nan)
        for i, f in enumerate(fi):
            d = truth.draw(fams[f], rng, bank, "train")
            xs[i], ys[i] = d.sample(n, rng)
            mi[i] = d.mi
            if d.family == "gmm":  # the oracle: mean true log density ratio on this sample
                g = GaussianMixture.random(d.params["k"], d.params["seed"])
                orc[i] = g.log_ratio(xs[i], ys[i]).mean()
        parts.append((*featurize(xs, ys, rng, readout, model), mi, fi, orc))
    out = stack(parts)
    out["orc"] = np.concatenate([p[5] for p in parts])
    return out


def build_eval(n, repeats):
    readout, model = base_readout(), _default_infonet()
    mix = order_mixtures(40)
    parts = []
    for r in range(repeats):
        xs, ys, orc, mi = [], [], [], []
        for m in mix:
            x, y = m.sample(n, data_seed(m.name, n, r))
            xs.append(x), ys.append(y), orc.append(m.log_ratio(x, y).mean()), mi.append(m.mutual_information)
        parts.append((*featurize(np.array(xs), np.array(ys), np.random.default_rng(r), readout, model),
                      np.array(mi), np.array(orc)))
    return stack(parts)


def stack(parts):
    out = {"base": np.concatenate([p[0] for p in parts]), "med": np.concatenate([p[1] for p in parts])}
    for key in parts[0][2]:
        out["c_" + key] = np.concatenate([p[2][key] for p in parts])
    out["y"] = np.concatenate([p[3] for p in parts])
    out["extra"] = np.concatenate([p[4] for p in parts])
    return out


def cached(path: Path, fn):
    if path.is_file():
        z = np.load(path)
        return {k: z[k] for k in z.files}
    d = fn()
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **d)
    return d


# ---------------------------------------------------------------- fits

def inputs(d, arm):
    return np.concatenate([d["base"], d["med"][:, None]] + [d["c_" + a][:, None] for a in arm], -1)


def fit_ridge(x, r, lam=1e-3):
    mu, sd = x.mean(0), x.std(0) + 1e-9
    z = np.concatenate([(x - mu) / sd, np.ones((len(x), 1))], -1)
    w = np.linalg.solve(z.T @ z + lam * len(x) * np.eye(z.shape[1]), z.T @ r)
    return lambda xe: np.concatenate([(xe - mu) / sd, np.ones((len(xe), 1))], -1) @ w


def fit_mlp(x, r, seed, steps=3000, hidden=64):
    torch.manual_seed(seed)
    mu, sd = x.mean(0), x.std(0) + 1e-9
    xt = torch.as_tensor((x - mu) / sd, dtype=torch.float32)
    rt = torch.as_tensor(r, dtype=torch.float32)
    net = torch.nn.Sequential(torch.nn.Linear(x.shape[1], hidden), torch.nn.SiLU(), torch.nn.Linear(hidden, hidden),
                              torch.nn.SiLU(), torch.nn.Linear(hidden, 1))
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=1e-4)
    gen = torch.Generator().manual_seed(seed)
    for step in range(steps):
        idx = torch.randint(len(rt), (512,), generator=gen)
        loss = (net(xt[idx])[:, 0] - rt[idx]).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step == int(steps * 0.7):
            for g_ in opt.param_groups:
                g_["lr"] = 1e-3

    def pred(xe):
        with torch.no_grad():
            return net(torch.as_tensor((xe - mu) / sd, dtype=torch.float32))[:, 0].double().numpy()
    return pred


def metrics(est, ev, repeats):
    orc, mi = ev["extra"], ev["y"]
    k = len(mi) // repeats
    res = (est - orc).reshape(repeats, k)
    accs = [order_accuracy(mi[:k], est.reshape(repeats, k)[r])[0] for r in range(repeats)]
    return {"bias_sd": res.mean(0).std(), "noise_sd": res.std(0, ddof=1).mean(),
            "rmse_truth": float(np.sqrt(np.mean((est - mi) ** 2))), "order": float(np.mean(accs)),
            "order_r0": accs[0]}


def main():
    global WHICH, BASE_READOUT
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--base", default=BASE_READOUT, help="the read-out whose features and median the arms correct "
                    "(default: v5b, shipped when the probe ran; its run directory is not in git: "
                    "config/train_readout_v5b.yaml rebuilds it, or pass infonet_ros/data/readout.safetensors)")
    ap.add_argument("--train-sets", type=int, default=12000)
    ap.add_argument("--repeats", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache", default="runs/probe")
    ap.add_argument("--mlp-seeds", type=int, default=3)
    ap.add_argument("--arms", default=None, help="JSON {name: [candidates]} (default: the built-in arms)")
    ap.add_argument("--readout", default=None, help="also (only) evaluate this read-out checkpoint on the mixtures, "
                    "its features taken from the cache (e.g. runs/readout_v6/best.safetensors)")
    ap.add_argument("--round", type=int, default=2, help="1: the first candidate set (Vasicek, histograms, "
                    "grid box, kernel); 2: readout's box_f5 / box_f10 and finer histograms")
    args = ap.parse_args()
    WHICH = ROUND1 if args.round == 1 else ROUND2
    BASE_READOUT = args.base
    torch.set_num_threads(1)
    t0 = time.time()
    cache = ROOT / args.cache / f"round{args.round}"
    tr = cached(cache / f"train_n{args.n}_s{args.train_sets}_seed{args.seed}.npz",
                lambda: build_train(args.n, args.train_sets, args.seed))
    print(f"train sets ready ({time.time() - t0:.0f} s)", flush=True)
    ev = cached(cache / f"eval_n{args.n}_r{args.repeats}.npz", lambda: build_eval(args.n, args.repeats))
    print(f"eval sets ready ({time.time() - t0:.0f} s)", flush=True)
    if args.readout:
        ro = SupervisedReadout.load(args.readout)
        cols = {name: ev["base"][:, i] for i, name in enumerate(base_readout().feature_names)}
        cols.update({k[2:]: v for k, v in ev.items() if k.startswith("c_")})
        est = ro.estimate_interval(np.stack([cols[f] for f in ro.feature_names], -1))[1]
        for name, e in (("v5b as shipped", ev["med"]), (f"{args.readout} (step {ro.info.get('step')})", est)):
            m = metrics(e, ev, args.repeats)
            print(f"| {name} | N = {args.n} | {m['bias_sd']:.4f} | {m['noise_sd']:.4f} | {m['rmse_truth']:.4f} | "
                  f"{m['order']:.4f} | {m['order_r0']:.4f} |")
        return
    allc = [k[2:] for k in tr if k.startswith("c_")]
    arms = json.loads(args.arms) if args.arms else ({
        "base (12 + median)": [],
        "+hist f3.2": ["hist_f3.2"],
        "+hist f0.5, 3.2, 5, 8": [f"hist_f{f:g}" for f in HIST_EXTRA],
        "+vasicek 1, 2, 4 sqrt(N)": [f"vas_c{c:g}" for c in VAS_SQRT],
        "+vasicek 0.5, 1 N^(2/3)": [f"vas_p{c:g}" for c in VAS_POW],
        "+kde 0.1": [f"kde_c{c:g}" for c in KDE_C],
        "+box 0.25, 0.5, 1": [f"box_c{c:g}" for c in BOX_C],
        "+box 0.25, 0.5": ["box_c0.25", "box_c0.5"],
        "+all": allc,
    } if args.round == 1 else {
        "base (12 + median)": [],
        "+box_f5": ["box_f5"],
        "+box_f10": ["box_f10"],
        "+box_f5, box_f10": ["box_f5", "box_f10"],
        "+hist f5, f8": ["hist_f5", "hist_f8"],
        "+box_f5, box_f10, hist f5, f8": ["box_f5", "box_f10", "hist_f5", "hist_f8"],
    })
    # held-back training sets: the last 20 %
    cut = int(0.8 * len(tr["y"]))
    fit = {k: v[:cut] for k, v in tr.items()}
    hold = {k: v[cut:] for k, v in tr.items()}
    g_fit, g_hold = np.isfinite(fit["orc"]), np.isfinite(hold["orc"])
    print(f"N = {args.n}: {cut} fit ({g_fit.sum()} gmm) / {len(hold['y'])} held-back training sets, "
          f"40 mixtures x {args.repeats}")
    m = metrics(ev["med"], ev, args.repeats)
    print(f"v5b as shipped: bias sd {m['bias_sd']:.4f} noise sd {m['noise_sd']:.4f} rmse {m['rmse_truth']:.4f} "
          f"order {m['order']:.4f} (r=0 {m['order_r0']:.4f}); held-back MAE {np.abs(np.maximum(hold['med'], 0) - hold['y']).mean():.4f}, "
          f"gmm |med - oracle| {np.abs(hold['med'] - hold['orc'])[g_hold].mean():.4f}")
    print("fit = all: all families, target truth - v5b median (mlp: 3 seeds averaged); gmm-truth: bank gmm sets only, "
          "the same target; gmm-oracle: bank gmm sets only, target oracle - v5b median")
    print("| arm | fit | model | bias sd vs oracle | noise sd | rmse vs truth | order acc (mean of repeats) | order acc r=0 "
          "| held-back MAE | held-back gmm mean abs err vs oracle |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, arm in arms.items():
        xe, xh = inputs(ev, arm), inputs(hold, arm)
        for mode in ("all", "gmm-truth", "gmm-oracle"):
            if mode == "all":
                x, r = inputs(fit, arm), fit["y"] - fit["med"]
            elif mode == "gmm-truth":
                x, r = inputs(fit, arm)[g_fit], (fit["y"] - fit["med"])[g_fit]
            else:
                x, r = inputs(fit, arm)[g_fit], (fit["orc"] - fit["med"])[g_fit]
            preds = {"ridge": [fit_ridge(x, r)], "mlp": [fit_mlp(x, r, s) for s in range(args.mlp_seeds)]}
            for kind, fs in preds.items():
                est = ev["med"] + np.mean([f(xe) for f in fs], 0)
                eh = hold["med"] + np.mean([f(xh) for f in fs], 0)
                m = metrics(est, ev, args.repeats)
                print(f"| {name} | {mode} | {kind} | {m['bias_sd']:.4f} | {m['noise_sd']:.4f} | {m['rmse_truth']:.4f} | "
                      f"{m['order']:.4f} | {m['order_r0']:.4f} | {np.abs(np.maximum(eh, 0) - hold['y']).mean():.4f} | "
                      f"{np.abs(eh - hold['orc'])[g_hold].mean():.4f} |", flush=True)
    print(f"done ({time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()
