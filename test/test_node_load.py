"""The node under input load, short (issue 16): 4 streams at 500 Hz for 8 s through
bench/node_load.py (real publisher and node processes). Asserts the input accounting and
bounded buffers and memory, never timing; the 8 x 1 kHz, 60 s run is the benchmark
(bench/results/node_load.md)."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'bench'))
pytest.importorskip('infonet_ros.msg', reason='infonet_ros.msg not built')


@pytest.mark.slow
def test_input_is_accounted_for_and_memory_is_bounded(tmp_path):
    from node_load import run_load

    r = run_load(streams=4, rate=500.0, duration=8.0, window=256, sample_rate=100.0,
                 eval_rate=5.0, workdir=tmp_path)
    assert r['node_exit_code'] == 0, r['node_log_tail']
    assert 'Traceback' not in r['node_log_tail']
    last = {k: float(v) for k, v in r['last'].items()
            if k.startswith(('input_', 'samples_', 'buffer', 'windows_'))}
    sent = r['publisher']['messages']
    assert sent > 4 * 500 * 4          # the publisher kept at least half its rate
    received, lost = last['input_messages_received'], last['input_messages_lost']
    assert 0 < received <= sent and received + lost <= sent
    assert last['input_samples_received'] == received      # one stream per topic
    assert set(r['stream_status']) == {'s0', 's1', 's2', 's3'}
    for name, s in r['stream_status'].items():
        v = {k: int(s[k]) for k in ('messages_received', 'received', 'count', 'dropped_late',
                                    'dropped_nonfinite', 'duplicates', 'errors',
                                    'buffered', 'buffer_capacity')}
        assert v['received'] == v['count'] + v['dropped_late'] + v['dropped_nonfinite'] \
            + v['duplicates'] + v['errors'], (name, v)
        assert v['messages_received'] == v['received'], (name, v)
        assert v['buffered'] <= v['buffer_capacity'], (name, v)
    # bounded: the buffers hold buffer_seconds of stream time, not the whole run
    assert last['buffered_samples'] <= 4 * 500 * last['buffer_seconds'] * 1.1
    assert last['windows_published'] > 0
    rss = [kib for _, kib, _, _ in r['series'] if kib]
    half = len(rss) // 2
    assert max(rss[half:]) <= max(rss[:half]) + 50 * 1024, rss   # KiB: no steady growth
    assert r['peak_rss_mib'] < 2048, r['peak_rss_mib']
