"""Training pipeline smoke test: the real loop trains a tiny model, checkpoints and resumes."""

import json

import pytest
import torch
import yaml

from infonet_ros import InfoNetEstimator
from infonet_ros.simulate import FAMILIES, sample_batch
from infonet_ros.train import RunConfig, main, train

TINY = {
    "model": {"grid_size": 8, "input_grid": 8, "n_latents": 8, "dim": 16, "n_heads": 2, "n_layers": 1, "n_freq": 4},
    "train": {"steps": 12, "warmup_steps": 2, "points_per_step": 2048, "batch_min": 2, "batch_max": 8, "n_min": 32, "n_max": 256, "val_every": 3, "ckpt_every": 3, "threads": 1},
}


def test_simulator_families_are_seeded_and_valid():
    for fam in FAMILIES:
        a = sample_batch(6, 100, torch.Generator().manual_seed(1), {fam: 1.0})
        b = sample_batch(6, 100, torch.Generator().manual_seed(1), {fam: 1.0})
        assert a.shape == (6, 100, 2) and torch.equal(a, b), fam
        assert torch.isfinite(a).all() and a.min() > 0 and a.max() < 1, fam
    with pytest.raises(ValueError, match="unknown training families"):
        sample_batch(2, 50, torch.Generator(), {"nope": 1.0})


def test_train_checkpoint_and_resume(tmp_path):
    cfg = RunConfig.from_dict({**TINY, "out_dir": str(tmp_path / "run"), "device": "cpu"})
    train(cfg, max_steps=6, progress=False)
    state = torch.load(tmp_path / "run" / "last_state.pt", weights_only=True)
    assert state["step"] == 6
    first = (tmp_path / "run" / "last.safetensors").read_bytes()
    # resume: continues from step 6 to the configured 12 steps
    best = train(RunConfig.from_dict({**TINY, "out_dir": str(tmp_path / "run"), "device": "cpu"}), progress=False)
    state = torch.load(tmp_path / "run" / "last_state.pt", weights_only=True)
    assert state["step"] == 12
    assert (tmp_path / "run" / "last.safetensors").read_bytes() != first
    steps = [json.loads(line)["step"] for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert steps == [3, 6, 9, 12]  # one learning curve across the resume, no step repeated
    assert "resumed from" in (tmp_path / "run" / "train.log").read_text()
    est = InfoNetEstimator.load(best, device="cpu")
    assert est.info["step"] > 0 and est.model.cfg.dim == 16


def test_resume_with_other_model_config_is_refused(tmp_path):
    train(RunConfig.from_dict({**TINY, "out_dir": str(tmp_path / "r"), "device": "cpu"}), max_steps=3, progress=False)
    other = {**TINY, "model": {**TINY["model"], "dim": 32}}
    with pytest.raises(ValueError, match="differs"):
        train(RunConfig.from_dict({**other, "out_dir": str(tmp_path / "r"), "device": "cpu"}), progress=False)


def test_cli_rejects_bad_config(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"train": {"stepz": 3}}))
    assert main(["--config", str(bad)]) == 2
    assert "stepz" in capsys.readouterr().err


def test_shipped_train_config_parses():
    cfg = RunConfig.from_yaml("config/train.yaml")
    assert cfg.train.steps > 0 and cfg.model.grid_size >= 16
