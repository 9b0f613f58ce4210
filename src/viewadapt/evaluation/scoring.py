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
from viewadapt.evaluation.protocols import RescorerFactory, evaluate_views, split_views
from viewadapt.evaluation.rank_lists import pick_queries, rank_list_entries
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
    rank_lists: int = 0,
    rank_list_length: int = 10,
) -> dict:
    """Probes through Ms, gallery through Mt, scored under ``cfg.eval`` unless protocol, trials or
    rerank say otherwise. ``embeddings`` skips the extraction when the caller has them (record order).

    With ``rank_lists`` > 0 the result also holds ``rank_lists``: that many seeded probes with their
    top ``rank_list_length`` gallery items, ranked the way the metrics were (same re-scoring).
    """
    e = cfg.eval if rerank is None else replace(cfg.eval, rerank=rerank)
    emb = embed_records(mappings, records, cfg, device) if embeddings is None else embeddings
    factory, built = make_rescorer(e, ds, device), {}

    def rescorer(qf: np.ndarray, gf: np.ndarray):  # noqa: ANN202 - built once per view pair, shared with the rank lists
        key = (qf.shape, gf.shape, hash(qf.tobytes()), hash(gf.tobytes()))
        if key not in built:
            built[key] = factory(qf, gf)
        return built[key]

    result = evaluate_views(emb, records, protocol or e.protocol, trials or e.trials, seed=cfg.train.seed,
                            max_rank=e.max_rank, ap=e.ap, rescorer=rescorer if factory else None,
                            faiss_k=e.faiss_k if e.search == "faiss" else 0, faiss_index=e.faiss_index)
    result = {**result, "ap": e.ap, "rerank": e.rerank, "search": e.search}
    if rank_lists:
        q, g = split_views(records)
        rescore = rescorer(emb[q], emb[g]) if factory else None
        picked = pick_queries(len(q), rank_lists, cfg.train.seed)
        result["rank_lists"] = rank_list_entries(emb[q], emb[g], [records[i] for i in q], [records[i] for i in g],
                                                 picked, rank_list_length, rescore)
    return result
