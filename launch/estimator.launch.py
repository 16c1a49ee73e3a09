"""Start the infonet_estimator node with a parameters file.

    ros2 launch infonet_ros estimator.launch.py
    ros2 launch infonet_ros estimator.launch.py config:=my_streams.yaml device:=cuda \
        namespace:=robot1 use_sim_time:=true log_level:=debug

Only wiring: everything else is in config/estimator.yaml and infonet_ros/node.py.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare


def generate_launch_description():
    default_config = PathJoinSubstitution(
        [FindPackageShare('infonet_ros'), 'config', 'estimator.yaml'])
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
            description='debug | info | warn | error | fatal'),
        Node(
            package='infonet_ros',
            executable='estimator',
            name='infonet_estimator',
            namespace=LaunchConfiguration('namespace'),
            parameters=[
                LaunchConfiguration('config'),
                {
                    'device': LaunchConfiguration('device'),
                    'use_sim_time': ParameterValue(
                        LaunchConfiguration('use_sim_time'), value_type=bool),
                },
            ],
            arguments=['--ros-args', '--log-level', LaunchConfiguration('log_level')],
            output='screen',
            emulate_tty=True,
        ),
    ])
