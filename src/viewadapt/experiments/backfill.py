"""View leakage on the test split for runs finished before the trainer measured it there.

Leakage on C_valid (after each stage) is scored on a few dozen embeddings, too few to tell variants
apart; the test split has hundreds. A cached run keeps its place in an experiment's table: its
trained embedder is loaded back and probed, and its zero-shot floor is rebuilt the way the trainer
built it (the initial networks, seeded by ``train.seed``), so the numbers are the ones a fresh run
writes.
"""

from __future__ import annotations

from pathlib import Path

import torch

from viewadapt.builders import build_method, ensure_generated, load_trained
from viewadapt.config import load_config
from viewadapt.evaluation.leakage import models_leakage
from viewadapt.files import read_json
from viewadapt.runs import CONFIG_FILE, METRICS_FILE, resolve_device
from viewadapt.runs.folder import ZERO_SHOT, write_json
from viewadapt.training.hooks import zero_shot_models


def add_test_leakage(run: str | Path) -> dict:
    """A finished run's metrics with ``view_leakage`` added under ``test`` (trained, unless the result is
    a mean over several networks, which the weights file does not keep apart) and under the zero-shot
    floor's ``test``, where missing; written back to its ``metrics.json``. Leaves the random state as
    it found it."""
    run = Path(run)
    metrics = read_json(run / METRICS_FILE, "delete the run folder to train it again")
    trained = metrics.get("test", {})
    floor = metrics.get(ZERO_SHOT, {}).get("test")
    wants_trained = "view_leakage" not in trained and "per_network" not in trained
    wants_floor = floor is not None and "view_leakage" not in floor
    if not (wants_trained or wants_floor):
        return metrics
    with torch.random.fork_rng(devices=[]):  # building the models draws their random initial weights
        loaded = load_trained(run)
        ensure_generated(loaded.cfg.data)  # an experiment's own cache: its synthetic set is the experiment's
        cfg, records, d = loaded.cfg, loaded.split.subset("test"), loaded.cfg.data
        device = resolve_device(cfg.train.device)
        args = (records, d.height, d.width, cfg.eval.batch_size, device, cfg.train.seed)
        if wants_trained:
            trained["view_leakage"] = models_leakage([loaded.method.embedder().to(device)], *args)
        if wants_floor:
            initial = load_config(run / CONFIG_FILE)  # with its initial weights, which load_trained drops
            torch.manual_seed(initial.train.seed)
            mappings = build_method(initial).mappings.to(device)
            floor["view_leakage"] = models_leakage([m for m, _ in zero_shot_models(initial.model.view_asymmetry.one_start, mappings)], *args)
    write_json(run / METRICS_FILE, metrics)
    return metrics
