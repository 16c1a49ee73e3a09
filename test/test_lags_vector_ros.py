"""Lags and vector streams through the live node (issue 13): real rclpy processes.

test/ros_publisher.py --scenario lag_vector publishes an AR(1) source ``lead``, ``follow``
= lead delayed by 0.2 s plus noise, ``twin`` = lead plus noise (no lag), an Imu whose
angular_velocity x/y/z depends on lead (one vector stream ``gyro``) and an independent
AR(1) ``noise``; all stamped. The node runs from its console entry point with a parameters
file; this process listens to its messages.
"""

import math
import os
import sys

import numpy as np
import pytest
from ros_process import process
from test_node import PUBLISHER, OutputListener, estimator_command, new_domain_id

msgs = pytest.importorskip('infonet_ros.msg', reason='infonet_ros.msg not built')

RATE = 50.0
DELAY_S = 0.2


def write_params(path):
    imu = 'sensor_msgs/msg/Imu'
    path.write_text(f"""infonet_estimator:
  ros__parameters:
    stream_names: [lead, follow, twin, noise, gyro]
    streams:
      lead: {{topic: /test/lead, type: {imu}, field: linear_acceleration.x}}
      follow: {{topic: /test/follow, type: {imu}, field: linear_acceleration.x}}
      twin: {{topic: /test/twin, type: {imu}, field: linear_acceleration.x}}
      noise: {{topic: /test/noise, type: {imu}, field: linear_acceleration.x}}
      gyro:
        topic: /test/gyro
        type: {imu}
        field: [angular_velocity.x, angular_velocity.y, angular_velocity.z]
    window_size: 384
    sample_rate_hz: {RATE}
    publish_rate_hz: 2.0
    max_lag_s: 0.4
    device: cpu
    graph_threshold: 0.1
""")
    return path


def test_live_lag_direction_and_vector_stream(tmp_path):
    domain = new_domain_id()
    env = {**os.environ, 'ROS_DOMAIN_ID': str(domain),
           'ROS_AUTOMATIC_DISCOVERY_RANGE': 'LOCALHOST', 'PYTHONUNBUFFERED': '1'}
    config = write_params(tmp_path / 'params.yaml')
    node_log, pub_log = tmp_path / 'node.log', tmp_path / 'publisher.log'
    listener = OutputListener(domain)
    try:
        with process(estimator_command() + ['--ros-args', '--params-file', str(config)],
                     env, node_log) as node, \
             process([sys.executable, str(PUBLISHER), '--scenario', 'lag_vector',
                      '--rate', str(RATE), '--delay', str(DELAY_S), '--duration', '90'],
                     env, pub_log) as pub:
            ok = listener.spin_until(
                lambda: len(listener.received['graph']) >= 3
                and len(listener.received['mi']) >= 3 and listener.received['markers'],
                90.0, [(node, node_log), (pub, pub_log)])
            assert ok, (f'outputs: { {k: len(v) for k, v in listener.received.items()} }\n'
                        f'node log:\n{node_log.read_text()[-3000:]}\n'
                        f'publisher log:\n{pub_log.read_text()[-2000:]}')
    finally:
        listener.close()

    names = ['lead', 'follow', 'twin', 'noise', 'gyro']
    for mi, graph in zip(listener.received['mi'][-3:], listener.received['graph'][-3:]):
        assert list(mi.streams) == names and list(graph.nodes) == names
        pairs = {(names[a], names[b]): k for k, (a, b) in
                 enumerate(zip(mi.pair_first, mi.pair_second))}
        k = pairs[('lead', 'follow')]
        assert abs(mi.lag[k] - DELAY_S) <= 1 / RATE + 1e-4, list(mi.lag)   # lead leads
        assert mi.mi_lag[k] > mi.mi[k] + 0.1
        assert mi.lag[pairs[('lead', 'twin')]] == 0.0
        for other in ('lead', 'follow', 'twin', 'noise'):
            assert math.isnan(mi.lag[pairs[(other, 'gyro')]])     # vector pairs: no lag scan
        edges = {(names[a], names[b]): (d, lag, w) for a, b, d, lag, w in
                 zip(graph.edge_from, graph.edge_to, graph.directed, graph.lag, graph.weight)}
        assert ('lead', 'follow') in edges and ('follow', 'lead') not in edges
        directed, lag, _ = edges[('lead', 'follow')]
        assert directed and abs(lag - DELAY_S) <= 1 / RATE + 1e-4
        assert ('lead', 'twin') in edges and not edges[('lead', 'twin')][0]   # simultaneous
        assert ('lead', 'gyro') in edges and not edges[('lead', 'gyro')][0]   # vector node
        assert mi.p_value[pairs[('lead', 'gyro')]] < 0.01
        assert not any('noise' in e and d for e, (d, _, _) in edges.items())
    markers = listener.received['markers'][-1].markers
    arrows = [m for m in markers if m.ns == 'infonet/edges' and m.type == m.ARROW]
    lines = [m for m in markers if m.ns == 'infonet/edges' and m.type == m.LINE_LIST]
    assert arrows and lines                 # lead -> follow is an arrow, lead - twin a line
    assert all(len(m.points) == 2 and m.scale.y > m.scale.x for m in arrows)
    assert np.isfinite([m.scale.x for m in arrows]).all()
