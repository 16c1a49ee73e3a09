"""Streams: which scalar signals to read from which topics, and how.

A *stream* is one scalar time series taken from one field of one topic, e.g. stream
``accel_x`` = field ``linear_acceleration.x`` of ``sensor_msgs/msg/Imu`` on ``/imu/data``.
This module turns the node's parameters into a :class:`PipelineConfig` and turns
messages into ``(t, value)`` samples (:class:`StreamExtractor`). It is plain Python (no
rclpy): the live node and the offline bag tools share it, so both read the same samples.

Message objects can be rclpy messages or ``rosbags`` deserialised dataclasses; only
attribute access and indexing are used, and both flavours share field names.
"""

from __future__ import annotations

import importlib
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from infonet_ros.graph import GRAPH_METHODS

__all__ = [
    'PARAMETERS',
    'FieldExtractionError',
    'ParameterSpec',
    'PipelineConfig',
    'StreamExtractor',
    'StreamSpec',
    'apply_changes',
    'check_change',
    'compile_field_path',
    'import_message_type',
    'message_stamp',
    'parse_pairs',
]

NODE_NAME = 'infonet_estimator'
ESTIMATORS = ('infonet', 'ksg')
SIGNIFICANCE_METHODS = ('table', 'prewhitened')   # docs/SIGNIFICANCE.md
MIN_WINDOW_SIZE = 32   # the estimators' minimum sample count (estimator.MIN_SAMPLES)
LOG_LEVELS = ('debug', 'info', 'warn', 'error', 'fatal')
# Parameters every rclpy node may carry; accepted and ignored by PipelineConfig.
ROS_BUILTIN_PARAMETERS = ('use_sim_time', 'start_type_description_service')

_NAME_RE = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*$')
_DEVICE_RE = re.compile(r'^(auto|cpu|mps|cuda(:\d+)?)$')


class FieldExtractionError(ValueError):
    """A message did not contain a usable number at a stream's field path."""


@dataclass(frozen=True)
class StreamSpec:
    """One stream: ``field`` of messages of ``type`` on ``topic``.

    ``field`` is one field path (a scalar stream), or a vector stream (one graph node with
    several components): a list of paths (``[angular_velocity.x, angular_velocity.y]``)
    or a path with one slice of an array (``position[0:6]`` = ``position[0]`` ..
    ``position[5]``). ``fields`` holds the expanded component paths.
    """

    name: str   # stream name, as in ``stream_names``
    topic: str  # e.g. '/imu/data' (relative names resolve in the node's namespace)
    type: str   # e.g. 'sensor_msgs/msg/Imu'
    field: Any  # e.g. 'linear_acceleration.x', 'position[2]', 'position[0:6]', or a list
    fields: tuple[str, ...] = ()

    def __post_init__(self):
        if not self.fields:
            object.__setattr__(self, 'fields', expand_fields(self.field, self.name))

    @property
    def columns(self) -> list[str]:
        """Column names of this stream in a window: its name, or ``name[k]`` per component."""
        if len(self.fields) == 1:
            return [self.name]
        return [f'{self.name}[{k}]' for k in range(len(self.fields))]


MAX_VECTOR_COMPONENTS = 64
_SLICE_RE = re.compile(r'\[(-?\d*):(-?\d*)\]')


def expand_fields(field: Any, stream: str = '?') -> tuple[str, ...]:
    """A stream's ``field`` setting -> its component field paths.

    ``'a.b'`` -> ``('a.b',)``; ``'position[0:3]'`` -> ``('position[0]', 'position[1]',
    'position[2]')``; a list of paths -> the paths (each may carry a slice). ValueError
    naming ``streams.<stream>.field`` and what was expected.
    """
    key = f"parameter 'streams.{stream}.field'"
    if isinstance(field, str):
        paths = [field]
    elif isinstance(field, (list, tuple)) and field and all(isinstance(f, str) for f in field):
        paths = list(field)
    else:
        raise ValueError(f'{key} must be a field path or a non-empty list of field paths '
                         f'(a vector stream), got {field!r}')
    out: list[str] = []
    for path in paths:
        path = path.strip()
        if not path:
            raise ValueError(f'{key}: empty field path in {field!r}')
        slices = list(_SLICE_RE.finditer(path))
        if len(slices) > 1:
            raise ValueError(f"{key}: '{path}' has {len(slices)} slices; one vector stream "
                             'takes one slice, e.g. position[0:6]')
        if not slices:
            out.append(path)
            continue
        m = slices[0]
        if not (m.group(1) and m.group(2)) or int(m.group(1)) < 0 \
                or int(m.group(2)) <= int(m.group(1)):
            raise ValueError(f"{key}: bad slice '{m.group(0)}' in '{path}'; expected "
                             '[start:stop] with 0 <= start < stop, e.g. position[0:6]')
        out += [path[:m.start()] + f'[{i}]' + path[m.end():]
                for i in range(int(m.group(1)), int(m.group(2)))]
    if len(set(out)) != len(out):
        raise ValueError(f'{key}: repeated component in {out}')
    if len(out) > MAX_VECTOR_COMPONENTS:
        raise ValueError(f'{key}: {len(out)} components; a vector stream takes at most '
                         f'{MAX_VECTOR_COMPONENTS}')
    return tuple(out)


@dataclass
class PipelineConfig:
    """Everything the estimator node and the bag tools need; units in the names.

    ``pairs`` are index pairs into ``stream_names``; an empty ``pairs`` parameter means
    all pairs ``i < j``.
    """

    stream_names: list[str]
    streams: dict[str, StreamSpec]
    pairs: list[tuple[int, int]]
    window_size: int = 512           # samples per window (N)
    sample_rate_hz: float = 50.0     # common timeline the streams are aligned to
    publish_rate_hz: float = 5.0     # windows evaluated per second
    device: str = 'auto'             # auto | cpu | cuda | cuda:N
    model_path: str = ''             # empty = bundled InfoNet weights
    graph_threshold: float = 0.05    # nats; edges with MI >= threshold
    estimator: str = 'infonet'       # infonet | ksg (baseline)
    readout: bool = True             # InfoNet: the supervised read-out (estimate + 90 % interval);
                                     # False: the raw network's DV value, ~2x faster, no interval
    torch_threads: int = 1           # CPU threads for InfoNet; 0 = torch default (all cores).
                                     # 1 leaves a core to the subscriptions on small machines
    max_gap_s: float = 0.5           # a window with a larger gap in any stream is skipped
    stale_after_s: float = 2.0       # stream flagged stalled after this long without data
    buffer_seconds: float = 0.0      # per-stream history; 0 = 2 window spans + 2 s
    permutations: int = 0            # permutation test per pair; 0 = p_value NaN
    p_value_alpha: float = 0.05      # with permutations > 0, edges also need p <= alpha
    marker_frame_id: str = 'map'     # frame of ~/graph_markers
    max_lag_s: float = 0.0           # time-delayed MI over lags in [-max_lag_s, max_lag_s]; 0 = off
    lag_step_s: float = 0.0          # spacing of the lags; 0 = one sample of the timeline
    sliced_projections: int = 64     # random projection pairs per vector-stream pair

    @property
    def lag_samples(self) -> int:
        """Largest lag in samples of the timeline (0: lags off)."""
        return int(round(self.max_lag_s * self.sample_rate_hz))

    @property
    def lag_step_samples(self) -> int:
        """Spacing of the scanned lags in samples (at least 1)."""
        if self.lag_step_s <= 0:
            return 1
        return max(1, int(round(self.lag_step_s * self.sample_rate_hz)))

    @property
    def lags(self) -> list[int]:
        """Scanned lags in samples, ``-L .. L`` with 0 included; ``[0]`` when lags are off.
        Positive: the pair's first stream leads."""
        big, step = self.lag_samples, self.lag_step_samples
        half = list(range(step, big + 1, step))
        return [-k for k in reversed(half)] + [0] + half

    @property
    def column_names(self) -> list[str]:
        """Scalar columns of a window: a scalar stream is one column named like the
        stream, a vector stream ``v`` with D components the columns ``v[0] .. v[D-1]``."""
        return [c for name in self.stream_names for c in self.streams[name].columns]

    @property
    def column_groups(self) -> list[list[int]]:
        """Per stream (``stream_names`` order), its column indices in a window."""
        groups, k = [], 0
        for name in self.stream_names:
            d = len(self.streams[name].fields)
            groups.append(list(range(k, k + d)))
            k += d
        return groups

    @property
    def column_stream(self) -> dict[str, str]:
        """Column name -> its stream's name."""
        return {c: name for name in self.stream_names for c in self.streams[name].columns}

    @property
    def has_vectors(self) -> bool:
        return any(len(self.streams[n].fields) > 1 for n in self.stream_names)

    @property
    def vector_pairs(self) -> list[int]:
        """Indices into ``pairs`` of the pairs with a vector stream (sliced MI)."""
        groups = self.column_groups
        return [k for k, (i, j) in enumerate(self.pairs)
                if len(groups[i]) > 1 or len(groups[j]) > 1]
    graph_method: str = 'threshold'  # threshold | fdr (Benjamini-Hochberg on the p-values)
    graph_alpha: float = 0.05        # false-discovery rate of graph_method fdr
    null_path: str = ''              # null table for the p-values; empty = the shipped one
    significance: str = 'table'      # table | prewhitened (AR innovations, lags, Sidak)
    significance_lags: int = 3       # prewhitened: innovation lags -L..L, samples
    significance_memory: int = 1     # p combined over this many disjoint windows (Stouffer)

    @property
    def window_span_s(self) -> float:
        """Seconds from the first to the last sample of a window."""
        return (self.window_size - 1) / self.sample_rate_hz

    @property
    def effective_buffer_seconds(self) -> float:
        if self.buffer_seconds > 0:
            return self.buffer_seconds
        return 2.0 * self.window_span_s + 2.0 + self.max_lag_s

    @property
    def pair_names(self) -> list[tuple[str, str]]:
        return [(self.stream_names[i], self.stream_names[j]) for i, j in self.pairs]

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> 'PipelineConfig':
        """Build from node parameters: nested dicts or ROS-style dotted keys.

        ``{'streams': {'a': {'topic': ...}}}`` and ``{'streams.a.topic': ...}`` are the
        same. Raises ValueError naming the offending parameter.
        """
        flat = _flatten(params)
        stream_keys = {k for k in flat if k.startswith('streams.')}
        known = {f.name for f in fields(cls)} - {'streams'}
        for key in sorted(set(flat) - stream_keys):
            if key in NODE_ONLY_PARAMETERS:
                PARAMETERS[key].check(flat[key])
                continue
            if key in known or key in ROS_BUILTIN_PARAMETERS or key.startswith('qos_overrides.'):
                continue
            raise ValueError(
                f"unknown parameter '{key}'; expected one of: "
                f"{', '.join(sorted(known | {'streams.<name>.topic|type|field'}))}")

        if 'stream_names' not in flat:
            raise ValueError("parameter 'stream_names' is required: a list of stream names, "
                             "the order used in published messages")
        names = _string_list(flat['stream_names'], 'stream_names')
        if len(names) < 2:
            raise ValueError(f"parameter 'stream_names' needs at least 2 streams, got {names}")
        for name in names:
            if not _NAME_RE.match(name):
                raise ValueError(f"parameter 'stream_names': bad stream name '{name}' "
                                 '(letters, digits and _ only, not starting with a digit)')
        if len(set(names)) != len(names):
            raise ValueError(f"parameter 'stream_names' has duplicates: {names}")

        streams = {}
        for name in names:
            spec = {}
            for attr in ('topic', 'type', 'field'):
                key = f'streams.{name}.{attr}'
                value = flat.get(key)
                if attr == 'field' and isinstance(value, (list, tuple)):
                    spec[attr] = list(value)   # a vector stream; expand_fields checks it
                    continue
                if not isinstance(value, str) or not value.strip():
                    raise ValueError(f"parameter '{key}' is required (a non-empty string) "
                                     f"for stream '{name}', got {value!r}")
                spec[attr] = value.strip()
            streams[name] = StreamSpec(name=name, **spec)
        for key in sorted(stream_keys):
            parts = key.split('.')
            if len(parts) != 3 or parts[2] not in ('topic', 'type', 'field'):
                raise ValueError(f"unknown parameter '{key}'; expected streams.<name>.topic, "
                                 'streams.<name>.type or streams.<name>.field')
            if parts[1] not in names:
                raise ValueError(f"parameter '{key}' configures stream '{parts[1]}', which "
                                 f"is not in 'stream_names' {names}")

        kwargs: dict[str, Any] = {}
        for f in fields(cls):
            if f.name in ('stream_names', 'streams', 'pairs') or f.name not in flat:
                continue
            kwargs[f.name] = _coerce(f.name, flat[f.name], type(getattr(_DEFAULTS, f.name)))
        config = cls(stream_names=names, streams=streams,
                     pairs=parse_pairs(flat.get('pairs'), names), **kwargs)
        config.validate()
        return config

    @classmethod
    def from_yaml(cls, path, node_name: str = NODE_NAME) -> 'PipelineConfig':
        """Read the node's parameters file (``<node_name>: ros__parameters: ...``).

        Also accepts the wildcard sections ``/**`` and ``/**/<node_name>`` and a fully
        qualified ``/<ns>/<node_name>``; more specific sections win.
        """
        import yaml  # local: only the offline tools need it

        path = Path(path)
        try:
            doc = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise ValueError(f"cannot read parameters file '{path}': {exc}") from exc
        if not isinstance(doc, dict):
            raise ValueError(f"parameters file '{path}' is not a mapping of node names")
        merged: dict[str, Any] = {}
        found = False
        for key in ('/**', '**', f'/**/{node_name}', node_name, f'/{node_name}'):
            found |= _merge_section(doc, key, merged, path)
        for key in doc:
            if isinstance(key, str) and key.endswith(f'/{node_name}') and '*' not in key:
                found |= _merge_section(doc, key, merged, path)
        if not found:
            raise ValueError(f"parameters file '{path}' has no section for node "
                             f"'{node_name}' (or '/**') with 'ros__parameters'")
        try:
            return cls.from_params(merged)
        except ValueError as exc:
            raise ValueError(f'{path}: {exc}') from exc

    def validate(self) -> None:
        """Check value ranges; raises ValueError naming the parameter."""
        def need(ok: bool, name: str, what: str) -> None:
            if not ok:
                raise ValueError(f"parameter '{name}' must be {what}, "
                                 f'got {getattr(self, name)!r}')

        for spec in PARAMETERS.values():   # types, ranges and choices of the schema
            if spec.kind is not list and spec.name not in NODE_ONLY_PARAMETERS:
                spec.check(getattr(self, spec.name))
        if self.buffer_seconds > 0:
            need(self.buffer_seconds > self.window_span_s + self.max_lag_s, 'buffer_seconds',
                 f'longer than one window plus max_lag_s '
                 f'({self.window_span_s + self.max_lag_s:.3f} s)')
        need(self.max_lag_s == 0 or self.lag_samples >= 1, 'max_lag_s',
             f'0 (off) or at least one sample of the timeline ({1 / self.sample_rate_hz:g} s)')
        need(self.lag_samples <= self.window_size // 2, 'max_lag_s',
             f'at most half a window ({self.window_size // 2} samples = '
             f'{self.window_size // 2 / self.sample_rate_hz:g} s)')
        need(self.lag_step_samples <= max(self.lag_samples, 1), 'lag_step_s',
             f'at most max_lag_s ({self.max_lag_s:g} s)')
        # table and permutation p-values of autocorrelated streams carry a bias (smooth
        # streams: 0.13 false positives at 0.05), and Stouffer adds it up over windows
        # (0.75 at memory 3): only the prewhitened p-values may be combined
        need(self.significance_memory == 1
             or (self.significance == 'prewhitened' and self.permutations == 0),
             'significance_memory', '1 unless significance is prewhitened and permutations '
             'is 0 (table and permutation p-values of autocorrelated streams are biased, and '
             'combining windows adds the bias up: bench/results/evidence_memory.md)')
        need(bool(_DEVICE_RE.match(self.device)), 'device', 'auto, cpu, cuda or cuda:N')
        need(bool(self.marker_frame_id.strip()), 'marker_frame_id', 'a non-empty frame id')
        need(len(self.pairs) > 0, 'pairs', 'non-empty')
        k = len(self.stream_names)
        for i, j in self.pairs:
            need(0 <= i < k and 0 <= j < k and i != j, 'pairs',
                 f'pairs of distinct stream indices < {k}')


_DEFAULTS = PipelineConfig(stream_names=[], streams={}, pairs=[])


# --- the node's parameters: one schema for the ROS descriptors, --help and validation ----

@dataclass(frozen=True)
class ParameterSpec:
    """One node parameter: meaning, range and whether it can change while the node runs.

    The type and default come from :class:`PipelineConfig` (``stream_names`` and ``pairs``
    are string lists; ``log_level`` is the node's own). ``low``/``high`` are inclusive
    bounds, as in ROS descriptor ranges; ``low_open`` means the value must also differ
    from ``low`` (ROS ranges cannot say "> 0"). ``runtime`` parameters are applied on
    ``ros2 param set``; the others are read-only (restart the node to change them).
    """

    name: str
    description: str
    runtime: bool = False
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    choices: tuple[str, ...] = ()

    @property
    def default(self) -> Any:
        if self.name in ('stream_names', 'pairs'):
            return []
        if self.name == 'log_level':
            return ''
        return getattr(_DEFAULTS, self.name)

    @property
    def kind(self) -> type:
        """int, float, str or list (a list of strings)."""
        return list if isinstance(self.default, list) else type(self.default)

    def expected(self) -> str:
        """What a valid value looks like, e.g. 'an integer in [32, 100000]'."""
        noun = {int: 'an integer', float: 'a number', str: 'a string',
                list: 'a list of strings'}[self.kind]
        if self.low is not None and self.high is not None:
            lo = _number(self.low)
            return f"{noun} in {'(' if self.low_open else '['}{lo}, {_number(self.high)}]"
        if self.choices:
            return f"one of {', '.join(repr(c) for c in self.choices)}"
        return noun

    def check(self, value: Any) -> Any:
        """The value in its Python type; ValueError naming the parameter if it is invalid."""
        if self.kind is list:
            return _string_list(value, self.name)
        value = _coerce(self.name, value, self.kind)
        if self.kind in (int, float):
            inside = math.isfinite(value) and (self.low is None or (
                value > self.low if self.low_open else value >= self.low)) \
                and (self.high is None or value <= self.high)
            if not inside:
                raise ValueError(f"parameter '{self.name}' must be {self.expected()} "
                                 f'({self.description}), got {value!r}')
        if self.choices and value not in self.choices:
            raise ValueError(f"parameter '{self.name}' must be {self.expected()}, "
                             f'got {value!r}')
        return value


def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


PARAMETERS: dict[str, ParameterSpec] = {spec.name: spec for spec in (
    ParameterSpec('stream_names', 'stream names; their order is the order in published '
                  'messages. Each needs streams.<name>.topic, .type and .field'),
    ParameterSpec('pairs', "'a:b' stream pairs to evaluate; empty = all pairs",
                  runtime=True),
    ParameterSpec('window_size', f'samples per window (N); the estimators need at least '
                  f'{MIN_WINDOW_SIZE}', low=MIN_WINDOW_SIZE, high=100_000),
    ParameterSpec('sample_rate_hz', 'rate of the common timeline the streams are aligned '
                  'to, Hz', low=0.0, high=100_000.0, low_open=True),
    ParameterSpec('publish_rate_hz', 'windows evaluated and published per second, Hz',
                  runtime=True, low=0.0, high=1000.0, low_open=True),
    ParameterSpec('device', 'auto | cpu | cuda | cuda:N'),
    ParameterSpec('model_path', 'InfoNet weights (.safetensors); empty = bundled weights with their '
                  'supervised read-out (estimate and 90 % interval); other weights give the raw DV value'),
    ParameterSpec('graph_threshold', 'MI at or above which a pair is an edge of the graph, '
                  'nats', runtime=True, low=0.0, high=100.0),
    ParameterSpec('estimator', 'infonet | ksg (classical baseline)', choices=ESTIMATORS),
    ParameterSpec('readout', 'InfoNet with the bundled weights: publish the supervised '
                  "read-out's median and 90 % interval (true), or the raw network's DV value "
                  '(false: about twice as fast, 4.5x the error, no interval)'),
    ParameterSpec('torch_threads', 'CPU threads for InfoNet; 0 = torch default (all '
                  'cores)', low=0, high=1024),
    ParameterSpec('max_gap_s', 'largest gap in a stream interpolated across within a '
                  'window, s', runtime=True, low=0.0, high=3600.0, low_open=True),
    ParameterSpec('stale_after_s', 'a stream without samples for this long is reported '
                  'stalled, s', runtime=True, low=0.0, high=3600.0, low_open=True),
    ParameterSpec('buffer_seconds', 'history kept per stream, s; 0 = two windows + 2 s',
                  low=0.0, high=86_400.0),
    ParameterSpec('permutations', 'shuffles per pair for permutation-test p-values; '
                  '0 = no p-values', runtime=True, low=0, high=10_000),
    ParameterSpec('p_value_alpha', 'with permutations > 0, edges also need p <= alpha',
                  runtime=True, low=0.0, high=1.0, low_open=True),
    ParameterSpec('marker_frame_id', 'frame_id of the graph markers', runtime=True),
    ParameterSpec('max_lag_s', 'time-delayed MI: lags in [-max_lag_s, max_lag_s] are '
                  'scanned per scalar pair in one batched pass, s; 0 = off', low=0.0,
                  high=3600.0),
    ParameterSpec('lag_step_s', 'spacing of the scanned lags, s; 0 = one sample of the '
                  'timeline', low=0.0, high=3600.0),
    ParameterSpec('sliced_projections', 'random projection pairs of the sliced MI of a '
                  'pair with a vector stream', low=1, high=4096),
    ParameterSpec('graph_method', 'how edges are decided: threshold (MI >= graph_threshold'
                  '; with permutations > 0 also p <= p_value_alpha) or fdr (Benjamini-'
                  'Hochberg over the p-values of each window at graph_alpha)', runtime=True,
                  choices=GRAPH_METHODS),
    ParameterSpec('graph_alpha', 'false-discovery rate of graph_method fdr: the expected '
                  'share of false edges among the edges of a window', runtime=True,
                  low=0.0, high=1.0, low_open=True),
    ParameterSpec('null_path', 'null table (JSON from scripts/calibrate_null.py) for the '
                  "p-values; empty = the shipped one of the estimator (data/null_<estimator>"
                  '.json)'),
    ParameterSpec('significance', 'how p_value is computed without permutations: table '
                  "(the pair's zero-lag MI against the null table at its autocorrelation) or "
                  "prewhitened (each stream's AR innovations, MI at lags -significance_lags.."
                  'significance_lags against the white null, Sidak over the lags; about '
                  '2 significance_lags + 1 times the estimator rows)', runtime=True,
                  choices=SIGNIFICANCE_METHODS),
    ParameterSpec('significance_lags', 'significance prewhitened: largest lag of the '
                  'innovations, samples of the timeline (0: zero lag only)', runtime=True,
                  low=0, high=50),
    ParameterSpec('significance_memory', 'p_value of a pair combined (Stouffer) over this '
                  'many windows: the current one and the latest earlier ones that share no '
                  'sample with it or each other; holds weak persistent links at the cost '
                  'of inertia (1 = the window alone; > 1 needs significance prewhitened)',
                  runtime=True, low=1, high=100),
    ParameterSpec('log_level', "level of this node's logger only; empty = as set by "
                  '--ros-args --log-level', runtime=True, choices=('',) + LOG_LEVELS),
)}
STREAM_ATTRIBUTES = {'topic': 'topic of stream {name}',
                     'type': "message type of stream {name}, e.g. 'sensor_msgs/msg/Imu'",
                     'field': "field path of stream {name}, e.g. 'linear_acceleration.x'; a list "
                              "of paths or a slice ('position[0:6]') makes a vector stream"}
# Parameters of the node that are not pipeline settings (PipelineConfig checks, then
# ignores them).
NODE_ONLY_PARAMETERS = ('log_level',)


def parse_pairs(value: Any, stream_names: list[str],
                what: str = "parameter 'pairs'") -> list[tuple[int, int]]:
    """Parse the ``pairs`` parameter into index pairs.

    Accepts ``None`` / ``[]`` (all pairs i < j), ``"a:b"`` strings, or 2-sequences of
    stream names or indices. Order is kept; duplicates (in either order) are an error.
    ``what`` names the source in errors (e.g. the ``~/estimate`` request's field).
    """
    if value is not None and not isinstance(value, (str, list, tuple)):
        raise ValueError(f"parameter 'pairs' must be a list of \"a:b\" strings (empty: all "
                         f'pairs), got {value!r}')
    if value is None or (not isinstance(value, str) and len(value) == 0):
        k = len(stream_names)
        return [(i, j) for i in range(k) for j in range(i + 1, k)]
    if isinstance(value, str):
        value = [value]
    index = {name: i for i, name in enumerate(stream_names)}

    def lookup(token: Any, item: Any) -> int:
        if isinstance(token, str):
            token = token.strip()
            if token in index:
                return index[token]
            raise ValueError(f"{what}: '{item}' names unknown stream '{token}'; "
                             f'streams are {stream_names}')
        if isinstance(token, int) and not isinstance(token, bool) \
                and 0 <= token < len(stream_names):
            return token
        raise ValueError(f"{what}: bad entry {item!r}")

    pairs: list[tuple[int, int]] = []
    seen = set()
    for item in value:
        if isinstance(item, str):
            parts = item.split(':')
            if len(parts) != 2:
                raise ValueError(f"{what}: '{item}' must look like 'a:b'")
        elif isinstance(item, (list, tuple)) and len(item) == 2:
            parts = list(item)
        else:
            raise ValueError(f"{what}: bad entry {item!r}; use 'a:b' strings")
        i, j = lookup(parts[0], item), lookup(parts[1], item)
        if i == j:
            raise ValueError(f"{what}: '{item}' pairs a stream with itself")
        if frozenset((i, j)) in seen:
            raise ValueError(f"{what}: duplicate pair {item!r}")
        seen.add(frozenset((i, j)))
        pairs.append((i, j))
    return pairs


def apply_changes(params: Mapping[str, Any], changes: Mapping[str, Any]
                  ) -> tuple['PipelineConfig', dict[str, Any]]:
    """A running node's flat parameters with ``changes`` applied: (new config, new params).

    Only runtime parameters (``PARAMETERS[name].runtime``) may change; the result is
    validated as a whole (e.g. new ``pairs`` against ``stream_names``). Raises ValueError
    naming the parameter and the reason; ``params`` is left as it was.
    """
    for name, value in changes.items():
        check_change(name, value)
    merged = {**params, **changes}
    return PipelineConfig.from_params(merged), merged


def check_change(name: str, value: Any) -> Any:
    """One run-time change on its own (type, range, not read-only); the checked value."""
    spec = PARAMETERS.get(name)
    if spec is None and name.startswith('streams.'):
        spec = ParameterSpec(name, '')
    if spec is None:
        raise ValueError(f"unknown parameter '{name}'")
    if not spec.runtime:
        raise ValueError(f"parameter '{name}' is read-only while the node runs: restart "
                         'the node to change it')
    return spec.check(value)

def _merge_section(doc: dict, key: str, merged: dict, path: Path) -> bool:
    section = doc.get(key)
    if section is None:
        return False
    if not isinstance(section, dict) or not isinstance(section.get('ros__parameters'), dict):
        raise ValueError(f"parameters file '{path}': section '{key}' needs a "
                         "'ros__parameters' mapping")
    merged.update(_flatten(section['ros__parameters']))
    return True


def _flatten(params: Mapping[str, Any], prefix: str = '') -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in params.items():
        name = f'{prefix}{key}'
        if isinstance(value, Mapping):
            flat.update(_flatten(value, name + '.'))
        elif isinstance(value, StreamSpec):
            for attr in ('topic', 'type', 'field'):
                flat[f'{name}.{attr}'] = getattr(value, attr)
        else:
            flat[name] = value
    return flat


def _string_list(value: Any, name: str) -> list[str]:
    if isinstance(value, str) or not hasattr(value, '__iter__') \
            or not all(isinstance(v, str) for v in value):
        raise ValueError(f"parameter '{name}' must be a list of strings, got {value!r}")
    return [v.strip() for v in value]


def _coerce(name: str, value: Any, kind: type) -> Any:
    if kind is bool:
        ok = isinstance(value, bool)
    elif kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    else:
        ok = isinstance(value, kind)
    if not ok:
        raise ValueError(f"parameter '{name}' must be of type {kind.__name__}, "
                         f'got {value!r}')
    return kind(value)


# --- message types and field paths ------------------------------------------------------

def import_message_type(type_str: str) -> type:
    """Resolve ``'sensor_msgs/msg/Imu'`` (or ``'sensor_msgs/Imu'``) to its Python class."""
    parts = type_str.strip().split('/') if isinstance(type_str, str) else []
    if len(parts) == 2:
        parts = [parts[0], 'msg', parts[1]]
    if len(parts) != 3 or not all(_NAME_RE.match(p) for p in parts) or parts[1] != 'msg':
        raise ValueError(f"bad message type '{type_str}': expected 'package/msg/Name', "
                         "e.g. 'sensor_msgs/msg/Imu'")
    package, _, name = parts
    try:
        module = importlib.import_module(f'{package}.msg')
    except ImportError as exc:
        raise ValueError(f"message type '{type_str}': cannot import '{package}.msg' "
                         f'({exc}); is the message package installed and sourced?') from exc
    cls = getattr(module, name, None)
    if cls is None or not hasattr(cls, 'get_fields_and_field_types'):
        raise ValueError(f"message type '{type_str}': '{package}.msg' has no message "
                         f"'{name}'")
    return cls


_SEGMENT_RE = re.compile(r'^([A-Za-z_][A-Za-z0-9_]*)((?:\[-?\d+\])*)$')
_NUMERIC_TYPES = {
    'float', 'double', 'long double', 'boolean', 'octet', 'char', 'byte',
    'int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64',
}
_TIME_TYPES = {'builtin_interfaces/Time', 'builtin_interfaces/Duration'}


def _parse_path(path: str) -> list[tuple[str, list[int]]]:
    if not isinstance(path, str) or not path.strip():
        raise ValueError('empty field path')
    steps = []
    for segment in path.strip().split('.'):
        match = _SEGMENT_RE.match(segment)
        if not match:
            raise ValueError(f"bad field path '{path}': cannot parse '{segment}'")
        indices = [int(i) for i in re.findall(r'-?\d+', match.group(2))]
        steps.append((match.group(1), indices))
    return steps


def _element_type(type_str: str) -> tuple[str, int]:
    """'sequence<double, 3>' -> ('double', 1); 'double[9]' -> ('double', 1)."""
    depth = 0
    while True:
        match = re.match(r'^sequence<(.+?)(,\s*\d+)?>$', type_str)
        if match:
            type_str, depth = match.group(1).strip(), depth + 1
            continue
        match = re.match(r'^(.+)\[\d*\]$', type_str)
        if match:
            type_str, depth = match.group(1).strip(), depth + 1
            continue
        return type_str, depth


def _check_path_against_type(path: str, steps, msg_type: type) -> None:
    current: type | None = msg_type
    where = msg_type.__name__
    for n, (name, indices) in enumerate(steps):
        field_types = current.get_fields_and_field_types()
        if name not in field_types:
            raise ValueError(f"field path '{path}': {where} has no field '{name}'; fields "
                             f"are {sorted(field_types)}")
        base, depth = _element_type(field_types[name])
        if len(indices) > depth:
            raise ValueError(f"field path '{path}': '{name}' ({field_types[name]}) "
                             'cannot be indexed')
        if len(indices) < depth:
            raise ValueError(f"field path '{path}': '{name}' is an array "
                             f"({field_types[name]}); pick an element, e.g. '{name}[0]'")
        last = n == len(steps) - 1
        if '/' in base:
            if last:
                if base in _TIME_TYPES:
                    return
                raise ValueError(f"field path '{path}': '{name}' is a {base} message, not "
                                 'a number; select one of its fields')
            package, type_name = base.split('/')
            current = import_message_type(f'{package}/msg/{type_name}')
            where = f'{name} ({base})'
        else:
            if base not in _NUMERIC_TYPES:
                raise ValueError(f"field path '{path}': '{name}' has type {base}, not a "
                                 'number')
            if not last:
                raise ValueError(f"field path '{path}': '{name}' is a number ({base}) "
                                 'and has no fields')


def _to_float(value: Any) -> float:
    if isinstance(value, float):
        return value
    if isinstance(value, (bytes, bytearray)) and len(value) == 1:
        return float(value[0])
    if hasattr(value, 'sec') and hasattr(value, 'nanosec'):
        return value.sec + value.nanosec * 1e-9
    return float(value)


def compile_field_path(path: str, msg_type: type | None = None,
                       stream: str | None = None) -> Callable[[Any], float]:
    """Compile ``'linear_acceleration.x'``, ``'position[2]'``, ``'data[0]'`` into a getter.

    The getter maps a message (rclpy or rosbags flavour) to a float and raises
    FieldExtractionError when a message lacks the element (e.g. a short array). With
    ``msg_type`` (an rclpy message class) the path is checked against the type first:
    unknown fields, indexing a scalar, unindexed arrays and non-numeric leaves raise
    ValueError naming the stream and field. ``builtin_interfaces/Time`` leaves give
    seconds; booleans give 0/1.
    """
    label = f"stream '{stream}': " if stream else ''
    try:
        steps = _parse_path(path)
        if msg_type is not None:
            _check_path_against_type(path, steps, msg_type)
    except ValueError as exc:
        raise ValueError(f'{label}{exc}') from None

    def getter(msg: Any) -> float:
        value = msg
        try:
            for name, indices in steps:
                value = getattr(value, name)
                for i in indices:
                    value = value[i]
            return _to_float(value)
        except (AttributeError, IndexError, TypeError, ValueError) as exc:
            raise FieldExtractionError(
                f"{label}cannot read field '{path}' from {type(msg).__name__}: "
                f'{type(exc).__name__}: {exc}') from None

    getter.__name__ = f'field_{path}'
    return getter


def message_stamp(msg: Any) -> float | None:
    """``header.stamp`` in seconds, or None without a header or with a zero stamp.

    Zero stamps are treated as missing: many publishers leave them unset, and the caller
    then falls back to the receive time.
    """
    stamp = getattr(getattr(msg, 'header', None), 'stamp', None)
    if stamp is None:
        return None
    sec, nanosec = getattr(stamp, 'sec', 0), getattr(stamp, 'nanosec', 0)
    if sec == 0 and nanosec == 0:
        return None
    return sec + nanosec * 1e-9


class StreamExtractor:
    """Messages -> ``(t, value)`` samples for the configured streams.

    ``t`` is the message's header stamp when it has a non-zero one, else the receive time
    passed in (seconds, same clock). Several streams may share a topic.
    """

    def __init__(self, config: PipelineConfig, check_types: bool = True):
        self.config = config
        self.topics: dict[str, str] = {}             # topic -> type string
        self.message_types: dict[str, type] = {}     # topic -> class (check_types only)
        self._by_topic: dict[str, list[str]] = {}
        self._getters: dict[str, Callable[[Any], float]] = {}   # per column
        self._columns_by_topic: dict[str, list[str]] = {}
        for name in config.stream_names:
            spec = config.streams[name]
            msg_type = None
            if check_types:
                try:
                    msg_type = import_message_type(spec.type)
                except ValueError as exc:
                    raise ValueError(f"parameter 'streams.{name}.type': {exc}") from None
                self.message_types[spec.topic] = msg_type
            known = self.topics.setdefault(spec.topic, spec.type)
            if _canonical_type(known) != _canonical_type(spec.type):
                raise ValueError(
                    f"stream '{name}': topic '{spec.topic}' has type '{spec.type}' here but "
                    f"'{known}' in another stream; one topic has one type")
            self._by_topic.setdefault(spec.topic, []).append(name)
            # A vector stream is read as one column per component (windowing and
            # alignment work per component; the pipeline groups them again).
            for column, path in zip(spec.columns, spec.fields):
                self._columns_by_topic.setdefault(spec.topic, []).append(column)
                try:
                    self._getters[column] = compile_field_path(path, msg_type, stream=name)
                except ValueError as exc:
                    raise ValueError(f"parameter 'streams.{name}.field': {exc}") from None

    def streams_on(self, topic: str) -> list[str]:
        """Stream names read from ``topic`` (empty if none)."""
        return list(self._by_topic.get(topic, []))

    def extract(self, stream_name: str, msg: Any, receive_time: float) -> tuple[float, float]:
        """``(t, value)`` of one scalar column (a scalar stream's name, or ``v[k]`` of a
        vector stream ``v``); raises FieldExtractionError on a bad message."""
        stamp = message_stamp(msg)
        return (receive_time if stamp is None else stamp), self._getters[stream_name](msg)

    def extract_topic(self, topic: str, msg: Any, receive_time: float | Callable[[], float]
                      ) -> list[tuple[str, float, float | FieldExtractionError]]:
        """All columns of ``topic``: ``(column, t, value)``; value is the exception on
        failure. A scalar stream's column is its name; a vector stream ``v`` gives
        ``v[0]``, ``v[1]``, ... (``PipelineConfig.column_names``).

        ``receive_time`` may be a function, called only for a message without a stamp.
        """
        stamp = message_stamp(msg)
        if stamp is not None:
            t = stamp
        else:
            t = receive_time() if callable(receive_time) else receive_time
        out: list[tuple[str, float, float | FieldExtractionError]] = []
        for name in self._columns_by_topic.get(topic, ()):
            try:
                out.append((name, t, self._getters[name](msg)))
            except FieldExtractionError as exc:
                out.append((name, t, exc))
        return out


def _canonical_type(type_str: str) -> str:
    parts = type_str.strip().split('/')
    return '/'.join([parts[0], 'msg', parts[1]]) if len(parts) == 2 else type_str.strip()

