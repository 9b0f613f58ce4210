"""The device a run computes on."""

from __future__ import annotations

import torch

from viewadapt.errors import ConfigError


def resolve_device(name: str) -> torch.device:
    """``auto``: the first GPU where there is one, else the CPU; otherwise the named device, which must
    exist on this machine (checked here, before any work, rather than deep inside the first forward)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"device '{name}' is not a device name: use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ConfigError(f"device {name}: this machine has no CUDA GPU that PyTorch can use; use cpu "
                              "(or auto), or install a CUDA build of PyTorch with a working driver")
        if device.index is not None and device.index >= count:
            raise ConfigError(f"device {name}: this machine has {count} CUDA GPU(s), numbered 0 to {count - 1}")
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"device {name}: this machine has no Apple GPU that PyTorch can use; use cpu")
    elif device.type not in ("cpu", "mps"):
        raise ConfigError(f"device '{name}' is not supported: use auto, cpu, cuda or cuda:N")
    return device
