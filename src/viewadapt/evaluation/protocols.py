"""Evaluation protocols over the two views of a split: probe-view queries, gallery-view gallery.

- ``single_shot``: the paper's setting: every probe-view image queries a gallery of one randomly
  chosen gallery-view image per identity; repeated ``trials`` times (seeded) and averaged.
- ``all_gallery``: the query/gallery protocol: every gallery-view image is in the gallery, with
  same-identity same-camera items removed per query (market style).
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from viewadapt.data.records import ViewRecord
from viewadapt.evaluation.distances import Rescore, distance_blocks, evaluate_features, unit_rows
from viewadapt.evaluation.faiss_search import evaluate_topk, faiss_search
from viewadapt.evaluation.rank import evaluate_rank

PROTOCOLS = ("single_shot", "all_gallery")

# Builds a block re-scorer from the query and gallery features (see evaluation.rescoring).
RescorerFactory = Callable[[np.ndarray, np.ndarray], Rescore]


def _summary(result: dict, protocol: str, trials: int) -> dict:
    cmc = result["cmc"]
    out = {f"rank{k}": float(cmc[k - 1]) for k in (1, 5, 10, 20) if k <= len(cmc)}
    out.update(
        mAP=result["mAP"],
        mINP=result["mINP"],
        num_queries=int(result["num_valid"] + result["num_skipped"]),
        num_skipped=int(result["num_skipped"]),
        protocol=protocol,
        trials=trials,
        cmc=[float(c) for c in cmc],
    )
    return out


def split_views(records: Sequence[ViewRecord], probe: int = 0, gallery: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the probe-view (queries) and gallery-view records."""
    views = np.array([r.view for r in records])
    return np.flatnonzero(views == probe), np.flatnonzero(views == gallery)


def evaluate_views(
    embeddings: np.ndarray,
    records: Sequence[ViewRecord],
    protocol: str = "single_shot",
    trials: int = 10,
    seed: int = 0,
    max_rank: int = 50,
    ap: str = "step",
    rescorer: RescorerFactory | None = None,
    faiss_k: int = 0,
    faiss_index: str = "flat",
    distance: str = "euclidean",
) -> dict:
    """Score embeddings of a split's records under ``protocol``: probe view (0) queries, gallery view (1)
    gallery; with more than two views, every ordered camera-view pair (a -> b) in turn. Galleries are
    ranked by ``distance`` (euclidean or cosine).

    Returns rank-1/5/10/20, mAP, mINP (all as fractions in [0, 1]), the averaged CMC and the protocol;
    with more than two views these are means over the pairs, each pair's own under ``pairs``.
    ``faiss_k`` > 0 searches each probe's top ``faiss_k`` with faiss instead (``all_gallery`` only):
    mAP is then AP@k, and the result says ``topk``.
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol '{protocol}': choose one of {', '.join(PROTOCOLS)}")
    if faiss_k and (protocol != "all_gallery" or rescorer is not None):
        raise ValueError("faiss search works with the all_gallery protocol and no re-scoring only")
    args = (embeddings, records, protocol, trials, seed, max_rank, ap, rescorer, faiss_k, faiss_index, distance)
    views = sorted({r.view for r in records})
    if len(views) <= 2:
        return _evaluate_pair(*args, 0, 1)
    pairs = {f"{a}->{b}": _evaluate_pair(*args, a, b) for a in views for b in views if a != b}
    return {**mean_over_pairs(list(pairs.values())), "pairs": pairs}


def mean_over_pairs(results: list[dict]) -> dict:
    """Several view pairs' results as one: their metrics and CMC averaged, their queries counted."""
    mean = {k: float(np.mean([r[k] for r in results])) for k, v in results[0].items() if isinstance(v, float)}
    mean["cmc"] = [float(c) for c in np.mean([r["cmc"] for r in results], axis=0)]
    mean["num_queries"] = int(sum(r["num_queries"] for r in results))
    mean["num_skipped"] = int(sum(r["num_skipped"] for r in results))
    return {**results[0], **mean}


def _evaluate_pair(embeddings, records, protocol, trials, seed, max_rank, ap, rescorer, faiss_k, faiss_index,
                   distance, probe, gallery) -> dict:  # noqa: ANN001 - evaluate_views' arguments
    pids = np.array([r.pid for r in records])
    camids = np.array([r.camid for r in records])
    q, g = split_views(records, probe, gallery)
    qf, gf = embeddings[q], embeddings[g]
    rescore = rescorer(qf, gf) if rescorer else None
    if faiss_k:
        if distance == "cosine":  # on unit vectors Euclidean distance ranks as cosine does
            qf, gf = unit_rows(qf), unit_rows(gf)
        _, idx = faiss_search(qf, gf, faiss_k, faiss_index, seed=seed)
        result = evaluate_topk(idx, pids[q], pids[g], camids[q], camids[g], max_rank)
        return {**_summary(result, protocol, 1), "topk": result["topk"]}
    if protocol == "all_gallery":
        result = evaluate_features(qf, gf, pids[q], pids[g], camids[q], camids[g], max_rank, metric=distance, ap=ap,
                                   rescore=rescore)
        return _summary(result, protocol, 1)
    # Single-shot galleries are small (one image per identity): one dense matrix, re-scored once.
    blocks = [rescore(s, b) if rescore else b for s, b in distance_blocks(qf, gf, distance)]
    result = evaluate_rank(np.concatenate(blocks), pids[q], pids[g], camids[q], camids[g], max_rank, ap=ap,
                           single_shot=True, trials=trials, seed=seed)
    return _summary(result, protocol, trials)
