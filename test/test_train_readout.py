"""train_readout end to end on a tiny run: shards written with their column names, legacy
shards (no names, LEGACY_COLUMNS columns) selected by name, resume, and a loadable read-out
that names its features."""

import json
from pathlib import Path

import numpy as np
import pytest

from infonet_ros import train_readout as TR
from infonet_ros.readout import FEATURE_NAMES, LEGACY_COLUMNS, SupervisedReadout

ROOT = Path(__file__).resolve().parents[1]
TINY = ["n_min=64", "n_max=96", "chunk=8", "chunks_per_shard=1", "n_shards=3", "initial_shards=2",
        "steps_per_shard=10", "val_ns=[64]", "val_chunks=1", "val_heldout_chunks=1", "hidden=8", "layers=1",
        "batch=16", "eval_every=10", "threads=1"]


def _run(out, *extra):
    TR.main(["--config", "/nonexistent.yaml", "--set", f"out_dir={out}", *TINY, *extra])


def test_tiny_run_writes_named_shards_and_a_loadable_readout(tmp_path):
    out = tmp_path / "run"
    _run(out, "max_steps=20")
    z = np.load(out / "shards" / "shard_00000.npz")
    assert list(z["names"]) == list(FEATURE_NAMES) and z["features"].shape == (8, len(FEATURE_NAMES))
    assert (out / "shards" / "shard_00002.npz").is_file()  # a third shard joined at step 10
    ro = SupervisedReadout.load(out / "best.safetensors")
    assert ro.feature_names == tuple(FEATURE_NAMES)
    x = np.random.default_rng(0).normal(size=(2, 100))
    lo, mid, hi = ro.interval_batch(x, x + 0.1)
    assert np.all(lo <= mid) and np.all(mid <= hi)
    _run(out, "max_steps=30")  # resumes from the state
    steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == [10, 20, 30]


def test_legacy_shards_are_selected_by_name(tmp_path):
    out = tmp_path / "run"
    (out / "shards").mkdir(parents=True)
    rng = np.random.default_rng(1)
    legacy = rng.normal(size=(8, len(LEGACY_COLUMNS))).astype(np.float32)
    for i in range(2):  # written the way read-outs v2-v4 wrote them: no names
        np.savez(out / "shards" / f"shard_{i:05d}.npz", features=legacy, mi=np.abs(rng.normal(size=8)),
                 family=np.array(["gauss"] * 8))
    feats = ["log_n", "hist_f2", "vasicek_m64", "infonet_mi", "infonet_tstd", "infonet_tmax"]
    # legacy shards carry no network sha256: they were made with the first network (v1)
    v1 = f"infonet={ROOT / 'checkpoints' / 'infonet_v1' / 'infonet.safetensors'}"
    _run(out, "max_steps=10", f"features={json.dumps(feats)}", v1)
    norm = json.loads((out / "norm.json").read_text())
    cols = [LEGACY_COLUMNS.index(f) for f in feats]
    np.testing.assert_allclose(norm["mean"], legacy[:, cols].mean(0), rtol=1e-5)
    assert SupervisedReadout.load(out / "best.safetensors").feature_names == tuple(feats)
    # a feature legacy shards never computed (box_f5) is asked for by name: a clear error
    with pytest.raises(SystemExit, match=r"has no columns \['box_f5'\]"):
        _run(tmp_path / "run", "max_steps=20", f"features={json.dumps(['log_n', 'box_f5', *feats[-3:]])}", v1)
    with pytest.raises(SystemExit, match="unknown features"):
        _run(tmp_path / "bad", "max_steps=10", 'features=["log_n", "hist_f9", "infonet_mi", "infonet_tstd", "infonet_tmax"]')


def test_data_dir_reuses_another_runs_sets_by_name(tmp_path):
    """A second run (fewer features, its own out_dir) reads the first run's shards and
    validation sets through ``data_dir`` instead of recomputing them."""
    first = tmp_path / "first"
    _run(first, "max_steps=10")
    stamp = {p.name: p.stat().st_mtime_ns for p in (first / "shards").iterdir()}
    feats = ["log_n", "hist_f0.8", "vasicek_m64", "infonet_mi", "infonet_tstd", "infonet_tmax"]
    second = tmp_path / "second"
    _run(second, "max_steps=10", f"data_dir={first}", f"features={json.dumps(feats)}")
    assert not (second / "shards").exists() and not (second / "val.npz").exists()
    assert {p.name: p.stat().st_mtime_ns for p in (first / "shards").iterdir()} == stamp  # read, not rewritten
    z = np.load(first / "shards" / "shard_00000.npz")
    cols = [list(z["names"]).index(f) for f in feats]
    norm = json.loads((second / "norm.json").read_text())
    shards = [np.load(first / "shards" / f"shard_{i:05d}.npz")["features"] for i in range(2)]
    np.testing.assert_allclose(norm["mean"], np.concatenate(shards)[:, cols].mean(0), rtol=1e-5)
    assert SupervisedReadout.load(second / "best.safetensors").feature_names == tuple(feats)


def test_shard_features_store_a_superset_that_other_runs_select_from(tmp_path):
    """shard_features: the shards and validation sets hold more columns than the run
    trains on; a second run with another feature set reads them through data_dir."""
    first = tmp_path / "first"
    store = ["log_n", "hist_f0.8", "abs_ns", "box_f10", "gauss_ns", "infonet_mi", "infonet_tstd", "infonet_tmax"]
    feats = ["log_n", "gauss_ns", "infonet_mi", "infonet_tstd", "infonet_tmax"]
    _run(first, "max_steps=10", f"features={json.dumps(feats)}", f"shard_features={json.dumps(store)}")
    z = np.load(first / "shards" / "shard_00000.npz")
    assert list(z["names"]) == store and z["features"].shape == (8, len(store))
    assert list(np.load(first / "val.npz")["names"]) == store
    assert SupervisedReadout.load(first / "best.safetensors").feature_names == tuple(feats)
    other = ["log_n", "abs_ns", "box_f10", "infonet_mi", "infonet_tstd", "infonet_tmax"]
    _run(tmp_path / "second", "max_steps=10", f"data_dir={first}", f"features={json.dumps(other)}")
    assert SupervisedReadout.load(tmp_path / "second" / "best.safetensors").feature_names == tuple(other)
    with pytest.raises(SystemExit, match=r"shard_features must hold every one of features; missing \['hist_f2'\]"):
        _run(tmp_path / "bad", "max_steps=10", f"shard_features={json.dumps(feats)}",
             f"features={json.dumps(['log_n', 'hist_f2', *feats[2:]])}")


def test_infonet_option_trains_a_readout_for_another_network(tmp_path):
    """config infonet: the infonet_* columns come from that network's forward pass, shards and
    validation sets record its sha256, the read-out names it (so only an estimator with those
    weights accepts it), and a run with another network refuses those sets."""
    import torch

    from infonet_ros.checkpoint import save_weights
    from infonet_ros.estimator import InfoNetEstimator
    from infonet_ros.model import InfoNet, InfoNetConfig

    torch.manual_seed(0)
    small = InfoNetConfig(grid_size=12, input_grid=8, n_latents=4, dim=16)
    net_path = save_weights(tmp_path / "small.safetensors", InfoNet(small))
    first = tmp_path / "small_run"
    _run(first, "max_steps=10", f"infonet={net_path}")
    sha = TR.infonet_weights_sha(net_path)
    assert sha != TR.LEGACY_INFONET_SHA
    z = np.load(first / "shards" / "shard_00000.npz")
    assert str(z["infonet_sha256"]) == sha and str(np.load(first / "val.npz")["infonet_sha256"]) == sha
    ro = SupervisedReadout.load(first / "best.safetensors")
    assert ro.info["infonet_sha256"] == sha
    # the columns are the small network's: recompute the first chunk's with it and with the bundled one
    import yaml
    cfg = {**TR.DEFAULTS, **{k: yaml.safe_load(v) for k, v in (a.split("=", 1) for a in TINY)},
           "shard_features": list(FEATURE_NAMES)}  # the tiny run's settings, as main() parses them
    bank = TR.truth.load_bank(None)
    fams = sorted(cfg["family_weights"])
    probs = np.array([cfg["family_weights"][f] for f in fams]) / sum(cfg["family_weights"].values())
    mine = TR.make_shard(cfg, bank, 0, fams, probs, InfoNetEstimator.load(net_path).model)[0]
    np.testing.assert_allclose(z["features"], mine, rtol=1e-5, atol=1e-6)
    bundled = TR.make_shard(cfg, bank, 0, fams, probs)[0]
    assert np.abs(bundled[:, -3:] - mine[:, -3:]).max() > 1e-3
    np.testing.assert_allclose(bundled[:, :-3], mine[:, :-3])  # the rank statistics do not depend on it
    InfoNetEstimator.load(net_path, readout=first / "best.safetensors")  # the matching network: accepted
    with pytest.raises(ValueError, match=f"trained on the features of InfoNet weights sha256 {sha}"):
        InfoNetEstimator.pretrained(readout=first / "best.safetensors")
    with pytest.raises(SystemExit, match=f"infonet_\\* columns come from InfoNet weights sha256 {sha}"):
        _run(tmp_path / "bundled_run", "max_steps=10", f"data_dir={first}")
    with pytest.raises(SystemExit, match="config infonet: cannot load"):
        _run(tmp_path / "bad", "max_steps=10", f"infonet={tmp_path / 'missing.safetensors'}")


def test_zero_boost_can_weight_the_median_only():
    """zero_boost_quantiles=[1]: MI = 0 sets at small N weigh more in the median's loss only;
    with every quantile boosted the weights (and the loss) are the per-set form."""
    import torch

    from infonet_ros.readout import pinball_loss
    logn = torch.log(torch.tensor([64.0, 64.0, 5000.0]))
    y = torch.tensor([0.0, 0.3, 0.0])
    w_all = TR.loss_weights(logn, y, 3.0, [0, 1, 2])
    w_mid = TR.loss_weights(logn, y, 3.0, [1])
    plain = TR.n_weight(logn)
    assert w_all.shape == (3,) and w_mid.shape == (3, 3)
    assert torch.allclose(w_all, TR.n_weight(logn, y, 3.0))
    assert w_all[0] == pytest.approx(4.0 * plain[0])  # MI = 0 at N = 64: 1 + 3
    assert torch.equal(w_mid[:, 1], w_all) and torch.equal(w_mid[:, 0], plain) and torch.equal(w_mid[:, 2], plain)
    q = torch.tensor([[0.0, 0.1, 0.4], [0.1, 0.2, 0.5], [0.0, 0.05, 0.2]])
    assert pinball_loss(q, y, w_all[:, None].expand(3, 3)) == pytest.approx(float(pinball_loss(q, y, w_all)))
    # the boost moves the median's loss only: tails weighted as without a boost
    d = pinball_loss(q, y, w_mid) * w_mid.mean(-1).sum()
    tau = torch.tensor([0.05, 0.5, 0.95])
    per = torch.maximum(tau * (y[:, None] - q), (tau - 1) * (y[:, None] - q))
    assert float(d) == pytest.approx(float((per[:, 1] * w_all).sum() + (per[:, [0, 2]] * plain[:, None]).sum()))


def test_zero_boost_quantiles_is_checked(tmp_path):
    with pytest.raises(SystemExit, match="zero_boost_quantiles"):
        _run(tmp_path / "run", "max_steps=10", "zero_boost_quantiles=[3]")
