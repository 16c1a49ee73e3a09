"""The demo bag: robot-like streams with a known, time-varying dependency structure.

Four streams on four topics (the names used by ``config/demo.yaml``):

==========  ===================================  ======  =========  =====================
stream      topic / type / field                 rate    time       behaviour
==========  ===================================  ======  =========  =====================
cmd_vx      /cmd_vel  geometry_msgs/Twist         20 Hz   log time   i.i.d. set-points U_k
            ``linear.x``
accel_x     /imu/data  sensor_msgs/Imu            100 Hz  stamped    follows cmd_vx with
            ``linear_acceleration.x``                                correlation rho(t)
wheel_vel   /joint_states  sensor_msgs/JointState 100 Hz  stamped    follows cmd_vx 25 ms
            ``velocity[0]``                                          late (actuator lag)
battery     /battery/voltage  std_msgs/Float64    10 Hz   log time   independent of all
            ``data``
==========  ===================================  ======  =========  =====================

Construction (all Gaussian, so every true MI is ``-0.5 log(1 - r^2)`` of a known
correlation r). ``U_k ~ N(0, 1)`` i.i.d. are the command set-points at t_k = k / 20 s;
``Ulin(t)`` is the straight line through them (what a linear interpolator sees).

- ``accel_x(t) = rho(t) Ulin(t) + sqrt(1 - rho(t)^2) e(t)``, e i.i.d. per IMU sample;
  ``rho(t)`` is piecewise constant: the *couplings* (default 0.8 on [20 s, 60 s), 0.6 on
  [80 s, 110 s), 0 elsewhere).
- ``wheel_vel(t) = c Ulin(t - L) / s + sqrt(1 - c^2) n(t)``, c = 0.9, L = half a command
  period (25 ms), ``s = sqrt((1 - a)^2 + a^2)`` with ``a = L * 20`` normalises the variance.
  At t_k the wheel sees ``(U_k + U_{k-1}) / 2``: its zero-lag correlation with cmd_vx is
  ``c (1 - a) / s = 0.636`` (0.26 nats), against ``c = 0.9`` (0.83 nats) for the command
  25 ms earlier. Pairwise MI at zero lag under-states a lagged dependency; the ground truth
  gives both numbers.
- accel_x and wheel_vel share U_k, so during a coupling they are dependent too
  (r = rho x 0.636).
- battery: 12.6 V draining slowly, plus i.i.d. noise: independent of everything.

On a common timeline of 20 Hz whose points fall on the set-point times (``config/demo.yaml``:
``sample_rate_hz: 20``; window ends at multiples of ``1 / publish_rate_hz`` are multiples of
0.05 s), linear interpolation reproduces exactly these values, consecutive points are
i.i.d. (wheel_vel: 1-dependent), and the truths below are exact for every window lying
inside one segment. Windows straddling a switch see a mixture (no single true value).
A live node's windows end at arbitrary times: their points fall between set-points, where
the interpolated command and the noisy 100 Hz IMU correlate less (for rho = 0.8 down to
0.69, 0.32 nats, halfway between set-points).

Scaling and offsets (m/s, m/s^2, V) make the numbers look like a robot's; MI is invariant
to them. Times: the bag starts at ``T0`` (a fixed epoch, seconds) so that stamps look real.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from infonet_ros.bag_io import stamp_fields, write_bag

__all__ = ['DemoScenario', 'gaussian_mi', 'load_ground_truth', 'true_mi', 'write_demo_bag']

T0 = 1_700_000_000.0   # s; a multiple of every grid spacing used (0.05 s, 0.02 s)
STREAMS = {   # name -> (topic, type, field, stamped)
    'cmd_vx': ('/cmd_vel', 'geometry_msgs/msg/Twist', 'linear.x', False),
    'accel_x': ('/imu/data', 'sensor_msgs/msg/Imu', 'linear_acceleration.x', True),
    'wheel_vel': ('/joint_states', 'sensor_msgs/msg/JointState', 'velocity[0]', True),
    'battery': ('/battery/voltage', 'std_msgs/msg/Float64', 'data', False),
}


def gaussian_mi(r: float) -> float:
    """MI (nats) of a bivariate Gaussian with correlation ``r``."""
    return -0.5 * math.log(1.0 - r * r) if r else 0.0


@dataclass
class DemoScenario:
    """Everything that defines a demo bag. Times in seconds from the bag start."""

    duration_s: float = 120.0
    seed: int = 0
    cmd_rate_hz: float = 20.0        # set-points; also the grid the truth is exact on
    imu_rate_hz: float = 100.0       # multiple of cmd_rate_hz
    joint_rate_hz: float = 100.0     # multiple of cmd_rate_hz
    battery_rate_hz: float = 10.0
    couplings: list[tuple[float, float, float]] = field(
        default_factory=lambda: [(20.0, 60.0, 0.8), (80.0, 110.0, 0.6)])  # (start, end, rho)
    wheel_rho: float = 0.9            # c: wheel vs. the lagged command
    wheel_lag_periods: float = 0.5    # L in command periods (0.5 -> 25 ms at 20 Hz)
    imu_delay_s: float = 0.003        # log time - stamp (transport), stamped topics
    t0: float = T0

    def __post_init__(self):
        self.couplings = [tuple(float(v) for v in c) for c in self.couplings]
        for name in ('imu_rate_hz', 'joint_rate_hz'):
            ratio = getattr(self, name) / self.cmd_rate_hz
            if abs(ratio - round(ratio)) > 1e-9 or ratio < 1:
                raise ValueError(f'{name} ({getattr(self, name)}) must be a multiple of '
                                 f'cmd_rate_hz ({self.cmd_rate_hz})')
        for start, end, rho in self.couplings:
            if not (0 <= start < end and -1 < rho < 1):
                raise ValueError(f'bad coupling {(start, end, rho)}: need 0 <= start < end, '
                                 '|rho| < 1')
        if not 0 <= self.wheel_lag_periods < 1:
            raise ValueError('wheel_lag_periods must be in [0, 1)')

    @property
    def wheel_zero_lag_corr(self) -> float:
        a = self.wheel_lag_periods
        return self.wheel_rho * (1 - a) / math.hypot(1 - a, a)

    def rho_at(self, t_rel: np.ndarray) -> np.ndarray:
        rho = np.zeros_like(t_rel, dtype=np.float64)
        for start, end, r in self.couplings:
            rho[(t_rel >= start) & (t_rel < end)] = r
        return rho

    def ground_truth(self) -> dict:
        """Segments per pair, with the true MI (nats) of windows inside them."""
        cuts = sorted({0.0, self.duration_s}
                      | {min(max(c, 0.0), self.duration_s)
                         for s, e, _ in self.couplings for c in (s, e)})
        spans = [(a, b) for a, b in zip(cuts[:-1], cuts[1:]) if b > a]
        cw = self.wheel_zero_lag_corr
        names = list(STREAMS)
        segments = []
        for i, first in enumerate(names):
            for second in names[i + 1:]:
                pair = {first, second}
                for a, b in spans:
                    rho = float(self.rho_at(np.array([(a + b) / 2]))[0])
                    if pair == {'cmd_vx', 'accel_x'}:
                        r, why = rho, f'accel_x follows cmd_vx, rho = {rho}'
                    elif pair == {'cmd_vx', 'wheel_vel'}:
                        r, why = cw, (f'wheel_vel follows cmd_vx '
                                      f'{1e3 * self.wheel_lag_s:.0f} ms late; zero-lag '
                                      f'correlation {cw:.3f} (at the lag: {self.wheel_rho})')
                    elif pair == {'accel_x', 'wheel_vel'}:
                        r, why = rho * cw, f'both follow cmd_vx: r = {rho} x {cw:.3f}'
                    else:
                        r, why = 0.0, 'independent'
                    if r == 0.0 and 'independent' not in why:
                        why = 'coupling off: independent'
                    prev = segments[-1] if segments else None
                    if prev and prev['first'] == first and prev['second'] == second \
                            and prev['corr'] == round(r, 12):
                        prev['end_s'], prev['t_end'] = b, self.t0 + b   # same truth: merge
                        continue
                    segments.append({
                        'first': first, 'second': second,
                        'start_s': a, 'end_s': b,
                        't_start': self.t0 + a, 't_end': self.t0 + b,
                        'corr': round(r, 12), 'mi': gaussian_mi(r), 'note': why})
        return {
            'description': 'infonet_ros demo bag: true mutual information per pair and '
                           'segment (nats), exact on the aligned 20 Hz grid '
                           '(config/demo.yaml) for windows inside one segment',
            't0': self.t0,
            'duration_s': self.duration_s,
            'grid': {'sample_rate_hz': self.cmd_rate_hz,
                     'note': 'exact for grid points on the set-point times t0 + k / '
                             'cmd_rate_hz (bag_eval: window ends on multiples of '
                             '1 / publish_rate_hz); windows ending in between (a live '
                             'node) see interpolated values and lower MI'},
            'streams': {n: {'topic': s[0], 'type': s[1], 'field': s[2],
                            'rate_hz': self._rate(n), 'stamped': s[3]}
                        for n, s in STREAMS.items()},
            'lagged': {'first': 'cmd_vx', 'second': 'wheel_vel', 'lag_s': self.wheel_lag_s,
                       'mi_zero_lag': gaussian_mi(cw),
                       'mi_at_lag': gaussian_mi(self.wheel_rho)},
            'scenario': json.loads(json.dumps(asdict(self))),   # tuples -> lists
            'segments': segments,
        }

    @property
    def wheel_lag_s(self) -> float:
        return self.wheel_lag_periods / self.cmd_rate_hz

    def _rate(self, name: str) -> float:
        return {'cmd_vx': self.cmd_rate_hz, 'accel_x': self.imu_rate_hz,
                'wheel_vel': self.joint_rate_hz, 'battery': self.battery_rate_hz}[name]


def _times(rate_hz: float, duration_s: float) -> np.ndarray:
    """Relative sample times k / rate in [0, duration_s], exactly on the rate's lattice."""
    n = int(math.floor(duration_s * rate_hz + 1e-9)) + 1
    return np.arange(n) / rate_hz


def generate_messages(sc: DemoScenario, typestore):
    """All messages, ``(topic, log_time_s, msg)`` in log-time order (a list)."""
    types = typestore.types
    Time, Header = types['builtin_interfaces/msg/Time'], types['std_msgs/msg/Header']
    Vector3, Quaternion = types['geometry_msgs/msg/Vector3'], types['geometry_msgs/msg/Quaternion']
    Twist, Imu = types['geometry_msgs/msg/Twist'], types['sensor_msgs/msg/Imu']
    JointState, Float64 = types['sensor_msgs/msg/JointState'], types['std_msgs/msg/Float64']
    rng = np.random.default_rng(sc.seed)

    # Set-points, with one before the start for the lagged wheel.
    t_cmd = _times(sc.cmd_rate_hz, sc.duration_s)
    knots = np.concatenate([[-1.0 / sc.cmd_rate_hz], t_cmd])
    u = rng.standard_normal(len(knots))

    def ulin(t):
        return np.interp(t, knots, u)

    out = []

    def header(t, frame):
        return Header(stamp=Time(**stamp_fields(sc.t0 + t)), frame_id=frame)

    for t, v in zip(t_cmd, u[1:]):
        out.append(('/cmd_vel', sc.t0 + t,
                    Twist(linear=Vector3(x=0.5 + 0.2 * v, y=0.0, z=0.0),
                          angular=Vector3(x=0.0, y=0.0, z=0.0))))

    t_imu = _times(sc.imu_rate_hz, sc.duration_s)
    rho = sc.rho_at(t_imu)
    e = rng.standard_normal((len(t_imu), 3))
    accel = rho * ulin(t_imu) + np.sqrt(1 - rho ** 2) * e[:, 0]
    zeros9 = np.zeros(9)
    for k, t in enumerate(t_imu):
        out.append(('/imu/data', sc.t0 + t + sc.imu_delay_s, Imu(
            header=header(t, 'imu_link'),
            orientation=Quaternion(x=0.0, y=0.0, z=0.0, w=1.0),
            orientation_covariance=zeros9,
            angular_velocity=Vector3(x=0.0, y=0.0, z=0.02 * e[k, 1]),
            angular_velocity_covariance=zeros9,
            linear_acceleration=Vector3(x=0.3 * accel[k], y=0.0, z=9.81 + 0.05 * e[k, 2]),
            linear_acceleration_covariance=zeros9)))

    t_joint = _times(sc.joint_rate_hz, sc.duration_s)
    a = sc.wheel_lag_periods
    c = sc.wheel_rho
    wheel = (c * ulin(t_joint - sc.wheel_lag_s) / math.hypot(1 - a, a)
             + math.sqrt(1 - c * c) * rng.standard_normal(len(t_joint)))
    wheel_vel = 5.0 + 2.0 * wheel                   # rad/s
    wheel_pos = np.cumsum(wheel_vel) / sc.joint_rate_hz
    for k, t in enumerate(t_joint):
        out.append(('/joint_states', sc.t0 + t + sc.imu_delay_s, JointState(
            header=header(t, ''), name=['drive_wheel_joint'],
            position=np.array([wheel_pos[k]]), velocity=np.array([wheel_vel[k]]),
            effort=np.array([]))))

    t_bat = _times(sc.battery_rate_hz, sc.duration_s)
    volts = 12.6 - 0.002 * t_bat + 0.02 * rng.standard_normal(len(t_bat))
    for t, v in zip(t_bat, volts):
        out.append(('/battery/voltage', sc.t0 + t, Float64(data=float(v))))

    out.sort(key=lambda m: m[1])   # stable: ties keep the order above
    return out


def write_demo_bag(path, scenario: DemoScenario | None = None, storage: str = 'mcap',
                   overwrite: bool = False) -> dict:
    """Write the demo bag at ``path`` (a rosbag2 directory) and ``ground_truth.json``
    beside it (``<path>/../ground_truth.json``). Returns the ground truth."""
    from rosbags.typesys import Stores, get_typestore

    sc = scenario or DemoScenario()
    path = Path(path)
    if path.exists():
        if not overwrite:
            raise FileExistsError(f"'{path}' exists; pass overwrite=True to replace it")
        shutil.rmtree(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ts = get_typestore(Stores.ROS2_KILTED)
    topics = {spec[0]: spec[1] for spec in STREAMS.values()}
    write_bag(path, topics, generate_messages(sc, ts), storage=storage, typestore=ts)
    truth = sc.ground_truth()
    truth['bag'] = path.name
    truth['storage'] = storage
    ground_truth_path(path).write_text(json.dumps(truth, indent=1) + '\n')
    return truth


def ground_truth_path(bag_path) -> Path:
    return Path(bag_path).parent / 'ground_truth.json'


def load_ground_truth(path) -> dict:
    """Read a ``ground_truth.json`` (or the one beside a bag directory)."""
    path = Path(path)
    if path.is_dir():
        path = ground_truth_path(path)
    try:
        truth = json.loads(path.read_text())
        truth['segments']
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"cannot read ground truth '{path}': {exc}") from None
    return truth


def true_mi(truth: dict, first: str, second: str, t_start: float, t_end: float
            ) -> float | None:
    """True MI (nats) of a window ``[t_start, t_end]`` (absolute seconds) of a pair, or
    None when the window straddles a segment boundary (or the pair has no truth)."""
    for seg in truth['segments']:
        if {seg['first'], seg['second']} != {first, second}:
            continue
        if seg['t_start'] - 1e-6 <= t_start and t_end < seg['t_end'] + 1e-6:
            return float(seg['mi'])
    return None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog='python -m infonet_ros.demo_data',
        description='Write the demo bag (robot-like streams with known MI) and '
                    'ground_truth.json beside it.')
    parser.add_argument('bag', help='output bag directory (must not exist, or --overwrite)')
    parser.add_argument('--storage', choices=['mcap', 'sqlite3'], default='mcap')
    parser.add_argument('--duration', type=float, default=120.0, help='seconds')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--overwrite', action='store_true')
    args = parser.parse_args(argv)
    try:
        truth = write_demo_bag(args.bag, DemoScenario(duration_s=args.duration,
                                                      seed=args.seed),
                               storage=args.storage, overwrite=args.overwrite)
    except (ValueError, FileExistsError, OSError) as exc:
        print(f'demo_data: error: {exc}', file=sys.stderr)
        return 2
    print(f"wrote {args.bag} ({args.storage}, {truth['duration_s']:.0f} s) and "
          f'{ground_truth_path(args.bag)}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
