"""Estimator core: shapes, invariances, determinism, gradients, bad input, and a tiny fit.

Structural properties hold for any weights, so most tests use a freshly initialised network
(seeded); the trained weights are checked in test_pretrained.py.
"""

import math
import warnings

import numpy as np
import pytest
import torch

from infonet_ros import InfoNetEstimator
from infonet_ros.checkpoint import load_weights, save_weights
from infonet_ros.model import InfoNet, InfoNetConfig

SMALL = InfoNetConfig(grid_size=16, input_grid=16, n_latents=16, dim=32, n_heads=2, n_layers=1, n_freq=8)


@pytest.fixture(scope="module")
def est():
    torch.manual_seed(0)
    model = InfoNet(SMALL)
    # random but non-trivial: scale the decoder so tables are far from constant
    with torch.no_grad():
        model.dec_v.weight.mul_(20.0)
    return InfoNetEstimator(model, device="cpu")


def gaussian(n, rho, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n)
    return x, rho * x + math.sqrt(1 - rho**2) * rng.standard_normal(n)


@pytest.mark.parametrize("p,n", [(1, 32), (3, 100), (7, 1000), (2, 10_000)])
def test_batch_shapes(est, p, n):
    rng = np.random.default_rng(p)
    xs, ys = rng.standard_normal((p, n)), rng.standard_normal((p, n))
    mi = est.estimate_batch(xs, ys)
    assert mi.shape == (p,)
    assert np.isfinite(mi).all() and (mi >= 0).all()
    # the batch agrees with one-at-a-time estimates
    single = [est.estimate(xs[i], ys[i]) for i in range(p)]
    np.testing.assert_allclose(mi, single, atol=1e-5)


def test_matrix_and_pairs(est):
    rng = np.random.default_rng(1)
    data = rng.standard_normal((500, 4))
    data[:, 1] += data[:, 0]
    m = est.estimate_matrix(data)
    assert m.shape == (4, 4)
    np.testing.assert_array_equal(np.diag(m), 0.0)
    np.testing.assert_allclose(m, m.T)
    pairs = [(0, 1), (2, 3), (3, 0)]
    np.testing.assert_allclose(est.estimate_pairs(data, pairs), [m[0, 1], m[2, 3], m[3, 0]], atol=1e-6)


def test_accepts_lists_and_tensors(est):
    x, y = gaussian(200, 0.5, 2)
    ref = est.estimate(x, y)
    assert est.estimate(list(x), list(y)) == pytest.approx(ref, abs=1e-6)
    assert est.estimate(torch.tensor(x), torch.tensor(y, dtype=torch.float32)) == pytest.approx(ref, abs=1e-6)


def test_permutation_invariance(est):
    x, y = gaussian(777, 0.7, 3)
    perm = np.random.default_rng(4).permutation(777)
    raw = lambda a, b: est._forward_points(torch.stack([est._ranks(a[None])[0], est._ranks(b[None])[0]], -1))[0]  # noqa: E731
    assert raw(x[perm], y[perm]) == pytest.approx(raw(x, y), abs=1e-5)
    # also with ties (quantised sensor data)
    xq, yq = np.round(x * 2), np.round(y)
    assert raw(xq[perm], yq[perm]) == pytest.approx(raw(xq, yq), abs=1e-5)


def test_determinism(est):
    x, y = gaussian(1000, 0.6, 5)
    vals = {est.estimate(x, y) for _ in range(3)}
    assert len(vals) == 1  # bit-identical on CPU


def test_symmetry(est):
    x, y = gaussian(1000, 0.6, 6)
    raw = lambda a, b: est._forward_points(torch.stack([est._ranks(a[None])[0], est._ranks(b[None])[0]], -1))[0]  # noqa: E731
    assert raw(y, x) == pytest.approx(raw(x, y), abs=1e-5)
    assert abs(raw(x, y)) > 1e-4  # the check above is not trivially 0 == 0
    m = est.model(torch.stack([est._ranks(x[None])[0], est._ranks(y[None])[0]], -1))
    mt = est.model(torch.stack([est._ranks(y[None])[0], est._ranks(x[None])[0]], -1))
    torch.testing.assert_close(m["tables"], mt["tables"].transpose(-1, -2), atol=1e-5, rtol=1e-5)


def test_copula_invariance(est):
    x, y = gaussian(1000, 0.8, 7)
    ref = est.estimate(x, y)
    for f in (np.exp, lambda t: t**3, np.arcsinh, lambda t: 5 * t - 3):
        assert est.estimate(f(x), y) == pytest.approx(ref, abs=1e-6)


def test_mi_gradients(est):
    x, y = gaussian(300, 0.8, 8)
    xt = torch.tensor(x, requires_grad=True)
    yt = torch.tensor(y, requires_grad=True)
    m = est.mi(xt, yt)
    assert m.dim() == 0 and torch.isfinite(m)
    m.backward()
    for g in (xt.grad, yt.grad):
        assert g is not None and torch.isfinite(g).all() and g.abs().sum() > 0
    # the soft-rank path agrees with the hard-rank path
    assert m.item() == pytest.approx(est._forward_points(torch.stack([est._ranks(x[None])[0], est._ranks(y[None])[0]], -1))[0], abs=0.02)


def test_sliced(est):
    rng = np.random.default_rng(9)
    X, Y = rng.standard_normal((400, 6)), rng.standard_normal((400, 3))
    a = est.estimate_sliced(X, Y, n_projections=32, seed=1)
    assert a == est.estimate_sliced(X, Y, n_projections=32, seed=1)
    assert np.isfinite(a) and a >= 0


@pytest.mark.parametrize(
    "x,y,match",
    [
        (np.r_[np.nan, np.zeros(99)], np.arange(100.0), "NaN/Inf"),
        (np.r_[np.inf, np.arange(99.0)], np.arange(100.0), "NaN/Inf"),
        (np.arange(100.0), np.arange(99.0), "equal length"),
        (np.arange(10.0), np.arange(10.0), "at least 32"),
        (np.zeros((100, 2)), np.zeros((100, 2)), "1 dimension"),
        (["a"] * 100, np.arange(100.0), "numeric"),
        ([[1, 2], [3]], np.arange(2.0), "rectangular|numeric|dimension"),
    ],
)
def test_bad_input(est, x, y, match):
    with pytest.raises(ValueError, match=match):
        est.estimate(x, y)


def test_bad_batch_and_pairs(est):
    with pytest.raises(ValueError, match="same shape"):
        est.estimate_batch(np.zeros((2, 100)), np.zeros((3, 100)))
    with pytest.raises(ValueError, match="out of range"):
        est.estimate_pairs(np.random.default_rng(0).standard_normal((100, 2)), [(0, 2)])
    with pytest.raises(ValueError, match="same number of samples"):
        est.estimate_sliced(np.zeros((100, 3)), np.zeros((90, 2)))


def test_constant_input_is_zero_with_warning(est):
    y = np.random.default_rng(0).standard_normal(100)
    with pytest.warns(RuntimeWarning, match="constant"):
        assert est.estimate(np.full(100, 3.0), y) == 0.0
    with pytest.warns(RuntimeWarning, match="constant"):
        out = est.estimate_batch(np.stack([np.full(100, 1.0), y]), np.stack([y, y[::-1]]))
    assert out[0] == 0.0 and np.isfinite(out).all()


def test_device_errors():
    with pytest.raises(ValueError, match="device"):
        InfoNetEstimator(InfoNet(SMALL), device="tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            InfoNetEstimator(InfoNet(SMALL), device="cuda:1")


def test_checkpoint_roundtrip_and_mismatch(tmp_path, est):
    p = save_weights(tmp_path / "m.safetensors", est.model, {"note": "test"})
    loaded = InfoNetEstimator.load(p, device="cpu")
    assert loaded.model.cfg == SMALL and loaded.info["note"] == "test"
    x, y = gaussian(500, 0.5, 10)
    assert loaded.estimate(x, y) == est.estimate(x, y)
    # a checkpoint whose tensors do not fit its config names the mismatch
    from safetensors.torch import load_file, save_file

    from infonet_ros.checkpoint import read_metadata

    meta = read_metadata(p)
    tensors = load_file(str(p))
    tensors["latent"] = torch.zeros(3, 3)
    save_file(tensors, str(tmp_path / "bad.safetensors"), metadata=meta)
    with pytest.raises(ValueError, match="latent"):
        load_weights(tmp_path / "bad.safetensors")
    save_file(tensors, str(tmp_path / "nometa.safetensors"))
    with pytest.raises(ValueError, match="not an infonet_ros checkpoint"):
        load_weights(tmp_path / "nometa.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="safetensors"):
        load_weights(tmp_path / "junk.safetensors")
    with pytest.raises(FileNotFoundError):
        InfoNetEstimator.load(tmp_path / "missing.safetensors")


def test_tiny_fit_ranks_correlations():
    """A small model fitted for 80 DV steps orders rho = 0.9 > 0.5 > 0:
    the readout and the training signal are wired right."""
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    model = InfoNet(SMALL)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    from infonet_ros.copula import rank_transform

    def batch(rhos, n):
        e = torch.randn(len(rhos), n, 2, generator=gen)
        r = torch.as_tensor(rhos)[:, None]
        y = r * e[..., 0] + torch.sqrt(1 - r**2) * e[..., 1]
        return torch.stack([rank_transform(e[..., 0]), rank_transform(y)], -1)

    for _ in range(80):
        rhos = (torch.rand(16, generator=gen) * 2 - 1).clamp(-0.98, 0.98).tolist()
        loss = -model(batch(rhos, 256))["mi"].mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        mi = model(batch([0.9] * 8 + [0.5] * 8 + [0.0] * 8, 512))["mi"].view(3, 8).mean(1)
    assert mi[0] > mi[1] > mi[2], mi
    assert mi[0] > 0.15 and abs(mi[2]) < 0.05, mi


def test_every_tensor_follows_the_input_device():
    """The CUDA path without a GPU: on the 'meta' device any tensor created on the CPU by
    mistake (a constant, a buffer, an index) fails the forward or the backward pass."""
    model = InfoNet(SMALL).to("meta")
    u = torch.rand(3, 100, 2, device="meta")
    with torch.inference_mode():
        out = model.eval()(u)
    assert {v.device.type for v in out.values()} == {"meta"}
    assert out["tables"].shape == (3, 2, SMALL.grid_size, SMALL.grid_size)
    model.train()(u)["mi"].sum().backward()
    assert all(p.grad is not None and p.grad.device.type == "meta" for p in model.parameters())


def test_half_histograms_match_a_per_point_loop():
    """One scatter for two grids and both halves equals splatting point by point."""
    from infonet_ros.model import half_histograms
    gen = torch.Generator().manual_seed(3)
    uc = torch.rand(2, 2, 37, generator=gen, dtype=torch.float64)
    uc[0, :, :3] = torch.tensor([[0.0, 1.0, 0.5], [1.0, 0.0, 1.0]], dtype=torch.float64)  # borders
    half = torch.randint(0, 2, (2, 37), generator=gen)
    grids = (4, 7)
    out = half_histograms(uc, half, grids)
    for g, hist in zip(grids, out):
        ref = torch.zeros(2, 2, g, g, dtype=torch.float64)
        for p in range(2):
            for i in range(37):
                x, y = (float(c) * (g - 1) for c in uc[p, :, i])
                ix, iy = min(int(x), g - 2), min(int(y), g - 2)
                fx, fy = x - ix, y - iy
                h = int(half[p, i])
                ref[p, h, ix, iy] += (1 - fx) * (1 - fy)
                ref[p, h, ix + 1, iy] += fx * (1 - fy)
                ref[p, h, ix, iy + 1] += (1 - fx) * fy
                ref[p, h, ix + 1, iy + 1] += fx * fy
        torch.testing.assert_close(hist, ref.view(2, 2, g * g))


def test_cross_fitted_readout_is_the_mean_of_table_lookups():
    """mi = count-weighted DV of T_A on B's points and T_B on A's, each point's T read by
    bilinear interpolation: what the forward pass computes as table . histogram."""
    import dataclasses
    torch.manual_seed(1)
    model = InfoNet(dataclasses.replace(SMALL, half_ranks=False)).eval()  # points where they are
    with torch.no_grad():
        model.dec_v.weight.mul_(20.0)
    x = torch.randn(2, 300, dtype=torch.float64)
    y = 0.7 * x + 0.7 * torch.randn(2, 300, dtype=torch.float64)
    from infonet_ros.copula import rank_transform
    u = torch.stack([rank_transform(x), rank_transform(y)], -1).float()
    with torch.inference_mode():
        out = model(u)
    g = SMALL.grid_size
    log_w = model.log_w.double()
    for p in range(2):
        tables = out["tables"][p].double()
        dv = []
        for table_half, scored in ((0, ~out["in_a"][p]), (1, out["in_a"][p])):
            t = tables[table_half]
            vals = []
            for ux, uy in u[p][scored].double().tolist():
                x_, y_ = ux * (g - 1), uy * (g - 1)
                ix, iy = min(int(x_), g - 2), min(int(y_), g - 2)
                fx, fy = x_ - ix, y_ - iy
                vals.append((1 - fx) * (1 - fy) * t[ix, iy] + fx * (1 - fy) * t[ix + 1, iy]
                            + (1 - fx) * fy * t[ix, iy + 1] + fx * fy * t[ix + 1, iy + 1])
            log_z = torch.logsumexp((t + log_w).flatten(), 0)
            dv.append((torch.stack(vals).mean() - log_z, int(scored.sum())))
        mi = sum(v * c for v, c in dv) / 300
        assert abs(float(mi) - float(out["mi"][p])) < 1e-5


def test_forward_accepts_both_point_layouts():
    """[P, N, 2] contiguous and the [P, N, 2] view of a [P, 2, N] tensor give the same MI."""
    torch.manual_seed(2)
    model = InfoNet(SMALL).eval()
    uc = torch.rand(3, 2, 200)
    with torch.inference_mode():
        a = model(uc.transpose(1, 2))["mi"]
        b = model(uc.transpose(1, 2).contiguous())["mi"]
    torch.testing.assert_close(a, b)


def test_inference_cache_follows_in_place_weight_changes():
    """The fused weights are cached at inference; writing a parameter in place (an
    optimiser step, a reload, a manual edit) must rebuild them."""
    torch.manual_seed(4)
    model = InfoNet(SMALL).eval()
    u = torch.rand(2, 300, 2)
    with torch.inference_mode():
        before = model(u)["mi"]
        assert torch.equal(model(u)["mi"], before)  # cached: same result
    with torch.no_grad():
        model.blocks[0].mlp.proj.p.mul_(3.0)
    with torch.inference_mode():
        after = model(u)["mi"]
    fresh = InfoNet(SMALL).eval()
    fresh.load_state_dict(model.state_dict())
    with torch.inference_mode():
        torch.testing.assert_close(after, fresh(u)["mi"])
    assert not torch.equal(after, before)


def test_threads_setting_is_applied_per_call_and_restored():
    import torch
    est1 = InfoNetEstimator.pretrained(device="cpu")            # default: one thread
    assert est1.threads == 1
    before = torch.get_num_threads()
    seen = []
    model_forward = est1.model.forward
    est1.model.forward = lambda u: (seen.append(torch.get_num_threads()), model_forward(u))[1]
    x, y = gaussian(300, 0.5, 11)
    est1.estimate(x, y)
    assert seen == [1] and torch.get_num_threads() == before
    assert InfoNetEstimator.pretrained(device="cpu", threads=None).threads is None
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="threads"):
            InfoNetEstimator.pretrained(device="cpu", threads=bad)


@pytest.mark.parametrize("cfg", [
    InfoNetConfig(),                                                   # the shipped network
    InfoNetConfig(n_layers=2, n_heads=4, dim=64, half_ranks=True, grid_size=24, input_grid=12),
    InfoNetConfig(decoder_bumps=False, histogram_skip=False, n_latents=5),
], ids=["shipped", "wide-half-ranks", "plain-decoder"])
def test_reference_forward_equals_the_fused_forward(cfg):
    """model.py's plain reference (one half-window at a time, per-point splats and lookups,
    un-fused layers) defines the function; the fused batched path must compute the same."""
    torch.manual_seed(0)
    model = InfoNet(cfg).double().eval()
    with torch.no_grad():   # non-trivial weights everywhere (zero-initialised gates included)
        for prm in model.parameters():
            prm.add_(0.05 * torch.randn_like(prm))
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 257))
    y = 0.8 * x + rng.standard_normal((3, 257))
    y[2] = np.round(y[2])                       # a row with (averaged) ties
    from infonet_ros.copula import rank_transform_numpy
    u = torch.from_numpy(np.stack([rank_transform_numpy(x), rank_transform_numpy(y)], -1)).double()
    with torch.no_grad():
        fused, ref = model(u), model.reference_forward(u)
    torch.testing.assert_close(fused["in_a"], ref["in_a"])
    torch.testing.assert_close(fused["tables"], ref["tables"], atol=1e-9, rtol=1e-9)
    torch.testing.assert_close(fused["mi"], ref["mi"], atol=1e-9, rtol=1e-9)
    assert ref["mi"].abs().max() > 1e-3


def test_config_defaults_are_the_shipped_network():
    assert InfoNetEstimator.pretrained(device="cpu").model.cfg == InfoNetConfig()
