"""Speed benchmark: InfoNet (batched) vs KSG vs MINE on identical inputs.

    python bench/speed.py            # N = 256, 1000, 5000; CPU, plus CUDA when available
    python bench/speed.py --quick    # N = 256, 1000; fewer repeats
    python bench/speed.py --methods ksg,mine
    python bench/speed.py --methods infonet,ksg --ns 1000 --extra-windows 1200,4800   # GPU throughput
    python bench/speed.py --methods infonet,ksg --ns 1000 --contend 2 --infonet-threads 1,0 \
        --out bench/results/speed_contended.md     # both cores busy with other processes

``--contend K`` starts K busy neighbour processes (one core each, as a robot's other software;
``--contend-kind memory``: streaming copies that load the shared cache and memory bus)
for the timed part; ``--infonet-threads`` times InfoNet with each listed thread count in the
same interleaved run (0 = torch's default, one thread per core).

For each N one fixed set of 120 sample pairs (x, y) is drawn (Gaussians and Gaussian
mixtures, seeds data_seed("speed/...", N, i) >= 10^7); every method reads the same arrays.
A "window" is one call: InfoNet ``estimate_batch`` on P = 1, 28 or 120 pairs; KSG and MINE
one ``estimate`` per pair (KSG also as loops over P = 28 and 120 pairs: the same windows).
KSG and InfoNet calls are interleaved round by round (each round: four one-pair KSG calls,
one call of every other KSG/InfoNet window, on every device), so drifts in the speed of this
shared machine hit every method alike; MINE (seconds per call) is timed on its own after
them. Warm-up calls are excluded. Reported: latency per window (p50, p99 over the timed calls),
pair-estimates per second (P / median latency), the ratio of that to KSG at the same N, and
peak memory of one window, measured as:
- numpy (KSG): tracemalloc peak of the call (numpy allocations; scipy's C++ tree internals
  are not traced);
- torch on CPU (InfoNet, MINE): growth of the peak resident set (VmHWM in /proc/self/status;
  getrusage ru_maxrss where that is missing) over one call in a fresh spawned process, after
  the estimator and inputs are set up and one call on a tiny input (64 samples) has done
  torch's one-time initialisation (MINE: a 20-step run). Page-granular and blind to
  allocations that reuse freed heap: values below ~1 MiB read as 0;
- CUDA: torch.cuda.max_memory_allocated() minus the memory allocated before the call.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from infonet_ros.baselines import KSG, MINE  # noqa: E402
from infonet_ros.tasks import BivariateGaussian, GaussianMixture, data_seed  # noqa: E402
from accuracy import load_infonet, machine_info, sha256_prefix, weights_file  # noqa: E402
from infonet_ros.runtime import tune_malloc  # noqa: E402

tune_malloc()  # as the node and the bag tools do; also in the spawned memory probes

P_MAX = 120
WINDOWS = (1, 28, 120)  # pairs per window (one call)
MINE_REPEATS = {256: 5, 1000: 3, 5000: 2}


def make_inputs(n: int) -> tuple[np.ndarray, np.ndarray]:
    """[P_MAX, n] x and y: the same arrays for every method."""
    kinds = [BivariateGaussian(r) for r in (0.0, 0.3, 0.6, 0.9)] + \
            [GaussianMixture.random(k, 40_000_000 + k) for k in (2, 5, 10, 20)]
    xs, ys = np.empty((P_MAX, n)), np.empty((P_MAX, n))
    for i in range(P_MAX):
        task = kinds[i % len(kinds)]
        xs[i], ys[i] = task.sample(n, data_seed(f"speed/{task.name}", n, i))
    return xs, ys


# ---------------------------------------------------------------- memory

def _peak_rss_kib() -> int:
    """Peak resident set of this process image (VmHWM), KiB. ru_maxrss is the fallback;
    unlike VmHWM it carries the parent's peak over fork + exec on Linux."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _fresh_process_peak(spec: dict) -> float:
    """In a fresh (spawned) process: build the estimator and inputs, then return the growth
    of the peak RSS (MiB) over one call. The process never ran the call before, so the
    growth is the call's peak working memory above everything set up before it."""
    xs, ys = make_inputs(spec["n"])
    p = spec["p"]
    reps = -(-p // P_MAX)  # windows beyond the 120 fixed pairs repeat them (as when timed)
    xs, ys = np.tile(xs, (reps, 1)), np.tile(ys, (reps, 1))
    if spec["method"] == "InfoNet":
        est = load_infonet(spec["weights"], spec["device"], readout=spec.get("readout", True))
        est.estimate_batch(xs[:1, :64], ys[:1, :64])  # one-time set-up on a tiny input
        call = lambda: est.estimate_batch(xs[:p], ys[:p])  # noqa: E731
    else:
        est = MINE(steps=spec["steps"], device=spec["device"])
        MINE(steps=2, device=spec["device"]).estimate(xs[0, :64], ys[0, :64])
        call = lambda: est.estimate(xs[0], ys[0])  # noqa: E731
    before = _peak_rss_kib()
    call()
    return (_peak_rss_kib() - before) / 1024.0


def peak_memory(call, kind: str, spec: dict | None = None) -> tuple[float, str]:
    """Peak memory (MiB) of one call, and what was measured."""
    if kind == "cuda":
        import torch
        torch.cuda.synchronize()
        before = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        call()
        torch.cuda.synchronize()
        mib = (torch.cuda.max_memory_allocated() - before) / 2 ** 20
        return mib, "CUDA: max_memory_allocated growth"
    if kind == "numpy":
        tracemalloc.start()
        try:
            call()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        return peak / 2 ** 20, "numpy: tracemalloc peak"
    import multiprocessing as mp
    with mp.get_context("spawn").Pool(1) as pool:
        mib = pool.apply(_fresh_process_peak, (spec,))
    return mib, "torch CPU: peak-RSS (VmHWM) growth of one call in a fresh process"


# ---------------------------------------------------------------- timing

class Group:
    """One (method, device, pairs per window) row: its calls and their latencies."""

    def __init__(self, method, device, p, calls, per_round=1, max_calls=200, note=""):
        self.method, self.device, self.p, self.calls = method, device, p, calls
        self.per_round, self.max_calls, self.note = per_round, max_calls, note
        self.lat: list[float] = []
        self._i = 0

    def run(self, n_calls: int, record: bool = True):
        for _ in range(n_calls):
            fn = self.calls[self._i % len(self.calls)]
            self._i += 1
            t0 = time.perf_counter()
            fn()
            if record:
                self.lat.append(time.perf_counter() - t0)

    @property
    def full(self) -> bool:
        return len(self.lat) >= self.max_calls


def time_interleaved(groups: list[Group], min_rounds: int, budget_s: float, warmup: int = 2):
    """Round-robin timing: every round runs each group's ``per_round`` calls in turn, so a
    slow or fast spell of this shared machine hits all methods alike and the ratios to KSG
    stay fair. The order is shuffled every round (seeded), so every group follows every
    other equally often: a call right after a call of the same code finds its caches
    warm, one after another method's finds them cold, and a fixed order gave a ~5 % edge
    to the estimator that ran right after a copy of itself (``bench/speed_ab.py`` of a
    revision against itself; a rotating order keeps who follows whom, and the edge).
    Warm-up calls (untimed) first; then rounds until ``min_rounds`` are done and either
    the time budget is spent or every group has ``max_calls`` latencies (a full group drops
    out of later rounds)."""
    for g in groups:
        g.run(warmup, record=False)
    order = np.random.default_rng(0)
    t_start, rounds = time.perf_counter(), 0
    while rounds < min_rounds or (time.perf_counter() - t_start < budget_s
                                  and not all(g.full for g in groups)):
        for i in order.permutation(len(groups)):
            g = groups[i]
            if rounds < min_rounds or not g.full:
                g.run(g.per_round)
        rounds += 1
    return rounds


def row(method, device, n, p, lat, mem, mem_kind, note=""):
    p50 = float(np.median(lat))
    return {"method": method, "device": device, "n": n, "pairs_per_window": p,
            "calls": len(lat), "latency_p50_ms": 1e3 * p50,
            "latency_p99_ms": 1e3 * float(np.percentile(lat, 99)),
            "pairs_per_second": p / p50, "peak_mem_mib": mem, "mem_measure": mem_kind,
            "note": note}


def ksg_groups(xs, ys) -> list[Group]:
    ksg = KSG(k=3)
    groups = [Group("KSG", "cpu", 1, [lambda i=i: ksg.estimate(xs[i], ys[i]) for i in range(P_MAX)],
                    per_round=4, max_calls=400, note="estimate")]
    for p in WINDOWS[1:]:
        groups.append(Group("KSG", "cpu", p, [lambda p=p: ksg.estimate_batch(xs[:p], ys[:p])],
                            max_calls=30 if p <= 28 else 8, note=f"loop over {p} pairs"))
    return groups


def infonet_groups(est, device, xs, ys, extra: tuple[int, ...] = ()) -> list[Group]:
    """InfoNet windows of WINDOWS pairs, plus ``extra`` windows (GPU throughput: pairs
    beyond the 120 fixed ones repeat them, which changes nothing for the timing)."""
    groups = []
    for p in WINDOWS + tuple(extra):
        if p == 1:
            calls = [lambda i=i: est.estimate_batch(xs[i:i + 1], ys[i:i + 1]) for i in range(P_MAX)]
        else:
            reps = -(-p // P_MAX)
            bx, by = np.tile(xs, (reps, 1))[:p], np.tile(ys, (reps, 1))[:p]
            calls = [lambda bx=bx, by=by: est.estimate_batch(bx, by)]
        # estimate_batch returns numpy arrays, so every timed call includes the CUDA sync.
        groups.append(Group("InfoNet", device, p, calls, per_round=4 if p == 1 else 1,
                            max_calls=400 if p == 1 else 200, note="estimate_batch"))
    return groups


def bench_timed(xs, ys, n, quick, ksg: bool, infonet: dict, weights, extra=()) -> list[dict]:
    """KSG and InfoNet (every device) timed in one interleaved run; then peak memory."""
    groups = (ksg_groups(xs, ys) if ksg else [])
    for (device, label), est in infonet.items():
        for g in infonet_groups(est, device, xs, ys, extra):
            g.note = f"{g.note}, {label}" if label else g.note
            groups.append(g)
    if not groups:
        return []
    time_interleaved(groups, min_rounds=5 if quick else 10, budget_s=4 if quick else 20)
    rows = []
    for g in groups:
        if g.method == "KSG":
            ksg_est = KSG(k=3)
            mem, kind = peak_memory(lambda: ksg_est.estimate(xs[0], ys[0]), "numpy")
        else:
            spec = {"method": "InfoNet", "device": g.device, "n": n, "p": g.p, "weights": weights,
                    "readout": "raw DV" not in g.note}
            mem, kind = peak_memory(g.calls[0], "cuda" if g.device == "cuda" else "torch-cpu", spec)
        rows.append(row(g.method, g.device, n, g.p, g.lat, mem, kind, g.note))
    return rows


def bench_mine(device, xs, ys, n, quick, steps):
    mine = MINE(steps=steps, device=device)
    MINE(steps=10, device=device).estimate(xs[0], ys[0])  # warm-up (allocator, kernels)
    reps = 1 if quick else MINE_REPEATS.get(n, 2)
    group = Group("MINE", device, 1, [lambda i=i: mine.estimate(xs[i], ys[i]) for i in range(reps)])
    group.run(reps)  # seconds per call: timed on its own, after KSG and InfoNet
    lat = group.lat
    spec = {"method": "MINE", "device": device, "n": n, "p": 1, "steps": 20}
    mem, kind = peak_memory(lambda: MINE(steps=20, device=device).estimate(xs[0], ys[0]),
                            "cuda" if device == "cuda" else "torch-cpu", spec)
    return [row("MINE", device, n, 1, lat, mem, kind,
                f"{steps} steps, {reps} timed run(s); memory of a 20-step run")]


# ---------------------------------------------------------------- report

def _num(v: float) -> str:
    return f"{v:.0f}" if abs(v) >= 100 else f"{v:.3g}"


def markdown(meta, rows) -> str:
    mi = meta["machine"]
    ksg_rate = {r["n"]: r["pairs_per_second"] for r in rows
                if r["method"] == "KSG" and r["pairs_per_window"] == 1}
    lines = [
        "# Speed benchmark",
        "",
        f"- date: {meta['date']}",
        f"- machine: {mi['cpu']}, {mi['cores']} cores, Python {mi['python']}, "
        f"numpy {mi['numpy']}, torch {mi.get('torch')} ({mi.get('torch_threads')} threads; "
        f"MINE runs single-threaded), CUDA: {mi.get('cuda')}",
        f"- load average at start: {meta['loadavg']}; busy neighbour processes during the "
        f"timing: {meta.get('contend', 0)}"
        + (f" ({meta.get('contend_kind', 'cpu')})" if meta.get('contend') else ""),
        f"- InfoNet weights: {meta.get('infonet_weights') or '-'} "
        f"(sha256 {meta.get('infonet_weights_sha256', '-')})",
        f"- inputs: {P_MAX} fixed pairs per N (Gaussians, Gaussian mixtures), identical for "
        "every method; warm-up excluded; latency = one call (window of P pairs)",
        f"- command: `{meta['command']}`",
        "",
        "| method | device | N | pairs / window | latency p50 (ms) | p99 (ms) | pairs / s "
        "| x KSG | peak mem (MiB) | calls | notes |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        ratio = r["pairs_per_second"] / ksg_rate[r["n"]] if r["n"] in ksg_rate else float("nan")
        lines.append(
            f"| {r['method']} | {r['device']} | {r['n']} | {r['pairs_per_window']} | "
            f"{r['latency_p50_ms']:.2f} | {r['latency_p99_ms']:.2f} | "
            f"{_num(r['pairs_per_second'])} | {_num(ratio)} | {r['peak_mem_mib']:.3g} | "
            f"{r['calls']} | {r['note']} |")
    measures = "; ".join(sorted({r["mem_measure"] for r in rows}))
    lines += ["", "x KSG: pairs / s relative to KSG's one-pair calls at the same N.",
              f"Peak memory of one window: {measures} (details in the bench/speed.py docstring)."]
    return "\n".join(lines) + "\n"


def _spin(stop):
    """A busy neighbour: pure-Python arithmetic until told to stop (exactly one core)."""
    x = 0
    while not stop.is_set():
        for i in range(20000):
            x = (x + i * i) % 1000003


def _stream(stop):
    """A memory-bound neighbour: copies between two 64 MiB arrays until told to stop (one
    core, and most of the shared L3 and memory bus: what a point-cloud or image pipeline
    next to the estimator does)."""
    a = np.ones(8 * 2**20)
    b = np.empty_like(a)
    while not stop.is_set():
        np.copyto(b, a)
        a += 1.0


NEIGHBOURS = {"cpu": _spin, "memory": _stream}


class busy_neighbours:
    """Context: ``k`` processes keeping a core busy each (the robot's other software):
    ``kind`` "cpu" (pure-Python arithmetic, in cache) or "memory" (streaming copies)."""

    def __init__(self, k: int, kind: str = "cpu"):
        self.k, self.kind, self.procs = k, kind, []

    def __enter__(self):
        import multiprocessing as mp
        ctx = mp.get_context("spawn")
        self.stop = ctx.Event()
        target = NEIGHBOURS[self.kind]
        self.procs = [ctx.Process(target=target, args=(self.stop,), daemon=True) for _ in range(self.k)]
        for proc in self.procs:
            proc.start()
        if self.procs:
            time.sleep(1.0)   # let them reach full speed
        return self

    def __exit__(self, *exc):
        if self.procs:
            self.stop.set()
            for proc in self.procs:
                proc.join(5)
                if proc.is_alive():
                    proc.terminate()
        return False


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--methods", default="infonet,ksg,mine")
    p.add_argument("--weights", default=None,
                   help="InfoNet weights file (default: InfoNetEstimator.pretrained())")
    p.add_argument("--ns", default=None, help="default 256,1000,5000 (quick: 256,1000)")
    p.add_argument("--mine-steps", type=int, default=500)
    p.add_argument("--no-cuda", action="store_true", help="CPU only even when CUDA is present")
    p.add_argument("--quick", action="store_true", help="N = 256, 1000; fewer repeats")
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads for InfoNet (default 1, like the node and the library; "
                        "0 = torch's default, one per core; KSG is single-threaded, MINE sets its own)")
    p.add_argument("--infonet-threads", default=None,
                   help="comma list of thread counts: InfoNet timed with each in the same run "
                        "(0 = torch's default); default: --threads")
    p.add_argument("--contend", type=int, default=0,
                   help="busy neighbour processes running during the timed part (default 0)")
    p.add_argument("--contend-kind", choices=sorted(NEIGHBOURS), default="cpu",
                   help="what the neighbours do: cpu (arithmetic in cache, default) or memory "
                        "(streaming copies of 64 MiB arrays: shared cache and memory bus)")
    p.add_argument("--extra-windows", default="",
                   help="more InfoNet windows (pairs per call, comma list), e.g. 1200,4800 for GPU "
                        "throughput; pairs beyond the 120 fixed ones repeat them")
    p.add_argument("--dv", action="store_true",
                   help="also time the network's raw DV value without the read-out (same rounds)")
    p.add_argument("--readout", default=None,
                   help="also time a candidate read-out file (e.g. runs/readout_v6d/"
                        "best.safetensors) beside the shipped one, in the same rounds")
    p.add_argument("--readout-weights", default=None,
                   help="InfoNet weights for the --readout row (a read-out trained on another network's "
                        "features, e.g. checkpoints/infonet_small/infonet.safetensors); default: --weights")
    p.add_argument("--out", default="bench/results/speed.md")
    args = p.parse_args(argv)
    from tqdm import tqdm

    methods = [s.strip().lower() for s in args.methods.split(",") if s.strip()]
    for m in methods:
        if m not in ("infonet", "ksg", "mine"):
            p.error(f"--methods: unknown method {m!r}; choose from infonet, ksg, mine")
    ns = [int(v) for v in (args.ns or ("256,1000" if args.quick else "256,1000,5000")).split(",")]
    try:
        extra = tuple(int(v) for v in args.extra_windows.split(",") if v.strip())
    except ValueError:
        p.error(f"--extra-windows: expected a comma list of integers, got {args.extra_windows!r}")
    if any(v < 1 for v in extra):
        p.error("--extra-windows: every window needs at least one pair")
    devices = ["cpu"]
    import torch
    if args.threads < 0:
        p.error("--threads must be >= 0")
    try:
        thread_list = [int(v) for v in (args.infonet_threads or str(args.threads)).split(",")]
    except ValueError:
        p.error(f"--infonet-threads: expected a comma list of integers, got {args.infonet_threads!r}")
    if any(t < 0 for t in thread_list) or args.contend < 0:
        p.error("--infonet-threads and --contend take integers >= 0")
    default_threads = torch.get_num_threads()   # torch's own choice: one per core
    torch.set_num_threads(args.threads or default_threads)
    if torch.cuda.is_available() and not args.no_cuda:
        devices.append("cuda")

    meta = {"loadavg": " ".join(f"{v:.2f}" for v in os.getloadavg()), "contend": args.contend,
            "contend_kind": args.contend_kind}
    infonet = {}
    if "infonet" in methods:
        for d in devices:
            for t in (thread_list if d == "cpu" else [thread_list[0]]):
                label = "" if len(thread_list) == 1 else (
                    f"{t} thread(s)" if t else f"torch default ({default_threads} threads)")
                infonet[(d, label)] = load_infonet(args.weights, d, threads=t or default_threads)
                if args.readout:   # a candidate read-out, timed in the same rounds
                    infonet[(d, f"{label} read-out {Path(args.readout).parent.name}".strip())] = \
                        load_infonet(args.readout_weights or args.weights, d, threads=t or default_threads,
                                     readout=args.readout)
            if args.dv and not args.weights:  # the network alone, timed in the same rounds
                t = thread_list[0]
                infonet[(d, "raw DV, no read-out")] = load_infonet(None, d, threads=t or default_threads, readout=False)
        path = weights_file(next(iter(infonet.values())), args.weights)
        meta["infonet_weights"], meta["infonet_weights_sha256"] = path, sha256_prefix(path)

    rows = []
    with busy_neighbours(args.contend, args.contend_kind):
        for n in tqdm(ns, desc="N", unit="size"):
            xs, ys = make_inputs(n)
            rows += bench_timed(xs, ys, n, args.quick, "ksg" in methods, infonet, args.weights, extra)
            if "mine" in methods:
                for device in devices:
                    rows += bench_mine(device, xs, ys, n, args.quick, args.mine_steps)

    cli = argv if argv is not None else sys.argv[1:]
    meta.update({
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "command": " ".join(["bench/speed.py"] + list(cli)),
    })
    report = markdown(meta, rows)
    print(report)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report)
    raw = {"meta": meta, "rows": rows}
    out.with_suffix(".json").write_text(json.dumps(raw, indent=1, default=str))
    print(f"wrote {out} and {out.with_suffix('.json')}", file=sys.stderr)


if __name__ == "__main__":
    main()
