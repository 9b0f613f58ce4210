"""A finished run, loaded back from its folder: config, split and the method's parts with their weights."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from viewadapt.builders.data import ensure_generated, split_base
from viewadapt.builders.method import build_method
from viewadapt.config import Config, config_from_dict, load_config
from viewadapt.data import Split
from viewadapt.errors import CheckpointError, ConfigError
from viewadapt.objectives import Method
from viewadapt.runs.folder import CONFIG_FILE, SPLIT_FILE, WEIGHTS_FILE
from viewadapt.runs.weights import load_weights, weights_metadata


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
    _check_model_unchanged(cfg, run_dir / WEIGHTS_FILE)
    cfg.model.pretrained = False  # the weights file replaces any initial weights
    ensure_generated(cfg.data)
    method = build_method(cfg)
    load_weights(run_dir / WEIGHTS_FILE, method.stored())
    split = Split.from_json(run_dir / SPLIT_FILE, split_base(cfg.data))
    return TrainedRun(run_dir, cfg, split, method)


def run_image_size(run_dir: str | Path) -> tuple[int, int]:
    """The (height, width) a run's images were trained and scored at, from its ``config.yaml``."""
    d = load_config(Path(run_dir) / CONFIG_FILE).data
    return d.height, d.width


# What a weights file replaces anyway: which initial weights the model was built from.
_INITIAL = ("pretrained", "allow_download")


def _check_model_unchanged(cfg: Config, weights: Path) -> None:
    """Levels of ``model.asymmetry`` can hold the very same tensor names (a layer the views share is
    stored under each view), so the names alone would not stop one level's weights loading as another's:
    the model section the weights were written with must be the config's."""
    written = weights_metadata(weights).get("config")
    if written is None:
        return
    try:
        tree = yaml.safe_load(written)
        if not isinstance(tree, dict):
            raise ConfigError("not a mapping of settings")
        model = config_from_dict(tree).model
    except (yaml.YAMLError, ConfigError) as exc:
        raise CheckpointError(f"{weights}: the config stored in its metadata cannot be read ({str(exc).splitlines()[0]}): "
                              "the file was altered or not written by viewadapt; restore it or retrain") from None
    before = {k: v for k, v in asdict(model).items() if k not in _INITIAL}
    now = {k: v for k, v in asdict(cfg.model).items() if k not in _INITIAL}
    changed = sorted(k for k in now if before.get(k) != now[k])
    if changed:
        raise CheckpointError(f"{weights} was written with " + ", ".join(f"model.{k}={before.get(k)}" for k in changed)
                              + f" and {weights.parent / CONFIG_FILE} now says "
                              + ", ".join(f"model.{k}={now[k]}" for k in changed)
                              + ": restore the run's config.yaml")
