"""Scoring a split with a run's settings: embed each record through its view's mapping, then rank."""

from __future__ import annotations

from typing import Sequence

import torch

from viewadapt.config import Config
from viewadapt.data.records import ViewRecord
from viewadapt.evaluation.features import extract_embeddings
from viewadapt.evaluation.protocols import evaluate_views
from viewadapt.models import ViewMappings


def score_records(
    mappings: ViewMappings,
    records: Sequence[ViewRecord],
    cfg: Config,
    device: torch.device | str = "cpu",
    protocol: str | None = None,
    trials: int | None = None,
) -> dict:
    """Probes through Ms, gallery through Mt, scored under ``cfg.eval`` unless protocol/trials say otherwise."""
    e = cfg.eval
    emb = extract_embeddings(mappings, records, cfg.data.height, cfg.data.width, e.batch_size, device,
                             cfg.data.num_workers)
    return evaluate_views(emb, records, protocol or e.protocol, trials or e.trials, seed=cfg.train.seed,
                          max_rank=e.max_rank)
