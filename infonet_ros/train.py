"""Train InfoNet: ``python -m infonet_ros.train --config config/train.yaml`` (or ``infonet_train``).

One loop, top to bottom: sample a fresh batch of sets -> forward -> loss = -DV -> step ->
validate every k steps -> checkpoint. Unsupervised: ground-truth MI is used only by the
validation metric, on seeded sets that no reported benchmark uses (bench/ uses seeds >= 1e7).

Outputs in ``out_dir``: ``last.safetensors`` + ``last_state.pt`` (resume), ``best.safetensors``
(lowest validation MAE), ``metrics.jsonl`` (learning curve), ``train.log``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import yaml
from tqdm import tqdm

from .checkpoint import load_weights, save_weights
from .copula import rank_transform
from .model import InfoNet, InfoNetConfig
from .simulate import DEFAULT_WEIGHTS, sample_batch

log = logging.getLogger("infonet_ros.train")


@dataclass
class TrainSettings:
    steps: int = 30000
    lr: float = 2e-3
    min_lr: float = 1e-4
    warmup_steps: int = 300
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    points_per_step: int = 32768
    batch_min: int = 8
    batch_max: int = 256
    n_min: int = 32
    n_max: int = 4096
    val_every: int = 250
    ckpt_every: int = 250
    threads: int = 2
    amp: bool = True


@dataclass
class RunConfig:
    out_dir: str = "runs/infonet"
    device: str = "auto"
    seed: int = 0
    model: InfoNetConfig = field(default_factory=InfoNetConfig)
    train: TrainSettings = field(default_factory=TrainSettings)
    quantise_prob: float = 0.1
    family_weights: dict = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))

    @classmethod
    def from_yaml(cls, path: str | Path) -> "RunConfig":
        raw = yaml.safe_load(Path(path).read_text()) or {}
        return cls.from_dict(raw, source=str(path))

    @classmethod
    def from_dict(cls, raw: dict, source: str = "config") -> "RunConfig":
        allowed = {"out_dir", "device", "seed", "model", "train", "data"}
        bad = sorted(set(raw) - allowed)
        if bad:
            raise ValueError(f"{source}: unknown top-level keys {bad}; expected {sorted(allowed)}")

        def build(kind, values, section):
            names = {f.name for f in dataclasses.fields(kind)}
            unknown = sorted(set(values or {}) - names)
            if unknown:
                raise ValueError(f"{source}: unknown keys in '{section}': {unknown}; expected {sorted(names)}")
            return kind(**(values or {}))

        data = raw.get("data") or {}
        bad = sorted(set(data) - {"quantise_prob", "weights"})
        if bad:
            raise ValueError(f"{source}: unknown keys in 'data': {bad}")
        return cls(
            out_dir=raw.get("out_dir", "runs/infonet"),
            device=raw.get("device", "auto"),
            seed=int(raw.get("seed", 0)),
            model=build(InfoNetConfig, raw.get("model"), "model"),
            train=build(TrainSettings, raw.get("train"), "train"),
            quantise_prob=float(data.get("quantise_prob", 0.1)),
            family_weights=dict(data.get("weights") or DEFAULT_WEIGHTS),
        )


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} requested but CUDA is not available (use 'auto' or 'cpu')")
    return dev


# -- validation ------------------------------------------------------------------------------
VAL_SEED = 900_000  # validation seeds live in [9e5, 1e6); benchmarks use >= 1e7


def validation_sets(seed: int = VAL_SEED) -> list[tuple[str, float, torch.Tensor]]:
    """Seeded validation sets with closed-form truth: (name, MI in nats, u [B, N, 2])."""
    rng = np.random.default_rng(seed)
    out = []
    for n in (128, 512, 2048):
        for rho in (0.0, 0.3, 0.5, 0.7, 0.9, 0.97):
            z = rng.standard_normal((4, n, 2))
            x, y = z[..., 0], rho * z[..., 0] + math.sqrt(1 - rho**2) * z[..., 1]
            out.append((f"gauss rho={rho} N={n}", -0.5 * math.log(1 - rho**2), x, y))
        for eps in (0.2, 0.6):
            x = rng.uniform(0, 1, (4, n))
            y = x + rng.uniform(-eps, eps, (4, n))
            truth = eps - math.log(2 * eps) if eps <= 0.5 else 1 / (4 * eps)
            out.append((f"uniform+noise eps={eps} N={n}", truth, x, y))
    sets = []
    for name, truth, x, y in out:
        u = torch.stack([rank_transform(torch.from_numpy(x).float()), rank_transform(torch.from_numpy(y).float())], -1)
        sets.append((name, truth, u))
    return sets


@torch.no_grad()
def validate(model: InfoNet, sets, device) -> dict[str, float]:
    model.eval()
    errs, indep = [], []
    for _name, truth, u in sets:
        est = model(u.to(device))["mi"].float().cpu().numpy()
        errs.extend(np.abs(est - truth).tolist())
        if truth == 0.0:
            indep.extend(est.tolist())
    model.train()
    return {"val_mae": float(np.mean(errs)), "val_bias0": float(np.mean(indep))}


# -- training --------------------------------------------------------------------------------
def lr_at(step: int, s: TrainSettings) -> float:
    if step < s.warmup_steps:
        return s.lr * (step + 1) / s.warmup_steps
    frac = min(1.0, (step - s.warmup_steps) / max(1, s.steps - s.warmup_steps))
    return s.min_lr + 0.5 * (s.lr - s.min_lr) * (1 + math.cos(math.pi * frac))


def draw_shape(gen: torch.Generator, s: TrainSettings) -> tuple[int, int]:
    """(batch, N): N log-uniform in [n_min, n_max], batch from the points budget."""
    r = torch.rand((), generator=gen).item()
    n = int(round(math.exp(math.log(s.n_min) + r * (math.log(s.n_max) - math.log(s.n_min)))))
    batch = int(min(s.batch_max, max(s.batch_min, s.points_per_step // n)))
    return batch, n


def train(cfg: RunConfig, max_steps: int | None = None, max_minutes: float | None = None, progress: bool = True) -> Path:
    """Train (resuming from ``out_dir`` when possible). Returns the path of best.safetensors."""
    s = cfg.train
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(out / "train.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    device = resolve_device(cfg.device)
    if device.type == "cpu":
        torch.set_num_threads(s.threads)
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)

    model = InfoNet(cfg.model).to(device)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": s.weight_decay}, {"params": no_decay, "weight_decay": 0.0}], lr=s.lr)
    step, best, elapsed = 0, float("inf"), 0.0
    last, state_path = out / "last.safetensors", out / "last_state.pt"
    if last.exists() and state_path.exists():
        loaded, info = load_weights(last, device)
        if loaded.cfg != cfg.model:
            raise ValueError(f"{last}: model config {loaded.cfg} differs from the requested {cfg.model}; use another out_dir")
        model.load_state_dict(loaded.state_dict())
        state = torch.load(state_path, map_location=device, weights_only=True)
        opt.load_state_dict(state["optimizer"])
        gen.set_state(state["generator"])
        step, best, elapsed = int(state["step"]), float(state["best"]), float(state["elapsed"])
        log.info("resumed from %s at step %d", last, step)
    (out / "config.json").write_text(json.dumps({"model": dataclasses.asdict(cfg.model), "train": dataclasses.asdict(s), "seed": cfg.seed, "family_weights": cfg.family_weights, "quantise_prob": cfg.quantise_prob}, indent=2))

    val_sets = validation_sets()
    amp = s.amp and device.type == "cuda"
    end = min(s.steps, step + max_steps) if max_steps else s.steps
    bar = tqdm(total=end, initial=step, disable=not progress, dynamic_ncols=True, desc="train")
    t0, t_last, steps_since, skipped = time.time() - elapsed, time.time(), 0, 0
    metrics = {"val_mae": float("nan"), "val_bias0": float("nan")}
    ema_loss = None
    model.train()

    def checkpoint(kind: str):
        info = {"step": step, "elapsed_s": round(time.time() - t0, 1), "device": str(device), **metrics, "train_config": "config.json"}
        save_weights(out / f"{kind}.safetensors", model, info)

    while step < end:
        if max_minutes is not None and (time.time() - t0) / 60 >= max_minutes:
            log.info("time budget of %.1f min reached at step %d", max_minutes, step)
            break
        for grp in opt.param_groups:
            grp["lr"] = lr_at(step, s)
        batch, n = draw_shape(gen, s)
        u = sample_batch(batch, n, gen, cfg.family_weights, cfg.quantise_prob).to(device)
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=amp):
            mi = model(u)["mi"]
        loss = -mi.float().mean()
        opt.zero_grad(set_to_none=True)
        if not torch.isfinite(loss):
            skipped += 1
            log.warning("non-finite loss at step %d (N=%d, batch=%d): step skipped (%d so far)", step, n, batch, skipped)
            step += 1
            continue
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), s.grad_clip)
        if not torch.isfinite(gnorm):
            skipped += 1
            log.warning("non-finite gradient at step %d: step skipped", step)
            step += 1
            continue
        opt.step()
        step += 1
        steps_since += 1
        ema_loss = loss.item() if ema_loss is None else 0.98 * ema_loss + 0.02 * loss.item()
        if step % s.val_every == 0 or step == end:
            metrics = validate(model, val_sets, device)
            now = time.time()
            rec = {"step": step, "elapsed_s": round(now - t0, 1), "loss": ema_loss, "lr": lr_at(step, s), **metrics, "skipped": skipped}
            with open(out / "metrics.jsonl", "a") as fh:
                fh.write(json.dumps(rec) + "\n")
            log.info(json.dumps(rec))
            if metrics["val_mae"] < best:
                best = metrics["val_mae"]
                checkpoint("best")
        if step % s.ckpt_every == 0 or step == end:
            checkpoint("last")
            torch.save({"optimizer": opt.state_dict(), "generator": gen.get_state(), "step": step, "best": best, "elapsed": time.time() - t0}, state_path)
        if step % 10 == 0:
            now = time.time()
            bar.set_postfix(loss=f"{ema_loss:.3f}", it_s=f"{steps_since / max(now - t_last, 1e-9):.1f}", val_mae=f"{metrics['val_mae']:.3f}")
            t_last, steps_since = now, 0
        bar.update(1)
    bar.close()
    checkpoint("last")
    torch.save({"optimizer": opt.state_dict(), "generator": gen.get_state(), "step": step, "best": best, "elapsed": time.time() - t0}, state_path)
    if not (out / "best.safetensors").exists():
        metrics = validate(model, val_sets, device)
        checkpoint("best")
    log.removeHandler(handler)
    return out / "best.safetensors"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="infonet_train", description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="config/train.yaml", help="training YAML (default: %(default)s)")
    ap.add_argument("--device", help="override: auto | cpu | cuda | cuda:N")
    ap.add_argument("--out-dir", help="override out_dir")
    ap.add_argument("--steps", type=int, help="override train.steps (total)")
    ap.add_argument("--max-minutes", type=float, help="stop after this much wall time (resumable)")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    try:
        cfg = RunConfig.from_yaml(args.config)
    except (OSError, ValueError, TypeError) as exc:
        print(f"infonet_train: bad config {args.config}: {exc}", file=sys.stderr)
        return 2
    if args.device:
        cfg.device = args.device
    if args.out_dir:
        cfg.out_dir = args.out_dir
    if args.steps:
        cfg.train.steps = args.steps
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    best = train(cfg, max_minutes=args.max_minutes, progress=not args.no_progress)
    print(f"best checkpoint: {best}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
