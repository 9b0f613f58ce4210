"""A finished run, loaded back from its folder: config, split and the method's parts with their weights."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from viewadapt.builders.data import split_base
from viewadapt.builders.method import build_method
from viewadapt.config import Config, config_from_dict, load_config
from viewadapt.data import Split
from viewadapt.errors import CheckpointError, ConfigError
from viewadapt.objectives import Method
from viewadapt.runs.folder import CONFIG_FILE, SPLIT_FILE, WEIGHTS_FILE
from viewadapt.runs.weights import load_weights, weights_metadata
from viewadapt.yamlio import load_yaml


@dataclass
class TrainedRun:
    folder: Path
    cfg: Config
    split: Split
    method: Method


def load_trained(run_dir: str | Path) -> TrainedRun:
    """A finished run's config, split and models (weights from ``model.safetensors``). It reads no image
    and writes nothing: the split's paths are under the run's data root, which commands that read them
    open with :func:`~viewadapt.builders.data.readable_data`."""
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
    method = build_method(cfg)
    load_weights(run_dir / WEIGHTS_FILE, method.stored())
    split = read_split(run_dir, split_base(cfg.data))
    return TrainedRun(run_dir, cfg, split, method)


def read_split(run_dir: Path, base: str) -> Split:
    """A run's ``split.json``, its image paths under ``base``; a damaged file is one line."""
    try:
        return Split.from_json(Path(run_dir) / SPLIT_FILE, base)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{Path(run_dir) / SPLIT_FILE} cannot be read ({type(exc).__name__}): restore it; "
                              "the run's images are known by it alone") from None


def run_image_size(run_dir: str | Path) -> tuple[int, int]:
    """The (height, width) a run's images were trained and scored at, from its ``config.yaml``."""
    d = load_config(Path(run_dir) / CONFIG_FILE).data
    return d.height, d.width


# What a weights file replaces anyway: which initial weights the model was built from.
_INITIAL = ("pretrained", "allow_download")
# What decides which people a run trained on: weights of another split have seen this run's test people.
_SPLIT = ("dataset", "variant", "protocol", "trial", "split_seed", "num_train", "num_valid", "num_test",
          "train_subset", "camera_groups")


def _check_model_unchanged(cfg: Config, weights: Path) -> None:
    """Levels of ``model.asymmetry`` can hold the very same tensor names (a layer the views share is
    stored under each view), so the names alone would not stop one level's weights loading as another's:
    the model section the weights were written with must be the config's, and so must the split (weights
    of another split have seen this run's test people)."""
    written = weights_metadata(weights).get("config")
    if written is None:
        return
    try:
        tree = load_yaml(written)
        if not isinstance(tree, dict):
            raise ConfigError("not a mapping of settings")
        model = config_from_dict(tree).model
    except (yaml.YAMLError, ConfigError) as exc:
        raise CheckpointError(f"{weights}: the config stored in its metadata cannot be read ({str(exc).splitlines()[0]}): "
                              "the file was altered or not written by viewadapt; restore it or retrain") from None
    before = {f"model.{k}": v for k, v in asdict(model).items() if k not in _INITIAL}
    now = {f"model.{k}": v for k, v in asdict(cfg.model).items() if k not in _INITIAL}
    written_data = config_from_dict(tree).data
    before.update({f"data.{k}": getattr(written_data, k) for k in _SPLIT})
    now.update({f"data.{k}": getattr(cfg.data, k) for k in _SPLIT})
    changed = sorted(k for k in now if before.get(k) != now[k])
    if changed:
        split = any(k.startswith("data.") for k in changed)
        raise CheckpointError(f"{weights} was written with " + ", ".join(f"{k}={before.get(k)}" for k in changed)
                              + f" and {weights.parent / CONFIG_FILE} now says "
                              + ", ".join(f"{k}={now[k]}" for k in changed)
                              + (": the weights trained on another split (they may have seen this run's test "
                                 "people); score them in the run folder they were trained in, or restore this "
                                 "run's weights" if split else ": restore the run's config.yaml"))
