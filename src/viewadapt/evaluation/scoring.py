"""Scoring a split: embed each record through its view's embedding path, then rank under the options."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import torch
from torch import nn

from viewadapt.data.records import ViewRecord
from viewadapt.evaluation.features import extract_embeddings, per_view_statistics
from viewadapt.evaluation.leakage import records_leakage
from viewadapt.evaluation.options import EvalOptions
from viewadapt.evaluation.protocols import RescorerFactory, evaluate_views, split_views
from viewadapt.evaluation.rank_lists import pick_queries, rank_list_entries
from viewadapt.evaluation.rescoring import RERANKERS


def make_rescorer(options: EvalOptions, pair_scorer: nn.Module | None,
                  device: torch.device | str = "cpu") -> RescorerFactory | None:
    """The configured re-scoring (``options.rerank``, :data:`~viewadapt.evaluation.rescoring.RERANKERS`)
    as a factory of block re-scorers; None for ranking by distance alone."""
    reranker = RERANKERS[options.rerank]
    return reranker.make(options, pair_scorer, device) if reranker.make else None


def score_records(
    model: nn.Module,
    records: Sequence[ViewRecord],
    options: EvalOptions,
    height: int,
    width: int,
    *,
    seed: int = 0,
    device: torch.device | str = "cpu",
    num_workers: int = 0,
    pair_scorer: nn.Module | None = None,
    embeddings: np.ndarray | None = None,
    rank_lists: int = 0,
    rank_list_length: int = 10,
    view_leakage: bool = False,
    decoded: Mapping[str, torch.Tensor] | None = None,
) -> dict:
    """Score records: ``model(images, view)`` embeds each view (probes through Ms, gallery through Mt),
    resized to ``height`` x ``width``; ``seed`` draws the single-shot galleries and the rank-list probes.
    ``pair_scorer`` is Ds, for ``rerank=ds``. ``embeddings`` skips the extraction when the caller has
    them (record order); ``decoded`` holds images already decoded (a training run's cache).

    With ``rank_lists`` > 0 the result also holds ``rank_lists``: that many seeded probes with their
    top ``rank_list_length`` gallery items, ranked the way the metrics were (same re-scoring).
    With ``view_leakage`` it holds ``view_leakage``: a fresh probe's view accuracy on the very embeddings
    scored (:func:`~viewadapt.evaluation.leakage.view_leakage`, seeded by ``seed``).
    """
    if embeddings is None:
        if options.camera_statistics:
            model = per_view_statistics(model, records, height, width, options.batch_size, device, num_workers,
                                        decoded)
        embeddings = extract_embeddings(model, records, height, width, options.batch_size, device, num_workers,
                                        decoded)
    factory, built = make_rescorer(options, pair_scorer, device), {}

    def rescorer(qf: np.ndarray, gf: np.ndarray):  # noqa: ANN202 - built once per view pair, shared with the rank lists
        key = (qf.shape, gf.shape, hash(qf.tobytes()), hash(gf.tobytes()))
        if key not in built:
            built[key] = factory(qf, gf)
        return built[key]

    o = options
    result = evaluate_views(embeddings, records, o.protocol, o.trials, seed=seed, max_rank=o.max_rank, ap=o.ap,
                            rescorer=rescorer if factory else None,
                            faiss_k=o.faiss_k if o.search == "faiss" else 0, faiss_index=o.faiss_index,
                            distance=o.distance)
    result = {**result, "distance": o.distance, "ap": o.ap, "rerank": o.rerank, "search": o.search}
    if view_leakage:
        result["view_leakage"] = records_leakage(embeddings, records, seed)
    if rank_lists:
        q, g = split_views(records)
        rescore = rescorer(embeddings[q], embeddings[g]) if factory else None
        picked = pick_queries(len(q), rank_lists, seed)
        result["rank_lists"] = rank_list_entries(embeddings[q], embeddings[g], [records[i] for i in q],
                                                 [records[i] for i in g], picked, rank_list_length, rescore,
                                                 o.distance)
    return result
