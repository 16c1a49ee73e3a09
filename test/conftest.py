"""Session-wide test settings: keep ROS 2 traffic on this machine and apart from other runs."""

import os
import random
import sys

# Fast DDS must not multicast discovery out of the network card (see ros2-on-pip.md); set
# before any test imports rclpy. A per-session domain keeps parallel runs apart
# (0..100: valid domain ids whose ports do not collide on loopback).
os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
os.environ['ROS_DOMAIN_ID'] = str(random.SystemRandom().randint(1, 100))
# The venv is the ROS prefix (ament_index lookups, CMake builds in tests).
os.environ.setdefault('AMENT_PREFIX_PATH', sys.prefix)


def pytest_configure(config):
    config.addinivalue_line(
        'markers', 'slow: takes more than a few seconds; runs by default '
        '(deselect with -m "not slow")')


def pytest_report_header(config):
    return (f"ROS_DOMAIN_ID={os.environ['ROS_DOMAIN_ID']} "
            f"ROS_AUTOMATIC_DISCOVERY_RANGE={os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE']}")


def pytest_terminal_summary(terminalreporter):
    fuzz = sys.modules.get('test_fuzz') or sys.modules.get('test.test_fuzz')
    if fuzz is not None and fuzz.CASES['count']:
        terminalreporter.write_line(
            f"fuzz: {fuzz.CASES['count']} generated cases (INFONET_FUZZ_SCALE="
            f"{fuzz.SCALE:g}), each a named ValueError or a finite documented result")
