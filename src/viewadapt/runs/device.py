"""The device a run computes on."""

from __future__ import annotations

import torch


def resolve_device(name: str) -> torch.device:
    """``auto``: the first GPU where there is one, else the CPU; otherwise the named device."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)
