"""The top of a probe's ranked gallery, as data: what a rank-list image and the report show."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from viewadapt.data.records import ViewRecord
from viewadapt.evaluation.distances import Rescore, distance_blocks
from viewadapt.evaluation.rescoring import topk_stable


def pick_queries(num_queries: int, count: int, seed: int = 0) -> list[int]:
    """A seeded sample of query indices, in order, so reports show the same probes every time."""
    rng = np.random.default_rng(seed)
    return sorted(int(i) for i in rng.choice(num_queries, min(count, num_queries), replace=False))


def rank_list_entries(
    qf: np.ndarray, gf: np.ndarray, queries: Sequence[ViewRecord], gallery: Sequence[ViewRecord],
    picked: Sequence[int], k: int = 10, rescore: Rescore | None = None, distance: str = "euclidean",
) -> list[dict]:
    """For each picked query: its image and the ``k`` best gallery items with score and correctness.

    Same-identity same-camera gallery items are left out, as in the ranking that CMC and mAP score.
    ``score`` is the ``distance`` (euclidean or cosine), or the re-scored value when ``rescore`` is given
    (smaller = better).
    """
    g_pids = np.array([r.pid for r in gallery])
    g_cams = np.array([r.camid for r in gallery])
    # One pass over the gallery for every picked query, not one per query.
    rows = np.concatenate([b for _, b in distance_blocks(qf[list(picked)], gf, distance)]) if len(picked) else []
    out = []
    for n, i in enumerate(picked):
        q = queries[i]
        block = rows[n:n + 1]
        if rescore is not None:
            block = rescore(i, block)  # re-scorers index queries by their row in qf
        block = np.where((g_pids == q.pid) & (g_cams == q.camid), np.inf, block)
        top = topk_stable(block, k)[0]
        out.append({
            "query": {"path": q.path, "pid": q.pid, "camid": q.camid},
            "gallery": [{"path": gallery[j].path, "pid": int(g_pids[j]), "camid": int(g_cams[j]),
                         "score": float(block[0, j]), "match": bool(g_pids[j] == q.pid)}
                        for j in top if np.isfinite(block[0, j])],
        })
    return out
