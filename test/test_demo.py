"""The demo bag generator (deterministic, truthful) and the README's `infonet_demo` run."""

import json
import math

import numpy as np
import pytest

from infonet_ros.bag_eval import iter_windows, load_config
from infonet_ros.bag_io import BagReader
from infonet_ros.demo import demo_config_path, main
from infonet_ros.demo_data import DemoScenario, gaussian_mi, load_ground_truth, write_demo_bag



def raw_messages(bag):
    with BagReader(bag) as reader:
        return [(m.topic, m.log_time_s, m.raw) for m in reader.messages(deserialize=False)]


def test_generator_is_seeded_and_storage_independent(tmp_path):
    sc = DemoScenario(duration_s=5.0)
    write_demo_bag(tmp_path / 'a' / 'bag', sc, storage='mcap')
    write_demo_bag(tmp_path / 'b' / 'bag', sc, storage='sqlite3')
    write_demo_bag(tmp_path / 'c' / 'bag', DemoScenario(duration_s=5.0, seed=1), 'mcap')
    a, b, c = (raw_messages(tmp_path / x / 'bag') for x in 'abc')
    assert a == b and len(a) == 5 * (20 + 100 + 100 + 10) + 4
    assert a != c
    with BagReader(tmp_path / 'b' / 'bag') as reader:
        assert reader.storage == 'sqlite3'
        assert reader.topics == {'/cmd_vel': 'geometry_msgs/msg/Twist',
                                 '/imu/data': 'sensor_msgs/msg/Imu',
                                 '/joint_states': 'sensor_msgs/msg/JointState',
                                 '/battery/voltage': 'std_msgs/msg/Float64'}
    with pytest.raises(FileExistsError):
        write_demo_bag(tmp_path / 'a' / 'bag', sc)


def test_ground_truth_file(tmp_path):
    truth = write_demo_bag(tmp_path / 'bag', DemoScenario(duration_s=120.0))
    assert truth == load_ground_truth(tmp_path / 'ground_truth.json')
    assert load_ground_truth(tmp_path / 'bag') == truth
    by_pair = {}
    for seg in truth['segments']:
        by_pair.setdefault((seg['first'], seg['second']), []).append(seg)
        assert seg['mi'] == pytest.approx(gaussian_mi(seg['corr']))
        assert seg['t_start'] == pytest.approx(truth['t0'] + seg['start_s'])
    assert len(by_pair) == 6
    for segs in by_pair.values():       # each pair: contiguous segments over the whole bag
        assert segs[0]['start_s'] == 0 and segs[-1]['end_s'] == 120
        assert all(a['end_s'] == b['start_s'] for a, b in zip(segs, segs[1:]))
    coupling = [(s['start_s'], s['end_s'], round(s['mi'], 3))
                for s in by_pair['cmd_vx', 'accel_x']]
    assert coupling == [(0, 20, 0), (20, 60, 0.511), (60, 80, 0), (80, 110, 0.223),
                        (110, 120, 0)]
    assert [s['mi'] for s in by_pair['cmd_vx', 'battery']] == [0.0]
    lag = truth['lagged']
    assert lag['lag_s'] == pytest.approx(0.025)
    assert lag['mi_zero_lag'] == pytest.approx(gaussian_mi(0.9 / math.sqrt(2)))
    assert lag['mi_at_lag'] == pytest.approx(gaussian_mi(0.9))


def test_truth_holds_on_the_aligned_grid(tmp_path):
    """Sample correlations of the aligned windows (config/demo.yaml) match the truth."""
    sc = DemoScenario(duration_s=60.0, couplings=[(10.0, 60.0, 0.8)], seed=7)
    write_demo_bag(tmp_path / 'bag', sc)
    config = load_config(demo_config_path())
    names = config.stream_names
    pooled = []
    with BagReader(tmp_path / 'bag') as reader:
        for _, window, _ in iter_windows(reader, config):
            if window is not None and window.t_start >= sc.t0 + 10.0:
                pooled.append(window.data[::8])    # thin out: windows overlap
    data = np.concatenate(pooled)
    r = np.corrcoef(data.T)
    i = {n: k for k, n in enumerate(names)}
    assert r[i['cmd_vx'], i['accel_x']] == pytest.approx(0.8, abs=0.05)
    assert r[i['cmd_vx'], i['wheel_vel']] == pytest.approx(0.9 / math.sqrt(2), abs=0.05)
    assert r[i['accel_x'], i['wheel_vel']] == pytest.approx(0.8 * 0.9 / math.sqrt(2), abs=0.06)
    for other in ('cmd_vx', 'accel_x', 'wheel_vel'):
        assert abs(r[i['battery'], i[other]]) < 0.1


def test_infonet_demo_runs_and_reuses_its_bag(tmp_path, capsys):
    out = tmp_path / 'demo_out'
    args = ['--out', str(out), '--duration', '36', '-q']
    assert main(args) == 0
    text = capsys.readouterr().out
    assert 'wrote demo bag' in text
    assert 'Mean MI (nats) over the windows inside each ground-truth segment' in text
    assert 'cmd_vx : battery' in text and 'report:' in text
    for name in ('summary.md', 'summary.json', 'mi.csv', 'mi_over_time.png',
                 'dependency_graph.png', 'compare_ksg.png'):
        assert (out / 'report' / name).exists(), name
    summary = json.loads((out / 'report' / 'summary.json').read_text())
    assert summary['truth'] and summary['compare']['ksg']['pearson_r'] > 0.5
    assert (out / 'ground_truth.json').exists()
    assert main(args + ['--no-compare', '--no-plots']) == 0
    assert 'using demo bag' in capsys.readouterr().out


def test_infonet_demo_error_is_one_line(tmp_path, capsys):
    code = main(['--out', str(tmp_path), '--duration', '5', '-q'])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith('infonet_demo: error: ') and '\n' not in err
    assert 'shorter than a window' in err
