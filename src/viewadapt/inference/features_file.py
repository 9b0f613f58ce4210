"""Features files: embeddings of a folder of crops, with the paths, the view and the model they came from.

One safetensors file: tensor ``features`` (N x D) and JSON metadata (``paths``, ``view``, ``model``:
the weights fingerprint). Written atomically (:mod:`viewadapt.files`): a crash never leaves a
half-written file under the real name.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from safetensors import safe_open

from viewadapt.errors import DataError
from viewadapt.files import atomic_write

FORMAT = 1


def fingerprint(weights: Path) -> str:
    """Identifies the weights a feature was computed with (features of two models do not compare)."""
    h = hashlib.sha256()
    with open(weights, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


@dataclass
class Features:
    features: np.ndarray  # (N, D) float32
    paths: list[str]
    view: int
    model: str
    camera: str = ""  # a calibrated camera's name (its own statistics on the view's weights), or none

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        if not path.parent.is_dir():
            raise DataError(f"cannot write features file {path}: the folder {path.parent} does not exist; "
                            "create it or write the file elsewhere")
        if path.is_dir():
            raise DataError(f"cannot write features file {path}: it is a folder; give a file name such as "
                            f"{path / 'features.safetensors'}")
        meta = {"format": str(FORMAT), "paths": json.dumps(self.paths), "view": str(self.view), "model": self.model,
                "camera": self.camera}
        tensors = {"features": torch.from_numpy(np.ascontiguousarray(self.features, np.float32))}
        return atomic_write(path, lambda tmp: save_file(tensors, str(tmp), meta))

    @classmethod
    def load(cls, path: str | Path) -> "Features":
        path = Path(path)
        if not path.is_file():
            raise DataError(f"features file {path} does not exist: write it with `viewadapt extract`")
        try:
            with safe_open(str(path), "pt") as f:
                meta = f.metadata() or {}
            tensors = load_file(str(path))
            feats = tensors["features"].float().numpy()
            paths = json.loads(meta["paths"])
            view, model, camera = int(meta["view"]), meta["model"], meta.get("camera", "")
        except Exception as exc:  # safetensors raises several kinds for a damaged file
            raise DataError(f"features file {path} is corrupt or not a viewadapt features file ({exc!s:.80}): "
                            "extract the features again") from None
        if meta.get("format") != str(FORMAT) or feats.ndim != 2 or len(paths) != len(feats):
            raise DataError(f"features file {path} is inconsistent (format {meta.get('format')}, "
                            f"{len(feats)} rows, {len(paths)} paths): extract the features again")
        return cls(feats, paths, view, model, camera)
