"""Packaging checks: generated messages, package.xml, setup.py and CMakeLists.txt agree."""

import ast
import math
import re
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

EXPECTED_SCRIPTS = {
    'infonet_estimator': 'infonet_ros.node:main',   # named like the node (issue 14, item 5)
    'estimator': 'infonet_ros.node:main',           # the older name, kept as an alias
    'bag_eval': 'infonet_ros.bag_eval:main',
    'bag_replay': 'infonet_ros.bag_replay:main',
    'infonet_train': 'infonet_ros.train:main',
    'infonet_demo': 'infonet_ros.demo:main',
}


# --- messages --------------------------------------------------------------------------

def test_messages_import_and_have_the_documented_fields():
    from infonet_ros.msg import DependencyGraph, MutualInformation

    mi_fields = MutualInformation.get_fields_and_field_types()
    for name, type_ in {
        'header': 'std_msgs/Header',
        'window_start': 'builtin_interfaces/Time',
        'window_size': 'uint32',
        'streams': 'sequence<string>',
        'pair_first': 'sequence<uint32>',
        'pair_second': 'sequence<uint32>',
        'mi': 'sequence<float>',
        'p_value': 'sequence<float>',
    }.items():
        assert mi_fields.get(name) == type_, f'MutualInformation.{name}: {mi_fields.get(name)}'

    graph_fields = DependencyGraph.get_fields_and_field_types()
    for name, type_ in {
        'header': 'std_msgs/Header',
        'nodes': 'sequence<string>',
        'edge_from': 'sequence<uint32>',
        'edge_to': 'sequence<uint32>',
        'weight': 'sequence<float>',
        'p_value': 'sequence<float>',
        'method': 'string',
        'threshold': 'float',
    }.items():
        assert graph_fields.get(name) == type_, f'DependencyGraph.{name}: {graph_fields.get(name)}'


def test_estimate_service_has_the_documented_fields():
    from infonet_ros.srv import Estimate

    request = Estimate.Request.get_fields_and_field_types()
    assert request == {'x': 'sequence<double>', 'y': 'sequence<double>',
                       'pairs': 'sequence<string>'}
    response = Estimate.Response.get_fields_and_field_types()
    for name, type_ in {
        'success': 'boolean', 'error': 'string', 'pairs': 'sequence<string>',
        'mi': 'sequence<double>', 'mi_low': 'sequence<double>', 'mi_high': 'sequence<double>',
        'p_value': 'sequence<double>', 'window_size': 'uint32',
        'window_start': 'builtin_interfaces/Time', 'window_end': 'builtin_interfaces/Time',
        'method': 'string',
    }.items():
        assert response.get(name) == type_, f'Estimate.Response.{name}: {response.get(name)}'


def test_interface_comments_describe_what_the_node_publishes():
    """Issue 14, item 8: the installed definitions (what `ros2 interface show` prints) name
    the estimators that exist and stream names as the node configures them."""
    from ament_index_python.packages import get_package_share_directory

    from infonet_ros.streams import ESTIMATORS, PipelineConfig

    share = Path(get_package_share_directory('infonet_ros'))
    text = (share / 'msg' / 'MutualInformation.msg').read_text()
    assert text == (ROOT / 'msg' / 'MutualInformation.msg').read_text()
    method = re.search(r'# Estimator that produced mi: (.*)\nstring method', text).group(1)
    assert re.findall(r'"(\w+)"', method) == list(ESTIMATORS)
    example = re.search(r'stream_names \(e\.g\. "(\w+)"\)', text).group(1)
    names = [example, 'other']
    PipelineConfig.from_params({'stream_names': names, 'streams': {
        n: {'topic': '/t', 'type': 'std_msgs/msg/Float64', 'field': 'data'} for n in names}})
    assert 'gaussian' not in text and 'imu/angular_velocity.x' not in text
    srv = (share / 'srv' / 'Estimate.srv').read_text()
    assert srv == (ROOT / 'srv' / 'Estimate.srv').read_text()
    assert re.search(r'"infonet" or "ksg"', srv) and 'NaN' in srv


def test_mutual_information_round_trips_through_cdr():
    from builtin_interfaces.msg import Time
    from rclpy.serialization import deserialize_message, serialize_message

    from infonet_ros.msg import MutualInformation

    msg = MutualInformation()
    msg.header.stamp = Time(sec=12, nanosec=500_000_000)
    msg.header.frame_id = 'base_link'
    msg.window_start = Time(sec=10, nanosec=500_000_000)
    msg.window_size = 256
    msg.streams = ['gyro_z', 'odom_wz', 'cmd_wz']
    msg.pair_first = [0, 0, 1]
    msg.pair_second = [1, 2, 2]
    msg.mi = [0.75, 0.0, 1.5]
    msg.mi_low = [0.7, 0.0, float('nan')]
    msg.mi_high = [0.8, 0.01, float('nan')]
    msg.p_value = [0.01, float('nan'), 0.001]

    raw = serialize_message(msg)
    assert isinstance(raw, bytes) and len(raw) > 0
    back = deserialize_message(raw, MutualInformation)

    assert back.header.stamp.sec == 12 and back.header.stamp.nanosec == 500_000_000
    assert back.header.frame_id == 'base_link'
    assert back.window_start.sec == 10
    assert back.window_size == 256
    assert list(back.streams) == msg.streams
    assert list(back.pair_first) == [0, 0, 1] and list(back.pair_second) == [1, 2, 2]
    assert list(back.mi) == pytest.approx([0.75, 0.0, 1.5])
    assert back.p_value[0] == pytest.approx(0.01) and math.isnan(back.p_value[1])
    assert list(back.mi_low[:2]) == pytest.approx([0.7, 0.0]) and math.isnan(back.mi_low[2])
    assert list(back.mi_high[:2]) == pytest.approx([0.8, 0.01]) and math.isnan(back.mi_high[2])


def test_dependency_graph_round_trips_through_cdr():
    from rclpy.serialization import deserialize_message, serialize_message

    from infonet_ros.msg import DependencyGraph

    msg = DependencyGraph()
    msg.header.stamp.sec = 3
    msg.nodes = ['a', 'b', 'c']
    msg.edge_from = [0, 1]
    msg.edge_to = [1, 2]
    msg.weight = [0.4, 0.9]
    msg.p_value = [float('nan'), 0.02]
    msg.method = 'threshold'
    msg.threshold = 0.1

    back = deserialize_message(serialize_message(msg), DependencyGraph)

    assert list(back.nodes) == ['a', 'b', 'c']
    assert list(back.edge_from) == [0, 1] and list(back.edge_to) == [1, 2]
    assert list(back.weight) == pytest.approx([0.4, 0.9])
    assert math.isnan(back.p_value[0]) and back.p_value[1] == pytest.approx(0.02)
    assert back.method == 'threshold' and back.threshold == pytest.approx(0.1)


def test_generated_messages_and_sources_form_one_package():
    # infonet_ros/__init__.py's extend_path merges the source tree with the generated msg
    # code, wherever each half was installed.
    import infonet_ros
    import infonet_ros.msg

    paths = [Path(p).resolve() for p in infonet_ros.__path__]
    assert (ROOT / 'infonet_ros').resolve() in paths, paths
    assert Path(infonet_ros.msg.__file__).resolve().parent.parent in paths


# --- package.xml -----------------------------------------------------------------------

@pytest.fixture(scope='module')
def package():
    from catkin_pkg.package import parse_package

    return parse_package(str(ROOT / 'package.xml'))


def test_package_xml_is_an_ament_cmake_interface_package(package):
    assert package.name == 'infonet_ros'
    assert package.package_format == 3
    assert package.get_build_type() == 'ament_cmake'
    assert 'rosidl_interface_packages' in [g.name for g in package.member_of_groups]
    buildtool = {d.name for d in package.buildtool_depends}
    assert {'ament_cmake', 'rosidl_default_generators'} <= buildtool
    package.validate()


def test_package_xml_declares_runtime_dependencies(package):
    exec_deps = {d.name for d in package.exec_depends}
    required = {
        'rosidl_default_runtime', 'rclpy', 'std_msgs', 'builtin_interfaces', 'sensor_msgs',
        'python3-numpy', 'python3-scipy', 'python3-torch', 'python3-yaml', 'python3-tqdm',
        'python3-matplotlib', 'python3-rosbags-pip',
    }
    assert required <= exec_deps, f'missing exec_depend: {sorted(required - exec_deps)}'


# --- setup.py / CMakeLists.txt -----------------------------------------------------------

def _setup_py_console_scripts():
    tree = ast.parse((ROOT / 'setup.py').read_text(encoding='utf-8'))
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == 'CONSOLE_SCRIPTS' for t in node.targets):
            entries = ast.literal_eval(node.value)
            return dict(re.split(r'\s*=\s*', e.strip(), maxsplit=1) for e in entries)
    raise AssertionError('setup.py: no CONSOLE_SCRIPTS list')


def _cmake_executables():
    text = (ROOT / 'CMakeLists.txt').read_text(encoding='utf-8')
    block = re.search(r'set\(INFONET_ROS_EXECUTABLES(.*?)\)', text, re.S)
    assert block, 'CMakeLists.txt: no INFONET_ROS_EXECUTABLES list'
    return dict(e.split('=', 1) for e in re.findall(r'"([^"]+)"', block.group(1)))


def test_setup_py_declares_the_console_scripts():
    assert _setup_py_console_scripts() == EXPECTED_SCRIPTS


def test_cmake_installs_the_same_executables_as_setup_py():
    assert _cmake_executables() == _setup_py_console_scripts()


@pytest.mark.parametrize('name', sorted(EXPECTED_SCRIPTS))
def test_console_script_targets_exist(name):
    module, function = EXPECTED_SCRIPTS[name].split(':')
    path = ROOT / (module.replace('.', '/') + '.py')
    assert path.is_file(), f'{name}: {path.relative_to(ROOT)} does not exist'
    tree = ast.parse(path.read_text(encoding='utf-8'))
    functions = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert function in functions, f'{name}: {module} defines no {function}()'


def test_versions_agree(package):
    text = (ROOT / 'setup.py').read_text(encoding='utf-8')
    assert "re.search(r'<version>" in text  # setup.py reads its version from package.xml
    try:
        installed = metadata.version('infonet_ros')
    except metadata.PackageNotFoundError:
        pytest.skip('infonet_ros is not pip-installed (run scripts/setup.sh)')
    assert installed == package.version


def test_installed_console_scripts_match_setup_py():
    try:
        dist = metadata.distribution('infonet_ros')
    except metadata.PackageNotFoundError:
        pytest.skip('infonet_ros is not pip-installed (run scripts/setup.sh)')
    installed = {ep.name: ep.value for ep in dist.entry_points if ep.group == 'console_scripts'}
    assert installed == _setup_py_console_scripts(), 'stale install: re-run scripts/setup.sh'


def test_weights_ship_as_package_data():
    text = (ROOT / 'setup.py').read_text(encoding='utf-8')
    assert "'weights/*.safetensors'" in text
