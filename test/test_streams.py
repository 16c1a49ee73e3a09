"""Streams: parameters -> PipelineConfig, message types, field paths, stamps (no rclpy.init)."""

import math

import pytest
from builtin_interfaces.msg import Time
from geometry_msgs.msg import Pose, PoseStamped, Twist, TwistStamped
from nav_msgs.msg import Odometry
from rclpy.serialization import serialize_message
from sensor_msgs.msg import Imu, JointState
from std_msgs.msg import Bool, Float32, Float32MultiArray, Float64, Float64MultiArray

from infonet_ros.streams import (FieldExtractionError, PipelineConfig, StreamExtractor,
                                 StreamSpec, compile_field_path, import_message_type,
                                 message_stamp, parse_pairs)

TWO_STREAMS = {
    'stream_names': ['accel_x', 'cmd_vx'],
    'streams': {
        'accel_x': {'topic': '/imu/data', 'type': 'sensor_msgs/msg/Imu',
                    'field': 'linear_acceleration.x'},
        'cmd_vx': {'topic': '/cmd_vel', 'type': 'geometry_msgs/msg/Twist', 'field': 'linear.x'},
    },
}


def _stamp(sec, nanosec=0):
    return Time(sec=sec, nanosec=nanosec)


def _examples():
    imu = Imu()
    imu.linear_acceleration.x = 1.25
    imu.angular_velocity.z = -0.5
    imu.orientation_covariance[4] = 0.1
    # effort set: rosbags rejects the trailing padding Fast CDR adds to some JointStates
    js = JointState(position=[0.1, 0.2, 0.3], velocity=[1.0, 2.0, 3.0], effort=[0.0])
    tw = Twist()
    tw.linear.x = 0.7
    tws = TwistStamped()
    tws.twist.angular.z = 0.3
    pose = Pose()
    pose.position.z = 2.5
    ps = PoseStamped()
    ps.pose.orientation.w = 1.0
    odom = Odometry()
    odom.pose.pose.position.z = 4.0
    odom.twist.twist.linear.y = -1.0
    odom.pose.covariance[35] = 9.0
    return [
        (Imu, imu, 'linear_acceleration.x', 1.25),
        (Imu, imu, 'angular_velocity.z', -0.5),
        (Imu, imu, 'orientation_covariance[4]', 0.1),
        (JointState, js, 'position[2]', 0.3),
        (JointState, js, 'velocity[-1]', 3.0),
        (Twist, tw, 'linear.x', 0.7),
        (TwistStamped, tws, 'twist.angular.z', 0.3),
        (Pose, pose, 'position.z', 2.5),
        (PoseStamped, ps, 'pose.orientation.w', 1.0),
        (Odometry, odom, 'pose.pose.position.z', 4.0),
        (Odometry, odom, 'twist.twist.linear.y', -1.0),
        (Odometry, odom, 'pose.covariance[35]', 9.0),
        (Float32, Float32(data=1.5), 'data', 1.5),
        (Float64, Float64(data=-2.25), 'data', -2.25),
        (Float32MultiArray, Float32MultiArray(data=[3.5, 4.5]), 'data[1]', 4.5),
        (Float64MultiArray, Float64MultiArray(data=[6.0]), 'data[0]', 6.0),
        (Bool, Bool(data=True), 'data', 1.0),
        (Imu, Imu(), 'header.stamp', 0.0),
    ]


@pytest.mark.parametrize('msg_type,msg,path,expected', _examples(),
                         ids=lambda v: v if isinstance(v, str) else None)
def test_field_paths_on_rclpy_messages(msg_type, msg, path, expected):
    getter = compile_field_path(path, msg_type, stream='s')
    value = getter(msg)
    assert isinstance(value, float)
    assert value == pytest.approx(expected, rel=1e-6)
    # without the type check the same path works too
    assert compile_field_path(path)(msg) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize('msg_type,msg,path,expected', _examples(),
                         ids=lambda v: v if isinstance(v, str) else None)
def test_field_paths_on_rosbags_messages(msg_type, msg, path, expected):
    from rosbags.typesys import Stores, get_typestore
    typestore = get_typestore(Stores.ROS2_KILTED)
    module = msg_type.__module__.split('.')[0]
    bag_msg = typestore.deserialize_cdr(serialize_message(msg),
                                        f'{module}/msg/{msg_type.__name__}')
    assert compile_field_path(path, msg_type)(bag_msg) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize('msg_type,path,words', [
    (Imu, 'linear_accel.x', ['linear_accel', 'linear_acceleration']),
    (Imu, 'linear_acceleration.w', ["no field 'w'"]),
    (Imu, 'linear_acceleration', ['Vector3', 'not a number']),
    (Imu, 'orientation_covariance', ['array', 'orientation_covariance[0]']),
    (Imu, 'linear_acceleration.x[0]', ['cannot be indexed']),
    (Imu, 'linear_acceleration.x.y', ['has no fields']),
    (Imu, 'header.frame_id', ['string', 'not a number']),
    (JointState, 'name[0]', ['string']),
    (Float64MultiArray, 'data', ['data[0]']),
    (Twist, 'linear..x', ['cannot parse']),
    (Twist, 'linear.x[a]', ['cannot parse']),
    (Twist, '', ['empty']),
])
def test_bad_field_paths_name_stream_and_field(msg_type, path, words):
    with pytest.raises(ValueError) as info:
        compile_field_path(path, msg_type, stream='my_stream')
    text = str(info.value)
    assert "stream 'my_stream'" in text
    for word in words:
        assert word in text


def test_runtime_extraction_errors_are_field_extraction_errors():
    getter = compile_field_path('position[5]', JointState, stream='j')
    with pytest.raises(FieldExtractionError, match=r"stream 'j'.*position\[5\]"):
        getter(JointState(position=[1.0]))
    assert issubclass(FieldExtractionError, ValueError)


def test_import_message_type():
    assert import_message_type('sensor_msgs/msg/Imu') is Imu
    assert import_message_type('sensor_msgs/Imu') is Imu
    for bad, word in [('sensor_msgs/msg/Imuu', "no message 'Imuu'"),
                      ('no_such_pkg/msg/Foo', 'cannot import'),
                      ('sensor_msgs.msg.Imu', 'package/msg/Name'),
                      ('sensor_msgs/srv/SetCameraInfo', 'package/msg/Name'),
                      ('', 'package/msg/Name')]:
        with pytest.raises(ValueError, match=word) as info:
            import_message_type(bad)
        assert repr(bad)[1:-1] in str(info.value)


def test_message_stamp_both_flavours():
    imu = Imu()
    assert message_stamp(imu) is None            # zero stamp = not set
    assert message_stamp(Twist()) is None        # no header
    imu.header.stamp = _stamp(12, 250_000_000)
    assert message_stamp(imu) == pytest.approx(12.25)
    from rosbags.typesys import Stores, get_typestore
    bag_imu = get_typestore(Stores.ROS2_KILTED).deserialize_cdr(
        serialize_message(imu), 'sensor_msgs/msg/Imu')
    assert message_stamp(bag_imu) == pytest.approx(12.25)


def test_config_from_nested_and_dotted_params_agree():
    nested = PipelineConfig.from_params({**TWO_STREAMS, 'window_size': 256, 'pairs': []})
    dotted = PipelineConfig.from_params({
        'stream_names': ['accel_x', 'cmd_vx'],
        'streams.accel_x.topic': '/imu/data', 'streams.accel_x.type': 'sensor_msgs/msg/Imu',
        'streams.accel_x.field': 'linear_acceleration.x',
        'streams.cmd_vx.topic': '/cmd_vel', 'streams.cmd_vx.type': 'geometry_msgs/msg/Twist',
        'streams.cmd_vx.field': 'linear.x',
        'window_size': 256, 'use_sim_time': True, 'qos_overrides./imu.depth': 5,
    })
    assert nested == dotted
    assert nested.pairs == [(0, 1)]
    assert nested.streams['cmd_vx'] == StreamSpec('cmd_vx', '/cmd_vel',
                                                  'geometry_msgs/msg/Twist', 'linear.x')
    assert nested.window_size == 256 and nested.sample_rate_hz == 50.0
    assert nested.device == 'auto' and nested.estimator == 'infonet'


def test_pairs_parameter():
    names = ['a', 'b', 'c']
    assert parse_pairs([], names) == [(0, 1), (0, 2), (1, 2)]
    assert parse_pairs(None, names) == [(0, 1), (0, 2), (1, 2)]
    assert parse_pairs(['c:a', 'b:c'], names) == [(2, 0), (1, 2)]
    assert parse_pairs([('a', 'b'), (1, 2)], names) == [(0, 1), (1, 2)]
    for bad, word in [(['a:d'], "unknown stream 'd'"), (['a-b'], 'a:b'), (['a:a'], 'itself'),
                      (['a:b', 'b:a'], 'duplicate'), ([3], 'bad entry')]:
        with pytest.raises(ValueError, match=word):
            parse_pairs(bad, names)


@pytest.mark.parametrize('change,words', [
    ({'window_sise': 10}, ["unknown parameter 'window_sise'"]),
    ({'window_size': 8}, ["'window_size'", '[32, 100000]']),
    ({'window_size': 31}, ["'window_size'", '[32, 100000]', 'got 31']),
    ({'graph_threshold': -0.1}, ["'graph_threshold'", '[0, 100]']),
    ({'p_value_alpha': 0.0}, ["'p_value_alpha'", '(0, 1]']),
    ({'torch_threads': -1}, ["'torch_threads'", '[0, 1024]']),
    ({'log_level': 'loud'}, ["'log_level'", "'debug'"]),
    ({'marker_frame_id': ' '}, ["'marker_frame_id'", 'non-empty']),
    ({'window_size': 'big'}, ["'window_size'", 'int']),
    ({'sample_rate_hz': 0.0}, ["'sample_rate_hz'"]),
    ({'publish_rate_hz': -1}, ["'publish_rate_hz'"]),
    ({'device': 'gpu'}, ["'device'", 'cuda:N']),
    ({'estimator': 'mine'}, ["'estimator'", 'ksg']),
    ({'graph_threshold': math.nan}, ["'graph_threshold'"]),
    ({'pairs': ['accel_x:nope']}, ["'pairs'", "'nope'"]),
    ({'stream_names': ['accel_x']}, ["'stream_names'", 'at least 2']),
    ({'stream_names': ['accel_x', 'cmd_vx', 'ghost']}, ["'streams.ghost.topic'", 'required']),
    ({'stream_names': ['accel x', 'cmd_vx']}, ["bad stream name 'accel x'"]),
    ({'stream_names': 'accel_x'}, ["'stream_names'", 'list of strings']),
    ({'streams.extra.topic': '/x'}, ["'streams.extra.topic'", "not in 'stream_names'"]),
    ({'streams.cmd_vx.fields': 'x'}, ["'streams.cmd_vx.fields'"]),
])
def test_bad_params_name_the_parameter(change, words):
    params = {**TWO_STREAMS, **change}
    with pytest.raises(ValueError) as info:
        PipelineConfig.from_params(params)
    for word in words:
        assert word in str(info.value)


def test_missing_stream_names_and_field():
    with pytest.raises(ValueError, match="'stream_names' is required"):
        PipelineConfig.from_params({'streams': TWO_STREAMS['streams']})
    streams = {k: dict(v) for k, v in TWO_STREAMS['streams'].items()}
    del streams['cmd_vx']['field']
    with pytest.raises(ValueError, match="'streams.cmd_vx.field' is required"):
        PipelineConfig.from_params({**TWO_STREAMS, 'streams': streams})


def test_from_yaml_node_section_and_wildcard(tmp_path):
    path = tmp_path / 'p.yaml'
    path.write_text("""
infonet_estimator:
  ros__parameters:
    stream_names: [accel_x, cmd_vx]
    streams:
      accel_x: {topic: /imu/data, type: sensor_msgs/msg/Imu, field: linear_acceleration.x}
      cmd_vx:  {topic: /cmd_vel, type: geometry_msgs/msg/Twist, field: linear.x}
    pairs: []
    window_size: 128
    model_path: ""
""")
    config = PipelineConfig.from_yaml(path)
    assert config.stream_names == ['accel_x', 'cmd_vx'] and config.window_size == 128
    assert config.pairs == [(0, 1)] and config.model_path == ''

    path.write_text("""
/**:
  ros__parameters:
    stream_names: [accel_x, cmd_vx]
    streams:
      accel_x: {topic: /imu/data, type: sensor_msgs/msg/Imu, field: linear_acceleration.x}
      cmd_vx:  {topic: /cmd_vel, type: geometry_msgs/msg/Twist, field: linear.x}
    window_size: 128
/robot1/infonet_estimator:
  ros__parameters:
    window_size: 64
""")
    assert PipelineConfig.from_yaml(path).window_size == 64

    path.write_text('other_node:\n  ros__parameters: {a: 1}\n')
    with pytest.raises(ValueError, match="no section for node 'infonet_estimator'"):
        PipelineConfig.from_yaml(path)
    with pytest.raises(ValueError, match='cannot read parameters file'):
        PipelineConfig.from_yaml(tmp_path / 'missing.yaml')
    path.write_text('infonet_estimator:\n  ros__parameters:\n    window_size: 8\n'
                    '    stream_names: [a]\n')
    with pytest.raises(ValueError, match=r'p\.yaml.*stream_names'):
        PipelineConfig.from_yaml(path)


def test_extractor_uses_header_stamp_else_receive_time():
    config = PipelineConfig.from_params({
        'stream_names': ['ax', 'ay', 'vx'],
        'streams': {
            'ax': {'topic': '/imu', 'type': 'sensor_msgs/msg/Imu',
                   'field': 'linear_acceleration.x'},
            'ay': {'topic': '/imu', 'type': 'sensor_msgs/Imu', 'field': 'linear_acceleration.y'},
            'vx': {'topic': '/cmd_vel', 'type': 'geometry_msgs/msg/Twist', 'field': 'linear.x'},
        }})
    extractor = StreamExtractor(config)
    assert extractor.topics == {'/imu': 'sensor_msgs/msg/Imu',
                                '/cmd_vel': 'geometry_msgs/msg/Twist'}
    assert extractor.streams_on('/imu') == ['ax', 'ay'] and extractor.streams_on('/x') == []
    imu = Imu()
    imu.linear_acceleration.x, imu.linear_acceleration.y = 1.0, 2.0
    assert extractor.extract('ax', imu, receive_time=99.0) == (99.0, 1.0)   # zero stamp
    imu.header.stamp = _stamp(10, 500_000_000)
    assert extractor.extract_topic('/imu', imu, 99.0) == [('ax', 10.5, 1.0), ('ay', 10.5, 2.0)]
    tw = Twist()
    tw.linear.x = 3.0
    assert extractor.extract('vx', tw, receive_time=7.0) == (7.0, 3.0)


def test_extractor_startup_errors_name_the_parameter():
    def config(**stream):
        spec = {'topic': '/t', 'type': 'std_msgs/msg/Float64', 'field': 'data', **stream}
        return PipelineConfig.from_params({
            'stream_names': ['a', 'b'],
            'streams': {'a': spec, 'b': {'topic': '/u', 'type': 'std_msgs/msg/Float64',
                                         'field': 'data'}}})
    with pytest.raises(ValueError, match=r"'streams\.a\.type'.*'std_msgs/msg/Float65'"):
        StreamExtractor(config(type='std_msgs/msg/Float65'))
    with pytest.raises(ValueError, match=r"'streams\.a\.field'.*stream 'a'.*'value'"):
        StreamExtractor(config(field='value'))
    with pytest.raises(ValueError, match=r"stream 'b'.*topic '/u'.*one topic has one type"):
        StreamExtractor(config(topic='/u', type='std_msgs/msg/Float32'))
    # the bag tools may skip the type checks (rosbags messages only)
    assert StreamExtractor(config(field='value'), check_types=False).streams_on('/t') == ['a']


def test_parameter_schema_agrees_with_the_config():
    """One schema: every PipelineConfig setting has a spec with its default and type."""
    from dataclasses import fields

    from infonet_ros.estimator import MIN_SAMPLES
    from infonet_ros.streams import MIN_WINDOW_SIZE, PARAMETERS

    settings = {f.name for f in fields(PipelineConfig)} - {'streams'}
    assert set(PARAMETERS) == settings | {'log_level'}
    assert MIN_WINDOW_SIZE == MIN_SAMPLES == PARAMETERS['window_size'].low
    defaults = PipelineConfig(stream_names=[], streams={}, pairs=[])
    for name, spec in PARAMETERS.items():
        assert spec.description, name
        if name not in ('stream_names', 'pairs', 'log_level'):
            assert spec.default == getattr(defaults, name)
            spec.check(spec.default)           # the defaults are valid
        if spec.low is not None:
            assert spec.kind in (int, float) and spec.high is not None, name
    runtime = {n for n, s in PARAMETERS.items() if s.runtime}
    assert runtime == {'pairs', 'publish_rate_hz', 'graph_threshold', 'max_gap_s',
                       'stale_after_s', 'permutations', 'p_value_alpha', 'marker_frame_id',
                       'log_level', 'graph_method', 'graph_alpha', 'significance',
                       'significance_lags', 'significance_memory'}


def test_apply_changes_validates_runtime_parameters():
    from infonet_ros.streams import apply_changes

    params = {**TWO_STREAMS, 'window_size': 256}
    config, merged = apply_changes(params, {'graph_threshold': 0.2, 'pairs': ['cmd_vx:accel_x'],
                                            'publish_rate_hz': 2.0, 'log_level': 'debug'})
    assert config.graph_threshold == 0.2 and config.pairs == [(1, 0)]
    assert config.publish_rate_hz == 2.0 and config.window_size == 256
    assert merged['log_level'] == 'debug' and params.get('log_level') is None
    for change, words in [
            ({'window_size': 64}, ["'window_size' is read-only", 'restart']),
            ({'streams.cmd_vx.topic': '/x'}, ["'streams.cmd_vx.topic' is read-only"]),
            ({'graph_threshold': -1.0}, ["'graph_threshold'", '[0, 100]']),
            ({'publish_rate_hz': 0.0}, ["'publish_rate_hz'", '(0, 1000]']),
            ({'pairs': ['accel_x:nope']}, ["'pairs'", "unknown stream 'nope'"]),
            ({'permutations': 2.5}, ["'permutations'", 'int']),
            ({'marker_frame_id': ''}, ["'marker_frame_id'", 'non-empty']),
            ({'no_such': 1}, ["unknown parameter 'no_such'"])]:
        with pytest.raises(ValueError) as info:
            apply_changes(params, change)
        for word in words:
            assert word in str(info.value), (change, str(info.value))
