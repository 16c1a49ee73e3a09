"""Fleet evaluation (infonet_ros/fleet.py, fleet_report.py): real bags, real Dask clusters.

Six demo bags (16 s, 50 Hz commands; cmd_vx -> accel_x coupled with rho = 0.8 all along,
0.51 nats) differ only in their seeds, except run_3, where the coupling is weakened on
purpose to rho = 0.3 (0.05 nats; a loose IMU mount). The parameters watch the command's
couplings and two independent pairs (accel_x : wheel_vel also follows rho, so it is not
watched: exactly one pair changes). The fleet report must flag run_3 : cmd_vx:accel_x and
nothing else, the same on a LocalCluster as in one process, with a corrupt bag among them
and after a rerun that reuses finished bags.
"""

import csv
import json
import logging
import shutil
from pathlib import Path

import distributed
import pytest

from infonet_ros.bag_eval import main
from infonet_ros.demo_data import DemoScenario, write_demo_bag
from infonet_ros.fleet import config_sha256, content_sha256, find_bags, is_single_bag
from infonet_ros.streams import PipelineConfig

WEAK = 'run_3'
DURATION = 16.0
PAIRS = ['cmd_vx:accel_x', 'cmd_vx:wheel_vel', 'cmd_vx:battery', 'wheel_vel:battery']
PARAMS = """/**/infonet_estimator:
  ros__parameters:
    stream_names: [cmd_vx, accel_x, wheel_vel, battery]
    streams:
      cmd_vx: {topic: /cmd_vel, type: geometry_msgs/msg/Twist, field: linear.x}
      accel_x: {topic: /imu/data, type: sensor_msgs/msg/Imu, field: linear_acceleration.x}
      wheel_vel: {topic: /joint_states, type: sensor_msgs/msg/JointState, field: "velocity[0]"}
      battery: {topic: /battery/voltage, type: std_msgs/msg/Float64, field: data}
    pairs: [%s]
    window_size: 256
    sample_rate_hz: 50.0
    publish_rate_hz: 2.0
    device: cpu
    graph_threshold: %s
"""


def write_params(path, graph_threshold=0.1):
    path.write_text(PARAMS % (', '.join(f'"{p}"' for p in PAIRS), graph_threshold))
    return path


@pytest.fixture(scope='module')
def fleet(tmp_path_factory):
    """``root/bags/run_0..run_5`` (mcap; run_1 sqlite3) and the parameters file."""
    root = tmp_path_factory.mktemp('fleet')
    for i in range(6):
        rho = 0.3 if f'run_{i}' == WEAK else 0.8
        write_demo_bag(root / 'bags' / f'run_{i}', DemoScenario(
            duration_s=DURATION, cmd_rate_hz=50.0, couplings=[(0.0, DURATION, rho)],
            seed=100 + i),
            storage='sqlite3' if i == 1 else 'mcap')
    (root / 'bags' / 'ground_truth.json').unlink()   # one per bag was written; not a bag
    return root, write_params(root / 'params.yaml')


@pytest.fixture(scope='module')
def sequential(fleet):
    """The fleet evaluated in this process, one bag after another (no Dask)."""
    root, params = fleet
    out = root / 'out_sequential'
    code = main([str(root / 'bags'), '--config', str(params), '--out', str(out),
                 '--workers', '0', '--no-plots', '-q'])
    return code, out


@pytest.fixture(scope='module')
def cluster():
    """An existing Dask cluster (for --scheduler): two worker processes on loopback."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, host='127.0.0.1',
                                  dashboard_address=None, silence_logs=logging.ERROR) as c:
        yield c


def fleet_json(out):
    return json.loads((out / 'fleet.json').read_text())


def csv_rows(path):
    with open(path, newline='') as f:
        return list(csv.DictReader(f))


def test_weakened_coupling_flags_exactly_that_bag_and_pair(sequential):
    code, out = sequential
    assert code == 0
    doc = fleet_json(out)
    assert (doc['evaluated'], doc['reused'], doc['failed']) == (6, 0, 0)
    flagged = [(Path(o['folder']).name, o['pair']) for o in doc['outliers']]
    assert flagged == [(WEAK, 'cmd_vx:accel_x')]
    (o,) = doc['outliers']
    assert o['direction'] == 'lower' and o['robust_z'] < -10
    assert o['median_mi'] < 0.15 and o['fleet_median_mi'] == pytest.approx(0.51, abs=0.08)
    # The weakening lasts the whole bag: the span covers (nearly) all of its windows.
    assert o['windows'] >= 0.9 * o['of_windows'] and o['span_rel_s'][1] > DURATION - 1
    rows = csv_rows(out / 'fleet.csv')
    assert len(rows) == 6 * len(PAIRS)
    assert [(Path(r['folder']).name, f"{r['first']}:{r['second']}") for r in rows
            if r['outlier'] == '1'] == [(WEAK, 'cmd_vx:accel_x')]
    normal = [float(r['median_mi']) for r in rows
              if r['first'] == 'cmd_vx' and r['second'] == 'accel_x' and WEAK not in r['folder']]
    assert min(normal) > 0.4
    for r in rows:   # the interval brackets the median; edge fractions are fractions
        assert float(r['mi_p10']) <= float(r['median_mi']) <= float(r['mi_p90'])
        assert 0.0 <= float(r['edge_fraction']) <= 1.0
    md = (out / 'fleet.md').read_text()
    assert f'| {WEAK} | cmd_vx : accel_x |' in md
    for name in ('fleet_index.json', f'bags/{WEAK}/summary.md', f'bags/{WEAK}/mi.csv'):
        assert (out / name).stat().st_size > 0, name


def test_local_cluster_equals_sequential_bit_for_bit(fleet, sequential, tmp_path):
    """The default engine, a LocalCluster of 2 worker processes on 127.0.0.1: every bag's
    per-window MI (mi.json, full float64 precision) and the fleet table are identical."""
    root, params = fleet
    out = tmp_path / 'out_cluster'
    code = main([str(root / 'bags'), '--config', str(params), '--out', str(out),
                 '--workers', '2', '--no-plots', '-q'])
    assert code == 0
    doc = fleet_json(out)
    engine = doc['engine']
    assert engine['kind'] == 'dask LocalCluster' and engine['workers'] == 2
    addresses = [engine['scheduler'], *engine['worker_addresses'], *engine['nanny_addresses']]
    assert len(addresses) == 5 and all(a.startswith('tcp://127.0.0.1:') for a in addresses)
    workers = {b['worker'] for b in doc['bags']}
    assert workers == set(engine['worker_addresses'])       # both worker processes worked
    _, seq_out = sequential
    for name in [f'run_{i}' for i in range(6)]:
        for file in ('mi.json', 'graph.json', 'mi.csv'):
            assert (out / 'bags' / name / file).read_bytes() == \
                (seq_out / 'bags' / name / file).read_bytes(), (name, file)
    assert (out / 'fleet.csv').read_bytes() == (seq_out / 'fleet.csv').read_bytes()


@pytest.fixture(scope='module')
def corrupt_run(fleet, cluster, tmp_path_factory):
    """The six bags with run_2's storage file cut in half, sent to an existing cluster."""
    root, params = fleet
    work = tmp_path_factory.mktemp('corrupt')
    bags = work / 'bags'
    shutil.copytree(root / 'bags', bags)
    (data,) = (bags / 'run_2').glob('*.mcap')
    data.write_bytes(data.read_bytes()[:data.stat().st_size // 2])
    out = work / 'out'
    argv = [str(bags), '--config', str(params), '--out', str(out),
            '--scheduler', cluster.scheduler_address, '--no-plots', '-q']
    return argv, out, bags


def test_corrupt_bag_is_reported_and_the_others_complete(corrupt_run, capsys):
    argv, out, bags = corrupt_run
    code = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1                                   # some bags failed, the rest done
    assert len(err) == 1 and err[0].startswith('bag_eval: error: ')
    assert f"cannot read bag '{bags / 'run_2'}'" in err[0]
    doc = fleet_json(out)
    assert (doc['evaluated'], doc['reused'], doc['failed']) == (5, 0, 1)
    status = {Path(b['bag']).name: b for b in doc['bags']}
    assert status['run_2']['status'] == 'failed'
    assert status['run_2']['error'] == err[0][len('bag_eval: error: '):]
    assert all(status[f'run_{i}']['status'] == 'done' for i in (0, 1, 3, 4, 5))
    assert all(status[f'run_{i}']['worker'].startswith('tcp://127.0.0.1:')
               for i in (0, 1, 3, 4, 5))
    assert not (out / 'bags' / 'run_2').exists()
    assert [(Path(o['folder']).name, o['pair']) for o in doc['outliers']] == \
        [(WEAK, 'cmd_vx:accel_x')]
    md = (out / 'fleet.md').read_text()
    assert '1 failed' in md and f"| {bags / 'run_2'} | failed: cannot read bag '" in md


def test_rerun_skips_finished_bags(corrupt_run, fleet, sequential, capsys):
    """Same --out: the five finished bags are reused (their reports untouched), the failed
    one is retried once repaired; a third run evaluates nothing and starts no engine."""
    argv, out, bags = corrupt_run
    if not (out / 'fleet.json').exists():
        main(argv)
    root, _ = fleet
    (good,) = (root / 'bags' / 'run_2').glob('*.mcap')
    shutil.copyfile(good, bags / 'run_2' / good.name)
    finished = {i: (out / 'bags' / f'run_{i}' / 'mi.json').stat().st_mtime_ns
                for i in (0, 1, 3, 4, 5)}
    assert main(argv) == 0
    doc = fleet_json(out)
    status = {Path(b['bag']).name: b['status'] for b in doc['bags']}
    assert status == {'run_2': 'done', **{f'run_{i}': 'skipped' for i in (0, 1, 3, 4, 5)}}
    assert {i: (out / 'bags' / f'run_{i}' / 'mi.json').stat().st_mtime_ns
            for i in finished} == finished
    assert main([a for a in argv if a != '--no-plots']) == 0
    doc = fleet_json(out)
    assert (doc['evaluated'], doc['reused'], doc['failed']) == (0, 6, 0)
    assert doc['engine']['workers'] == 0                   # nothing to evaluate: no cluster
    assert (out / 'fleet_heatmap.png').stat().st_size > 0
    assert (out / 'fleet_pairs.png').stat().st_size > 0
    assert not (out / 'bags' / 'run_0' / 'mi_over_time.png').exists()   # not re-evaluated
    capsys.readouterr()
    # Reused and fresh results aggregate exactly as one sequential run of the same bags.
    _, seq_out = sequential
    drop = ('bag',)
    assert [{k: v for k, v in r.items() if k not in drop} for r in csv_rows(out / 'fleet.csv')] \
        == [{k: v for k, v in r.items() if k not in drop}
            for r in csv_rows(seq_out / 'fleet.csv')]


def test_keys_follow_bag_contents_and_settings(fleet, tmp_path):
    root, params = fleet
    bag = tmp_path / 'bag'
    shutil.copytree(root / 'bags' / 'run_0', bag)
    before = content_sha256(bag)
    assert before == content_sha256(root / 'bags' / 'run_0')   # contents, not the path
    (bag / 'metadata.yaml').write_text((bag / 'metadata.yaml').read_text() + '\n')
    assert content_sha256(bag) != before
    config = PipelineConfig.from_yaml(params)
    other = PipelineConfig.from_yaml(write_params(tmp_path / 'p.yaml', graph_threshold=0.2))
    assert config_sha256(config) == config_sha256(PipelineConfig.from_yaml(params))
    assert len({config_sha256(config), config_sha256(other),
                config_sha256(config, compare=['ksg']),
                config_sha256(config, batch_windows=1)}) == 4


def test_bag_arguments(fleet, tmp_path, capsys):
    """BAG [BAG ...] | DIR | GLOB; one bag argument keeps the single-bag report."""
    root, params = fleet
    bags = root / 'bags'
    everything = [bags / f'run_{i}' for i in range(6)]
    assert find_bags([str(bags)]) == everything
    assert find_bags([str(bags / 'run_*')]) == everything
    assert find_bags([str(bags / '**' / '*.mcap')]) == [b for b in everything
                                                          if b.name != 'run_1']
    assert find_bags([str(bags / 'run_2'), str(bags / 'run_0'), str(bags / 'run_2')]) == \
        [bags / 'run_0', bags / 'run_2']
    assert is_single_bag(str(bags / 'run_0'))
    assert is_single_bag(str(next((bags / 'run_0').glob('*.mcap'))))
    assert is_single_bag(str(tmp_path / 'missing'))      # today's "does not exist" error
    assert not is_single_bag(str(bags)) and not is_single_bag(str(bags / 'run_*'))
    for argv, words in (([str(tmp_path / 'none' / '*.mcap')], ['no rosbag2 bags match']),
                        ([str(tmp_path)], ['no rosbag2 bags in directory', str(tmp_path)]),
                        ([str(bags), '--truth', 'x.json'], ['--truth'])):
        code = main(argv + ['--config', str(params), '--out', str(tmp_path / 'out'), '-q'])
        err = capsys.readouterr().err.strip()
        assert code == 2 and err.startswith('bag_eval: error: ') and '\n' not in err, err
        assert all(w in err for w in words), err
