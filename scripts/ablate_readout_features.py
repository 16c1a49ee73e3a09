"""Which read-out features earn their cost? Short fits on one shard pool, one per feature set.

    python scripts/ablate_readout_features.py --run runs/readout_v3 --steps 6000
    python scripts/ablate_readout_features.py --run runs/readout_v3 --sets full,lean12
    python scripts/ablate_readout_features.py --run runs/readout_v7 --sets v6d,v8 --infonet both

Each set gets the same fit (ReadoutMLP 128 x 3, AdamW 1e-3 decaying to 1e-4, pinball loss with
train_readout's weights, batch 1024, seed 0) on the run's shards (columns selected by name),
and is scored on the run's validation sets: MAE of the median and 90 % coverage per N for
the training families and the held-out ones. Short fits rank feature sets; they do not
reach the long runs' numbers. Results as one JSON line per set (docs/READOUT.md quotes them).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from infonet_ros.readout import INFONET_FEATURES, LEGACY_COLUMNS, ReadoutMLP, check_feature_names, pinball_loss  # noqa: E402
from infonet_ros.train_readout import n_weight, select_features, stored_names  # noqa: E402

F = [f for f in LEGACY_COLUMNS if f not in INFONET_FEATURES]  # the statistics of the legacy shard pool
SETS = {
    "full": F,
    "no_vasicek": [f for f in F if not f.startswith("vasicek")],
    "no_vasicek_blocks_lags": [f for f in F if not f.startswith(("vasicek", "block", "spacing_k"))],
    "no_blocks_lags": [f for f in F if not f.startswith(("block", "spacing_k"))],
    "no_blocks_lags_vasicek16": [f for f in F if not (f.startswith(("block", "spacing_k")) or f == "vasicek_m16")],
    "lean12": [f for f in F if not (f.startswith(("block", "spacing_k")) or f in ("hist_f0.5", "hist_f3.2"))],
    "hist_gauss_only": [f for f in F if f == "log_n" or f.startswith("hist") or f == "gauss_ns"],
    # the shipped read-out's statistics (v6d) and v8's (without vasicek_m16): need shards with the
    # box columns (runs/readout_v6, runs/readout_v7)
    "v6d": ["log_n", "hist_f0.8", "hist_f1.25", "box_f10", "gauss_ns", "spacing_mean", "spacing_max",
            "vasicek_m16", "vasicek_m64"],
    "v8": ["log_n", "hist_f0.8", "hist_f1.25", "box_f10", "gauss_ns", "spacing_mean", "spacing_max", "vasicek_m64"],
}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", required=True, help="a train_readout out_dir with shards/ and val.npz")
    ap.add_argument("--steps", type=int, default=6000)
    ap.add_argument("--sets", default=",".join(SETS), help=f"comma-separated, from {list(SETS)}")
    ap.add_argument("--infonet", default="with", choices=("with", "without", "both"),
                    help="fit each set with the three InfoNet features (as every shipped read-out must), "
                         "without them (how much the network adds to the rank statistics), or both")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    run = Path(args.run)
    shards = sorted((run / "shards").glob("shard_*.npz"))
    shards = [p for p in shards if ".tmp" not in p.name]
    if not shards or not (run / "val.npz").is_file():
        raise SystemExit(f"{run}: needs shards/shard_*.npz and val.npz (python -m infonet_ros.train_readout ...)")
    zs = [np.load(p, allow_pickle=False) for p in shards]
    val = np.load(run / "val.npz", allow_pickle=False)
    y_all = np.concatenate([z["mi"] for z in zs]).astype(np.float32)
    runs = [(name, inf) for name in args.sets.split(",")
            for inf in ((True, False) if args.infonet == "both" else (args.infonet == "with",))]
    for name, with_infonet in runs:
        if name not in SETS:
            raise SystemExit(f"unknown set {name!r}; known: {list(SETS)}")
        names = list(check_feature_names(SETS[name] + list(INFONET_FEATURES), name))
        if not with_infonet:
            names = names[: -len(INFONET_FEATURES)]
        x = np.concatenate([select_features(z["features"], stored_names(z), names, "shard") for z in zs]).astype(np.float32)
        torch.manual_seed(0)
        rng = np.random.default_rng(0)
        mlp = ReadoutMLP(len(names), 128, 3, x.mean(0), x.std(0) + 1e-6)
        opt = torch.optim.AdamW(mlp.parameters(), 1e-3, weight_decay=1e-5)
        xt, yt = torch.as_tensor(x), torch.as_tensor(y_all)
        t0 = time.time()
        for step in range(args.steps):
            for g in opt.param_groups:
                g["lr"] = 1e-3 * (1 - 0.9 * step / args.steps)
            idx = torch.as_tensor(rng.integers(0, len(y_all), 1024))
            fb, yb = xt[idx], yt[idx]
            loss = pinball_loss(mlp(fb), yb, n_weight(fb[:, 0], yb, 2.0))
            opt.zero_grad()
            loss.backward()
            opt.step()
        out = {"set": name, "infonet": with_infonet, "n_features": len(names), "seconds": round(time.time() - t0)}
        with torch.no_grad():
            for tag, n in zip(val["tags"], val["ns"]):
                f = select_features(val[f"{tag}_{n}_f"], stored_names(val), names, "val.npz")
                q = mlp(torch.as_tensor(f, dtype=torch.float32)).clamp_min(0).numpy()
                y = val[f"{tag}_{n}_y"]
                out[f"{tag}@{n}"] = {"mae": round(float(np.abs(q[:, 1] - y).mean()), 4),
                                     "cov90": round(float(((q[:, 0] <= y) & (y <= q[:, 2])).mean()), 3)}
        print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
