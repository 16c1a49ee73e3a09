#!/usr/bin/env bash
# One-command development set-up for infonet_ros, on a machine without a ROS 2 install.
#
#   ./scripts/setup.sh            # then: .venv/bin/python -m pytest -q
#
# 1. creates .venv/ (Python 3.11: the ROS 2 wheels on PyPI are cp311 only);
# 2. pip installs requirements-dev.txt (pinned: ROS 2 kilted wheels, torch CPU, tools);
# 3. builds msg/*.msg and srv/*.srv with CMake (rosidl) and installs them into .venv (the
#    venv is the ROS prefix: AMENT_PREFIX_PATH = CMAKE_PREFIX_PATH = .venv);
# 4. pip installs this package in editable mode (console scripts: infonet_estimator,
#    bag_eval, ...);
# 5. checks that `from infonet_ros.msg import MutualInformation, DependencyGraph` and
#    `from infonet_ros.srv import Estimate` work.
#
# Re-running is cheap: unchanged steps are skipped (stamps in .venv/.infonet_ros/).
# Options (environment): PYTHON=/path/to/python3.11, INFONET_SETUP_FORCE=1 (redo all),
# JOBS=N (build parallelism, default: number of cores).
set -euo pipefail

export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"
STAMPS="$VENV/.infonet_ros"
BUILD_DIR="$ROOT/build/infonet_ros_venv"
JOBS="${JOBS:-$(nproc 2>/dev/null || echo 2)}"
FORCE="${INFONET_SETUP_FORCE:-0}"
T0=$SECONDS

step() { printf '\n==> [%3ss] %s\n' "$((SECONDS - T0))" "$*"; }
note() { printf '    %s\n' "$*"; }
die() { printf 'setup.sh: error: %s\n' "$*" >&2; exit 1; }
# pip, minus the noise of find-links/index locations that do not exist on this machine;
# returns pip's exit status (pipefail).
pip_() { "$VENV/bin/python" -m pip --disable-pip-version-check "$@" 2>&1 | { grep -v -E "^WARNING: Location '.*' is ignored" || true; }; }

# Run a step unless its inputs (files) are unchanged since it last succeeded and its
# output check still passes.  usage: stamped NAME "input files" "check command" command...
stamped() {
  local name="$1" inputs="$2" check="$3"; shift 3
  local want have=""
  # shellcheck disable=SC2086
  want="$(cat $inputs | sha256sum | cut -d' ' -f1)"
  [[ -f "$STAMPS/$name" ]] && have="$(cat "$STAMPS/$name")"
  if [[ "$FORCE" != 1 && "$want" == "$have" ]] && eval "$check" >/dev/null 2>&1; then
    note "up to date (inputs unchanged; INFONET_SETUP_FORCE=1 redoes it)"
    return 0
  fi
  rm -f "$STAMPS/$name"
  "$@"
  mkdir -p "$STAMPS"
  echo "$want" > "$STAMPS/$name"
}

# --- 1. virtual environment ---------------------------------------------------------
step "Python virtual environment: $VENV"
if [[ ! -x "$VENV/bin/python" ]]; then
  PY="${PYTHON:-}"
  if [[ -z "$PY" ]]; then
    for cand in python3.11 python3; do
      if command -v "$cand" >/dev/null \
         && [[ "$("$cand" -c 'import sys; print(sys.version_info[:2] == (3, 11))')" == True ]]; then
        PY="$cand"; break
      fi
    done
  fi
  [[ -n "$PY" ]] || die "Python 3.11 not found (the ROS 2 wheels on PyPI are cp311 only); set PYTHON=/path/to/python3.11"
  note "creating with $("$PY" --version) ($(command -v "$PY"))"
  "$PY" -m venv "$VENV"
else
  note "exists ($("$VENV/bin/python" --version))"
fi
"$VENV/bin/python" -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version' \
  || die "$VENV is not Python 3.11; remove it and re-run"
export VIRTUAL_ENV="$VENV" PATH="$VENV/bin:$PATH"
# This venv is a ROS prefix (the wheels put share/<pkg>/package.xml into it); keep colcon
# from crawling it when someone runs colcon with the repository as workspace.
touch "$VENV/COLCON_IGNORE"

# --- 2. pinned requirements ---------------------------------------------------------
step "pip install -r requirements-dev.txt (ROS 2 wheels, torch CPU, build and test tools)"
install_requirements() {
  if ! "$VENV/bin/python" -c 'import torch' 2>/dev/null \
     && ! ls ${PIP_FIND_LINKS:-/opt/wheels}/torch-*+cpu-*.whl >/dev/null 2>&1; then
    note "warning: no local CPU torch wheel found; PyPI's torch is a CUDA build of several GB"
    note "         (pre-install a CPU build, e.g. from PyTorch's CPU index, to avoid it)"
  fi
  pip_ install -q --progress-bar off -r requirements-dev.txt \
    || die "pip install -r requirements-dev.txt failed"
}
stamped requirements "requirements-dev.txt" \
  '"$VENV/bin/python" -c "import rclpy, rosidl_generator_py, catkin_pkg, importlib.util as u; assert u.find_spec(\"torch\")"' \
  install_requirements
note "torch $("$VENV/bin/python" -c 'from importlib.metadata import version; print(version("torch"))')"
SITE="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')"

# --- 3. messages (CMake/rosidl into the venv) ----------------------------------------
export AMENT_PREFIX_PATH="$VENV" CMAKE_PREFIX_PATH="$VENV"
step "Build messages and services with CMake: $BUILD_DIR -> install prefix $VENV"
build_messages() {
  # A build dir configured for another checkout path (repository moved) cannot be reused.
  if [[ -f "$BUILD_DIR/CMakeCache.txt" ]] \
     && ! grep -qxF "CMAKE_HOME_DIRECTORY:INTERNAL=$ROOT" "$BUILD_DIR/CMakeCache.txt"; then
    note "removing stale $BUILD_DIR (configured for another path)"
    rm -rf "$BUILD_DIR"
  fi
  # Python sources under site-packages/infonet_ros (a plain `cmake --install` or a
  # non-editable `pip install .` into this venv) would shadow the repository: start over.
  if compgen -G "$SITE/infonet_ros/*.py" >/dev/null; then
    note "removing $SITE/infonet_ros (holds a copy of the sources, which would shadow the repository)"
    rm -rf "$SITE/infonet_ros" "$SITE"/infonet_ros-*.egg-info
  fi
  # INFONET_ROS_PIP_MANAGED=ON: install only the generated msg code (and share/, lib/
  # executables); the Python sources come from the editable pip install (step 4).
  cmake -S "$ROOT" -B "$BUILD_DIR" \
    -DCMAKE_INSTALL_PREFIX="$VENV" \
    -DPython3_EXECUTABLE="$VENV/bin/python" \
    -DBUILD_TESTING=OFF \
    -DINFONET_ROS_PIP_MANAGED=ON \
    > "$BUILD_DIR.configure.log" 2>&1 \
    || { cat "$BUILD_DIR.configure.log"; die "cmake configure failed"; }
  note "configured (log: ${BUILD_DIR#"$ROOT"/}.configure.log)"
  cmake --build "$BUILD_DIR" -j "$JOBS" > "$BUILD_DIR.build.log" 2>&1 \
    || { tail -50 "$BUILD_DIR.build.log"; die "message build failed"; }
  note "built (log: ${BUILD_DIR#"$ROOT"/}.build.log)"
  cmake --install "$BUILD_DIR" > "$BUILD_DIR.install.log" 2>&1 \
    || { tail -50 "$BUILD_DIR.install.log"; die "cmake --install failed"; }
  note "installed (log: ${BUILD_DIR#"$ROOT"/}.install.log)"
}
mkdir -p "$(dirname "$BUILD_DIR")"
# shellcheck disable=SC2046
stamped messages "CMakeLists.txt package.xml requirements-dev.txt $(ls msg/*.msg srv/*.srv) \
$(find launch config -type f -not -name '*.pyc' 2>/dev/null | sort)" \
  'test -f "$SITE/infonet_ros/msg/_mutual_information.py" && test -f "$SITE/infonet_ros/srv/_estimate.py" && ! compgen -G "$SITE/infonet_ros/*.py"' \
  build_messages

# --- 4. the Python package (editable) ------------------------------------------------
step "pip install -e . (editable, compat mode: the repository goes on sys.path)"
install_editable() {
  # compat mode adds the repository root to sys.path via a .pth file, so that
  # infonet_ros/__init__.py's pkgutil.extend_path finds both the sources here and the
  # generated msg code in site-packages/infonet_ros. --no-build-isolation: use the venv's
  # pinned setuptools instead of fetching one. (setuptools warns that compat mode is
  # "transitional"; it is still there in the pinned setuptools.)
  pip_ install -q --progress-bar off --no-build-isolation \
    --config-settings editable_mode=compat -e "$ROOT" || die "pip install -e . failed"
}
stamped editable "setup.py setup.cfg package.xml requirements.txt" \
  'test -x "$VENV/bin/infonet_estimator" && test -x "$VENV/bin/estimator"' \
  install_editable

# Every Python of the venv gets AMENT_PREFIX_PATH (the wheels do not set it), so that
# ament_index lookups (share/infonet_ros/config, ...) work without activating anything.
echo 'import os, sys; os.environ.setdefault("AMENT_PREFIX_PATH", sys.prefix)' \
  > "$SITE/infonet_ros_ament_prefix.pth"

# --- 5. check --------------------------------------------------------------------------
step "Check: generated messages, services and package import from outside the repository"
(cd / && env -u AMENT_PREFIX_PATH -u CMAKE_PREFIX_PATH "$VENV/bin/python" - "$ROOT" <<'EOF'
import os
import sys

import infonet_ros.msg
from infonet_ros.msg import DependencyGraph, MutualInformation
from infonet_ros.srv import Estimate

root = sys.argv[1]
paths = [os.path.realpath(p) for p in infonet_ros.__path__]
src = os.path.join(os.path.realpath(root), 'infonet_ros')
print('    infonet_ros.__path__ =', paths)
print('    messages:', MutualInformation.__name__, DependencyGraph.__name__,
      '(from', os.path.dirname(infonet_ros.msg.__file__) + ')')
print('    services:', Estimate.__name__)
if paths[0] != src:
    sys.exit('setup.sh: error: infonet_ros does not resolve to ' + src + ' first'
             + ' (does infonet_ros/__init__.py have the pkgutil.extend_path line?)')
from ament_index_python.packages import get_package_share_directory
print('    share:', get_package_share_directory('infonet_ros'))
EOF
) || die "check failed"

step "Done in $((SECONDS - T0)) s. Next:"
note ".venv/bin/python -m pytest -q          # tests"
note ". .venv/bin/activate                   # infonet_estimator, bag_eval, ... on PATH"
