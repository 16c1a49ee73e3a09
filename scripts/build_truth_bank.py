"""Build the truth bank: parameters and Monte-Carlo / numerical ground-truth MI of the
families without closed forms (``infonet_ros.truth.BANK_FAMILIES``).

    python scripts/build_truth_bank.py                       # -> infonet_ros/data/truth_bank.json
    python scripts/build_truth_bank.py --out runs/bank.json --gmm 2000

Seeded: entry i of a family has seed i (its parameters come from that seed, its Monte
Carlo from a fixed function of it), so the bank is reproducible bit for bit. Resumable:
an existing file is extended, entries already present are kept. Entries with index % 10 == 9
are the validation split (``truth.draw(..., split="val")``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from infonet_ros.truth import BANK_FAMILIES, DEFAULT_BANK, MC_SAMPLES, bank_entry  # noqa: E402


def save(path: Path, fams: dict):
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w") as f:
        json.dump({"mc_samples": MC_SAMPLES, "families": fams}, f, separators=(",", ":"))
    tmp.replace(path)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(DEFAULT_BANK))
    ap.add_argument("--gmm", type=int, default=1000)
    ap.add_argument("--clipped_gauss", type=int, default=500)
    ap.add_argument("--functional", type=int, default=400)
    ap.add_argument("--clayton", type=int, default=100)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    import os
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    fams = json.load(open(path))["families"] if path.is_file() else {}
    t0 = time.time()
    for fam in BANK_FAMILIES:
        want = getattr(args, fam)
        entries = fams.setdefault(fam, [])
        for i in range(len(entries), want):
            entries.append(bank_entry(fam, i))
            if (i + 1) % 50 == 0 or i + 1 == want:
                save(path, fams)
                print(f"{fam}: {i + 1}/{want}  {time.time() - t0:.0f} s", flush=True)
    save(path, fams)
    print(f"bank written to {path} ({path.stat().st_size / 1e3:.0f} kB)")


if __name__ == "__main__":
    main()
