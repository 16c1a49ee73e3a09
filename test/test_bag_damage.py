"""bag_eval on damaged and unfinished bags (issue 16): real rosbag2 bags written with
rosbags, then cut, overwritten or left half-written by byte and sqlite manipulation here.

What must hold: one line naming the file and the problem; the windows before the damage are
evaluated exactly as on the intact bag and kept in the report, with a warning line saying
where the bag was cut; an unfinished bag (no footer, a write-ahead log, no metadata.yaml)
is read completely.
"""

import json
import shutil
import sqlite3
import struct

import numpy as np
import pytest

from infonet_ros.bag_eval import EXIT_DAMAGED, evaluate_bag, main
from infonet_ros.bag_io import BagReader, write_bag
from infonet_ros.demo_data import DemoScenario, write_demo_bag
from infonet_ros.streams import PipelineConfig
from test_bag_eval import write_params

SCENARIO = DemoScenario(duration_s=30.0, cmd_rate_hz=50.0, couplings=[(5.0, 25.0, 0.8)],
                        seed=7)
PARAMS = dict(window_size=128, sample_rate_hz=50.0, publish_rate_hz=1.0)


@pytest.fixture(scope='module')
def bags(tmp_path_factory):
    root = tmp_path_factory.mktemp('intact')
    for storage in ('mcap', 'sqlite3'):
        write_demo_bag(root / storage, SCENARIO, storage=storage)
    return {storage: root / storage for storage in ('mcap', 'sqlite3')}


@pytest.fixture(scope='module')
def config(tmp_path_factory):
    return PipelineConfig.from_yaml(write_params(tmp_path_factory.mktemp('cfg') / 'p.yaml',
                                                 **PARAMS))


@pytest.fixture(scope='module')
def estimator():
    from infonet_ros import InfoNetEstimator
    return InfoNetEstimator.pretrained(device='cpu')


@pytest.fixture(scope='module')
def intact(bags, config, estimator):
    return {s: evaluate_bag(bag, config, estimator, progress=False) for s, bag in bags.items()}


def storage_file(bag):
    return next(p for p in bag.iterdir() if p.suffix in ('.mcap', '.db3'))


def copy_bag(bag, dest, edit):
    """A copy of ``bag`` whose storage file bytes are ``edit(bytes)``."""
    shutil.copytree(bag, dest)
    data_file = storage_file(dest)
    data_file.write_bytes(edit(data_file.read_bytes()))
    return dest


def same_windows(damaged, intact):
    """The damaged bag's windows are the intact bag's first ones, value for value."""
    assert damaged.results, 'no window kept'
    ends = [r.t_end for r in damaged.results]
    reference = {r.t_end: r for r in intact.results}
    # the last window before the cut may lack samples the intact bag has: compare the rest
    for result in damaged.results[:-1]:
        assert result.t_end in reference, result.t_end
        np.testing.assert_allclose(result.mi, reference[result.t_end].mi, atol=1e-9)
    assert ends == sorted(ends) and ends[0] == intact.results[0].t_end


@pytest.mark.parametrize('storage', ['mcap', 'sqlite3'])
def test_truncated_bag_keeps_the_windows_before_the_cut(storage, bags, config, estimator,
                                                         intact, tmp_path):
    bag = copy_bag(bags[storage], tmp_path / 'cut', lambda b: b[:int(len(b) * 0.6)])
    ev = evaluate_bag(bag, config, estimator, progress=False)
    full = intact[storage]
    same_windows(ev, full)
    assert 5 <= len(ev.results) < len(full.results) - 5
    assert str(bag) in ev.damage and 'truncated or corrupt' in ev.damage
    assert f'the report keeps the {len(ev.results)} windows before it' in ev.damage
    assert '\n' not in ev.damage
    cut_at = float(ev.damage.split('up to log time ')[1].split(' s')[0])
    assert ev.results[-1].t_end <= cut_at


def test_truncated_compressed_mcap_keeps_the_blocks_before_the_cut(bags, config, estimator,
                                                                   intact, tmp_path):
    """A bag with zstd-compressed chunks (rosbag2's storage compression: two chunks of
    1 MiB and 0.5 MiB here), cut at 30 %, inside the first chunk: its zstd blocks before the
    cut are decoded and their messages kept (the whole chunk used to be lost, and with it
    the whole bag), windows value for value as on the intact bag."""
    from rosbags.typesys import Stores, get_typestore

    from infonet_ros.demo_data import STREAMS, generate_messages
    ts = get_typestore(Stores.ROS2_KILTED)
    topics = {spec[0]: spec[1] for spec in STREAMS.values()}
    bag = write_bag(tmp_path / 'zstd', topics, generate_messages(SCENARIO, ts), typestore=ts,
                    compressed=True)
    raw = storage_file(bag).read_bytes()
    assert b'zstd' in raw and len(raw) < 0.5 * len(storage_file(bags['mcap']).read_bytes())
    whole = evaluate_bag(bag, config, estimator, progress=False)
    assert whole.damage == ''
    same_windows(whole, intact['mcap'])
    assert len(whole.results) == len(intact['mcap'].results)
    cut = copy_bag(bag, tmp_path / 'cut', lambda b: b[:int(len(b) * 0.3)])
    ev = evaluate_bag(cut, config, estimator, progress=False)
    same_windows(ev, intact['mcap'])
    assert 5 <= len(ev.results) < len(whole.results) - 5
    assert 'chunk at byte 43 cut short' in ev.damage
    assert 'zstd data, the blocks before the cut' in ev.damage


@pytest.mark.parametrize('compression', ['zstd', 'lz4'])
def test_cut_compressed_chunk_data_decodes_its_complete_blocks(compression):
    """The two chunk compressions of mcap: a stream cut at 60 % gives a correct prefix of
    more than a third of the data; garbage and unknown formats give nothing, no error."""
    from infonet_ros.bag_io import _decompress_prefix
    raw = np.random.default_rng(0).integers(0, 16, 2_000_000).astype(np.uint8).tobytes()
    if compression == 'zstd':
        from backports import zstd
        packed = zstd.compress(raw)
    else:
        import lz4.frame
        packed = lz4.frame.compress(raw)
    out = _decompress_prefix(packed[:int(0.6 * len(packed))], compression)
    assert len(raw) / 3 < len(out) < len(raw) and out == raw[:len(out)]
    assert _decompress_prefix(packed, compression) == raw
    assert _decompress_prefix(b'\xa5' * 4096, compression) == b''
    assert _decompress_prefix(packed, 'brotli') == b''


def test_command_line_on_a_truncated_bag(bags, tmp_path, capsys):
    """Exit status 3, one error line naming the file and where it was cut; the report has
    the windows before it and says where the bag was cut."""
    bag = copy_bag(bags['mcap'], tmp_path / 'cut', lambda b: b[:int(len(b) * 0.6)])
    out = tmp_path / 'report'
    params = write_params(tmp_path / 'p.yaml', **PARAMS)
    code = main([str(bag), '--config', str(params), '--out', str(out), '-q', '--no-plots'])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == EXIT_DAMAGED == 3
    assert len(err) == 1 and err[0].startswith(f"bag_eval: error: bag '{bag}' is truncated")
    summary = json.loads((out / 'summary.json').read_text())
    assert summary['windows_evaluated'] > 5 and summary['damage'] in err[0]
    md = (out / 'summary.md').read_text()
    assert '- **warning: bag ' in md and 'up to log time' in md
    rows = (out / 'mi.csv').read_text().splitlines()
    assert len(rows) == 1 + 6 * summary['windows_evaluated']     # 6 pairs per window


def test_corrupt_bytes_in_the_middle_of_an_mcap(bags, config, estimator, intact, tmp_path):
    """Garbage over 4 kB in the middle: rosbags opens the file (its index is intact) and a
    chunk fails its check; the windows before that chunk are kept."""
    def corrupt(data):
        mid = len(data) // 2
        return data[:mid] + b'\xa5' * 4096 + data[mid + 4096:]

    bag = copy_bag(bags['mcap'], tmp_path / 'corrupt', corrupt)
    ev = evaluate_bag(bag, config, estimator, progress=False)
    same_windows(ev, intact['mcap'])
    assert len(ev.results) < len(intact['mcap'].results)
    assert str(bag) in ev.damage and 'corrupt' in ev.damage


def test_mcap_without_footer_is_read_completely(bags, config, estimator, intact, tmp_path):
    """A recorder still writing (or killed): the data records, no summary, no footer."""
    def no_footer(data):
        summary_start = struct.unpack_from('<Q', data, len(data) - 37 + 9)[0]
        return data[:summary_start]

    bag = copy_bag(bags['mcap'], tmp_path / 'unfinished', no_footer)
    (bag / 'metadata.yaml').unlink()
    ev = evaluate_bag(bag, config, estimator, progress=False)
    assert ev.damage == ''
    assert [r.t_end for r in ev.results] == [r.t_end for r in intact['mcap'].results]
    np.testing.assert_allclose(ev.mi_matrix(), intact['mcap'].mi_matrix(), atol=1e-9)
    assert any('has no index or footer' in n and 'by scanning it' in n for n in ev.notes)
    assert any('no metadata.yaml' in n for n in ev.notes)


def test_sqlite3_bag_with_its_write_ahead_log(bags, config, estimator, tmp_path):
    """A sqlite3 bag still being written: the newest 10 s are only in bag.db3-wal (WAL
    mode, not checkpointed) and there is no metadata.yaml. rosbags alone (immutable open)
    would not see them; bag_eval reads them."""
    src = tmp_path / 'writing'
    shutil.copytree(bags['sqlite3'], src)
    (src / 'metadata.yaml').unlink()
    db_file = storage_file(src)
    with sqlite3.connect(db_file) as db:       # the last 10 s leave the main file ...
        end = db.execute('SELECT MAX(timestamp) FROM messages').fetchone()[0]
        tail = db.execute('SELECT topic_id, timestamp, data FROM messages WHERE timestamp '
                          '> ? ORDER BY id', (end - 10_000_000_000,)).fetchall()
        db.execute('DELETE FROM messages WHERE timestamp > ?', (end - 10_000_000_000,))
    db.close()
    writer = sqlite3.connect(db_file)          # ... and come back through the log
    writer.execute('PRAGMA journal_mode=WAL')
    writer.execute('PRAGMA wal_autocheckpoint=0')
    writer.executemany('INSERT INTO messages (topic_id, timestamp, data) VALUES (?, ?, ?)',
                       tail)
    writer.commit()
    try:
        bag = tmp_path / 'snapshot'            # what a reader finds while it writes
        bag.mkdir()
        for p in src.iterdir():
            shutil.copyfile(p, bag / p.name)
        assert (bag / f'{db_file.name}-wal').stat().st_size > 0
    finally:
        writer.close()
    with BagReader(bag) as plain:              # without salvage: the log is not read
        seen_plain = plain.end_s
    ev = evaluate_bag(bag, config, estimator, progress=False)
    assert ev.damage == ''
    assert ev.bag_end_s > seen_plain + 9.0
    assert ev.results[-1].t_end > seen_plain + 5.0
    assert any('write-ahead log' in n and 'read with the log applied' in n for n in ev.notes)


def test_bag_whose_message_definitions_are_unknown(tmp_path, capsys):
    """A custom type recorded without its definition, unknown to every type store: one
    line naming the bag, the topic and the type (exit status 2)."""
    from rosbags.typesys import Stores, get_typestore, get_types_from_msg

    store = get_typestore(Stores.ROS2_KILTED)
    store.register(get_types_from_msg('float64 volts\nfloat64 amps\n',
                                      'acme_msgs/msg/Cell'))
    cell = store.types['acme_msgs/msg/Cell']
    imu = store.types['sensor_msgs/msg/Imu']
    messages = []
    for k in range(200):
        messages.append(('/cell', 1.0 + 0.02 * k, cell(volts=float(k), amps=1.0)))
        messages.append(('/imu', 1.0 + 0.02 * k, imu(
            header=store.types['std_msgs/msg/Header'](
                stamp=store.types['builtin_interfaces/msg/Time'](sec=1, nanosec=0),
                frame_id=''),
            orientation=store.types['geometry_msgs/msg/Quaternion'](x=0, y=0, z=0, w=1),
            orientation_covariance=np.zeros(9),
            angular_velocity=store.types['geometry_msgs/msg/Vector3'](x=0, y=0, z=0),
            angular_velocity_covariance=np.zeros(9),
            linear_acceleration=store.types['geometry_msgs/msg/Vector3'](x=k, y=0, z=0),
            linear_acceleration_covariance=np.zeros(9))))
    bag = write_bag(tmp_path / 'bag', {'/cell': 'acme_msgs/msg/Cell',
                                       '/imu': 'sensor_msgs/msg/Imu'},
                    messages, storage='sqlite3', typestore=store)
    with sqlite3.connect(storage_file(bag)) as db:
        db.execute('DELETE FROM message_definitions')
    params = write_params(tmp_path / 'p.yaml', {
        'volts': ('/cell', 'acme_msgs/msg/Cell', 'volts'),
        'accel': ('/imu', 'sensor_msgs/msg/Imu', 'linear_acceleration.x')},
        window_size=64, sample_rate_hz=50.0, publish_rate_hz=1.0, estimator='ksg')
    code = main([str(bag), '--config', str(params), '--out', str(tmp_path / 'out'), '-q'])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert err[0] == (f"bag_eval: error: bag '{bag}': topic '/cell' has type "
                      'acme_msgs/msg/Cell, which is not a known ROS 2 type and the bag has no '
                      'definition for it')


def test_bag_with_none_of_the_configured_topics(bags, tmp_path, capsys):
    params = write_params(tmp_path / 'p.yaml', {
        'left': ('/left/imu', 'sensor_msgs/msg/Imu', 'linear_acceleration.x'),
        'right': ('/right/imu', 'sensor_msgs/msg/Imu', 'linear_acceleration.x')}, **PARAMS)
    code = main([str(bags['sqlite3']), '--config', str(params), '--out',
                 str(tmp_path / 'out'), '-q'])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith(f"bag_eval: error: bag '{bags['sqlite3']}' has none of the "
                             'configured topics (/left/imu, /right/imu); the bag has: ')
    assert '/imu/data [sensor_msgs/msg/Imu]' in err[0]


def test_garbage_is_still_one_line(bags, tmp_path, capsys):
    """Not a bag at all (no mcap header): nothing to salvage, exit status 2."""
    bag = copy_bag(bags['mcap'], tmp_path / 'garbage', lambda b: b'\x00garbage' * 100)
    params = write_params(tmp_path / 'p.yaml', **PARAMS)
    code = main([str(bag), '--config', str(params), '--out', str(tmp_path / 'out'), '-q'])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and str(bag) in err[0], err
