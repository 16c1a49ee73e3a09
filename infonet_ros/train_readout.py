"""Train the supervised read-out (``infonet_ros.readout``) against ground-truth MI.

    python -m infonet_ros.train_readout --config config/train_readout.yaml   # resumes from out_dir

Data: sample sets from the truth bank's training families (``truth.TRAIN_FAMILIES``; the
held-out families are never trained on and never used for model selection), N
log-uniform in [n_min, n_max] (one N per chunk of sets so the InfoNet feature is one
batched forward), fresh samples for every set. Features are generated shard by shard
(``shard_XXXXX.npz``, seeded by the shard index) *while* training runs: every
``steps_per_shard`` steps one more shard joins the pool until ``n_shards``.

Loss: pinball loss at 5 / 50 / 95 %, each set weighted by clip(sqrt(N / 1000), 0.25, 3)
(log N is an input, so a weight that depends on N does not move the conditional quantiles;
it only spends capacity on the large-N sets, whose errors are small); ``zero_boost``
up-weights MI = 0 sets at small N (a prior choice: it does move the quantiles).

Validation (seeded, disjoint: its own seed stream and the bank's validation entries):
sets at N = 64 / 256 / 1000 / 5000 from the training families (model selection: weighted
pinball loss of the EMA weights) and from the held-out families (logged only).

Outputs in ``out_dir``: ``metrics.jsonl`` (learning curve), ``last.safetensors/.json``
and ``best.safetensors/.json`` (EMA weights, loadable by ``SupervisedReadout.load``),
``state.safetensors`` + ``state.json`` (optimizer, raw weights, step: resume).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from . import truth
from .readout import (FEATURE_NAMES, LEGACY_COLUMNS, ReadoutMLP, check_feature_names, SupervisedReadout, compute_features, infonet_weights_sha,
                      pinball_loss, _default_infonet)

DEFAULTS = {
    "out_dir": "runs/readout",
    # where the feature shards and val.npz live (default: out_dir). Another run's directory
    # reuses its sets (columns are selected by name); shards it lacks are written there too,
    # with this run's features, so point it only at a run whose shards hold a superset
    "data_dir": None,
    "bank": None,  # None: infonet_ros/data/truth_bank.json
    "seed": 0,
    "n_min": 64,
    "n_max": 8192,
    "chunk": 64,  # sets per chunk (one N per chunk)
    "chunks_per_shard": 8,
    "n_shards": 400,
    "initial_shards": 8,
    "steps_per_shard": 150,
    "family_weights": {"gauss": 0.12, "additive_uniform": 0.08, "student_t": 0.1, "quantised_gauss": 0.1,
                       "clipped_gauss": 0.08, "gmm": 0.22, "functional": 0.12, "independent": 0.18},
    "val_ns": [64, 256, 1000, 5000],
    "val_chunks": 8,
    "val_heldout_chunks": 2,
    "hidden": 128,
    "layers": 3,
    "batch": 1024,
    "lr": 1.0e-3,
    "weight_decay": 1.0e-5,
    "ema": 0.999,
    "max_steps": 200_000,
    "lr_final_frac": 0.1,  # lr decays linearly to lr * lr_final_frac over the last decay_steps
    "decay_steps": 0,
    "eval_every": 1000,
    "threads": 1,
    # extra loss weight of MI = 0 sets at small N: weight x (1 + zero_boost * t), t = 1 at
    # N <= 64 falling linearly in log N to 0 at N >= 1000. A prior that puts more mass on
    # exact independence when the sample is small (the median is then 0 unless the
    # evidence is clear): it trades bias at independence against shrinkage of weak
    # dependence at small N.
    "zero_boost": 0.0,
    # the quantiles (indices into readout.QUANTILES: 0 = 5 %, 1 = 50 %, 2 = 95 %) whose loss
    # zero_boost weights; the others see the plain prior. [0, 1] (the shipped v10f): the boost
    # pulls the median and the lower end towards 0 at small N (bias at independence, and an
    # interval that still reaches 0 there) without pulling down the upper end of every
    # window that looks independent. [1] alone lifts the lower end off 0 and under-covers
    # MI = 0 at N = 64 (docs/READOUT.md, training item 13)
    "zero_boost_quantiles": [0, 1, 2],
    # warm start: a read-out checkpoint (e.g. infonet_ros/data/readout.safetensors) whose
    # weights and feature standardisation start a fresh run (ignored when out_dir resumes)
    "init_from": None,
    # the read-out's inputs (``readout.check_feature_names``); shards store the names of
    # their columns (legacy shards without names hold ``readout.LEGACY_COLUMNS``), and the
    # columns are selected by name, so one shard pool serves any feature set
    "features": list(FEATURE_NAMES),
    # the columns stored in new shards and validation sets (default: ``features``). A
    # superset costs a little more per shard and lets later runs with other feature sets
    # read the same sets (``data_dir``)
    "shard_features": None,
    # the InfoNet weights whose forward pass gives the three infonet_* features (default None:
    # the bundled network). A read-out only fits the network it was trained on (the estimator
    # checks the sha256), and shards record the sha256 of theirs: a run refuses sets made with
    # another network
    "infonet": None,
}


# the bundled network's sha256 when shards began to record theirs: shards and validation
# sets written before then carry no infonet_sha256 and were all made with these weights
LEGACY_INFONET_SHA = "07bffa03ca6b"


def log_uniform_n(rng, lo, hi) -> int:
    return int(round(math.exp(rng.uniform(math.log(lo), math.log(hi)))))


def select_features(f: np.ndarray, have, want, source: str) -> np.ndarray:
    """Columns ``want`` of features f [S, len(have)] whose columns are named ``have``."""
    have = list(have)
    missing = [w for w in want if w not in have]
    if missing:
        raise SystemExit(f"{source}: has no columns {missing} (it holds {have}); delete it to regenerate")
    if have == list(want):
        return f
    return f[:, [have.index(w) for w in want]]


def stored_names(z) -> list[str]:
    """Column names of a stored feature array: ``names`` (shards written since the feature
    set became configurable) or the legacy column order ``LEGACY_COLUMNS``."""
    return [str(x) for x in z["names"]] if "names" in z.files else list(LEGACY_COLUMNS)


def make_chunk(rng, n: int, size: int, families: list[str], probs: np.ndarray | None, bank: dict, split: str,
               names=FEATURE_NAMES, model=None):
    """``size`` sets of ``n`` points from random distributions -> (features, mi, family index).
    ``model``: the InfoNet for the infonet_* features (default: the bundled one)."""
    fam_idx = rng.choice(len(families), size=size, p=probs)
    xs, ys, mis = np.empty((size, n)), np.empty((size, n)), np.empty(size)
    for i, f in enumerate(fam_idx):
        d = truth.draw(families[f], rng, bank, split)
        xs[i], ys[i] = d.sample(n, rng)
        mis[i] = d.mi
    feats = compute_features(xs, ys, model if model is not None else _default_infonet(), rng, names)
    return feats, mis, fam_idx


def make_shard(cfg, bank, index: int, families, probs, model=None):
    rng = np.random.default_rng([int(cfg["seed"]), 1, index])
    parts = []
    for _ in range(cfg["chunks_per_shard"]):
        n = log_uniform_n(rng, cfg["n_min"], cfg["n_max"])
        f, m, fi = make_chunk(rng, n, cfg["chunk"], families, probs, bank, "train", cfg["shard_features"], model)
        parts.append((f, m, np.array([families[j] for j in fi])))
    return (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
            np.concatenate([p[2] for p in parts]))


def make_val(cfg, bank, families, probs, model=None):
    out = {}
    for n in cfg["val_ns"]:
        rng = np.random.default_rng([int(cfg["seed"]), 2, n])
        for tag, fams, p, chunks in (("train_families", families, probs, cfg["val_chunks"]),
                                     ("held_out", list(truth.HELD_OUT), None, cfg["val_heldout_chunks"])):
            parts = [make_chunk(rng, n, cfg["chunk"], fams, p, bank, "val", cfg["shard_features"], model)
                     for _ in range(chunks)]
            out[(tag, n)] = (np.concatenate([q[0] for q in parts]), np.concatenate([q[1] for q in parts]),
                             np.concatenate([np.array([fams[j] for j in q[2]]) for q in parts]))
    return out


def n_weight(logn: torch.Tensor, y: torch.Tensor | None = None, zero_boost: float = 0.0) -> torch.Tensor:
    w = torch.sqrt(torch.exp(logn) / 1000.0).clamp(0.25, 3.0)
    if zero_boost and y is not None:
        t = ((math.log(1000.0) - logn) / (math.log(1000.0) - math.log(64.0))).clamp(0.0, 1.0)
        w = w * torch.where(y == 0, 1.0 + zero_boost * t, torch.ones_like(t))
    return w


def loss_weights(logn: torch.Tensor, y: torch.Tensor, zero_boost: float = 0.0, boosted=(0, 1, 2)) -> torch.Tensor:
    """Loss weights: [B] when ``zero_boost`` reaches every quantile (or is 0), else [B, 3]
    with the boost in the columns ``boosted`` only."""
    boosted = sorted(set(boosted))
    if not zero_boost or boosted == [0, 1, 2]:
        return n_weight(logn, y, zero_boost)
    plain, boost = n_weight(logn), n_weight(logn, y, zero_boost)
    cols = torch.zeros(3, dtype=torch.bool, device=logn.device)
    cols[boosted] = True
    return torch.where(cols, boost[:, None], plain[:, None])


@torch.no_grad()
def evaluate(model, val, zero_boost: float = 0.0, boosted=(0, 1, 2)) -> dict:
    model.eval()
    res, sel_num, sel_den = {}, 0.0, 0.0
    for (tag, n), (f, y, fam) in val.items():
        ft = torch.as_tensor(f, dtype=torch.float32)
        yt = torch.as_tensor(y, dtype=torch.float32)
        q = model(ft)
        w = loss_weights(ft[:, 0], yt, zero_boost, boosted)
        loss = float(pinball_loss(q, yt, w))
        qc = q.clamp_min(0).numpy()
        mae = float(np.mean(np.abs(qc[:, 1] - y)))
        cov = float(np.mean((qc[:, 0] <= y) & (y <= qc[:, 2])))
        zero = y == 0
        r = {"mae": round(mae, 5), "cov90": round(cov, 4), "pinball": round(loss, 5)}
        if zero.any():
            r["mean_at_0"] = round(float(qc[zero, 1].mean()), 5)
        res[f"{tag}@{n}"] = r
        if tag == "train_families":
            sel_num += loss
            sel_den += 1
    model.train()
    res["select"] = sel_num / sel_den
    return res


def save_state(out: Path, model, ema, opt, step, shards_done, best, cfg):
    from safetensors.torch import save_file
    t = {f"model.{k}": v.detach().contiguous() for k, v in model.state_dict().items()}
    t.update({f"ema.{k}": v.detach().contiguous() for k, v in ema.state_dict().items()})
    for i, group in enumerate(opt.param_groups):
        for j, p in enumerate(group["params"]):
            st = opt.state.get(p, {})
            for key in ("exp_avg", "exp_avg_sq"):
                if key in st:
                    t[f"opt.{i}.{j}.{key}"] = st[key].contiguous()
            if "step" in st:
                t[f"opt.{i}.{j}.step"] = torch.as_tensor(st["step"], dtype=torch.float32).reshape(1)
    save_file(t, str(out / "state.tmp"))
    (out / "state.tmp").replace(out / "state.safetensors")
    (out / "state.json.tmp").write_text(json.dumps({"step": step, "shards_done": shards_done, "best": best, "config": cfg}, indent=1))
    (out / "state.json.tmp").replace(out / "state.json")


def load_state(out: Path, model, ema, opt):
    from safetensors.torch import load_file
    t = load_file(str(out / "state.safetensors"))
    model.load_state_dict({k[6:]: v for k, v in t.items() if k.startswith("model.")})
    ema.load_state_dict({k[4:]: v for k, v in t.items() if k.startswith("ema.")})
    for i, group in enumerate(opt.param_groups):
        for j, p in enumerate(group["params"]):
            if f"opt.{i}.{j}.exp_avg" in t:
                opt.state[p] = {"exp_avg": t[f"opt.{i}.{j}.exp_avg"], "exp_avg_sq": t[f"opt.{i}.{j}.exp_avg_sq"],
                                "step": t[f"opt.{i}.{j}.step"].reshape(())}
    return json.loads((out / "state.json").read_text())


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="config/train_readout.yaml")
    ap.add_argument("--set", nargs="*", default=[], help="overrides key=value (YAML values)")
    args = ap.parse_args(argv)
    cfg = dict(DEFAULTS)
    if args.config and Path(args.config).is_file():
        cfg.update(yaml.safe_load(Path(args.config).read_text()) or {})
    for kv in args.set:
        k, v = kv.split("=", 1)
        cfg[k] = yaml.safe_load(v)
    try:
        cfg["features"] = list(check_feature_names(cfg["features"], "config features"))
        cfg["shard_features"] = list(check_feature_names(cfg.get("shard_features") or cfg["features"],
                                                         "config shard_features"))
    except ValueError as e:
        raise SystemExit(str(e)) from None
    missing = [f for f in cfg["features"] if f not in cfg["shard_features"]]
    if missing:
        raise SystemExit(f"config shard_features must hold every one of features; missing {missing}")
    zq = cfg["zero_boost_quantiles"]
    if not isinstance(zq, list) or not zq or any(not isinstance(i, int) or isinstance(i, bool) or not 0 <= i <= 2 for i in zq):
        raise SystemExit(f"config zero_boost_quantiles must be a non-empty list of quantile indices 0, 1, 2 "
                         f"(5 / 50 / 95 %), got {zq!r}")
    torch.set_num_threads(int(cfg["threads"]))
    torch.manual_seed(int(cfg["seed"]))
    out = Path(cfg["out_dir"])
    out.mkdir(parents=True, exist_ok=True)
    sets_dir = Path(cfg["data_dir"]) if cfg.get("data_dir") else out
    (sets_dir / "shards").mkdir(parents=True, exist_ok=True)
    bank = truth.load_bank(cfg["bank"])
    fw = cfg["family_weights"]
    families = sorted(fw)
    bad = set(families) - set(truth.TRAIN_FAMILIES)
    if bad:
        raise SystemExit(f"family_weights: {sorted(bad)} are held out or unknown; train families: {truth.TRAIN_FAMILIES}")
    probs = np.array([fw[f] for f in families], np.float64)
    probs /= probs.sum()
    if cfg["infonet"]:
        from .estimator import InfoNetEstimator
        try:
            net_est = InfoNetEstimator.load(cfg["infonet"], device="cpu")
        except (OSError, ValueError) as e:
            raise SystemExit(f"config infonet: cannot load {cfg['infonet']}: {e}") from None
        net, net_sha = net_est.model, infonet_weights_sha(net_est.path)
    else:
        net, net_sha = _default_infonet(), infonet_weights_sha()

    def check_net(z, source: str):
        """Sets made with another network's features would train a read-out for neither."""
        have = str(z["infonet_sha256"]) if "infonet_sha256" in z.files else LEGACY_INFONET_SHA
        if have != net_sha:
            raise SystemExit(f"{source}: its infonet_* columns come from InfoNet weights sha256 {have}, this run's "
                             f"network is {net_sha} (config infonet: {cfg['infonet']}); point data_dir elsewhere")

    def shard_path(i):
        return sets_dir / "shards" / f"shard_{i:05d}.npz"

    def get_shard(i):
        p = shard_path(i)
        if not p.is_file():
            f, m, fam = make_shard(cfg, bank, i, families, probs, net)
            tmp = p.with_name(p.stem + ".tmp.npz")
            np.savez(tmp, features=f, mi=m, family=fam, names=np.array(cfg["shard_features"]),
                     infonet_sha256=np.array(net_sha))
            tmp.replace(p)
        z = np.load(p, allow_pickle=False)
        check_net(z, str(p))
        f = select_features(z["features"], stored_names(z), cfg["features"], str(p))
        return f.astype(np.float32), z["mi"].astype(np.float32)

    t0 = time.time()
    val_path = sets_dir / "val.npz"
    if val_path.is_file():
        z = np.load(val_path, allow_pickle=False)
        check_net(z, str(val_path))
        val = {(str(t), int(n)): (select_features(z[f"{t}_{n}_f"], stored_names(z), cfg["features"], str(val_path)),
                                  z[f"{t}_{n}_y"], z[f"{t}_{n}_fam"])
               for t, n in zip(z["tags"], z["ns"])}
    else:
        val = make_val(cfg, bank, families, probs, net)
        arrs = {"tags": np.array([k[0] for k in val]), "ns": np.array([k[1] for k in val]),
                "names": np.array(cfg["shard_features"]), "infonet_sha256": np.array(net_sha)}
        for (t, n), (f, y, fam) in val.items():
            arrs[f"{t}_{n}_f"], arrs[f"{t}_{n}_y"], arrs[f"{t}_{n}_fam"] = f, y, fam
        np.savez(sets_dir / "val.tmp.npz", **arrs)
        (sets_dir / "val.tmp.npz").replace(val_path)
        val = {k: (select_features(f, cfg["shard_features"], cfg["features"], str(val_path)), y, fam)
               for k, (f, y, fam) in val.items()}
    print(f"validation sets ready ({time.time() - t0:.0f} s)", flush=True)

    state = json.loads((out / "state.json").read_text()) if (out / "state.json").is_file() else None
    shards_done = state["shards_done"] if state else int(cfg["initial_shards"])
    data = [get_shard(i) for i in range(shards_done)]
    print(f"{shards_done} shards loaded ({time.time() - t0:.0f} s)", flush=True)
    feats = np.concatenate([d[0] for d in data])
    ys = np.concatenate([d[1] for d in data])
    norm_path = out / "norm.json"
    init = None
    if cfg["init_from"] and not state:
        init = SupervisedReadout.load(cfg["init_from"])
        if list(init.feature_names) != cfg["features"]:
            raise SystemExit(f"init_from {cfg['init_from']}: features {list(init.feature_names)} differ from the "
                             f"config's {cfg['features']}")
        if (init.mlp.hidden, init.mlp.layers) != (cfg["hidden"], cfg["layers"]):
            raise SystemExit(f"init_from {cfg['init_from']}: hidden/layers {init.mlp.hidden}/{init.mlp.layers} "
                             f"differ from the config's {cfg['hidden']}/{cfg['layers']}")
        if not norm_path.is_file():
            norm_path.write_text(json.dumps({"mean": init.mlp.mean.tolist(), "std": init.mlp.std.tolist()}))
    if norm_path.is_file():
        norm = json.loads(norm_path.read_text())
    else:
        norm = {"mean": feats.mean(0).tolist(), "std": (feats.std(0) + 1e-6).tolist()}
        norm_path.write_text(json.dumps(norm))
    mk = lambda: ReadoutMLP(len(cfg["features"]), cfg["hidden"], cfg["layers"], np.array(norm["mean"]), np.array(norm["std"]))  # noqa: E731
    model, ema = mk(), mk()
    if init is not None:
        model.load_state_dict(init.mlp.state_dict())
        print(f"warm start from {cfg['init_from']} (step {init.info.get('step')})", flush=True)
    ema.load_state_dict(model.state_dict())
    for p in ema.parameters():
        p.requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    step, best = 0, None
    if state:
        st = load_state(out, model, ema, opt)
        step, best = st["step"], st["best"]
        was = (st["config"].get("zero_boost", 0.0), sorted(st["config"].get("zero_boost_quantiles", [0, 1, 2])))
        if was != (cfg["zero_boost"], sorted(cfg["zero_boost_quantiles"])):
            print(f"zero_boost changed ({was} -> {(cfg['zero_boost'], cfg['zero_boost_quantiles'])}): "
                  f"selection metric changed, best reset (was {best})", flush=True)
            best = None
        print(f"resumed at step {step}, best {best}", flush=True)
    info = {"infonet_sha256": net_sha, "train_config": cfg}
    gen = torch.Generator().manual_seed(int(cfg["seed"]) * 1000 + step)
    metrics = open(out / "metrics.jsonl", "a")
    ft_all, y_all = torch.as_tensor(feats), torch.as_tensor(ys)
    run_loss, run_n, t_last = 0.0, 0, time.time()
    decay_start = cfg["max_steps"] - cfg["decay_steps"] if cfg["decay_steps"] else None
    while step < cfg["max_steps"]:
        if step > 0 and step % cfg["steps_per_shard"] == 0 and shards_done < cfg["n_shards"]:
            f, y = get_shard(shards_done)
            shards_done += 1
            ft_all = torch.cat([ft_all, torch.as_tensor(f)])
            y_all = torch.cat([y_all, torch.as_tensor(y)])
        lr = cfg["lr"]
        if decay_start is not None and step >= decay_start:
            lr = cfg["lr"] * (1 - (1 - cfg["lr_final_frac"]) * (step - decay_start) / cfg["decay_steps"])
        for g in opt.param_groups:
            g["lr"] = lr
        idx = torch.randint(len(y_all), (cfg["batch"],), generator=gen)
        fb, yb = ft_all[idx], y_all[idx]
        loss = pinball_loss(model(fb), yb, loss_weights(fb[:, 0], yb, cfg["zero_boost"], cfg["zero_boost_quantiles"]))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            for pe, pm in zip(ema.parameters(), model.parameters()):
                pe.mul_(cfg["ema"]).add_(pm, alpha=1 - cfg["ema"])
        step += 1
        run_loss += float(loss.detach())
        run_n += 1
        if step % cfg["eval_every"] == 0 or step == cfg["max_steps"]:
            res = evaluate(ema, val, cfg["zero_boost"], cfg["zero_boost_quantiles"])
            rec = {"step": step, "time": round(time.time() - t0, 1), "train_pinball": round(run_loss / run_n, 5),
                   "lr": lr, "shards": shards_done, "n_sets": int(len(y_all)), **res}
            run_loss, run_n = 0.0, 0
            metrics.write(json.dumps(rec) + "\n")
            metrics.flush()
            ro = SupervisedReadout(ema, {**info, "step": step, "val": res}, feature_names=cfg["features"])
            ro.save(out / "last.safetensors")
            if best is None or res["select"] < best["select"]:
                best = {"step": step, "select": res["select"]}
                ro.save(out / "best.safetensors")
            save_state(out, model, ema, opt, step, shards_done, best, cfg)
            brief = " ".join(f"{k}:{v['mae']:.3f}/{v['cov90']:.2f}" for k, v in res.items() if isinstance(v, dict))
            print(f"step {step} {time.time() - t_last:.0f}s shards {shards_done} sel {res['select']:.5f} {brief}", flush=True)
            t_last = time.time()
    metrics.close()


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
