"""Property-based fuzzing (hypothesis) of the public surfaces that take outside data.

Every generated case must end in one of two ways: a ``ValueError`` whose message names the
problem, or a documented finite result — never another exception from inside torch/numpy,
never NaN, never a hang (hypothesis' deadline). Surfaces: the estimator API (estimate,
estimate_batch, estimate_pairs, estimate_matrix), the field-path compiler and its getters,
the stream aligner (add / window / diagnostics) and the parameter parser.

Cases per run: ``INFONET_FUZZ_SCALE`` (default 1.0) scales every test's ``max_examples``;
at 1.0 the suite generates > 10 000 cases, and the count is printed at the end of the run
(test/conftest.py).
"""

import math
import os
import warnings
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from infonet_ros import InfoNetEstimator
from infonet_ros.streams import FieldExtractionError, PipelineConfig, compile_field_path
from infonet_ros.windowing import StreamAligner

SCALE = float(os.environ.get('INFONET_FUZZ_SCALE', '1.0'))
CASES = {'count': 0}   # read by conftest.pytest_terminal_summary


def fuzz(n: int):
    return settings(max_examples=max(1, int(n * SCALE)), deadline=5000, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])


def counted():
    CASES['count'] += 1


@pytest.fixture(scope='module')
def est():
    return InfoNetEstimator.pretrained(device='cpu')


# --- data -------------------------------------------------------------------------------

EXTREME = st.sampled_from([0.0, -0.0, 1e-300, -1e-300, 1e300, -1e300, 5e-324, 1.7e308,
                           -1.7e308, 3.4e38, 1e-45, 1.0, -1.0, 1e16, 2.0 ** 53 + 1])
SPECIAL = st.sampled_from([math.nan, math.inf, -math.inf])
FLOATS = st.one_of(st.floats(allow_nan=False, allow_infinity=False), EXTREME)


@st.composite
def columns(draw, n=None):
    """A 1-D sample: continuous, heavily tied, constant, extreme or non-finite."""
    n = draw(st.integers(0, 300)) if n is None else n
    kind = draw(st.sampled_from(['normal', 'ties', 'binary', 'constant', 'extreme', 'floats',
                                 'nonfinite', 'ints']))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    if kind == 'normal':
        x = rng.standard_normal(n) * draw(st.sampled_from([1e-300, 1e-10, 1.0, 1e10, 1e300]))
    elif kind == 'ties':
        x = np.round(rng.standard_normal(n) * draw(st.integers(1, 5)))
    elif kind == 'binary':
        x = (rng.standard_normal(n) > draw(st.floats(-3, 3))).astype(float)
    elif kind == 'constant':
        x = np.full(n, draw(FLOATS))
    elif kind in ('extreme', 'floats'):   # a few drawn values, spread over the n samples
        pool = np.array(draw(st.lists(EXTREME if kind == 'extreme' else FLOATS, min_size=1, max_size=8)),
                        dtype=float)
        x = rng.choice(pool, n)
    elif kind == 'ints':
        x = rng.integers(-2 ** 62, 2 ** 62, n)
    else:
        x = rng.standard_normal(n)
        if n:
            x[draw(st.integers(0, n - 1))] = draw(SPECIAL)
    dtype = draw(st.sampled_from(['keep', 'float32', 'float16', 'int64', 'int8', 'uint8',
                                  'bool', 'object', 'complex', 'list', 'str']))
    with warnings.catch_warnings(), np.errstate(all='ignore'):
        warnings.simplefilter('ignore')
        if dtype in ('float32', 'float16', 'int64', 'int8', 'uint8', 'bool', 'complex'):
            if dtype in ('int64', 'int8', 'uint8'):
                x = np.nan_to_num(x, nan=0, posinf=0, neginf=0)
                x = np.clip(x, np.iinfo(dtype).min, np.iinfo(dtype).max)
            x = x.astype(dtype)
        elif dtype == 'object':
            x = x.astype(object)
        elif dtype == 'list':
            x = x.tolist()
        elif dtype == 'str':
            x = x.astype(str)
    return x


def check_result(value):
    arr = np.asarray(value, dtype=float)
    assert np.all(np.isfinite(arr)), value
    assert np.all(arr >= 0.0), value


def check_error(exc: ValueError):
    assert str(exc).strip(), 'a ValueError must say what is wrong'


# --- estimator ----------------------------------------------------------------------------

@fuzz(4000)
@given(data=st.data())
def test_estimate_never_crashes(est, data):
    counted()
    n = data.draw(st.integers(0, 300))
    same = data.draw(st.booleans())
    x = data.draw(columns(n))
    y = data.draw(columns(n if same else None))
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', RuntimeWarning)   # constant input: documented warning
        try:
            value = est.estimate(x, y)
        except ValueError as exc:
            check_error(exc)
            return
    check_result(value)
    assert isinstance(value, float)


@fuzz(1500)
@given(data=st.data())
def test_estimate_batch_and_pairs_never_crash(est, data):
    counted()
    n = data.draw(st.integers(0, 200))
    k = data.draw(st.integers(0, 5))
    cols = [np.asarray(data.draw(columns(n)), dtype=object) for _ in range(k)]
    table = np.stack(cols, 1) if cols else np.zeros((n, 0), dtype=object)
    try:
        table = table.astype(float)
    except (TypeError, ValueError):
        pass
    pairs = data.draw(st.lists(st.tuples(st.integers(-2, 6), st.integers(-2, 6)), max_size=8))
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', RuntimeWarning)
        calls = {'pairs': lambda: est.estimate_pairs(table, pairs),
                 'matrix': lambda: est.estimate_matrix(table),
                 'batch': lambda: est.estimate_batch(table.T, table.T[::-1]),
                 'interval': lambda: np.stack(est.estimate_interval_pairs(table, pairs)).reshape(3, -1)}
        for name, call in calls.items():
            try:
                out = call()
            except ValueError as exc:
                check_error(exc)
                continue
            check_result(out)
            if name == 'interval':   # (low, mid, high) ordered
                assert np.all(out[0] <= out[1]) and np.all(out[1] <= out[2])


# --- field paths ----------------------------------------------------------------------------

PATH_ATOMS = st.sampled_from(['a', 'b', 'data', 'position', 'x', 'header', 'stamp', 'sec',
                              'linear', '_p', '9x', '', ' ', 'a b', '[', ']', '[0]', '[-1]',
                              '[99]', '[x]', '.', '..', 'é'])


@fuzz(1500)
@given(parts=st.lists(PATH_ATOMS, max_size=6), seps=st.lists(st.sampled_from(['.', '', '[0]', '[1]']), max_size=6),
       value=st.one_of(FLOATS, SPECIAL, st.booleans(), st.integers(), st.text(max_size=3),
                       st.lists(FLOATS, max_size=3), st.none(), st.binary(max_size=2)))
def test_field_paths_never_crash(parts, seps, value):
    counted()
    path = ''.join(p + (seps[i] if i < len(seps) else '') for i, p in enumerate(parts))
    try:
        getter = compile_field_path(path)
    except ValueError as exc:
        check_error(exc)
        return
    msg = SimpleNamespace(a=SimpleNamespace(b=value, x=[value, value]), data=[value], x=value,
                          position=value, header=SimpleNamespace(stamp=SimpleNamespace(sec=1, nanosec=2)),
                          linear=SimpleNamespace(x=value))
    try:
        out = getter(msg)
    except FieldExtractionError as exc:
        assert str(exc)
        return
    assert isinstance(out, float)   # may be NaN/inf: the aligner drops and counts those


# --- aligner ---------------------------------------------------------------------------------

@fuzz(2000)
@given(events=st.lists(st.tuples(st.sampled_from(['a', 'b', 'c', 'zz']),
                                 st.one_of(st.floats(-1e3, 1e3), SPECIAL, EXTREME,
                                           st.sampled_from([1.8e9, 1.8e9 + 0.01, 0.0])),
                                 st.one_of(FLOATS, SPECIAL)), max_size=120),
       rate=st.sampled_from([1.0, 50.0, 1000.0]), size=st.sampled_from([2, 8, 64]),
       t_end=st.one_of(st.none(), st.floats(-1e3, 1e3), SPECIAL))
def test_aligner_never_crashes(events, rate, size, t_end):
    counted()
    aligner = StreamAligner(['a', 'b', 'c'], sample_rate_hz=rate, window_size=size,
                            buffer_seconds=10.0 * size / rate + 1.0, max_samples=64)
    for name, t, v in events:
        try:
            aligner.add(name, t, v)
        except ValueError as exc:   # an unknown stream name is a programming error: named
            assert "'zz'" in str(exc)
    window = aligner.window(t_end)
    if window is not None:
        assert window.data.shape == (size, 3)
        assert np.isfinite(window.data).all() and np.isfinite(window.t).all()
        assert np.all(np.diff(window.t) > 0)
    diag = aligner.diagnostics()
    assert set(diag['streams']) == {'a', 'b', 'c'}


# --- parameters --------------------------------------------------------------------------------

PARAM_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-10, 10 ** 10), FLOATS, SPECIAL,
                         st.text(max_size=8), st.lists(st.text(max_size=4), max_size=4),
                         st.sampled_from(['a:b', 'a:a', 'b:c', 'auto', 'cpu', 'cuda:7', 'ksg',
                                          'infonet', '/t', 'std_msgs/msg/Float64', 'data']))


@fuzz(1500)
@given(extra=st.dictionaries(st.sampled_from(
    ['window_size', 'sample_rate_hz', 'publish_rate_hz', 'device', 'model_path', 'graph_threshold',
     'estimator', 'torch_threads', 'max_gap_s', 'stale_after_s', 'buffer_seconds', 'permutations',
     'p_value_alpha', 'graph_method', 'graph_alpha', 'null_path', 'marker_frame_id', 'pairs', 'stream_names', 'streams.a.topic', 'streams.a.type',
     'streams.a.field', 'streams.b.field', 'streams.q.topic', 'bogus']), PARAM_VALUES, max_size=5))
def test_parameter_parsing_never_crashes(extra):
    counted()
    params = {'stream_names': ['a', 'b'],
              'streams': {n: {'topic': f'/{n}', 'type': 'std_msgs/msg/Float64', 'field': 'data'}
                          for n in 'ab'}}
    flat = {**{f'streams.{n}.{k}': v for n, s in params['streams'].items() for k, v in s.items()},
            'stream_names': params['stream_names'], **extra}
    try:
        config = PipelineConfig.from_params(flat)
    except ValueError as exc:
        check_error(exc)
        return
    assert config.window_size >= 2 and config.sample_rate_hz > 0
    assert all(0 <= i < len(config.stream_names) and 0 <= j < len(config.stream_names)
               for i, j in config.pairs)
