"""Scoring a split with a run's settings: embed each record through its view's mapping, then rank."""

from __future__ import annotations

from dataclasses import replace
from typing import Sequence

import numpy as np
import torch
from torch import nn

from viewadapt.config import Config, EvalConfig
from viewadapt.data.records import ViewRecord
from viewadapt.evaluation.features import extract_embeddings
from viewadapt.evaluation.protocols import RescorerFactory, evaluate_views
from viewadapt.evaluation.rescoring import DsRerank, KReciprocal
from viewadapt.models import ViewMappings


def make_rescorer(e: EvalConfig, ds: nn.Module | None, device: torch.device | str = "cpu") -> RescorerFactory | None:
    """The configured re-scoring (``eval.rerank``) as a factory of block re-scorers."""
    if e.rerank == "ds":
        if ds is None:
            raise ValueError("eval.rerank=ds needs the run's similarity discriminator Ds")
        return lambda qf, gf: DsRerank(ds, qf, gf, e.rerank_topk, device)
    if e.rerank == "k_reciprocal":
        return lambda qf, gf: KReciprocal(qf, gf, e.k1, e.k2, e.kr_lambda)
    return None


def embed_records(mappings: ViewMappings, records: Sequence[ViewRecord], cfg: Config,
                  device: torch.device | str = "cpu") -> np.ndarray:
    return extract_embeddings(mappings, records, cfg.data.height, cfg.data.width, cfg.eval.batch_size, device,
                              cfg.data.num_workers)


def score_records(
    mappings: ViewMappings,
    records: Sequence[ViewRecord],
    cfg: Config,
    device: torch.device | str = "cpu",
    protocol: str | None = None,
    trials: int | None = None,
    ds: nn.Module | None = None,
    embeddings: np.ndarray | None = None,
    rerank: str | None = None,
) -> dict:
    """Probes through Ms, gallery through Mt, scored under ``cfg.eval`` unless protocol, trials or
    rerank say otherwise. ``embeddings`` skips the extraction when the caller has them (record order).
    """
    e = cfg.eval
    if rerank is not None:
        e = replace(e, rerank=rerank)
    emb = embed_records(mappings, records, cfg, device) if embeddings is None else embeddings
    result = evaluate_views(emb, records, protocol or e.protocol, trials or e.trials, seed=cfg.train.seed,
                            max_rank=e.max_rank, ap=e.ap, rescorer=make_rescorer(e, ds, device))
    return {**result, "ap": e.ap, "rerank": e.rerank}
