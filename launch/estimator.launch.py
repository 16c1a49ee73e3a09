"""Start the infonet_estimator node with a parameters file.

    ros2 launch infonet_ros estimator.launch.py
    ros2 launch infonet_ros estimator.launch.py config:=my_streams.yaml device:=cuda \
        namespace:=robot1 use_sim_time:=true log_level:=debug
    ros2 launch infonet_ros estimator.launch.py managed:=true   # lifecycle node, unconfigured

Only wiring: everything else is in config/estimator.yaml and infonet_ros/node.py.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition, UnlessCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import LifecycleNode, Node
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare


def generate_launch_description():
    default_config = PathJoinSubstitution(
        [FindPackageShare('infonet_ros'), 'config', 'estimator.yaml'])
    managed = LaunchConfiguration('managed')
    parameters = [
        LaunchConfiguration('config'),
        {
            'device': LaunchConfiguration('device'),
            'use_sim_time': ParameterValue(LaunchConfiguration('use_sim_time'), value_type=bool),
            # the level of this node's logger only (--log-level would also turn on rcl/rmw)
            'log_level': LaunchConfiguration('log_level'),
        },
    ]
    return LaunchDescription([
        DeclareLaunchArgument(
            'config', default_value=default_config,
            description='parameters file (streams, window, rates); see config/estimator.yaml'),
        DeclareLaunchArgument(
            'device', default_value='auto',
            description='auto | cpu | cuda | cuda:N (overrides the parameters file)'),
        DeclareLaunchArgument(
            'namespace', default_value='',
            description='namespace of the node and of its ~/ topics'),
        DeclareLaunchArgument(
            'use_sim_time', default_value='false',
            description='use /clock (e.g. when replaying a bag)'),
        DeclareLaunchArgument(
            'log_level', default_value='info',
            description="debug | info | warn | error | fatal (this node's logger only)"),
        DeclareLaunchArgument(
            'managed', default_value='false',
            description='true: a managed (lifecycle) node that waits, unconfigured, for a '
                        'lifecycle manager (or ros2 lifecycle set) to configure and activate it'),
        Node(
            package='infonet_ros',
            executable='infonet_estimator',
            name='infonet_estimator',
            namespace=LaunchConfiguration('namespace'),
            parameters=parameters,
            output='screen',
            emulate_tty=True,
            condition=UnlessCondition(managed),
        ),
        LifecycleNode(
            package='infonet_ros',
            executable='infonet_estimator',
            name='infonet_estimator',
            namespace=LaunchConfiguration('namespace'),
            parameters=parameters,
            arguments=['--managed'],
            output='screen',
            emulate_tty=True,
            condition=IfCondition(managed),
        ),
    ])
