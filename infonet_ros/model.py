"""The InfoNet network: a set of rank-normalised (u, v) points in, a G x G DV table out.

Reading order: ``InfoNetConfig`` -> ``SwapLinear`` (the symmetry trick) -> ``Attention`` ->
``LatentBlock`` -> ``InfoNet.reference_forward`` (the whole function, written plainly: one
half-window at a time, per-point splats and lookups, un-fused layers) -> ``InfoNet.forward``
(the same function as the batched, fused inference and training path: ``encode`` points ->
latents, ``decode`` latents -> table, cross-fitted Donsker-Varadhan readout; tested equal).

Design, and where it departs from the published InfoNet (docs/MODEL.md has the full story):

* **Exact (X, Y) symmetry by construction.** Every feature vector is two halves ``[a | b]``
  and the swap ``S: [a | b] -> [b | a]`` acts on it. A position (u, v) is embedded from
  ``[f(u) | f(v)]``, so swapping x and y applies S to every token. All linear maps have the
  block form ``[[P, Q], [Q, P]]`` (they commute with S), layer norms and latent queries are
  tied across halves, and attention heads take matching channels from both halves, so dot
  products are S-invariant. The table of the swapped set is exactly the transpose.
* **Cross-attention to the points through a positional lookup grid.** Latents are learned
  constants that cross-attend to the N points. A point's key and value are the bilinear
  interpolation of learned keys/values on an H x H grid of the unit square (its attention
  weight likewise). Because the latent queries are constants, this attention is computed
  exactly by splatting the points onto the grid (O(N)) and one GEMM with input-independent
  matrices (O(H^2 M d)): the cost per pair hardly grows with N, and the published
  O(N x 10^6) query path is gone.
* **Separable table decoder.** Grid queries q(u, v) = e(u) + S e(v) make the attention logits
  of table cell (u, v) on latent m a sum alpha_m(u) + beta_m(v), so the softmax-weighted table
  T(u, v) = sum_m A[u, m] s_m B[v, m] / sum_m A[u, m] B[v, m] is two small GEMMs per head.
  Each latent also predicts a Gaussian bump (centre, width) per axis that is added to its
  logits, so it can claim a sharp interval anywhere (cluster blocks, thin ridges).
* **Histogram skip connection.** The table gets a * log(blurred histogram of the same
  half-window + eps) added, with a and eps set from the half size and a gate on the pooled
  latents: the plug-in copula density is handed to the table directly and the attention
  path learns the correction (near independence the gate can switch the noisy histogram off).
* **Whole table for the unit square** (ranks in (0, 1) map onto nodes 0..G-1), no blur and
  hence no zero-padding artefacts at the borders.
* **Cross-fitted readout** (the published in-sample DV value is biased upwards at
  independence): the window is split into halves A and B by a hash of each point's ranks;
  half A's latents see only A's points and produce T_A, which is scored on B, and vice versa.
  ``half_ranks`` (off in the shipped weights) re-ranks each half on its own: no small-N
  leak through the interleaved ranks, but the halves no longer share one coordinate frame
  (docs/MODEL.md has the measured trade-off).
* **Deterministic marginal term**: with copula inputs the product of marginals is uniform on
  the unit square, so log E[exp T] is a (trapezoid) integral over the table itself. For a
  bilinear T the trapezoid rule over-estimates the integral of exp T (convexity), so the
  estimate stays a lower bound.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

FORMAT_VERSION = 1


@dataclass(frozen=True)
class InfoNetConfig:
    """Every hyper-parameter of the network. Saved with the weights. The defaults are the
    shipped network's (``InfoNetEstimator.pretrained().model.cfg == InfoNetConfig()``)."""

    grid_size: int = 24  # G: the DV table is G x G over the unit square
    input_grid: int = 16  # H: positional lookup grid for the points' keys/values
    n_latents: int = 8  # M: Perceiver latents per half-window
    dim: int = 32  # d: token/latent width (two halves of d/2, see SwapLinear)
    n_heads: int = 2  # attention heads (encoder, latent blocks and decoder)
    n_layers: int = 1  # latent self-attention blocks
    n_freq: int = 16  # Fourier frequencies per coordinate
    mlp_ratio: int = 2
    decoder_bumps: bool = True  # Gaussian bump term in the decoder logits (see InfoNet.decode)
    histogram_skip: bool = True  # add a learned multiple of log(smoothed half-window histogram)
    half_ranks: bool = False  # rank each half-window on its own (else: ranks over the whole window)
    format_version: int = FORMAT_VERSION

    # Upper bounds, far above any useful network, so that a config read from a file can never
    # ask for an unbounded allocation (a G x G table of G = 10^6 is 4 TB).
    LIMITS = {"grid_size": 512, "input_grid": 512, "n_latents": 4096, "dim": 4096, "n_heads": 256,
              "n_layers": 64, "n_freq": 1024, "mlp_ratio": 64}

    def __post_init__(self):
        for name, limit in self.LIMITS.items():
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValueError(f"InfoNetConfig.{name} must be an integer, got {value!r}")
            if value > limit:
                raise ValueError(f"InfoNetConfig.{name}={value} exceeds its limit {limit}")
        if self.dim % (2 * self.n_heads):
            raise ValueError(f"dim={self.dim} must be a multiple of 2*n_heads={2 * self.n_heads}")
        for name in ("grid_size", "input_grid", "n_latents", "dim", "n_heads", "n_freq", "mlp_ratio"):
            if getattr(self, name) < 1:
                raise ValueError(f"InfoNetConfig.{name} must be >= 1, got {getattr(self, name)}")
        if min(self.grid_size, self.input_grid) < 2:
            raise ValueError(f"grid_size and input_grid must be >= 2, got {self.grid_size}, {self.input_grid}")

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "InfoNetConfig":
        raw = json.loads(text)
        if not isinstance(raw, dict):
            raise ValueError(f"a model config is a JSON object, got {type(raw).__name__}")
        raw.setdefault("decoder_bumps", False)  # checkpoints from before these fields existed
        raw.setdefault("histogram_skip", False)
        raw.setdefault("half_ranks", False)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ValueError(f"checkpoint config has unknown fields {unknown}; written by a newer infonet_ros?")
        return cls(**raw)


class SwapLinear(nn.Module):
    """Linear map on ``[a | b]`` features that commutes with the swap ``[a | b] -> [b | a]``.

    Weight ``[[P, Q], [Q, P]]``, bias ``[c | c]``: out = [P a + Q b + c | Q a + P b + c].
    """

    def __init__(self, in_half: int, out_half: int, bias: bool = True):
        super().__init__()
        bound = 1.0 / math.sqrt(2 * in_half)
        self.p = nn.Parameter(torch.empty(out_half, in_half).uniform_(-bound, bound))
        self.q = nn.Parameter(torch.empty(out_half, in_half).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.zeros(out_half)) if bias else None

    def full(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The dense weight and bias."""
        w = torch.cat([torch.cat([self.p, self.q], 1), torch.cat([self.q, self.p], 1)], 0)
        return w, None if self.bias is None else torch.cat([self.bias, self.bias])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w, b = self.full()
        return F.linear(x, w, b)


class SwapLayerNorm(nn.Module):
    """LayerNorm over the whole vector (S-invariant statistics), affine tied across halves."""

    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim
        self.weight = nn.Parameter(torch.ones(dim // 2))
        self.bias = nn.Parameter(torch.zeros(dim // 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w, b = torch.cat([self.weight, self.weight]), torch.cat([self.bias, self.bias])
        return F.layer_norm(x, (self.dim,), w, b)


def head_major(d: int, n_heads: int) -> torch.Tensor:
    """The channel order of the heads: position (h, half, j) takes channel (half, h, j) of
    ``[a | b]`` (head h takes channels h of both halves, so its dot products are
    S-invariant). Rows of a weight permuted by it give outputs laid out [H, dh] per token;
    columns permuted by it read such outputs."""
    hd = d // (2 * n_heads)
    idx = torch.arange(d).view(2, n_heads, hd).transpose(0, 1)  # [H, half, dh/2]
    return idx.reshape(d)


def split_heads(x: torch.Tensor, n_heads: int) -> torch.Tensor:
    """[B, L, d] -> [B, H, L, d/H] in the ``head_major`` order."""
    b, l, d = x.shape
    return x[..., head_major(d, n_heads).to(x.device)].view(b, l, n_heads, d // n_heads).transpose(1, 2)


def fold_norm(norm: "SwapLayerNorm", w: torch.Tensor, b: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """A linear map after ``norm`` as one on the un-scaled normalised vector:
    W (n * g + beta) + b = (W diag(g)) n + (W beta + b)."""
    g = torch.cat([norm.weight, norm.weight])
    beta = torch.cat([norm.bias, norm.bias])
    return w * g, w @ beta + (0.0 if b is None else b)


def unit_norm(x: torch.Tensor) -> torch.Tensor:
    """LayerNorm without the affine part (folded into the next linear map by fold_norm)."""
    return F.layer_norm(x, x.shape[-1:])


class Attention(nn.Module):
    """Multi-head self-attention with S-equivariant projections.

    The parameters are the S-equivariant maps (``SwapLinear``); ``fused`` turns them into
    dense weights with the channels permuted head-major (``head_major``), so queries, keys
    and values come out of one GEMM already split into heads, with no copies. The model
    builds the fused weights once per set of weights (``InfoNet._constants``).
    """

    def __init__(self, dim: int, n_heads: int):
        super().__init__()
        h = dim // 2
        self.n_heads = n_heads
        self.q = SwapLinear(h, h)
        self.kv = SwapLinear(h, 2 * h)
        self.out = SwapLinear(h, h)

    def kv_rows(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Rows of ``kv``'s output ([k_a v_a | k_b v_b]) holding k = [k_a | k_b] and v."""
        h = self.q.p.shape[0]
        c = torch.arange(2 * h)
        k = torch.where(c < h, c, c + h)
        return k, k + h

    def fused(self, norm: "SwapLayerNorm") -> tuple[torch.Tensor, ...]:
        """(W_qkv [3d, d], b_qkv, W_out [d, d], b_out): ``norm`` folded in, head-major."""
        d = 2 * self.q.p.shape[0]
        perm = head_major(d, self.n_heads)
        kr, vr = self.kv_rows()
        wq, bq = self.q.full()
        wkv, bkv = self.kv.full()
        w = torch.cat([wq[perm], wkv[kr[perm]], wkv[vr[perm]]])
        b = torch.cat([bq[perm], bkv[kr[perm]], bkv[vr[perm]]])
        wo, bo = self.out.full()
        return (*fold_norm(norm, w, b), wo[:, perm], bo)

    def forward(self, x: torch.Tensor, fused: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """Self-attention over norm(x), x [B, L, d]; ``fused`` from ``fused(norm)``."""
        b, l, d = x.shape
        nh = self.n_heads
        wqkv, bqkv, wo, bo = fused
        qkv = F.linear(unit_norm(x), wqkv, bqkv).view(b, l, 3, nh, d // nh).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)  # [B, H, L, dh] each (strided views)
        logits = (q @ k.transpose(-1, -2)) * (d // nh) ** -0.5  # small L: plain matmuls
        if torch.is_grad_enabled():
            att = torch.softmax(logits, -1)
        else:  # torch's CPU softmax over a trailing axis of L = 8 is ~4x slower than this
            att = logits.sub_(logits.amax(-1, keepdim=True)).exp_()
            att = att.div_(att.sum(-1, keepdim=True))
        y = (att @ v).transpose(1, 2).reshape(b, l, d)  # head-major channels
        return F.linear(y, wo, bo)


class MLP(nn.Module):
    def __init__(self, dim: int, ratio: int):
        super().__init__()
        self.fc = SwapLinear(dim // 2, ratio * dim // 2)
        self.proj = SwapLinear(ratio * dim // 2, dim // 2)

    def fused(self, norm: "SwapLayerNorm") -> tuple[torch.Tensor, ...]:
        """(W1, b1, W2, b2) with ``norm``'s affine part folded into the first layer."""
        return (*fold_norm(norm, *self.fc.full()), *self.proj.full())

    def forward(self, x: torch.Tensor, fused: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """MLP of norm(x); ``fused`` from ``fused(norm)``."""
        w1, b1, w2, b2 = fused
        return F.linear(F.gelu(F.linear(unit_norm(x), w1, b1)), w2, b2)


class LatentBlock(nn.Module):
    """Pre-norm transformer block over the latents."""

    def __init__(self, cfg: InfoNetConfig):
        super().__init__()
        self.norm1 = SwapLayerNorm(cfg.dim)
        self.attn = Attention(cfg.dim, cfg.n_heads)
        self.norm2 = SwapLayerNorm(cfg.dim)
        self.mlp = MLP(cfg.dim, cfg.mlp_ratio)

    def fused(self) -> tuple[tuple[torch.Tensor, ...], tuple[torch.Tensor, ...]]:
        return self.attn.fused(self.norm1), self.mlp.fused(self.norm2)

    def forward(self, z: torch.Tensor, fused) -> torch.Tensor:
        """One block; ``fused`` from ``fused()`` (built once per set of weights)."""
        z = z + self.attn(z, fused[0])
        return z + self.mlp(z, fused[1])


def fourier_features(u: torch.Tensor, n_freq: int) -> torch.Tensor:
    """[..., 2] coordinates in [0, 1] -> [..., 2 * 2F]: [f(u) | f(v)], f = cos/sin(pi k u)."""
    k = torch.arange(1, n_freq + 1, device=u.device, dtype=u.dtype) * math.pi
    ang = u[..., :, None] * k  # [..., 2, F]
    feats = torch.cat([torch.cos(ang), torch.sin(ang)], -1)  # [..., 2, 2F]
    return feats.flatten(-2)  # halves: [f(u) | f(v)]


def split_mask(u: torch.Tensor) -> torch.Tensor:
    """Assign each point to half A (True) or B (False) by a hash of its ranks.

    u: [P, N, 2] copula coordinates (r - 1/2) / N with ties averaged. The key is the unordered
    pair of doubled ranks, so the split is invariant to sample order and to swapping x and y,
    and tied points (identical (u, v)) always land in the same half.
    """
    return split_mask_xy(u.transpose(-1, -2))


def split_mask_xy(uc: torch.Tensor) -> torch.Tensor:
    """``split_mask`` of coordinate rows uc [P, 2, N] (x row, y row).

    The hash is 32-bit integer mixing of the doubled ranks, computed in int32: products wrap
    modulo 2^32 (two's complement, as torch's integer kernels do on CPU and CUDA), so the
    bits equal those of the unsigned arithmetic; the logical shift is an arithmetic shift
    masked to 16 bits. ``split_mask_reference`` is the same function in int64 (tested equal).
    """
    n = uc.shape[-1]
    r = torch.round(uc.detach() * (2 * n)).to(torch.int32)  # 2r - 1: exact, ties equal
    rx, ry = r[:, 0], r[:, 1]
    k = torch.minimum(rx, ry).mul_(_I32_C1).add_(torch.maximum(rx, ry).mul_(_I32_C2))
    for _ in range(2):
        k.bitwise_xor_((k >> 16).bitwise_and_(0xFFFF)).mul_(0x45D9F3B)
    return (k >> 16).bitwise_xor_(k).bitwise_and_(1).to(torch.bool)


_I32_C1 = 0x9E3779B1 - (1 << 32)  # the constants as signed 32-bit integers
_I32_C2 = 0x85EBCA77 - (1 << 32)


def split_mask_reference(u: torch.Tensor) -> torch.Tensor:
    """``split_mask`` in plain int64 arithmetic (the definition; for tests)."""
    n = u.shape[-2]
    rx, ry = (torch.round(c * (2 * n)).to(torch.int64) for c in u.unbind(-1))
    lo, hi = torch.minimum(rx, ry), torch.maximum(rx, ry)
    k = (lo * 0x9E3779B1 + hi * 0x85EBCA77) & 0xFFFFFFFF
    for _ in range(2):  # products stay below 2^63
        k = (((k >> 16) ^ k) * 0x45D9F3B) & 0xFFFFFFFF
    return (((k >> 16) ^ k) & 1) == 1


def unit_grid(g: int) -> torch.Tensor:
    """[G*G, 2] node positions of a G x G grid over the unit square (row-major, x first)."""
    nodes = torch.linspace(0.0, 1.0, g)
    return torch.stack(torch.meshgrid(nodes, nodes, indexing="ij"), -1).reshape(g * g, 2)


def trapezoid_log_weights(g: int) -> torch.Tensor:
    """log of the 2-D trapezoid weights of a G x G node grid over the unit square ([G, G])."""
    w = torch.ones(g)
    w[0] = w[-1] = 0.5
    w = w / w.sum()
    return (w[:, None] * w[None, :]).log()


@functools.lru_cache(maxsize=16)
def _grid_constants(grids: tuple[int, ...], dtype: torch.dtype, device: torch.device) -> tuple[torch.Tensor, ...]:
    """Per-grid columns [k, 1] used by ``half_histograms``: G - 1, G - 2, G^2 (float), G
    (int64), and each grid's first column in the flat histogram tensor. Made outside
    inference mode, so that training can use them too."""
    with torch.inference_mode(False), torch.no_grad():
        gs = torch.tensor(grids, dtype=dtype, device=device)[:, None]
        sizes = [2 * g * g for g in grids]
        start = torch.tensor([sum(sizes[:i]) for i in range(len(grids))], dtype=dtype, device=device)[:, None]
        return gs - 1, gs - 2, gs * gs, gs.to(torch.int64), start


def half_histograms(uc: torch.Tensor, half: torch.Tensor, grids: tuple[int, ...]) -> list[torch.Tensor]:
    """Bilinear histograms (splats) of the points of both halves on several node grids.

    uc: [P, 2, N] coordinates in [0, 1] (x row, y row); half: [P, N] int64 (0 = A, 1 = B);
    grids: node counts per axis. Returns, per grid G, the unnormalised histograms [P, 2, G*G]
    (half A's, then half B's; row-major, x first). Each point adds its four bilinear weights
    to the nodes around it. All grids and both halves share one stencil computation and
    scatter into one flat [P, sum 2 G^2] tensor: four scatters (one per corner) with two
    index tensors, the y + 1 corners through a view shifted by one column. The layouts are
    coordinate- and corner-major so every elementwise step runs over N contiguous values (a
    trailing axis of 2 or 4 defeats vectorisation on a CPU).
    """
    p, _, n = uc.shape
    g_m1, g_m2, g_sq, g_int, start = _grid_constants(tuple(grids), uc.dtype, uc.device)
    grad = torch.is_grad_enabled() and uc.requires_grad
    pos = uc.clamp(0, 1)[:, :, None] * g_m1  # [P, axis, k, N]
    i0 = pos.detach().floor().clamp_(max=g_m2)
    f = pos - i0 if grad else pos.sub_(i0)  # the fractions keep the gradient with respect to uc
    wx, wy = (1 - f[:, 0], f[:, 0]), (1 - f[:, 1], f[:, 1])  # [P, k, N]: lower, upper node
    # flat node index (small integers, exact in float): grid start + half * G^2 + x * G + y
    base = i0[:, 0].mul_(g_int).add_(i0[:, 1]).add_(start).add_(half[:, None] * g_sq).to(torch.int64)
    index = (base.view(p, -1), (base + g_int).view(p, -1))  # corners x, x + 1
    total = sum(2 * g * g for g in grids)
    flat = torch.zeros(p, total + 1, dtype=uc.dtype, device=uc.device)  # + 1: the shifted view's end
    for dy in (0, 1):
        for dx in (0, 1):
            # each corner's weights are made just before their scatter (still in cache)
            flat[:, dy : dy + total].scatter_add_(1, index[dx], (wy[dy] * wx[dx]).view(p, -1))
    return [h.view(p, 2, -1) for h in flat[:, :total].split([2 * g * g for g in grids], 1)]


def half_ranks(u: torch.Tensor, half: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """Copula coordinates of every point within its own half-window.

    u: [P, N, 2] window copula coordinates ((r - 1/2) / N, ties averaged); half: [P, N] int64
    (0 = A, 1 = B); counts: [P, 2] points per half. Returns [P, N, 2]: (r_h - 1/2) / n_h with
    r_h the rank among the points of the same half (ties averaged). O(N): counting over the
    2N + 1 possible doubled ranks, no sort.

    Why: ranked over the whole window, the two halves interleave exactly (B holds the ranks
    A lacks), and at small N a table that resolves single ranks could exploit that when it
    is scored on the other half. Ranked separately, each half is a plain sample of the
    copula. Gradients pass straight through (d u_h / d u = 1, as for a locally uniform CDF).
    """
    p, n, _ = u.shape
    ud = u.detach()
    code = torch.round(ud * (2 * n)).to(torch.int64).clamp_(0, 2 * n)  # 2r - 1, exact for hard ranks
    nb = 2 * n + 1
    # bins: (pair, half, axis, doubled rank)
    key = (half[..., None] * 2 + torch.arange(2, device=u.device)) * nb + code  # [P, N, 2]
    cnt = torch.zeros(p, 4 * nb, dtype=ud.dtype, device=u.device)
    cnt.scatter_add_(1, key.view(p, -1), torch.ones_like(ud).view(p, -1))
    below = cnt.view(p, 4, nb).cumsum(-1).view(p, -1).sub_(cnt)  # points of the half strictly below
    same = cnt.gather(1, key.view(p, -1)).view(p, n, 2)
    rank = below.gather(1, key.view(p, -1)).view(p, n, 2) + 0.5 * (same + 1)  # averaged, 1-based
    nh = counts.to(ud.dtype).gather(1, half).clamp_min(1)[..., None]  # [P, N, 1]
    uh = (rank - 0.5) / nh
    return u + (uh - ud) if u.requires_grad else uh


class InfoNet(nn.Module):
    """Set of copula points [P, N, 2] -> cross-fitted DV tables [P, 2, G, G] and MI [P] (nats)."""

    def __init__(self, cfg: InfoNetConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg or InfoNetConfig()
        d, h, f2 = cfg.dim, cfg.dim // 2, 2 * cfg.n_freq
        # encoder: grid tokens (keys/values of the points) and constant latent queries
        self.embed = SwapLinear(f2, h)
        self.embed2 = SwapLinear(h, h)
        self.token_norm = SwapLayerNorm(d)
        self.latent = nn.Parameter(torch.randn(cfg.n_latents, h) * 0.02)  # tied halves
        self.cross_norm = SwapLayerNorm(d)
        self.cross = Attention(d, cfg.n_heads)
        self.size_embed = nn.Parameter(torch.zeros(h))  # x log(points in the half)
        self.cross_mlp_norm = SwapLayerNorm(d)
        self.cross_mlp = MLP(d, cfg.mlp_ratio)
        self.blocks = nn.ModuleList(LatentBlock(cfg) for _ in range(cfg.n_layers))
        # decoder: 1-D query embedding e(t) along each table axis; cell query e(u) + S e(v)
        self.axis_embed = nn.Sequential(nn.Linear(f2, d), nn.GELU(), nn.Linear(d, d))
        self.dec_norm = SwapLayerNorm(d)
        self.dec_k = SwapLinear(h, h)
        self.dec_v = nn.Linear(h, cfg.n_heads)  # applied to a + b: swap-invariant scalars
        self.dec_bias = nn.Parameter(torch.zeros(()))
        if cfg.histogram_skip:  # [scale, log eps]: affine in log(n) plus a gate from the latents
            self.skip = nn.Parameter(torch.tensor([[-0.5, 0.0], [0.0, 0.0]]))
            self.skip_gate = nn.Linear(h, 2)
            nn.init.zeros_(self.skip_gate.weight)
            nn.init.zeros_(self.skip_gate.bias)
        if cfg.decoder_bumps:  # per head and latent: centre and log-width along u (a) and v (b)
            self.dec_bump = SwapLinear(h, 2 * cfg.n_heads)
        with torch.no_grad():  # larger initial logits: the table varies with position from step 0
            self.dec_k.p.mul_(4.0)  # (with default init it starts nearly flat, a slow saddle)
            self.dec_k.q.mul_(4.0)
        self.register_buffer("input_nodes", unit_grid(cfg.input_grid), persistent=False)
        self.register_buffer("axis_nodes", torch.linspace(0.0, 1.0, cfg.grid_size)[:, None], persistent=False)
        self.register_buffer("log_w", trapezoid_log_weights(cfg.grid_size), persistent=False)
        self._cache: tuple | None = None  # (weights key, constants)
        self._modules_list: tuple | None = None  # for _weights_key

    def train(self, mode: bool = True):
        self._cache = None
        return super().train(mode)

    def _apply(self, fn, *args, **kwargs):  # .to(device) / .half() invalidate the cache
        self._cache = None
        return super()._apply(fn, *args, **kwargs)

    def _load_from_state_dict(self, *args, **kwargs):
        self._cache = None
        return super()._load_from_state_dict(*args, **kwargs)

    # -- input-independent tensors --------------------------------------------------------
    def _weights_key(self) -> tuple:
        """Changes whenever a parameter is written in place (optimiser step, reload,
        ``mul_`` under no_grad) or replaced. Walks the modules' own parameter dicts (a
        fifth of ``parameters()``' cost); the module list is collected again whenever the
        cache is dropped (``train``/``eval``, ``to``, ``load_state_dict``)."""
        if self._cache is None or self._modules_list is None:
            self._modules_list = tuple(self.modules())
        return tuple((p._version, p.data_ptr()) for m in self._modules_list
                     for p in m._parameters.values() if p is not None)

    def _constants(self) -> dict:
        """Everything that depends on the weights only (input-independent tensors and the
        fused dense weights of every layer). Built from the parameters on every call while
        gradients are recorded, so training differentiates through it; cached otherwise,
        keyed on the parameters' versions."""
        cacheable = not (self.training or torch.is_grad_enabled())
        if cacheable:
            key = self._weights_key()
            if self._cache is not None and self._cache[0] == key:
                return self._cache[1]
        cfg = self.cfg
        d, nh, m = cfg.dim, cfg.n_heads, cfg.n_latents
        dh = d // nh
        tok = self.embed2(F.gelu(self.embed(fourier_features(self.input_nodes, cfg.n_freq))))
        tok = self.token_norm(tok)[None]  # [1, H*H, d]
        lat = torch.cat([self.latent, self.latent], -1)[None]  # [1, M, d]
        q = split_heads(self.cross.q(self.cross_norm(lat)), nh)  # [1, nh, M, dh]
        kv = self.cross.kv(tok)
        kr, vr = self.cross.kv_rows()
        k, v = split_heads(kv[..., kr], nh), split_heads(kv[..., vr], nh)  # [1, nh, HH, dh]
        logits = (q @ k.transpose(-1, -2))[0] / math.sqrt(dh)  # [nh, M, HH]
        e = torch.exp(logits - logits.amax(-1, keepdim=True))  # per-latent constant cancels
        ev = e[..., None] * v[0][:, None]  # [nh, M, HH, dh]
        # one matrix: histogram [S, HH] @ [HH, nh*M*(dh+1)] gives numerators and denominators
        enc = torch.cat([ev, e[..., None]], -1).permute(2, 1, 0, 3).reshape(-1, m * nh * (dh + 1))  # (M, nh, dh+1)
        perm = head_major(d, nh)
        wo, bo = self.cross.out.full()
        cross_out = (wo[:, perm], lat[0] + bo)  # reads head-major values; latent + bias in one term
        size = torch.cat([self.size_embed, self.size_embed]) / math.log(1000.0)
        axis = self.axis_embed(fourier_features(self.axis_nodes, cfg.n_freq))  # [G, d]
        g = cfg.grid_size
        blur = torch.zeros(g + 2, g + 2, dtype=axis.dtype, device=axis.device)
        for i, wt in enumerate((0.25, 0.5, 0.25)):  # padded signal -> 3-tap filter
            blur[1 : g + 1].diagonal(i).fill_(wt)
        pad = torch.zeros(g + 2, g, dtype=axis.dtype, device=axis.device)  # replicate padding
        pad[1 : g + 1] = torch.eye(g, dtype=axis.dtype, device=axis.device)
        pad[0, 0] = pad[g + 1, g - 1] = 1.0
        blur = (blur @ pad)[1 : g + 1] * (g - 1)  # [G, G]; (g - 1)^2 over both sides: density ~1 where uniform
        # decoder queries [nh, 2G, dh (+ 6)]: rows e(u) for the u axis, then S e(v); with
        # bumps, [t^2, t, 1] features that pick the u or the v bump coefficients of a key
        ea = axis
        eb = torch.cat([ea[:, d // 2 :], ea[:, : d // 2]], -1)
        dec_q = split_heads(torch.cat([ea, eb])[None], nh)[0] / math.sqrt(dh)  # [nh, 2G, dh]
        if cfg.decoder_bumps:
            t = self.axis_nodes[:, 0]
            poly = torch.stack([t * t, t, torch.ones_like(t)], -1)  # [G, 3]
            zero = torch.zeros_like(poly)
            feats = torch.cat([torch.cat([poly, zero], -1), torch.cat([zero, poly], -1)])  # [2G, 6]
            dec_q = torch.cat([dec_q, feats.expand(nh, -1, -1)], -1)
        dec_q = dec_q.transpose(1, 2).contiguous()  # [nh, dh (+ 6), 2G]
        # decoder read-out of the normalised latents, one GEMM: keys (head-major), the value
        # scalars s (dec_v on a + b) and, with bumps, the bump parameters; dec_norm folded in
        wk, bk = self.dec_k.full()
        w = [wk[perm], torch.cat([self.dec_v.weight, self.dec_v.weight], 1)]
        b = [bk[perm], self.dec_v.bias]
        if cfg.decoder_bumps:
            wb, bb = self.dec_bump.full()
            w.append(wb)
            b.append(bb)
        dec_in = fold_norm(self.dec_norm, torch.cat(w), torch.cat(b))
        consts = {"enc": enc, "cross_out": cross_out, "size": size, "axis": axis, "blur": blur,
                  "dec_q": dec_q, "dec_in": dec_in, "cross_mlp": self.cross_mlp.fused(self.cross_mlp_norm),
                  "blocks": [blk.fused() for blk in self.blocks]}
        if cacheable:
            self._cache = (key, consts)
        return consts

    # -- pieces -------------------------------------------------------------------------
    def encode(self, hist: torch.Tensor, counts: torch.Tensor, c: dict | None = None) -> torch.Tensor:
        """Half-window histograms on the input grid [B, H*H] (summing to 1) and point counts
        [B, 1] -> latents [B, M, d]. ``c``: ``_constants()``, when the caller has them."""
        cfg = self.cfg
        d, nh, m = cfg.dim, cfg.n_heads, cfg.n_latents
        dh = d // nh
        c = c or self._constants()
        b = hist.shape[0]
        out = (hist @ c["enc"]).view(b, m, nh, dh + 1)
        att = out[..., :dh] / out[..., dh:].clamp_min(1e-30)  # softmax-weighted values, head-major
        wo, lat_bo = c["cross_out"]
        z = att.view(b, m, d) @ wo.T + lat_bo  # [B, M, d]
        z = z + (c["size"] * counts.clamp_min(1).log())[:, None, :]
        z = z + self.cross_mlp(z, c["cross_mlp"])
        for blk, fused in zip(self.blocks, c["blocks"]):
            z = blk(z, fused)
        return z

    def histogram_term(self, dens: torch.Tensor, counts: torch.Tensor, z: torch.Tensor,
                       c: dict | None = None) -> torch.Tensor:
        """a * log(smoothed histogram density + eps) on the table nodes: [B, G, G].

        dens: [B, G, G] bilinear histogram of the half-window on the table nodes (summing to
        1; scaled by (G - 1)^2 here, ~1 where the copula is uniform); counts [B, 1]; z
        [B, M, d] the half's latents.
        A skip connection that hands the table the empirical copula density of the same
        half-window (a plug-in estimate; the attention path learns the correction). The
        weight a and the floor eps depend on the half-window size n and, through a gate on
        the pooled latents, on the data (near independence the histogram is only noise and
        the gate can switch it off). The 3 x 3 binomial blur uses replicate padding (no
        zero-padding artefacts) and, being symmetric, commutes with transposition, so exact
        (X, Y) symmetry is kept.
        """
        g = self.cfg.grid_size
        blur = (c or self._constants())["blur"]  # [G, G]: 1-D binomial blur, replicate borders, x (G - 1)
        dens = blur @ dens.view(-1, g, g) @ blur.T
        feats = torch.cat([torch.ones_like(counts), counts.clamp_min(1).log() / math.log(1000.0)], -1)  # [B, 2]
        hh = z.shape[-1] // 2
        pooled = (z[..., :hh] + z[..., hh:]).mean(1)  # swap- and permutation-invariant
        coef = feats @ self.skip.T + self.skip_gate(pooled)  # [B, 2]: (scale, log eps)
        scale = F.softplus(coef[:, 0])[:, None, None]
        eps = torch.exp(coef[:, 1].clamp(-8, 4))[:, None, None]
        if torch.is_grad_enabled():
            return scale * torch.log(dens + eps)
        return dens.add_(eps).log_().mul_(scale)

    def decode(self, z: torch.Tensor, c: dict | None = None) -> torch.Tensor:
        """latents [B, M, d] -> tables [B, G, G].

        Cell (u, v) attends over the latents with logits alpha_m(u) + beta_m(v): a learned
        1-D query e(t) dotted with the latent's key, plus (``decoder_bumps``) a Gaussian bump
        -(u - c_m)^2 / 2 w_m^2 whose centre and width each latent predicts. The bump lets a
        latent claim a sharp interval anywhere (cluster blocks, thin ridges) that a
        16-dimensional dot product alone cannot carve out.
        """
        cfg = self.cfg
        b, m, d = z.shape
        nh = cfg.n_heads
        dh = d // nh
        g = cfg.grid_size
        c = c or self._constants()
        w, bias = c["dec_in"]
        out = F.linear(unit_norm(z), w, bias)  # [B, M, d + nh (+ 4 nh)]
        k = out[..., :d].view(b, m, nh, dh)
        s = out[..., d : d + nh].permute(2, 0, 1)[..., None]  # [nh, B, M, 1]
        if cfg.decoder_bumps:
            # -(t - c)^2 / 2w^2 = t^2 (-1/2w^2) + t (c/w^2) - c^2/2w^2: a dot product of the
            # constant [t^2, t, 1] with per-latent coefficients, so the bumps of both axes
            # join the key and the logits of a head are one matrix product
            bump = out[..., d + nh :].view(b, m, 2, 2, nh)  # [B, M, axis(u|v), (centre, log w), nh]
            centre = torch.sigmoid(bump[:, :, :, 0])  # [B, M, 2, nh]
            width = torch.exp(bump[:, :, :, 1].clamp(-6, 2) - 1.5) + 0.5 / g
            half_inv = 0.5 / (width * width)
            c_inv = centre * half_inv
            coef = torch.stack([-half_inv, c_inv + c_inv, -centre * c_inv], -1)  # [B, M, 2, nh, 3]
            k = torch.cat([k, coef.permute(0, 1, 3, 2, 4).reshape(b, m, nh, 6)], -1)  # [B, M, nh, dh + 6]
        # per head: logits [B, M, 2G] (columns u, then v), one GEMM over all sets; head by
        # head, so the intermediates stay in cache
        kk = k.permute(2, 0, 1, 3).reshape(nh, b * m, -1)
        dec_q = c["dec_q"]
        grad = torch.is_grad_enabled()
        t = None
        for h in range(nh):
            logits = (kk[h] @ dec_q[h]).view(b, m, 2 * g)
            top = logits.amax(1, keepdim=True)  # per-row scalings cancel in the ratio
            e = (logits - top).exp() if grad else logits.sub_(top).exp_()
            eb = e[..., g:]
            nd = torch.bmm(e[..., :g].transpose(1, 2), torch.cat([eb * s[h], eb], -1))  # [B, G, 2G]: num | den
            num, den = nd[..., :g], nd[..., g:]
            r = num / den.clamp_min(1e-30) if grad else num.div_(den.clamp_min_(1e-30))
            t = r.contiguous() if t is None else (t + r if grad else t.add_(r))
        return t.add_(self.dec_bias)  # t is this function's own tensor (not kept for backward)

    # -- the estimate ---------------------------------------------------------------------
    def forward(self, u: torch.Tensor) -> dict[str, torch.Tensor]:
        """u: [P, N, 2] copula coordinates in [0, 1] -> dict with

        ``mi`` [P] (nats; cross-fitted DV value, count-weighted over the two halves),
        ``tables`` [P, 2, G, G] (T_A, T_B) and ``in_a`` [P, N] (the split).

        Each half's histogram on the input grid feeds its latents, and its table is scored
        on the other half's points (with ``cfg.half_ranks``, each half re-ranked on its own
        first). The N points are touched by one scatter only (``half_histograms``: input grid
        and table grid, both halves): the mean of a bilinearly interpolated table over a
        half's points is the table dotted with that half's table-grid histogram. A [P, N, 2] view of a [P, 2, N]
        tensor (what ``InfoNetEstimator`` passes) saves one copy.
        """
        if u.dim() != 3 or u.shape[-1] != 2:
            raise ValueError(f"expected points of shape [P, N, 2], got {tuple(u.shape)}")
        cfg = self.cfg
        p, n, _ = u.shape
        g, hg = cfg.grid_size, cfg.input_grid
        uc = u.transpose(1, 2).contiguous()  # [P, 2, N]: x row, y row
        in_a = split_mask_xy(uc)
        half = (~in_a).to(torch.int64)  # 0 = A, 1 = B
        n_b = half.sum(-1)
        counts = torch.stack([n - n_b, n_b], -1).to(u.dtype)  # [P, 2]
        if cfg.half_ranks:
            uc = half_ranks(u.contiguous(), half, counts).transpose(1, 2).contiguous()
        inv = (1.0 / counts.clamp_min(1))[..., None]  # [P, 2, 1]
        hist, dens = (h * inv for h in half_histograms(uc, half, (hg, g)))  # each half sums to 1
        cnt = counts.view(p * 2, 1)
        c = self._constants()
        z = self.encode(hist.reshape(p * 2, hg * hg), cnt, c)  # [2P, M, d]
        tables = self.decode(z, c)  # [2P, G, G]
        if cfg.histogram_skip:
            tables = tables.add_(self.histogram_term(dens.view(p * 2, g, g), cnt, z, c))  # decode's own tensor
        tables = tables.view(p, 2, g, g)
        log_z = torch.logsumexp((tables + self.log_w).flatten(2), -1)  # [P, 2]
        # every point is scored by the other half's table, bilinearly interpolated; summed
        # over a half's points that is the table dotted with the half's own histogram:
        # mean_t[:, 0] = mean of T_A over B's points, mean_t[:, 1] = mean of T_B over A's
        mean_t = (tables.view(p, 2, -1) * dens.flip(1)).sum(-1)  # [P, 2]
        dv_on_b = mean_t[:, 0] - log_z[:, 0]  # T_A scored on B
        dv_on_a = mean_t[:, 1] - log_z[:, 1]  # T_B scored on A
        mi = (counts[:, 1] * dv_on_b + counts[:, 0] * dv_on_a) / n
        return {"mi": mi, "tables": tables, "in_a": in_a}

    # -- the same function, written plainly ----------------------------------------------
    def reference_forward(self, u: torch.Tensor) -> dict[str, torch.Tensor]:
        """``forward`` written as the model reads on paper: one point set and one half at a
        time, per-point bilinear splats and lookups, un-fused layers, softmax attention. Slow;
        it defines what ``forward`` computes and is tested equal to it (the fused path
        rearranges the same algebra: constants cached, layer norms folded, one scatter for all
        grids, table . histogram instead of per-point lookups). Same outputs as ``forward``."""
        cfg = self.cfg
        p, n, _ = u.shape
        g, hg, nh, d = cfg.grid_size, cfg.input_grid, cfg.n_heads, cfg.dim
        dh = d // nh
        in_a = split_mask_reference(u)
        tables, mi = [], []
        for i in range(p):
            halves = [u[i][in_a[i]], u[i][~in_a[i]]]  # A, B: [n_h, 2] each
            if cfg.half_ranks:
                halves = [torch.stack([_plain_ranks(h[:, 0]), _plain_ranks(h[:, 1])], -1) for h in halves]
            ts = [self._reference_table(h) for h in halves]
            dv = []
            for t, other in ((ts[0], halves[1]), (ts[1], halves[0])):  # T_A on B, T_B on A
                log_z = torch.logsumexp((t + self.log_w).flatten(), 0)
                dv.append(_bilinear_lookup(t, other).mean() - log_z if len(other) else -log_z)
            counts = [len(h) for h in halves]
            mi.append((counts[1] * dv[0] + counts[0] * dv[1]) / n)
            tables.append(torch.stack(ts))
        return {"mi": torch.stack(mi), "tables": torch.stack(tables), "in_a": in_a}

    def _reference_table(self, pts: torch.Tensor) -> torch.Tensor:
        """The DV table [G, G] of one half-window's points [n_h, 2] (see reference_forward)."""
        cfg = self.cfg
        g, nh, d = cfg.grid_size, cfg.n_heads, cfg.dim
        dh, count = d // nh, max(len(pts), 1)
        heads = lambda x: split_heads(x[None], nh)[0]  # noqa: E731  [L, d] -> [nh, L, dh]
        # encoder: the latents cross-attend to the points; a point's key and value are the
        # bilinear interpolation of learned tokens on the H x H input grid, so attending to
        # the points is attending to the grid nodes weighted by the points' splatted mass
        mass = _bilinear_splat(pts, cfg.input_grid).flatten() / count  # [H*H]
        tok = self.token_norm(self.embed2(F.gelu(self.embed(fourier_features(self.input_nodes, cfg.n_freq)))))
        lat = torch.cat([self.latent, self.latent], -1)  # [M, d]
        kr, vr = self.cross.kv_rows()
        kv = self.cross.kv(tok)
        q, k, v = heads(self.cross.q(self.cross_norm(lat))), heads(kv[:, kr]), heads(kv[:, vr])
        w = mass * torch.exp(q @ k.transpose(-1, -2) / math.sqrt(dh))  # [nh, M, HH]
        att = (w / w.sum(-1, keepdim=True)) @ v  # [nh, M, dh]
        att = att.transpose(0, 1).reshape(-1, d)[:, torch.argsort(head_major(d, nh))]  # back to [a | b]
        z = lat + self.cross.out(att)
        z = z + torch.cat([self.size_embed, self.size_embed]) / math.log(1000.0) * math.log(count)
        z = z + self.cross_mlp.proj(F.gelu(self.cross_mlp.fc(self.cross_mlp_norm(z))))
        for blk in self.blocks:  # pre-norm transformer blocks over the latents
            x = blk.norm1(z)
            kv = blk.attn.kv(x)
            kr, vr = blk.attn.kv_rows()
            q, k, v = heads(blk.attn.q(x)), heads(kv[:, kr]), heads(kv[:, vr])
            y = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(dh), -1) @ v
            z = z + blk.attn.out(y.transpose(0, 1).reshape(-1, d)[:, torch.argsort(head_major(d, nh))])
            z = z + blk.mlp.proj(F.gelu(blk.mlp.fc(blk.norm2(z))))
        # decoder: cell (u, v) attends over the latents with logits e(u).k + (S e(v)).k (+ bumps)
        zn = self.dec_norm(z)
        keys = heads(self.dec_k(zn))  # [nh, M, dh]
        s = self.dec_v(zn[:, : d // 2] + zn[:, d // 2 :])  # [M, nh]: value scalar of each latent
        e = self.axis_embed(fourier_features(self.axis_nodes, cfg.n_freq))  # [G, d]
        se = torch.cat([e[:, d // 2 :], e[:, : d // 2]], -1)  # S e
        alpha = heads(e) @ keys.transpose(-1, -2) / math.sqrt(dh)  # [nh, G, M]: the u axis
        beta = heads(se) @ keys.transpose(-1, -2) / math.sqrt(dh)  # the v axis
        if cfg.decoder_bumps:  # Gaussian bump -(t - c)^2 / 2 w^2 per latent, head and axis
            bump = self.dec_bump(zn).view(-1, 2, 2, nh)  # [M, axis, (centre, log width), nh]
            centre = torch.sigmoid(bump[:, :, 0])  # [M, 2, nh]
            width = torch.exp(bump[:, :, 1].clamp(-6, 2) - 1.5) + 0.5 / g
            t = self.axis_nodes  # [G, 1]
            for axis, logit in ((0, alpha), (1, beta)):
                c, wd = centre[:, axis].T[:, None], width[:, axis].T[:, None]  # [nh, 1, M]
                logit += -((t - c) ** 2) / (2 * wd * wd)
        logits = alpha[:, :, None, :] + beta[:, None, :, :]  # [nh, G(u), G(v), M]
        table = (torch.softmax(logits, -1) * s.T[:, None, None, :]).sum(-1).sum(0) + self.dec_bias
        if cfg.histogram_skip:  # + a * log(blurred half-window histogram + eps)
            dens = _bilinear_splat(pts, g) / count * (g - 1) ** 2
            kernel = torch.tensor([0.25, 0.5, 0.25], dtype=dens.dtype, device=dens.device)
            for dim in (0, 1):  # 3-tap binomial blur along each axis, replicate borders
                padded = torch.cat([dens.narrow(dim, 0, 1), dens, dens.narrow(dim, g - 1, 1)], dim)
                dens = sum(kernel[j] * padded.narrow(dim, j, g) for j in range(3))
            pooled = (z[:, : d // 2] + z[:, d // 2 :]).mean(0)
            feats = torch.stack([torch.ones(()), torch.tensor(math.log(count) / math.log(1000.0))]).to(z)
            coef = self.skip @ feats + self.skip_gate(pooled)
            table = table + F.softplus(coef[0]) * torch.log(dens + torch.exp(coef[1].clamp(-8, 4)))
        return table


def _bilinear_corners(pts: torch.Tensor, g: int):
    """The four corner nodes (ix, iy) of points [n, 2] in [0, 1]^2 on a G x G node grid and
    each point's bilinear weight (1 - fx or fx) * (1 - fy or fy) on them."""
    pos = pts.clamp(0, 1) * (g - 1)
    i0 = pos.floor().clamp(max=g - 2)
    f = pos - i0
    i0 = i0.long()
    for dx in (0, 1):
        for dy in (0, 1):
            wx = f[:, 0] if dx else 1 - f[:, 0]
            wy = f[:, 1] if dy else 1 - f[:, 1]
            yield i0[:, 0] + dx, i0[:, 1] + dy, wx * wy


def _bilinear_splat(pts: torch.Tensor, g: int) -> torch.Tensor:
    """Points [n, 2] in [0, 1]^2 -> [G, G] bilinear histogram on the grid nodes (row x, column y)."""
    out = torch.zeros(g, g, dtype=pts.dtype, device=pts.device)
    for ix, iy, w in _bilinear_corners(pts, g):
        out.index_put_((ix, iy), w, accumulate=True)
    return out


def _bilinear_lookup(table: torch.Tensor, pts: torch.Tensor) -> torch.Tensor:
    """A [G, G] node table, bilinearly interpolated at points [n, 2] in [0, 1]^2 -> [n]."""
    out = torch.zeros(len(pts), dtype=table.dtype, device=table.device)
    for ix, iy, w in _bilinear_corners(pts, table.shape[0]):
        out = out + w * table[ix, iy]
    return out


def _plain_ranks(x: torch.Tensor) -> torch.Tensor:
    """(r - 1/2) / n with r the rank in x, ties averaged (scipy's rankdata convention)."""
    n = len(x)
    below = (x[None, :] < x[:, None]).sum(1).to(x.dtype)
    same = (x[None, :] == x[:, None]).sum(1).to(x.dtype)
    return (below + 0.5 * (same + 1) - 0.5) / max(n, 1)
