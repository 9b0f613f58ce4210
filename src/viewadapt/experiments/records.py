"""Run records: what an experiment publishes of each run, small enough to commit (no weights).

A record holds the run's resolved config, its per-stage results, its test and zero-shot metrics, any
evaluation-only variant scored on its weights (test-time camera statistics), its seed, the code
version, the machine and the training time. Records are filed by run key and seed, the way the run
cache is, so an experiment's tables can be rebuilt from them without training, on any machine.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from viewadapt.config import Config, config_from_dict
from viewadapt.data import DATASETS
from viewadapt.declare import result_tree
from viewadapt.errors import ViewAdaptError
from viewadapt.files import make_folder, write_text
from viewadapt.runs.folder import ENVIRONMENT_FILE, ZERO_SHOT

RECORD_FORMAT = 1
# What a record keeps of a run's environment.json.
# What self-training's pseudo-labels did each epoch, where the run's log measured it (training/stages.py's
# pseudo_label_stats): fractions of crops and identities, no image and nothing made from one.
PSEUDO_LABEL_STATS = ("pseudo_labelled", "pseudo_precision", "strangers_labelled", "new_people", "purity")
_ENVIRONMENT = ("viewadapt", "git_commit", "git_dirty", "python", "torch", "platform", "cpu", "cpu_threads", "cuda")


def settings_tree(cfg: Config) -> dict:
    """What a run's results depend on, as a tree: the resolved config less the keys declared not to change
    results (where it is written, TensorBoard, the image cache) and less the keys added since the first
    records that hold the value runs had before them (:func:`viewadapt.declare.result_tree`), so every
    record keeps its key; and less where a benchmark's or the synthetic set's images lie (a benchmark is
    its name and variant, the synthetic set its spec and size; one's own folder is where it is)."""
    tree = result_tree(cfg)
    if not DATASETS[cfg.data.dataset].own_root:
        tree["data"].pop("root")
    return tree


def run_key(cfg: Config) -> str:
    """What a run's results depend on: its resolved config, less where it is written and its seed."""
    tree = settings_tree(cfg)
    tree["train"].pop("seed")
    return hashlib.sha1(json.dumps(tree, sort_keys=True).encode()).hexdigest()[:12]


def record_path(records: Path, cfg: Config) -> Path:
    return Path(records) / run_key(cfg) / f"seed{cfg.train.seed}.json"


def make_record(cfg: Config, metrics: dict, run: Path) -> dict:
    """The record of a finished run in folder ``run`` whose ``metrics.json`` is ``metrics``."""
    env_file = run / ENVIRONMENT_FILE
    env = json.loads(env_file.read_text()) if env_file.is_file() else {}
    return {
        "format": RECORD_FORMAT,
        "key": run_key(cfg),
        "seed": cfg.train.seed,
        "config": settings_tree(cfg),
        "test": metrics["test"],
        "zero_shot": (metrics.get(ZERO_SHOT) or {}).get("test"),
        "stages": {name: {k: v for k, v in result.items() if k != "test"}
                   for name, result in metrics["stages"].items()},
        "train_time_s": metrics["train_time_s"],
        "environment": {k: env.get(k) for k in _ENVIRONMENT},
        "evaluations": {},
        "pseudo_labels": pseudo_labels(metrics),
    }


def pseudo_labels(metrics: dict) -> list[dict]:
    """Each self-training epoch's pseudo-label statistics from a run's ``metrics.json`` (empty without
    the stage), for the tables: the log is in the run folder, which a record outlives."""
    return [{k: h[k] for k in PSEUDO_LABEL_STATS if k in h} for h in metrics.get("history", [])
            if h.get("stage") == "self_training"]


def find_record(records: Path, cfg: Config) -> tuple[Path, dict | None]:
    """Where ``cfg``'s record belongs and the record, or None. A record filed under another key (written
    before a config key existed: its config, read back, takes the key's default) moves to its place."""
    path = record_path(records, cfg)
    record = read_record(path)
    if record is not None:
        return path, record
    wanted = settings_tree(cfg)
    for candidate in sorted(Path(records).glob(f"*/{path.name}")):
        old = read_record(candidate)
        try:
            tree = settings_tree(config_from_dict(old["config"]))
        except ViewAdaptError:  # a config this version cannot read is no match
            continue
        if tree == wanted:
            record = {**old, "key": path.parent.name, "config": wanted}
            write_record(path, record)
            candidate.unlink()
            if not any(candidate.parent.iterdir()):
                candidate.parent.rmdir()
            return path, record
    return path, None


def read_record(path: Path) -> dict | None:
    """The record at ``path``, or None when there is none."""
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ViewAdaptError(f"{path} is no readable run record ({exc}): restore it from git or delete it "
                             "to train the run again") from None
    if not isinstance(record, dict) or record.get("format") != RECORD_FORMAT:
        raise ViewAdaptError(f"{path} is not a run record of format {RECORD_FORMAT}: restore it from git")
    return record


def write_record(path: Path, record: dict) -> None:
    make_folder(path.parent, parents=True)
    write_text(path, json.dumps(record, indent=1, sort_keys=True) + "\n")
