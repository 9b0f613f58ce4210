"""Top-k retrieval with a faiss index, for galleries too large to score every pair in reasonable time.

Only each query's ``k`` nearest gallery items are known, so the metrics are those of a top-k list:
CMC is exact up to rank ``k`` minus the query's same-camera items of its own identity (removed from
the list as in the full evaluation); AP is AP@k: precision at the matches found in the top ``k``,
divided by *all* the query's matches in the gallery, so a match beyond ``k`` counts as missed (a
lower bound of the full AP). mINP needs the last match and is not reported. ``index="flat"`` is
exact search; ``"ivf"`` clusters the gallery (``nlist`` cells, ``nprobe`` searched) and is approximate.
faiss is optional: ``pip install "viewadapt[faiss]"``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from viewadapt.errors import ViewAdaptError
from viewadapt.evaluation.distances import as_features
from viewadapt.evaluation.rank import Gallery, as_ids, check_lengths

INDEXES = ("flat", "ivf")


def _faiss():  # noqa: ANN202 - the faiss module, optional
    try:
        import faiss
    except ImportError:
        raise ViewAdaptError("faiss is not installed: pip install \"viewadapt[faiss]\" (the faiss-cpu package), "
                             "or evaluate with the default dense search") from None
    return faiss


def faiss_search(qf: Any, gf: Any, k: int, index: str = "flat", nlist: int = 1024, nprobe: int = 16,
                 seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Euclidean distances and gallery indices of each query's ``k`` nearest items (-1 where fewer)."""
    if index not in INDEXES:
        raise ValueError(f"unknown faiss index '{index}': choose one of {', '.join(INDEXES)}")
    faiss = _faiss()
    q = np.ascontiguousarray(as_features(qf, "query").float().numpy())
    g = np.ascontiguousarray(as_features(gf, "gallery").float().numpy())
    if index == "flat":
        ix = faiss.IndexFlatL2(g.shape[1])
    else:
        ix = faiss.IndexIVFFlat(faiss.IndexFlatL2(g.shape[1]), g.shape[1], min(nlist, len(g)))
        ix.cp.seed = seed
        ix.train(g)
        ix.nprobe = nprobe
    ix.add(g)
    sq, idx = ix.search(q, min(k, len(g)))
    return np.sqrt(np.maximum(sq, 0)), idx


def evaluate_topk(
    idx: np.ndarray, q_pids: Any, g_pids: Any, q_camids: Any, g_camids: Any, max_rank: int = 50,
) -> dict:
    """CMC and AP@k from top-k gallery indices per query (rows in rank order, -1 = no item)."""
    check_lengths(len(idx), len(g_pids), q_pids, g_pids, q_camids, g_camids)
    q_pids, g_pids = as_ids(q_pids, g_pids)
    q_cams, g_cams = as_ids(q_camids, g_camids)
    gallery = Gallery(g_pids, g_cams)
    # every match in the gallery, found or not: the denominator of AP@k
    totals = np.zeros(len(q_pids), np.int64)
    for n, (pid, cam) in enumerate(zip(q_pids, q_cams)):
        p = np.searchsorted(gallery.keys, pid)
        if p < len(gallery.keys) and gallery.keys[p] == pid:
            members = gallery.by_pid[gallery.starts[p]:gallery.starts[p + 1]]
            totals[n] = int((g_cams[members] != cam).sum())
    present = idx >= 0
    safe = np.where(present, idx, 0)
    same = (g_pids[safe] == q_pids[:, None]) & present
    kept = present & ~(same & (g_cams[safe] == q_cams[:, None]))
    hits = same & kept
    rank = np.cumsum(kept, axis=1) - 1  # position among kept items
    found = np.cumsum(hits, axis=1)
    valid = totals > 0
    if not valid.any():
        raise ValueError("no query has a true match in the gallery: check the query and gallery identities")
    ap = np.where(hits, found / np.maximum(rank + 1, 1), 0.0).sum(1) / np.maximum(totals, 1)
    first = np.where(hits.any(1), np.where(hits, rank, np.iinfo(np.int64).max).min(1), np.iinfo(np.int64).max)
    max_rank = min(max_rank, idx.shape[1])
    cmc = np.array([(first[valid] <= r).mean() for r in range(max_rank)])
    return {"cmc": cmc, "mAP": float(ap[valid].mean()), "mINP": float("nan"), "num_valid": int(valid.sum()),
            "num_skipped": int((~valid).sum()), "topk": int(idx.shape[1])}
