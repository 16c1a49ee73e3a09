"""pip install for infonet_ros (the Python half of the package).

The ROS side (messages, `ros2 run` executables, launch/ and config/ under
share/infonet_ros) is built by CMakeLists.txt, with colcon on a ROS 2 install or by
scripts/setup.sh into a virtual environment. pip installs the Python sources and the
console scripts; the generated `infonet_ros.msg` comes from the CMake build and is merged
into this package by the `pkgutil.extend_path` line at the top of infonet_ros/__init__.py.

Development install: scripts/setup.sh (runs `pip install -e . --config-settings
editable_mode=compat`; compat mode puts the repository on sys.path, which extend_path
needs to find both halves).
"""

import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).resolve().parent
PACKAGE = 'infonet_ros'

# Version lives in package.xml only.
_version = re.search(r'<version>\s*([^<\s]+)\s*</version>',
                     (HERE / 'package.xml').read_text(encoding='utf-8')).group(1)

# Also the executables CMakeLists.txt installs into lib/infonet_ros (kept in step by
# test/test_package.py).
CONSOLE_SCRIPTS = [
    'infonet_estimator = infonet_ros.node:main',
    'estimator = infonet_ros.node:main',   # the older name of infonet_estimator
    'bag_eval = infonet_ros.bag_eval:main',
    'bag_replay = infonet_ros.bag_replay:main',
    'infonet_train = infonet_ros.train:main',
    'infonet_demo = infonet_ros.demo:main',
]

setup(
    name=PACKAGE,
    version=_version,
    description='Real-time mutual information between ROS 2 streams with InfoNet',
    long_description=(HERE / 'README.md').read_text(encoding='utf-8')
    if (HERE / 'README.md').exists() else '',
    long_description_content_type='text/markdown',
    license='Apache-2.0',
    python_requires='>=3.10',
    packages=find_packages(include=[PACKAGE, PACKAGE + '.*']),
    # The trained model ships inside the package (infonet_ros/weights/*.safetensors), and so
    # do the supervised read-out and the truth bank it was trained on (infonet_ros/data/).
    package_data={PACKAGE: ['weights/*.safetensors', 'data/*.json', 'data/*.safetensors']},
    include_package_data=True,
    zip_safe=False,
    # rclpy and the message packages are not listed: they come from a ROS 2 install, or
    # from the ros-* wheels in requirements-dev.txt.
    install_requires=[
        'numpy>=1.22',
        'scipy>=1.8',
        'torch>=2.1',
        'safetensors>=0.4',
        'pyyaml>=5.4',
        'tqdm>=4.60',
        'matplotlib>=3.5',
        'rosbags>=0.10.10',  # Stores.ROS2_KILTED
    ],
    # fleet: bag_eval over many bags on a Dask cluster (infonet_ros/fleet.py)
    extras_require={'test': ['pytest'], 'fleet': ['dask[distributed]>=2024.1']},
    entry_points={'console_scripts': CONSOLE_SCRIPTS},
)
