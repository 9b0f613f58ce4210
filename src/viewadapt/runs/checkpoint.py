"""Checkpoints that resume exactly and never execute pickled code when loaded."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import torch

from viewadapt import __version__
from viewadapt.errors import CheckpointError
from viewadapt.files import atomic_write, make_folder

FORMAT = 1


def rng_state() -> dict:
    """Every global generator a run draws from, as tensors and plain values (loadable weights-only)."""
    _, keys, pos, has_gauss, gauss = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {"keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "gauss": float(gauss)},
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    n = state["numpy"]
    torch.set_rng_state(state["torch"])
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: str | Path, state: dict) -> None:
    """Write atomically: a crash while saving leaves the previous checkpoint intact."""
    path = Path(path)
    make_folder(path.parent, parents=True)
    atomic_write(path, lambda tmp: torch.save({"format": FORMAT, "version": __version__, **state}, tmp))


def load_checkpoint(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}: give a run folder that holds checkpoints/last.pt")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for truncated or foreign files
        raise CheckpointError(f"checkpoint {path} cannot be read ({type(exc).__name__}): it is corrupt or "
                              "not a viewadapt checkpoint; resume from an intact run or start a new one") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        found = state.get("format") if isinstance(state, dict) else None
        raise CheckpointError(f"checkpoint {path} has format {found} but viewadapt {__version__} reads format "
                              f"{FORMAT}: use the viewadapt version that wrote it, or train anew")
    return state
