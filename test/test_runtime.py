"""tune_malloc: applied once on glibc, and never over the user's own MALLOC_* settings."""

import os
import platform
import subprocess
import sys

import pytest

CODE = "from infonet_ros import tune_malloc; print(tune_malloc(), tune_malloc())"


def run(env_extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    env.update(env_extra)
    out = subprocess.run([sys.executable, "-c", CODE], env=env, capture_output=True, text=True, check=True)
    return out.stdout.split()


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_tune_malloc_applies_once_on_glibc():
    assert run({}) == ["True", "True"]


def test_tune_malloc_leaves_user_settings_alone():
    assert run({"MALLOC_TRIM_THRESHOLD_": "1000000"}) == ["False", "False"]
