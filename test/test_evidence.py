"""Evidence memory (infonet_ros/evidence.py, ``significance_memory``): Stouffer's
combination, the choice of disjoint windows, and through the pipeline on autocorrelated
streams: independent pairs keep a calibrated false-positive rate, a weak persistent
dependence gains power, and the parameter reaches the results."""
import numpy as np
import pytest
from scipy.signal import lfilter
from scipy.stats import norm

from infonet_ros.evidence import EvidenceMemory, stouffer
from infonet_ros.pipeline import MIPipeline
from infonet_ros.streams import PipelineConfig
from infonet_ros.windowing import Window

RATE = 50.0


def test_stouffer_matches_the_formula_and_skips_nan():
    p = np.array([[0.05, 0.5, np.nan, 0.2], [0.05, 0.5, np.nan, np.nan]])
    out = stouffer(p, axis=0)
    assert out[0] == pytest.approx(norm.sf(2 * norm.isf(0.05) / np.sqrt(2)), rel=1e-9)
    assert out[1] == pytest.approx(0.5)
    assert np.isnan(out[2])
    assert out[3] == pytest.approx(0.2)                       # one finite value: itself
    # p = 1 (a constant stream) carries no information: left out, not z = -inf
    assert stouffer(np.array([1e-6, 1.0]))[()] == pytest.approx(1e-6)
    assert np.isnan(stouffer(np.array([1.0, 1.0]))[()])
    assert stouffer(np.array([0.0, 0.0]))[()] == pytest.approx(0.0, abs=1e-12)
    assert stouffer(np.array([1e-20, 0.5]))[()] < 1e-10


def test_memory_combines_the_latest_disjoint_windows():
    mem = EvidenceMemory()
    keys = ['a:b', 'a:c']
    # windows of 4 s every 1 s: (0, 4), (1, 5), ... (8, 12)
    for s in range(9):
        combined, used = mem.combine(s, s + 4, keys, [0.1, 0.5], windows=3)
    # (8, 12) <- (3, 7) <- nothing that ends before 3: two windows
    assert used.tolist() == [2, 2]
    assert combined[0] == pytest.approx(stouffer(np.array([0.1, 0.1]))[()])
    for s in range(9, 14):
        combined, used = mem.combine(s, s + 4, keys, [0.1, 0.5], windows=3)
    # (13, 17) <- (8, 12) <- (3, 7)
    assert used.tolist() == [3, 3]
    assert combined[0] == pytest.approx(norm.sf(3 * norm.isf(0.1) / np.sqrt(3)))
    assert combined[1] == pytest.approx(0.5)
    # windows = 1: the window alone; history is bounded
    combined, used = mem.combine(14, 18, keys, [0.1, 0.5], windows=1)
    assert used.tolist() == [1, 1] and combined.tolist() == [0.1, 0.5]
    # bounded: entries ending within (windows + 1) spans of the start, 6 s .. 18 s
    assert len(mem) == 13


def test_memory_handles_new_pairs_nan_and_time_going_back():
    mem = EvidenceMemory()
    mem.combine(0, 4, ['a:b'], [0.01], windows=2)
    combined, used = mem.combine(5, 9, ['a:b', 'a:c'], [0.01, 0.02], windows=2)
    assert used.tolist() == [2, 1] and combined[1] == pytest.approx(0.02)
    assert combined[0] < 0.01
    # no p-value now: none published, even with a past; a constant stream now: its p = 1
    combined, used = mem.combine(10, 14, ['a:b'], [np.nan], windows=2)
    assert np.isnan(combined[0]) and used[0] == 0
    combined, used = mem.combine(15, 19, ['a:b'], [1.0], windows=2)
    assert combined[0] == 1.0 and used[0] == 1
    # ... and a past window with p = 1 is left out of the next combination
    combined, used = mem.combine(20, 24, ['a:b'], [0.02], windows=2)
    assert combined[0] == pytest.approx(0.02) and used[0] == 1
    # time went back (a bag restarted): the past is forgotten
    combined, used = mem.combine(0, 4, ['a:b'], [0.3], windows=2)
    assert used.tolist() == [1] and combined[0] == pytest.approx(0.3)
    with pytest.raises(ValueError, match='significance_memory'):
        mem.combine(20, 24, ['a:b'], [0.3], windows=0)
    with pytest.raises(ValueError, match='2 pair keys for 1'):
        mem.combine(20, 24, ['a:b', 'a:c'], [0.3], windows=2)


def config(k, **params):
    names = [f's{i}' for i in range(k)]
    return PipelineConfig.from_params({
        'stream_names': names, 'device': 'cpu', 'window_size': 256, 'sample_rate_hz': RATE,
        **params,
        'streams': {n: {'topic': f'/{n}', 'type': 'std_msgs/msg/Float64', 'field': 'data'}
                    for n in names}})


def ar1(rng, n, k, phi=0.9):
    e = rng.standard_normal((n, k)) * np.sqrt(1 - phi * phi)
    e[0] = rng.standard_normal(k)
    return lfilter([1.0], [1.0, -phi], e, axis=0)


def sliding(data, size=256, hop=64):
    """Overlapping windows of a long recording, as the node makes them."""
    t = np.arange(len(data)) / RATE
    for s in range(0, len(data) - size + 1, hop):
        yield Window(t=t[s:s + size], data=data[s:s + size], t_start=t[s],
                     t_end=t[s + size - 1])


@pytest.fixture(scope='module')
def ar1_results():
    """Eight independent AR(1) streams (phi 0.9) plus a weakly dependent pair, one long
    recording, windows of 256 every 64 samples; prewhitened p-values with memory 1 and 3
    from the same windows (two pipelines: each keeps its own memory)."""
    rng = np.random.default_rng(7)
    n = 64 * 160 + 256
    indep = ar1(rng, n, 8)
    x = ar1(rng, n, 1)[:, 0]
    y = 0.25 * x + np.sqrt(1 - 0.25 ** 2) * ar1(rng, n, 1)[:, 0]   # weak, persistent
    data = np.column_stack([indep, x, y])
    one = MIPipeline(config(10, significance='prewhitened'))
    three = MIPipeline(config(10, significance='prewhitened', significance_memory=3),
                       one.estimator)
    out = {1: [], 3: []}
    for w in sliding(data):
        out[1].append(one.evaluate(w))
        out[3].append(three.evaluate(w))
    return out


def test_memory_keeps_false_positives_calibrated_on_autocorrelated_streams(ar1_results):
    res = ar1_results[3]
    pairs = res[0].pairs
    indep = [k for k, (i, j) in enumerate(pairs) if i < 8 and j < 8]     # 28 pairs
    late = res[10:]                                    # past the warm-up: 3 windows each
    assert all(r.memory_windows[indep].min() == 3 for r in late)
    p = np.array([r.p_value[indep] for r in late])
    fpr = float(np.mean(p <= 0.05))
    # 150 overlapping windows x 28 pairs; the memory-1 rate is measured beside it
    fpr1 = float(np.mean(np.array([r.p_value[indep] for r in ar1_results[1][10:]]) <= 0.05))
    assert 0.02 <= fpr <= 0.09, (fpr, fpr1)
    assert 0.02 <= fpr1 <= 0.09, (fpr, fpr1)


def test_memory_gains_power_on_a_weak_persistent_dependence(ar1_results):
    k = ar1_results[1][0].pairs.index((8, 9))
    p1 = np.array([r.p_value[k] for r in ar1_results[1][10:]])
    p3 = np.array([r.p_value[k] for r in ar1_results[3][10:]])
    assert np.mean(p3 <= 0.05) > np.mean(p1 <= 0.05) + 0.15, (np.mean(p1 <= 0.05),
                                                              np.mean(p3 <= 0.05))
    assert np.median(p3) < np.median(p1)
    # memory 1 publishes the window's own p-value
    assert all(r.memory_windows[k] == 1 for r in ar1_results[1])


def test_memory_parameter_is_validated():
    with pytest.raises(ValueError, match="'significance_memory'"):
        config(2, significance_memory=0)
    assert config(2).significance_memory == 1
    # only prewhitened p-values may be combined: the table's on smooth streams are biased
    # and the bias adds up (bench/results/evidence_memory.md)
    with pytest.raises(ValueError, match="'significance_memory' must be 1 unless "
                                         'significance is prewhitened'):
        config(2, significance_memory=3)
    with pytest.raises(ValueError, match='permutations'):
        config(2, significance_memory=3, significance='prewhitened', permutations=50)
    assert config(2, significance_memory=3, significance='prewhitened').significance_memory == 3


def test_vector_pairs_keep_their_window_p_value():
    """The sliced test of a vector pair permutes samples as if iid: its p-values are not
    combined (memory_windows 1), the scalar pairs' are."""
    cfg = PipelineConfig.from_params({
        'stream_names': ['v', 'a', 'b'], 'device': 'cpu', 'window_size': 128,
        'sample_rate_hz': RATE, 'significance': 'prewhitened', 'significance_memory': 2,
        'sliced_projections': 8,
        'streams': {'v': {'topic': '/v', 'type': 'sensor_msgs/msg/JointState',
                          'field': 'position[0:3]'},
                    'a': {'topic': '/a', 'type': 'std_msgs/msg/Float64', 'field': 'data'},
                    'b': {'topic': '/b', 'type': 'std_msgs/msg/Float64', 'field': 'data'}}})
    pipeline = MIPipeline(cfg)
    data = ar1(np.random.default_rng(3), 128 * 3, 5)
    results = [pipeline.evaluate(w) for w in sliding(data, size=128, hop=128)]
    vector = [k for k, (i, j) in enumerate(cfg.pairs) if 0 in (i, j)]
    scalar = cfg.pairs.index((1, 2))
    assert len(results) == 3 and len(vector) == 2
    for r in results:
        assert r.memory_windows[vector].tolist() == [1, 1]
        assert np.all((r.p_value[vector] > 0) & (r.p_value[vector] <= 1))
    assert [r.memory_windows[scalar] for r in results] == [1, 2, 2]
