"""Accuracy benchmark: InfoNet vs KSG vs MINE on the fixed, seeded task suite.

    python bench/accuracy.py              # full run; MINE dominates (15-35 min on 2 cores)
    python bench/accuracy.py --quick      # smoke run, a few minutes
    python bench/accuracy.py --methods infonet,ksg --weights path/to/weights.safetensors

Methods: ``infonet`` = the published estimate (``InfoNetEstimator.pretrained()``: the network
plus the supervised read-out), ``infonet_dv`` = the network's raw cross-fitted DV value
(``readout=False``), ``ksg``, ``mine``.

Data: ``infonet_ros.tasks.suite()`` at N = 256, 1000, 5000 with 5, 5, 3 repeats; the
sample set of (task, N, repeat) has seed ``data_seed(task.name, N, repeat)`` >= 10^7, so it
never coincides with training/validation data (seeds < 10^6). Every method sees the same
sample sets, except that MINE (seconds per estimate) uses only the first
--mine-max-repeats (default 2) repeats of each (task, N).

Reported per method and N:
- MAE: mean |estimate - truth| over all suite tasks and repeats (nats);
- bias at independence: mean estimate on the MI = 0 tasks (nats);
- relative error at high MI: mean (estimate - truth) / truth over tasks with truth > 1 nat;
- order accuracy: 40 random 10-component mixtures (``order_mixtures()``), one sample set
  each; over all pairs whose true MI differs by >= 0.02 nats, the fraction whose estimates
  are ordered like the truths (the InfoNet paper's metric; ties count as wrong);
- seconds per estimate (wall clock; InfoNet's batched call divided by its batch size).
Writes a markdown report (stdout and --out) and a JSON file with every raw estimate.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from infonet_ros.baselines import KSG, MINE  # noqa: E402
from infonet_ros.tasks import data_seed, order_mixtures, suite  # noqa: E402

METHODS = ("infonet", "infonet_dv", "ksg", "mine")
ORDER_MIN_GAP = 0.02  # nats


# ---------------------------------------------------------------- methods

class Batched:
    """Any estimator as ``f(xs [P, N], ys [P, N]) -> [P]``: its estimate_batch (in chunks of
    at most max_batch sample sets) when it has one, else a loop over estimate."""

    def __init__(self, est, max_batch: int | None = None):
        self.est = est
        self.max_batch = max_batch

    def __call__(self, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        if not hasattr(self.est, "estimate_batch"):
            return np.array([self.est.estimate(a, b) for a, b in zip(xs, ys)], dtype=np.float64)
        step = self.max_batch or len(xs)
        parts = [np.asarray(self.est.estimate_batch(xs[i:i + step], ys[i:i + step]))
                 for i in range(0, len(xs), step)]
        return np.concatenate(parts).astype(np.float64).reshape(len(xs))


def weights_file(est, explicit: str | None) -> str | None:
    """Path of the InfoNet weights in use: --weights, else an attribute of the estimator."""
    if explicit:
        return explicit
    for attr in ("path", "weights_path", "checkpoint_path"):
        p = getattr(est, attr, None)
        if isinstance(p, (str, os.PathLike)) and Path(p).is_file():
            return str(p)
    return None


def sha256_prefix(path: str | None, n: int = 12) -> str:
    if not path:
        return "unknown"
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:n]


def load_infonet(weights: str | None, device: str = "cpu", threads: int | None = 1, readout=True):
    try:
        from infonet_ros import InfoNetEstimator  # lazy: the baselines run without it
    except ImportError as exc:
        raise SystemExit(f"InfoNet is not available ({exc}); "
                         "run with --methods ksg,mine") from None
    if weights:  # other weights: the raw DV value unless a read-out for them is named
        return InfoNetEstimator.load(weights, device=device, threads=threads,
                                     readout=None if readout is True else readout)
    return InfoNetEstimator.pretrained(device=device, threads=threads, readout=readout)


def build_methods(names, args):
    methods, meta = {}, {}
    for name in names:
        if name == "infonet":
            est = load_infonet(args.weights, args.device)
            path = weights_file(est, args.weights)
            meta["infonet_weights"] = path
            meta["infonet_weights_sha256"] = sha256_prefix(path)
            meta["infonet_output"] = est.output
            if est.readout is not None:
                from infonet_ros.readout import BUNDLED_READOUT
                meta["readout_sha256"] = sha256_prefix(str(BUNDLED_READOUT))
                meta["readout_step"] = est.readout.info.get("step")
            methods["InfoNet"] = Batched(est, max_batch=args.infonet_batch)
        elif name == "infonet_dv":  # the network's raw cross-fitted DV value, no read-out
            est = load_infonet(args.weights, args.device, readout=False)
            methods["InfoNet DV"] = Batched(est, max_batch=args.infonet_batch)
        elif name == "ksg":
            methods["KSG"] = Batched(KSG(k=3))
        elif name == "mine":
            methods["MINE"] = Batched(MINE(steps=args.mine_steps, seed=0, device=args.device))
        else:
            raise SystemExit(f"--methods: unknown method {name!r}; "
                             f"choose from {', '.join(METHODS)}")
    return methods, meta


# ---------------------------------------------------------------- metrics

def order_accuracy(truth: np.ndarray, est: np.ndarray,
                   min_gap: float = ORDER_MIN_GAP) -> tuple[float, int]:
    """Fraction of pairs with |truth_i - truth_j| >= min_gap whose estimates are ordered
    alike (ties count as wrong), and the number of such pairs."""
    i, j = np.triu_indices(len(truth), k=1)
    d_truth = truth[i] - truth[j]
    keep = np.abs(d_truth) >= min_gap
    if not keep.any():
        return float("nan"), 0
    correct = (est[i] - est[j])[keep] * d_truth[keep] > 0
    return float(correct.mean()), int(keep.sum())


def summarise(records, order_records, methods, ns) -> dict:
    out = {}
    for m in methods:
        for n in ns:
            rs = [r for r in records if r["method"] == m and r["n"] == n]
            if not rs:
                continue
            truth = np.array([r["truth"] for r in rs])
            est = np.array([r["estimate"] for r in rs])
            zero, high = truth == 0.0, truth > 1.0
            row = {
                "mae": float(np.mean(np.abs(est - truth))),
                "bias_at_independence": float(np.mean(est[zero])) if zero.any() else float("nan"),
                "rel_error_high_mi": (float(np.mean((est[high] - truth[high]) / truth[high]))
                                      if high.any() else float("nan")),
                "n_estimates": len(rs),
            }
            ors = [r for r in order_records if r["method"] == m and r["n"] == n]
            if ors:
                acc, pairs = order_accuracy(np.array([r["truth"] for r in ors]),
                                            np.array([r["estimate"] for r in ors]))
                row["order_accuracy"], row["order_pairs"] = acc, pairs
            row["seconds_per_estimate"] = float(np.mean([r["seconds"] for r in rs + ors]))
            out[f"{m}@{n}"] = row
    return out


# ---------------------------------------------------------------- report

def _cpu_details() -> str:
    """CPU family / model, AVX-512 or not, L2 and L3 sizes (Linux): hosts named alike
    ("AMD EPYC") differ by 2x in speed and in InfoNet's ratio to KSG, so the tables say
    which one measured them."""
    fields, out = {}, []
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if not line.strip():
                    break  # the first processor is enough
                k, _, v = line.partition(":")
                fields[k.strip()] = v.strip()
    except OSError:
        return ""
    if "cpu family" in fields:
        out.append(f"family {fields['cpu family']} model {fields.get('model', '?')}")
    if "flags" in fields:
        out.append("AVX-512" if "avx512f" in fields["flags"].split() else "no AVX-512")
    for level, idx in (("L2", 2), ("L3", 3)):
        try:
            out.append(f"{level} {Path(f'/sys/devices/system/cpu/cpu0/cache/index{idx}/size').read_text().strip()}")
        except OSError:
            pass
    return ", ".join(out)


def machine_info() -> dict:
    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    details = _cpu_details()
    if details:
        cpu = f"{cpu} ({details})"
    info = {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "numpy": np.__version__}
    try:
        import torch
        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
        info["cuda"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except ImportError:
        info["torch"] = None
    return info


def describe(est) -> str:
    if type(est).__name__ == "InfoNetEstimator":
        path = getattr(est, "path", None)
        src = Path(path).name if path else "in-memory"
        return f"InfoNetEstimator({src}, device={getattr(est, 'device', '?')})"
    return repr(est)


def fmt(v, spec="+.3f") -> str:
    return "-" if v is None or (isinstance(v, float) and np.isnan(v)) else format(v, spec)


def markdown(meta, summary, records, methods, ns, tasks) -> str:
    mi = meta["machine"]
    mine_note = f" (MINE: at most {meta['mine_max_repeats']})" if "MINE" in methods else ""
    repeats = ", ".join(str(meta["repeats"][str(n)]) for n in ns)
    lines = [
        "# Accuracy benchmark",
        "",
        f"- date: {meta['date']}",
        f"- machine: {mi['cpu']}, {mi['cores']} cores, Python {mi['python']}, "
        f"numpy {mi['numpy']}, torch {mi.get('torch')} ({mi.get('torch_threads')} threads), "
        f"CUDA: {mi.get('cuda')}, device: {meta['device']}",
        f"- InfoNet weights: {meta.get('infonet_weights') or '-'} "
        f"(sha256 {meta.get('infonet_weights_sha256', '-')}); estimate: {meta.get('infonet_output', '-')}"
        + (f" (read-out sha256 {meta['readout_sha256']}, step {meta.get('readout_step')})" if meta.get('readout_sha256') else ""),
        f"- methods: {', '.join(f'{m} = {describe(methods[m])}' for m in methods)}",
        f"- data: tasks.suite() ({len(tasks)} tasks) at N = {', '.join(map(str, ns))} with "
        f"{repeats} repeats{mine_note}; seeds data_seed(task, N, repeat) >= 10^7 "
        f"(training uses < 10^6)",
        f"- order accuracy: {meta['order_count']} random 10-component mixtures "
        f"(seeds {meta['order_seeds']}), pairs with |dI| >= {ORDER_MIN_GAP} nats",
        f"- command: `{meta['command']}`  ({meta['wall_seconds']:.0f} s)",
        "",
        "## Summary",
        "",
        "| method | N | MAE (nats) | bias at MI=0 (nats) | rel. error, MI > 1 "
        "| order accuracy (pairs) | s / estimate |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for m in methods:
        for n in ns:
            r = summary.get(f"{m}@{n}")
            if r is None:
                continue
            oa = (f"{100 * r['order_accuracy']:.1f} % ({r['order_pairs']})"
                  if "order_accuracy" in r else "-")
            lines.append(
                f"| {m} | {n} | {r['mae']:.3f} | {fmt(r['bias_at_independence'])} | "
                f"{fmt(100 * r['rel_error_high_mi'], '+.1f')} % | {oa} | "
                f"{r['seconds_per_estimate']:.4f} |")
    lines += ["", "## Mean estimate per task (nats)", ""]
    cols = [(m, n) for m in methods for n in ns]
    lines.append("| task | truth | " + " | ".join(f"{m} {n}" for m, n in cols) + " |")
    lines.append("|---|---:|" + "---:|" * len(cols))
    for t in tasks:
        cells = []
        for m, n in cols:
            v = [r["estimate"] for r in records
                 if r["task"] == t.name and r["method"] == m and r["n"] == n]
            cells.append(f"{np.mean(v):.3f}" if v else "-")
        lines.append(f"| {t.name} | {t.mutual_information:.3f} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- main

def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--methods", default="infonet,infonet_dv,ksg,mine",
                   help="comma list from: infonet, ksg, mine")
    p.add_argument("--weights", default=None,
                   help="InfoNet weights file (default: InfoNetEstimator.pretrained())")
    p.add_argument("--mine-steps", type=int, default=500)
    p.add_argument("--mine-max-repeats", type=int, default=2,
                   help="MINE uses at most this many repeats per (task, N)")
    p.add_argument("--ns", default=None, help="sample sizes (default 256,1000,5000)")
    p.add_argument("--repeats", default=None, help="repeats per N (default 5,5,3)")
    p.add_argument("--order-count", type=int, default=None,
                   help="mixtures for order accuracy (default 40)")
    p.add_argument("--infonet-batch", type=int, default=40,
                   help="max sample sets per InfoNet forward")
    p.add_argument("--device", default="cpu", help="torch device for InfoNet and MINE")
    p.add_argument("--quick", action="store_true",
                   help="N = 256, 1000; 1 repeat; 10 order mixtures; MINE 200 steps")
    p.add_argument("--out", default="bench/results/accuracy.md",
                   help="markdown report; the raw numbers go next to it as .json")
    args = p.parse_args(argv)
    if args.quick:
        args.ns = args.ns or "256,1000"
        args.repeats = args.repeats or "1,1"
        args.order_count = args.order_count or 10
        if args.mine_steps == 500:
            args.mine_steps = 200
    args.ns = [int(v) for v in (args.ns or "256,1000,5000").split(",")]
    args.repeats = [int(v) for v in (args.repeats or "5,5,3").split(",")]
    if len(args.repeats) != len(args.ns):
        p.error(f"--repeats needs one count per N ({len(args.ns)} sizes)")
    if args.order_count is None:
        args.order_count = 40
    return args


def main(argv=None):
    from tqdm import tqdm

    args = parse_args(argv)
    ns, reps = args.ns, args.repeats
    names = [s.strip().lower() for s in args.methods.split(",") if s.strip()]

    t_start = time.perf_counter()
    methods, meta = build_methods(names, args)
    tasks = suite()
    mixtures = order_mixtures(args.order_count)

    # Ground truths first (mixtures: ~1-3 s each by Monte Carlo).
    for t in tqdm(tasks + mixtures, desc="ground truth", unit="task", mininterval=2.0):
        _ = t.mutual_information

    records, order_records = [], []
    work = ([(t, n, r) for t in tasks for n, r in zip(ns, reps)]
            + [(m, n, None) for m in mixtures for n in ns])  # None: order-accuracy set
    bar = tqdm(total=len(work) * len(methods), desc="estimating", unit="set", mininterval=2.0)
    for task, n, r in work:
        count = 1 if r is None else r
        seeds = [data_seed(task.name, n, i) for i in range(count)]
        samples = [task.sample(n, s) for s in seeds]
        xs = np.stack([s[0] for s in samples])
        ys = np.stack([s[1] for s in samples])
        for label, fn in methods.items():
            use = min(count, args.mine_max_repeats) if label == "MINE" else count
            t0 = time.perf_counter()
            est = fn(xs[:use], ys[:use])
            per = (time.perf_counter() - t0) / use
            for i, e in enumerate(est):
                rec = {"method": label, "task": task.name, "n": n, "repeat": i,
                       "seed": seeds[i], "truth": task.mutual_information,
                       "estimate": float(e), "seconds": per}
                (records if r is not None else order_records).append(rec)
            bar.update(1)
    bar.close()

    summary = summarise(records, order_records, list(methods), ns)
    cli = argv if argv is not None else sys.argv[1:]
    first = mixtures[0].name.split("seed=")[1].rstrip(")") if mixtures else "-"
    meta.update({
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "device": args.device,
        "command": " ".join(["bench/accuracy.py"] + list(cli)),
        "repeats": {str(n): r for n, r in zip(ns, reps)},
        "mine_max_repeats": args.mine_max_repeats,
        "mine_steps": args.mine_steps,
        "order_count": args.order_count,
        "order_seeds": f"{first}..+{args.order_count - 1}",
        "wall_seconds": time.perf_counter() - t_start,
    })
    report = markdown(meta, summary, records, {k: v.est for k, v in methods.items()}, ns, tasks)
    print(report)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report)
    raw = {
        "meta": meta,
        "summary": summary,
        "tasks": [{"name": t.name, "truth": t.mutual_information,
                   "truth_stderr": getattr(t, "mi_stderr", 0.0)} for t in tasks + mixtures],
        "records": records,
        "order_records": order_records,
    }
    out.with_suffix(".json").write_text(json.dumps(raw, indent=1, default=str))
    print(f"wrote {out} and {out.with_suffix('.json')}", file=sys.stderr)


if __name__ == "__main__":
    main()
