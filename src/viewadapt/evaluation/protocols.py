"""Evaluation protocols over the two views of a split: probe-view queries, gallery-view gallery.

- ``single_shot``: the paper's setting: every probe-view image queries a gallery of one randomly
  chosen gallery-view image per identity; repeated ``trials`` times (seeded) and averaged.
- ``all_gallery``: the query/gallery protocol: every gallery-view image is in the gallery, with
  same-identity same-camera items removed per query (market style).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from viewadapt.data.records import ViewRecord
from viewadapt.evaluation.rank import evaluate_rank

PROTOCOLS = ("single_shot", "all_gallery")


def euclidean_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    sq = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.sqrt(np.clip(sq, 0, None))


def _summary(results: list[dict], protocol: str, trials: int) -> dict:
    cmc = np.mean([r["cmc"] for r in results], axis=0)
    out = {f"rank{k}": float(cmc[k - 1]) for k in (1, 5, 10, 20) if k <= len(cmc)}
    out.update(
        mAP=float(np.mean([r["mAP"] for r in results])),
        mINP=float(np.mean([r["mINP"] for r in results])),
        num_queries=int(results[0]["num_valid"] + results[0]["num_skipped"]),
        protocol=protocol,
        trials=trials,
        cmc=[float(c) for c in cmc],
    )
    return out


def evaluate_views(
    embeddings: np.ndarray,
    records: Sequence[ViewRecord],
    protocol: str = "single_shot",
    trials: int = 10,
    seed: int = 0,
    max_rank: int = 50,
) -> dict:
    """Score embeddings of a split's records (probe view = 0, gallery view = 1) under ``protocol``.

    Returns rank-1/5/10/20, mAP, mINP (all as fractions in [0, 1]), the averaged CMC and the protocol.
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol '{protocol}': choose one of {', '.join(PROTOCOLS)}")
    views = np.array([r.view for r in records])
    pids = np.array([r.pid for r in records])
    camids = np.array([r.camid for r in records])
    q, g = np.flatnonzero(views == 0), np.flatnonzero(views == 1)
    dist = euclidean_distances(embeddings[q], embeddings[g])
    if protocol == "all_gallery":
        return _summary([evaluate_rank(dist, pids[q], pids[g], camids[q], camids[g], max_rank)], protocol, 1)
    rng = np.random.default_rng(seed)
    results = []
    for _ in range(trials):
        # One gallery image per identity: a random permutation, then the first occurrence of each id.
        perm = rng.permutation(len(g))
        _, first = np.unique(pids[g][perm], return_index=True)
        pick = np.sort(perm[first])
        results.append(evaluate_rank(dist[:, pick], pids[q], pids[g][pick], camids[q], camids[g][pick], max_rank))
    return _summary(results, protocol, trials)
