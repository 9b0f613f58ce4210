"""The run folder: resolved config, environment, split, log, metrics, checkpoints and final weights."""

from __future__ import annotations

import json
import logging
import platform
import subprocess
import sys
import time
from pathlib import Path

from typing import TYPE_CHECKING

import numpy as np
import torch

from viewadapt import __version__

if TYPE_CHECKING:
    from viewadapt.config import Config
    from viewadapt.data import Split

LOGGER_NAME = "viewadapt"
# What a run folder holds, by name.
CONFIG_FILE = "config.yaml"
ENVIRONMENT_FILE = "environment.json"
SPLIT_FILE = "split.json"
METRICS_FILE = "metrics.json"
CHECKPOINT_FILE = Path("checkpoints") / "last.pt"
WEIGHTS_FILE = "model.safetensors"
# Where metrics.json keeps the zero-shot floor, beside the results of the stages.
ZERO_SHOT = "zero_shot"


def new_run_dir(output_dir: str | Path, name: str = "") -> Path:
    """``<output_dir>/<name or timestamp>``; an existing folder gets a numbered suffix, never overwritten."""
    base = Path(output_dir) / (name or time.strftime("%Y%m%d-%H%M%S"))
    path, n = base, 1
    while path.exists():
        path, n = base.with_name(f"{base.name}-{n}"), n + 1
    path.mkdir(parents=True)
    return path


def new_run_folder(cfg: "Config", split: "Split", split_base: str, world: int = 1) -> Path:
    """A new run folder holding the resolved config, the environment and the split (paths relative to
    ``split_base``)."""
    run_dir = new_run_dir(cfg.output_dir, cfg.name)
    (run_dir / CONFIG_FILE).write_text(cfg.to_yaml())
    write_json(run_dir / ENVIRONMENT_FILE, {**environment(), "world_size": world})
    split.to_json(run_dir / SPLIT_FILE, split_base)
    return run_dir


def environment() -> dict:
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                                cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    import torchvision

    return {
        "viewadapt": __version__,
        "git_commit": commit,
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "numpy": np.__version__,
        "platform": platform.platform(),
        "cpu_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "argv": sys.argv,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }


def write_json(path: Path, data: dict) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    tmp.replace(path)


def setup_logging(run_dir: Path, verbose: bool = True) -> logging.Logger:
    """Log to ``run_dir/train.log`` and, when ``verbose``, to the console."""
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(logging.INFO)
    for h in list(logger.handlers):
        logger.removeHandler(h)
        h.close()
    fh = logging.FileHandler(run_dir / "train.log")
    fh.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    logger.addHandler(fh)
    if verbose:
        ch = logging.StreamHandler(sys.stderr)
        ch.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(ch)
    logger.propagate = False
    return logger
