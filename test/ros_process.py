"""Child processes for the live ROS tests (node, bag_replay): started in the repository root,
output to a log file, always stopped the way a terminal stops them (SIGINT, then SIGKILL)."""

import signal
import subprocess
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def process(cmd, env, log_path):
    """Run ``cmd``; on exit SIGINT, then SIGKILL after 10 s. Yields the Popen."""
    with open(log_path, 'w') as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
