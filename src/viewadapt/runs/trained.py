"""A finished run, loaded back from its folder: config, split and the method's parts with their weights."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from viewadapt.build import build_method, ensure_generated, split_base
from viewadapt.config import Config, load_config
from viewadapt.data import Split
from viewadapt.errors import CheckpointError
from viewadapt.objectives import Method
from viewadapt.runs.folder import CONFIG_FILE, SPLIT_FILE, WEIGHTS_FILE
from viewadapt.runs.weights import load_weights


@dataclass
class TrainedRun:
    folder: Path
    cfg: Config
    split: Split
    method: Method


def load_trained(run_dir: str | Path) -> TrainedRun:
    """A finished run's config, split and models (weights from ``model.safetensors``)."""
    run_dir = Path(run_dir)
    if not (run_dir / CONFIG_FILE).is_file():
        raise CheckpointError(f"{run_dir} is not a run folder (no {CONFIG_FILE}): give the folder "
                              "`viewadapt train` wrote")
    cfg = load_config(run_dir / CONFIG_FILE)
    if not (run_dir / WEIGHTS_FILE).is_file():
        raise CheckpointError(f"{run_dir} has no {WEIGHTS_FILE}: its training did not finish; "
                              f"run `viewadapt train --resume {run_dir}`")
    cfg.model.pretrained = False  # the weights file replaces any initial weights
    ensure_generated(cfg.data)
    method = build_method(cfg)
    load_weights(run_dir / WEIGHTS_FILE, method.stored())
    split = Split.from_json(run_dir / SPLIT_FILE, split_base(cfg.data))
    return TrainedRun(run_dir, cfg, split, method)
