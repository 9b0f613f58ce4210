"""A finished run's weights: one safetensors file, each module's tensors under its name."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from viewadapt.errors import CheckpointError
from viewadapt.files import atomic_write


def save_weights(path: Path, modules: Mapping[str, nn.Module], metadata: dict[str, str] | None = None) -> None:
    # A layer the views share appears under each view's name; safetensors stores no tensor twice, so
    # each name gets its own copy (and loading writes the same values into the one layer twice).
    # safetensors stores row-major tensors: a channels-last weight is copied into that layout
    tensors = {f"{prefix}.{k}": v.detach().cpu().clone(memory_format=torch.contiguous_format)
               for prefix, module in modules.items() for k, v in module.state_dict().items()}
    atomic_write(path, lambda tmp: save_file(tensors, str(tmp), metadata=metadata))


def load_weights(path: Path, modules: Mapping[str, nn.Module]) -> None:
    """Load every module's tensors; tensors of modules not asked for are left alone."""
    try:
        tensors = load_file(str(path))
    except Exception as exc:
        raise CheckpointError(f"cannot read weights {path} ({exc}): the file is corrupt; "
                              "retrain or restore it") from None
    for prefix, module in modules.items():
        part = {k[len(prefix) + 1:]: v for k, v in tensors.items() if k.startswith(prefix + ".")}
        try:
            module.load_state_dict(part)
        except RuntimeError:
            raise CheckpointError(f"weights {path} do not fit the model of this config: evaluate with the "
                                  "config.yaml of the run that wrote them") from None


def weights_metadata(path: Path) -> dict[str, str]:
    """The metadata a weights file was written with (``config``: the run's config as YAML)."""
    try:
        with safe_open(str(path), framework="pt") as f:
            return f.metadata() or {}
    except Exception as exc:
        raise CheckpointError(f"cannot read weights {path} ({exc}): the file is corrupt; "
                              "retrain or restore it") from None
