"""Loading weights is safe on untrusted files, and no parameter allocates without bound."""

import json
import pickle
import struct
import time

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from infonet_ros import InfoNetEstimator
from infonet_ros.checkpoint import MAGIC, load_weights
from infonet_ros.estimator import BUNDLED_WEIGHTS
from infonet_ros.model import FORMAT_VERSION, InfoNetConfig
from infonet_ros.pipeline import make_estimator
from infonet_ros.streams import PipelineConfig


class _Payload:
    """Unpickling this runs code: it creates the marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, 'w'))


@pytest.mark.parametrize('name', ['infonet.safetensors', 'weights.pt', 'model.pth'])
def test_a_pickle_under_the_weights_name_is_refused_without_running(tmp_path, name):
    marker = tmp_path / 'code_ran'
    evil = tmp_path / name
    evil.write_bytes(pickle.dumps({'state_dict': _Payload(marker)}))
    pickle.loads(evil.read_bytes())            # the payload is real: plain unpickling runs it
    assert marker.exists()
    marker.unlink()
    with pytest.raises(ValueError, match='not a readable safetensors file'):
        InfoNetEstimator.load(evil, device='cpu')
    config = PipelineConfig.from_params({
        'stream_names': ['a', 'b'], 'model_path': str(evil),
        'streams': {n: {'topic': f'/{n}', 'type': 'std_msgs/msg/Float64', 'field': 'data'} for n in 'ab'}})
    with pytest.raises(ValueError, match="parameter 'model_path'"):
        make_estimator(config)
    assert not marker.exists()


def _with_metadata(path, meta, tensors=None):
    save_file(tensors or {'w': torch.zeros(2)}, str(path), metadata=meta)
    return path


def test_malformed_and_oversized_headers_give_clear_errors(tmp_path):
    huge = tmp_path / 'huge.safetensors'
    huge.write_bytes(struct.pack('<Q', 2 ** 60) + b'{"a": 1}')
    truncated = tmp_path / 'truncated.safetensors'
    truncated.write_bytes(BUNDLED_WEIGHTS.read_bytes()[: BUNDLED_WEIGHTS.stat().st_size // 2])
    garbage = tmp_path / 'garbage.safetensors'
    garbage.write_bytes(struct.pack('<Q', 12) + b'{not json!!}')
    for path in (huge, truncated, garbage):
        with pytest.raises(ValueError, match='not a readable safetensors file'):
            load_weights(path)
    base = {'format': MAGIC, 'format_version': str(FORMAT_VERSION)}
    cases = {
        'bad_json': ({**base, 'config': '{grid_size: 32'}, 'bad model config'),
        'not_a_dict': ({**base, 'config': '[1, 2]'}, 'bad model config'),
        'bad_version': ({**base, 'format_version': 'v1', 'config': '{}'}, 'bad format_version'),
        'unknown_field': ({**base, 'config': json.dumps({'grid_size': 32, 'rm_rf': 1})}, 'unknown fields'),
        'string_size': ({**base, 'config': json.dumps({'grid_size': '32'})}, 'must be an integer'),
        'foreign': ({'format': 'other'}, 'not an infonet_ros checkpoint'),
    }
    for name, (meta, words) in cases.items():
        with pytest.raises(ValueError, match=words):
            load_weights(_with_metadata(tmp_path / f'{name}.safetensors', meta))


def test_a_config_that_would_allocate_without_bound_is_refused_fast(tmp_path):
    base = {'format': MAGIC, 'format_version': str(FORMAT_VERSION)}
    start = time.perf_counter()
    bomb = _with_metadata(tmp_path / 'bomb.safetensors', {**base, 'config': json.dumps({'grid_size': 10 ** 6})})
    with pytest.raises(ValueError, match='grid_size=1000000 exceeds its limit'):
        load_weights(bomb)
    # within the limits but far larger than the tensors in the file: refused from the shapes
    # alone (the network is first built on the meta device, nothing allocated)
    big = InfoNetConfig(dim=4096, n_heads=4, n_layers=64, n_latents=4096)
    fat = _with_metadata(tmp_path / 'fat.safetensors', {**base, 'config': big.to_json()})
    with pytest.raises(ValueError, match='tensors do not match config'):
        load_weights(fat)
    assert time.perf_counter() - start < 10.0


def test_window_size_that_would_allocate_without_bound_is_refused():
    params = {'stream_names': ['a', 'b'], 'window_size': 10 ** 9,
              'streams': {n: {'topic': f'/{n}', 'type': 'std_msgs/msg/Float64', 'field': 'data'} for n in 'ab'}}
    with pytest.raises(ValueError, match=r"parameter 'window_size' must be an integer in \[32, 100000\]"):
        PipelineConfig.from_params(params)


def test_the_bundled_weights_still_load():
    est = InfoNetEstimator.pretrained(device='cpu')
    x = np.random.default_rng(0).standard_normal(500)
    assert est.estimate(x, x + 0.5 * np.random.default_rng(1).standard_normal(500)) > 0.5
