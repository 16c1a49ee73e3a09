"""Weights on disk: safetensors (loading cannot execute code) + the model config as metadata."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .model import FORMAT_VERSION, InfoNet, InfoNetConfig

MAGIC = "infonet_ros"


def save_weights(path: str | Path, model: InfoNet, info: dict | None = None) -> Path:
    """Write ``model`` (fp32) with its config and free-form ``info`` (training provenance)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in model.state_dict().items()}
    meta = {
        "format": MAGIC,
        "format_version": str(FORMAT_VERSION),
        "config": model.cfg.to_json(),
        "info": json.dumps(info or {}, sort_keys=True, default=str),
    }
    tmp = path.with_suffix(path.suffix + ".tmp")
    save_file(tensors, str(tmp), metadata=meta)
    tmp.replace(path)  # atomic: a crash never leaves a half-written checkpoint
    return path


def read_metadata(path: str | Path) -> dict:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        return dict(f.metadata() or {})


def load_weights(path: str | Path, device: str | torch.device = "cpu") -> tuple[InfoNet, dict]:
    """Build the network a checkpoint describes and load it. Returns (model in eval mode, info).

    Raises FileNotFoundError for a missing file and ValueError naming the mismatch for a file
    that is not an infonet_ros checkpoint, has another format version, or whose tensors do not
    fit its config.

    Safe to call on untrusted files: safetensors holds raw tensors and a JSON header, never
    code (a pickle under this name is refused as unreadable); the config in the metadata is
    bounded (``InfoNetConfig.LIMITS``) and the network is first built on the ``meta`` device
    (no memory), so its shapes are checked against tensors that really are in the file before
    anything is allocated.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"InfoNet checkpoint not found: {path}")
    try:
        meta = read_metadata(path)
        tensors = load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise ValueError(f"{path}: not a readable safetensors file ({exc})") from exc
    if meta.get("format") != MAGIC or "config" not in meta:
        raise ValueError(f"{path}: not an infonet_ros checkpoint (metadata 'format'={meta.get('format')!r})")
    try:
        version = int(meta.get("format_version", -1))
    except ValueError:
        raise ValueError(f"{path}: bad format_version {meta.get('format_version')!r} in the metadata") from None
    if version != FORMAT_VERSION:
        raise ValueError(f"{path}: checkpoint format_version {version}, this infonet_ros reads {FORMAT_VERSION}")
    try:
        cfg = InfoNetConfig.from_json(meta["config"])
        info = json.loads(meta.get("info", "{}"))
    except (ValueError, TypeError) as exc:  # JSONDecodeError is a ValueError
        raise ValueError(f"{path}: bad model config in the metadata: {exc}") from None
    with torch.device("meta"):
        expected = InfoNet(cfg).state_dict()  # shapes only: nothing allocated yet
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    if missing or unexpected:
        raise ValueError(f"{path}: tensors do not match config {cfg}: missing {missing[:5]}, unexpected {unexpected[:5]}")
    for k, v in expected.items():
        if tuple(tensors[k].shape) != tuple(v.shape):
            raise ValueError(f"{path}: tensor {k!r} has shape {tuple(tensors[k].shape)}, config {cfg} needs {tuple(v.shape)}")
    model = InfoNet(cfg)
    model.load_state_dict(tensors)
    return model.to(device).eval(), info if isinstance(info, dict) else {"info": info}
