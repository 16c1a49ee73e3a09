"""bag_eval on real rosbag2 bags (sqlite3 and mcap, written with rosbags) of known truth.

The bags come from the demo generator (infonet_ros.demo_data) with a 50 Hz command, so that
a 50 Hz timeline puts every window on i.i.d. bivariate-Gaussian samples: cmd_vx and accel_x
have rho = 0.8 (0.511 nats) on [13 s, 28 s) and are independent elsewhere; battery is
independent of everything.
"""

import csv
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from infonet_ros.bag_eval import evaluate_bag, iter_windows, main
from infonet_ros.bag_io import BagError, BagReader, write_bag
from infonet_ros.demo_data import DemoScenario, write_demo_bag
from infonet_ros.streams import PipelineConfig

RHO, ON, OFF = 0.8, 13.0, 28.0
TRUTH = -0.5 * math.log(1 - RHO ** 2)
SCENARIO = DemoScenario(duration_s=44.0, cmd_rate_hz=50.0, couplings=[(ON, OFF, RHO)], seed=3)
STREAMS = {
    'cmd_vx': ('/cmd_vel', 'geometry_msgs/msg/Twist', 'linear.x'),
    'accel_x': ('/imu/data', 'sensor_msgs/msg/Imu', 'linear_acceleration.x'),
    'wheel_vel': ('/joint_states', 'sensor_msgs/msg/JointState', 'velocity[0]'),
    'battery': ('/battery/voltage', 'std_msgs/msg/Float64', 'data'),
}


def write_params(path, streams=STREAMS, **params):
    """A node parameters file, like config/estimator.yaml."""
    lines = ['/**/infonet_estimator:', '  ros__parameters:',
             f'    stream_names: [{", ".join(streams)}]', '    streams:']
    for name, (topic, type_, field) in streams.items():
        lines.append(f'      {name}: {{topic: {topic}, type: {type_}, field: "{field}"}}')
    defaults = {'window_size': 512, 'sample_rate_hz': 50.0, 'publish_rate_hz': 2.0,
                'device': 'cpu', 'model_path': '""', 'graph_threshold': 0.05}
    for key, value in {**defaults, **params}.items():
        lines.append(f'    {key}: {value}')
    path.write_text('\n'.join(lines) + '\n')
    return path


@pytest.fixture(scope='module')
def bags(tmp_path_factory):
    root = tmp_path_factory.mktemp('bags')
    for storage in ('mcap', 'sqlite3'):
        write_demo_bag(root / storage / 'bag', SCENARIO, storage=storage)
    return {storage: root / storage / 'bag' for storage in ('mcap', 'sqlite3')}


@pytest.fixture(scope='module')
def config(tmp_path_factory):
    return PipelineConfig.from_yaml(write_params(tmp_path_factory.mktemp('cfg') / 'p.yaml'))


@pytest.fixture(scope='module')
def estimator():
    from infonet_ros import InfoNetEstimator
    return InfoNetEstimator.pretrained(device='cpu')


@pytest.fixture(scope='module')
def report(bags, tmp_path_factory):
    """The command line on the mcap bag, KSG compared: (exit code, output dir)."""
    out = tmp_path_factory.mktemp('report')
    params = write_params(out.parent / 'params.yaml')
    code = main([str(bags['mcap']), '--config', str(params), '--out', str(out),
                 '--compare', 'ksg', '-q'])
    return code, out


def read_rows(out):
    with open(out / 'mi.csv', newline='') as f:
        return list(csv.DictReader(f))


def test_report_files_and_columns(report):
    code, out = report
    assert code == 0
    for name in ('mi.csv', 'mi.json', 'graph.json', 'summary.json', 'summary.md',
                 'mi_over_time.png', 'mi_matrix.png', 'dependency_graph.png',
                 'compare_ksg.png'):
        assert (out / name).stat().st_size > 0, name
    rows = read_rows(out)
    assert {'t_start', 't_end', 'first', 'second', 'mi', 'mi_low', 'mi_high', 'edge', 'mi_ksg'} <= set(rows[0])
    # the 90 % interval of every estimate: ordered, and a real band around the dependent pair
    for r in rows:
        assert 0.0 <= float(r['mi_low']) <= float(r['mi']) <= float(r['mi_high']), r
    dep = [float(r['mi_high']) - float(r['mi_low']) for r in rows
           if (r['first'], r['second']) == ('cmd_vx', 'accel_x') and float(r['mi']) > 0.3]
    assert dep and min(dep) > 0.01   # coupled windows: a real band, not a point
    assert json.loads((out / 'mi.json').read_text())[5]['mi'] == pytest.approx(
        float(rows[5]['mi']), rel=1e-5)
    summary = json.loads((out / 'summary.json').read_text())
    n = summary['windows_evaluated']
    assert len(rows) == 6 * n and summary['windows_skipped'] == 0
    # Node cadence: window ends on multiples of 1 / publish_rate_hz, from the first
    # complete window to the end of the bag.
    t_end = sorted({float(r['t_end']) for r in rows})
    assert np.allclose(np.diff(t_end), 0.5) and np.allclose(np.array(t_end) % 0.5, 0, atol=1e-4)
    span = 511 / 50.0
    assert t_end[0] - span - SCENARIO.t0 < 0.5 + 1e-6 and SCENARIO.t0 + 44 - t_end[-1] < 0.5
    assert summary['wall_time_s'] > 0 and summary['windows_per_s'] > 0
    graph = json.loads((out / 'graph.json').read_text())
    assert len(graph['windows']) == n
    pairs = {(p['first'], p['second']): p for p in summary['pairs']}
    assert 0.2 < pairs['cmd_vx', 'accel_x']['edge_fraction'] < 0.8
    assert pairs['cmd_vx', 'accel_x']['max_mi'] > 0.35


def test_mi_matches_truth_and_switches_are_detected(report):
    _, out = report
    rows = [r for r in read_rows(out) if (r['first'], r['second']) == ('cmd_vx', 'accel_x')]
    span = 511 / 50.0
    on, off = SCENARIO.t0 + ON, SCENARIO.t0 + OFF
    inside = [r for r in rows if float(r['t_start']) >= on and float(r['t_end']) < off]
    outside = [r for r in rows if float(r['t_end']) < on or float(r['t_start']) >= off]
    assert len(inside) >= 8 and len(outside) >= 10
    errors = [abs(float(r['mi']) - TRUTH) for r in inside]
    assert max(errors) < 0.15, errors
    assert all(r['edge'] == '1' for r in inside)
    assert all(r['edge'] == '0' for r in outside)
    edge_times = [float(r['t_end']) for r in rows if r['edge'] == '1']
    assert on <= edge_times[0] <= on + span           # switched on: seen within a window
    assert off <= edge_times[-1] <= off + span        # switched off: gone within a window


def test_p_values_in_mi_csv(report):
    """mi.csv carries a calibrated p-value for every window and pair."""
    _, out = report
    rows = read_rows(out)
    p = np.array([float(r['p_value']) for r in rows])
    assert np.all((p > 0) & (p <= 1)), p[~((p > 0) & (p <= 1))]
    on, off = SCENARIO.t0 + ON, SCENARIO.t0 + OFF
    coupled = [float(r['p_value']) for r in rows if (r['first'], r['second']) ==
               ('cmd_vx', 'accel_x') and float(r['t_start']) >= on and float(r['t_end']) < off]
    assert coupled and max(coupled) < 1e-3
    battery = [float(r['p_value']) for r in rows if 'battery' in (r['first'], r['second'])]
    assert np.mean(np.array(battery) <= 0.05) < 0.2      # independent: rarely significant


def test_independent_stream_never_gets_an_edge(report):
    _, out = report
    rows = [r for r in read_rows(out) if 'battery' in (r['first'], r['second'])]
    assert rows and all(r['edge'] == '0' for r in rows)
    assert max(float(r['mi']) for r in rows) < 0.05


def test_ksg_comparison(report):
    _, out = report
    summary = json.loads((out / 'summary.json').read_text())
    ksg = summary['compare']['ksg']
    assert ksg['pearson_r'] > 0.8 and ksg['mae_nats'] < 0.1
    assert ksg['speed_ratio'] > 0 and ksg['time_s'] > 0
    assert 'infonet vs ksg' in (out / 'summary.md').read_text()


def test_sqlite3_bag_gives_the_same_windows(report, bags, config, estimator):
    """Same data in the other storage format; a few windows, evaluated one by one
    (batch_windows=1), must equal the batched run of the command line."""
    _, out = report
    rows = read_rows(out)
    t_ends = sorted({float(r['t_end']) for r in rows})[::12]
    ev = evaluate_bag(bags['sqlite3'], config, estimator, t_ends=t_ends, batch_windows=1,
                      progress=False)
    assert ev.storage == 'sqlite3' and len(ev.results) == len(t_ends)
    batched = {(round(float(r['t_end']), 4), r['first'], r['second']): float(r['mi'])
               for r in rows}
    for result in ev.results:
        for (i, j), mi in zip(result.pairs, result.mi):
            key = (round(result.t_end, 4), config.stream_names[i], config.stream_names[j])
            assert mi == pytest.approx(batched[key], abs=1e-5), key


def test_time_is_header_stamp_else_log_time(tmp_path, config):
    """Stamped topics use header.stamp, unstamped ones the bag's log time."""
    sc = DemoScenario(duration_s=12.0, cmd_rate_hz=50.0, imu_delay_s=0.25)
    bag = tmp_path / 'bag'
    write_demo_bag(bag, sc, storage='mcap')
    with BagReader(bag) as reader:
        from infonet_ros.bag_eval import make_aligner
        aligner = make_aligner(config)
        list(iter_windows(reader, config, aligner=aligner))
    streams = aligner.diagnostics()['streams']
    assert streams['accel_x']['last_stamp'] == pytest.approx(sc.t0 + 12.0, abs=1e-6)
    assert streams['wheel_vel']['last_stamp'] == pytest.approx(sc.t0 + 12.0, abs=1e-6)
    assert streams['cmd_vx']['last_stamp'] == pytest.approx(sc.t0 + 12.0, abs=1e-6)
    with BagReader(bag) as reader:
        last_imu_log = max(m.log_time_s for m in reader.messages(['/imu/data'], False))
    assert last_imu_log == pytest.approx(sc.t0 + 12.25, abs=1e-6)   # not what was used


def test_custom_message_type_from_the_bag_definition(tmp_path):
    """A type rclpy does not know decodes from the definition stored in the bag."""
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    ts = get_typestore(Stores.ROS2_KILTED)
    ts.register(get_types_from_msg('std_msgs/Header header\nfloat64 level\nfloat64[] cells',
                                   'tank_msgs/msg/Level'))
    Level, Float64 = ts.types['tank_msgs/msg/Level'], ts.types['std_msgs/msg/Float64']
    Header, Time = ts.types['std_msgs/msg/Header'], ts.types['builtin_interfaces/msg/Time']
    rng = np.random.default_rng(0)
    x = rng.standard_normal(1500)
    y = 0.9 * x + math.sqrt(1 - 0.81) * rng.standard_normal(1500)

    def messages():
        for k in range(1500):
            t = 100.0 + k / 50
            stamp = Time(sec=int(t), nanosec=int(round((t % 1) * 1e9)))
            yield '/tank', t, Level(header=Header(stamp=stamp, frame_id=''), level=x[k],
                                    cells=np.array([y[k]]))
            yield '/noise', t, Float64(data=rng.standard_normal())

    bag = write_bag(tmp_path / 'bag', {'/tank': 'tank_msgs/msg/Level',
                                       '/noise': 'std_msgs/msg/Float64'},
                    messages(), storage='sqlite3', typestore=ts)
    streams = {'level': ('/tank', 'tank_msgs/msg/Level', 'level'),
               'cell': ('/tank', 'tank_msgs/msg/Level', 'cells[0]'),
               'noise': ('/noise', 'std_msgs/msg/Float64', 'data')}
    config = PipelineConfig.from_yaml(write_params(tmp_path / 'p.yaml', streams,
                                                   estimator='ksg', window_size=256))
    ev = evaluate_bag(bag, config, progress=False)
    mi = ev.mi_matrix()
    assert len(ev.results) > 20
    assert np.median(mi[:, 0]) == pytest.approx(-0.5 * math.log(1 - 0.81), abs=0.2)
    bad = PipelineConfig.from_yaml(write_params(
        tmp_path / 'bad.yaml', {**streams, 'cell': ('/tank', 'tank_msgs/msg/Level', 'cels[0]')},
        estimator='ksg'))
    with pytest.raises(BagError, match=r"stream 'cell': field 'cels\[0\]'"):
        evaluate_bag(bag, bad, progress=False)


def test_bag_without_message_definitions(tmp_path, config):
    """Older recorders (e.g. Humble's sqlite3) store no definitions: Kilted's types decode."""
    import sqlite3

    bag = tmp_path / 'bag'
    write_demo_bag(bag, DemoScenario(duration_s=14.0, cmd_rate_hz=50.0), 'sqlite3')
    with sqlite3.connect(bag / 'bag.db3') as db:
        db.execute('DELETE FROM message_definitions')
    ksg = PipelineConfig.from_params({**_params(config), 'estimator': 'ksg'})
    ev = evaluate_bag(bag, ksg, progress=False)
    assert len(ev.results) == 8 and not ev.skipped
    # KSG gives no interval: NaN bounds (nan in mi.csv), never a made-up band
    assert all(np.isnan(r.mi_low).all() and np.isnan(r.mi_high).all() for r in ev.results)


def _params(config):
    return {'stream_names': config.stream_names, 'streams': config.streams,
            'window_size': config.window_size, 'sample_rate_hz': config.sample_rate_hz,
            'publish_rate_hz': config.publish_rate_hz}


# --- clear errors ---------------------------------------------------------------------------

@pytest.fixture(scope='module')
def small_bag(tmp_path_factory):
    root = tmp_path_factory.mktemp('small')
    write_demo_bag(root / 'bag', DemoScenario(duration_s=6.0, cmd_rate_hz=50.0), 'mcap')
    return root / 'bag'


def corrupt_copy(bag, tmp_path, how):
    """A copy of ``bag`` whose storage file is garbage or cut in half."""
    import shutil
    copy = tmp_path / f'{how}_bag'
    shutil.copytree(bag, copy)
    data_file = next(p for p in copy.iterdir() if p.suffix in ('.mcap', '.db3'))
    data = data_file.read_bytes()
    data_file.write_bytes(b'\x00garbage' * 100 if how == 'garbage' else data[:len(data) // 2])
    return copy


@pytest.mark.parametrize('case', ['missing_bag', 'garbage', 'truncated', 'missing_topic',
                                  'wrong_type', 'bad_field', 'too_short', 'no_config'])
def test_bad_input_exits_2_with_one_line(case, small_bag, tmp_path, capsys):
    streams, bag, params = dict(STREAMS), small_bag, {'estimator': 'ksg'}
    expect = []
    if case == 'missing_bag':
        bag = tmp_path / 'nope'
        expect = ['does not exist', 'nope']
    elif case in ('garbage', 'truncated'):
        bag = corrupt_copy(small_bag, tmp_path, case)
        expect = [str(bag)]
    elif case == 'missing_topic':
        streams['battery'] = ('/battery/state', 'std_msgs/msg/Float64', 'data')
        expect = ["'/battery/state'", 'not in bag', '/imu/data [sensor_msgs/msg/Imu]']
    elif case == 'wrong_type':
        streams['cmd_vx'] = ('/cmd_vel', 'geometry_msgs/msg/TwistStamped', 'twist.linear.x')
        expect = ["'/cmd_vel'", 'expected type geometry_msgs/msg/TwistStamped',
                  'bag has geometry_msgs/msg/Twist']
    elif case == 'bad_field':
        streams['accel_x'] = ('/imu/data', 'sensor_msgs/msg/Imu', 'linear_acceleration.q')
        expect = ["'streams.accel_x.field'", "no field 'q'"]
    elif case == 'too_short':
        expect = ['no window could be evaluated', '6.0 s long', '10.2 s']
    params_file = write_params(tmp_path / 'p.yaml', streams, **params)
    if case == 'no_config':
        params_file = tmp_path / 'missing.yaml'
        expect = ['missing.yaml']
    code = main([str(bag), '--config', str(params_file), '--out', str(tmp_path / 'out'), '-q'])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith('bag_eval: error: ') and '\n' not in err, err
    for word in expect:
        assert word in err, err


def test_console_script_error_has_no_traceback(small_bag, tmp_path):
    exe = Path(sys.executable).parent / 'bag_eval'
    cmd = [str(exe)] if exe.exists() else [sys.executable, '-m', 'infonet_ros.bag_eval']
    params = write_params(tmp_path / 'p.yaml', {
        **STREAMS, 'cmd_vx': ('/cmd_vel', 'sensor_msgs/msg/Imu', 'linear_acceleration.x')})
    proc = subprocess.run(cmd + [str(small_bag), '--config', str(params), '--out',
                                 str(tmp_path / 'out')],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, 'PYTHONWARNINGS': 'ignore'})
    assert proc.returncode == 2
    assert 'Traceback' not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "bag_eval: error: topic '/cmd_vel' (stream 'cmd_vx'): expected type "
        'sensor_msgs/msg/Imu, but the bag has geometry_msgs/msg/Twist']


def test_saturating_command_is_not_linked_to_noise(tmp_path):
    """A velocity command sitting at its clip limit in ~45 % of every window (ties) against
    white noise, and the joint that follows the command's demand: through bag_eval's CLI the
    command reads ~0 against the noise (0.22-0.29 nats with averaged ranks) and its true MI
    with the joint; the report names the tied stream."""
    from rosbags.typesys import Stores, get_typestore

    from infonet_ros.tasks import ClippedGaussian

    task = ClippedGaussian(RHO, 0.45)
    ts = get_typestore(Stores.ROS2_KILTED)
    Twist, Vector3 = ts.types['geometry_msgs/msg/Twist'], ts.types['geometry_msgs/msg/Vector3']
    JointState, Float64 = ts.types['sensor_msgs/msg/JointState'], ts.types['std_msgs/msg/Float64']
    Header, Time = ts.types['std_msgs/msg/Header'], ts.types['builtin_interfaces/msg/Time']
    rng = np.random.default_rng(5)
    count = 1600
    z1, z2, noise = rng.standard_normal((3, count))
    command = np.clip(z1, -task.c, task.c)
    joint = RHO * z1 + math.sqrt(1 - RHO ** 2) * z2
    zero = Vector3(x=0.0, y=0.0, z=0.0)

    def messages():
        for k in range(count):
            t = 100.0 + k / 50
            stamp = Time(sec=int(t), nanosec=int(round((t % 1) * 1e9)))
            yield '/cmd_vel', t, Twist(linear=Vector3(x=float(command[k]), y=0.0, z=0.0), angular=zero)
            yield '/joint_states', t, JointState(header=Header(stamp=stamp, frame_id=''), name=['j'],
                                                 position=np.zeros(1), velocity=np.array([joint[k]]),
                                                 effort=np.zeros(1))
            yield '/noise', t, Float64(data=float(noise[k]))

    bag = write_bag(tmp_path / 'bag', {'/cmd_vel': 'geometry_msgs/msg/Twist',
                                       '/joint_states': 'sensor_msgs/msg/JointState',
                                       '/noise': 'std_msgs/msg/Float64'}, messages())
    streams = {'cmd': ('/cmd_vel', 'geometry_msgs/msg/Twist', 'linear.x'),
               'joint': ('/joint_states', 'sensor_msgs/msg/JointState', 'velocity[0]'),
               'noise': ('/noise', 'std_msgs/msg/Float64', 'data')}
    params = write_params(tmp_path / 'p.yaml', streams, window_size=500)
    out = tmp_path / 'report'
    assert main([str(bag), '--config', str(params), '--out', str(out), '--quiet']) == 0
    with open(out / 'mi.csv') as f:
        rows = list(csv.DictReader(f))
    by_pair = {}
    for row in rows:
        by_pair.setdefault(f"{row['first']}:{row['second']}", []).append(float(row['mi']))
    windows = len(by_pair['cmd:noise'])
    assert windows > 30
    assert np.mean(by_pair['cmd:noise']) <= 0.02 and max(by_pair['cmd:noise']) < 0.05
    assert np.median(by_pair['cmd:joint']) == pytest.approx(task.mutual_information(), abs=0.06)
    summary = json.loads((out / 'summary.json').read_text())
    tied = {t['stream']: t for t in summary['tied_streams']}
    assert set(tied) == {'cmd'} and tied['cmd']['windows'] == windows
    assert 0.15 < tied['cmd']['max_most_common_share'] < 0.35   # one of the two limits
    assert '## Tied streams' in (out / 'summary.md').read_text()


def check_coupled_and_battery_p(rows):
    """mi.csv rows: the coupled pair (while the coupling is on) has tiny p-values, the
    battery (independent of everything) rarely p <= 0.05."""
    on, off = SCENARIO.t0 + ON, SCENARIO.t0 + OFF
    coupled = [float(r['p_value']) for r in rows if (r['first'], r['second']) ==
               ('cmd_vx', 'accel_x') and float(r['t_start']) >= on and float(r['t_end']) < off]
    assert coupled and max(coupled) < 1e-3
    battery = [float(r['p_value']) for r in rows if 'battery' in (r['first'], r['second'])]
    assert np.mean(np.array(battery) <= 0.05) < 0.2


def test_prewhitened_p_values_in_mi_csv(bags, report, tmp_path):
    """significance: prewhitened through the command line: same MI as the table run,
    p-values from the innovations, the coupled pair still tiny, battery rarely small."""
    params = write_params(tmp_path / 'params.yaml', significance='prewhitened')
    assert main([str(bags['mcap']), '--config', str(params), '--out', str(tmp_path / 'o'),
                 '-q']) == 0
    rows, table_rows = read_rows(tmp_path / 'o'), read_rows(report[1])
    assert [r['mi'] for r in rows] == [r['mi'] for r in table_rows]
    p = np.array([float(r['p_value']) for r in rows])
    assert np.all((p > 0) & (p <= 1))
    assert not np.allclose(p, [float(r['p_value']) for r in table_rows])
    check_coupled_and_battery_p(rows)


def test_significance_memory_in_mi_csv(bags, report, tmp_path):
    """significance_memory 3: each pair's p-value combines its last three disjoint windows
    (evidence.py): the same MI, the coupled pair still tiny, the battery still rarely
    small, and p-values that differ from the window-alone run."""
    single = write_params(tmp_path / 'single.yaml', significance='prewhitened')
    params = write_params(tmp_path / 'params.yaml', significance='prewhitened',
                          significance_memory=3)
    for p, out in ((single, 'one'), (params, 'three')):
        assert main([str(bags['mcap']), '--config', str(p), '--out', str(tmp_path / out),
                     '-q']) == 0
    rows, single_rows = read_rows(tmp_path / 'three'), read_rows(tmp_path / 'one')
    assert [r['mi'] for r in rows] == [r['mi'] for r in single_rows]
    p = np.array([float(r['p_value']) for r in rows])
    p1 = np.array([float(r['p_value']) for r in single_rows])
    assert np.all((p > 0) & (p <= 1))
    # the same p until a window has a disjoint predecessor (one window span in), then mostly
    # not
    t0 = np.array([float(r['t_start']) for r in rows])
    t1 = np.array([float(r['t_end']) for r in rows])
    later = t0 > t0.min() + (t1 - t0).max()
    assert np.all(p[~later] == p1[~later])
    assert later.sum() > 20 and np.mean(p[later] != p1[later]) > 0.8
    check_coupled_and_battery_p(rows)


def test_tied_table_lists_vector_components():
    """A tied component of a vector stream ('js[1]', a binary joint flag) is a row of the
    report's tied-stream table, like a scalar stream (it used to be dropped)."""
    from types import SimpleNamespace

    from infonet_ros.pipeline import MIPipeline
    from infonet_ros.report import tied_stream_table
    from infonet_ros.streams import PipelineConfig
    from infonet_ros.windowing import Window
    cfg = PipelineConfig.from_params({
        'stream_names': ['js', 'flag'], 'device': 'cpu', 'window_size': 256,
        'streams': {'js': {'topic': '/js', 'type': 'sensor_msgs/msg/JointState',
                           'field': 'position[0:3]'},
                    'flag': {'topic': '/f', 'type': 'std_msgs/msg/Float64', 'field': 'data'}}})
    rng = np.random.default_rng(0)
    pipeline, results = MIPipeline(cfg), []
    for k in range(2):
        data = rng.standard_normal((256, 4))
        data[:, 1] = data[:, 1] > 0                    # js[1]: binary
        data[:, 3] = np.round(data[:, 3])              # flag: a handful of levels
        t = 10.0 * k + np.arange(256) / 50.0
        results.append(pipeline.evaluate(Window(t=t, data=data, t_start=t[0], t_end=t[-1])))
    rows = tied_stream_table(SimpleNamespace(results=results, config=cfg))
    assert [r['stream'] for r in rows] == ['js[1]', 'flag']
    assert rows[0]['windows'] == 2 and rows[0]['min_distinct'] == rows[0]['max_distinct'] == 2
