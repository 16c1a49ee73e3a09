"""`colcon build` of this repository as src/infonet_ros of a fresh workspace.

This is the route of a ROS 2 user (colcon on a ROS install); here the ROS install is the
venv's PyPI wheels (AMENT_PREFIX_PATH = CMAKE_PREFIX_PATH = sys.prefix). About a minute on
2 cores. (`colcon build --symlink-install` was checked by hand; it differs only in
linking, not copying, and needs the generated executables to be executable in build/.)
"""

import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = 'infonet_ros'
# What the package needs to build; everything else tracked by git is copied too.
REQUIRED = ['package.xml', 'CMakeLists.txt', 'setup.py', 'setup.cfg', 'resource', 'msg',
            'srv', PACKAGE]
OPTIONAL = ['launch', 'config']


def _source_files():
    """Tracked and untracked-but-not-ignored files, relative to ROOT."""
    try:
        out = subprocess.run(
            ['git', 'ls-files', '-z', '--cached', '--others', '--exclude-standard'],
            cwd=ROOT, check=True, capture_output=True).stdout
        files = [Path(f) for f in out.decode().split('\0') if f]
    except (OSError, subprocess.CalledProcessError):  # no git: copy what the build needs
        files = [p.relative_to(ROOT) for top in REQUIRED + OPTIONAL
                 for p in ([ROOT / top] if (ROOT / top).is_file()
                           else (ROOT / top).rglob('*'))
                 if p.is_file()]
    skip = {'.venv', 'build', 'install', 'log', '__pycache__', '.git'}
    return [f for f in files if (ROOT / f).is_file() and not skip & set(f.parts)]


def _copy_package(dest):
    """Copy the package to dest; returns the copied files (relative paths)."""
    files = []
    for rel in _source_files():
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        try:
            shutil.copy2(ROOT / rel, dest / rel)
        except FileNotFoundError:  # deleted since it was listed
            continue
        files.append(rel)
    for rel in REQUIRED:
        assert (dest / rel).exists(), f'{rel} missing from the copied package'
    return files


@pytest.fixture(scope='module')
def colcon_install(tmp_path_factory):
    colcon = shutil.which('colcon', path=os.pathsep.join(
        [str(Path(sys.executable).parent), os.environ.get('PATH', '')]))
    assert colcon, 'colcon not found: pip install -r requirements-dev.txt (scripts/setup.sh)'

    ws = tmp_path_factory.mktemp('ws')
    src = ws / 'src' / PACKAGE
    copied = _copy_package(src)
    env = dict(os.environ,
               AMENT_PREFIX_PATH=sys.prefix, CMAKE_PREFIX_PATH=sys.prefix,
               COLCON_HOME=str(ws / '.colcon'), MAKEFLAGS=f'-j{os.cpu_count() or 2}',
               PATH=os.pathsep.join([str(Path(sys.executable).parent),
                                     os.environ.get('PATH', '')]))
    env.pop('PYTHONPATH', None)
    cmd = [colcon, 'build', '--base-paths', 'src', '--event-handlers', 'console_cohesion+',
           '--cmake-args', f'-DPython3_EXECUTABLE={sys.executable}', '-DBUILD_TESTING=OFF']
    start = time.monotonic()
    proc = subprocess.run(cmd, cwd=ws, env=env, capture_output=True, text=True, timeout=1200)
    elapsed = time.monotonic() - start
    print(f'\ncolcon build: {elapsed:.1f} s')
    assert proc.returncode == 0, (
        f'colcon build failed ({elapsed:.0f} s):\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}')
    # Checks compare with the copy, not with ROOT, which may change meanwhile.
    return ws / 'install' / PACKAGE, src, copied


def _install_env(prefix):
    site = Path(sysconfig.get_path('purelib', vars={'base': str(prefix)}))
    env = dict(os.environ,
               AMENT_PREFIX_PATH=os.pathsep.join([str(prefix), sys.prefix]),
               PYTHONPATH=str(site))
    return env, site


def test_messages_import_from_the_install_space(colcon_install, tmp_path):
    prefix, src, _ = colcon_install
    env, site = _install_env(prefix)
    code = textwrap.dedent('''
        import infonet_ros, infonet_ros.msg
        from infonet_ros.msg import DependencyGraph, MutualInformation
        from infonet_ros.srv import Estimate
        from rclpy.serialization import deserialize_message, serialize_message
        msg = MutualInformation(streams=['a', 'b'], pair_first=[0], pair_second=[1], mi=[0.5])
        assert deserialize_message(serialize_message(msg), MutualInformation).mi[0] == 0.5
        answer = Estimate.Response(success=True, mi=[0.5], mi_low=[float('nan')])
        assert deserialize_message(serialize_message(answer), Estimate.Response).mi[0] == 0.5
        print(infonet_ros.__file__)
        print(infonet_ros.msg.__file__)
    ''')
    proc = subprocess.run([sys.executable, '-c', code], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    package_file, msg_file = proc.stdout.split()[-2:]
    # Our __init__.py (with extend_path) replaced the generated empty one.
    assert Path(package_file).parent == site / PACKAGE
    assert Path(msg_file).parent.parent == site / PACKAGE
    assert (site / PACKAGE / '__init__.py').read_bytes() == \
        (src / PACKAGE / '__init__.py').read_bytes()


def test_python_sources_and_weights_are_installed(colcon_install):
    prefix, _, copied = colcon_install
    _, site = _install_env(prefix)
    sources = [p for p in copied if p.parts[0] == PACKAGE]
    assert Path(PACKAGE, '__init__.py') in sources
    missing = [str(p) for p in sources if not (site / p).is_file()]
    assert not missing, f'not installed: {missing}'
    assert not list((site / PACKAGE).glob('*.py[co]'))


@pytest.mark.parametrize('name', ['infonet_estimator', 'estimator', 'bag_eval', 'bag_replay',
                                  'infonet_train', 'infonet_demo'])
def test_ros2_run_executables_are_installed(colcon_install, name):
    prefix, _, _ = colcon_install
    exe = prefix / 'lib' / PACKAGE / name
    assert exe.is_file(), f'{exe} missing (ros2 run {PACKAGE} {name})'
    assert os.access(exe, os.X_OK)
    # --symlink-install links lib/infonet_ros/<name> to this file, so it must be executable.
    built = prefix.parents[1] / 'build' / PACKAGE / 'scripts' / name
    assert os.access(built, os.X_OK), f'{built} is not executable'
    shebang = exe.read_text().splitlines()[0]
    assert shebang == f'#!{sys.executable}' or Path(shebang[2:]).exists(), shebang


def test_share_directory(colcon_install):
    prefix, _, copied = colcon_install
    share = prefix / 'share' / PACKAGE
    assert (share / 'package.xml').is_file()
    assert (prefix / 'share' / 'ament_index' / 'resource_index' / 'packages'
            / PACKAGE).is_file()
    # launch/ and config/ are installed as they are in the repository.
    missing = [str(p) for p in copied if p.parts[0] in OPTIONAL and not (share / p).is_file()]
    assert not missing, f'not installed under share/{PACKAGE}: {missing}'
    for expected in ['launch/estimator.launch.py', 'config/estimator.yaml',
                     'msg/MutualInformation.msg', 'srv/Estimate.srv']:
        if Path(expected) in copied:
            assert (share / expected).is_file(), expected
