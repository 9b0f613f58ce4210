"""CMC, mAP and mINP from a distance matrix: market-style (same-camera true matches removed) or
single-shot (one random gallery image per identity, repeated and averaged).

The work is done by :mod:`viewadapt.evaluation.ranking_kernel`, which finds where each true match
ranks without sorting the gallery; the results equal a per-query stable argsort exactly.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from viewadapt.evaluation.ranking_kernel import match_ranks_in_torch_threads

AP_DEFINITIONS = ("step", "trapezoid")


def as_ids(q: Any, g: Any) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes for identities or cameras given as any comparable values (ints, strings)."""
    q, g = np.asarray(q), np.asarray(g)
    if q.dtype.kind in "iu" and g.dtype.kind in "iu":
        return q.astype(np.int64), g.astype(np.int64)
    _, codes = np.unique(np.concatenate([q, g]), return_inverse=True)
    return codes[: len(q)].astype(np.int64), codes[len(q):].astype(np.int64)


def _as_distances(distmat: Any) -> np.ndarray:
    if hasattr(distmat, "detach"):  # a torch tensor
        distmat = distmat.detach().cpu().numpy()
    d = np.asarray(distmat)
    if d.dtype not in (np.float32, np.float64):
        d = d.astype(np.float32 if d.dtype.itemsize <= 4 else np.float64)
    return np.ascontiguousarray(d)


class Gallery:
    """Gallery identities and cameras, grouped by identity once for any number of query blocks."""

    def __init__(self, g_pids: np.ndarray, g_camids: np.ndarray) -> None:
        self.pids, self.cams = np.asarray(g_pids, np.int64), np.asarray(g_camids, np.int64)
        self.by_pid = np.argsort(self.pids, kind="stable").astype(np.int64)
        self.keys, starts = np.unique(self.pids[self.by_pid], return_index=True)
        self.starts = np.append(starts, len(self.pids)).astype(np.int64)

    def __len__(self) -> int:
        return len(self.pids)


def rank_block(d: np.ndarray, q_pids: np.ndarray, q_cams: np.ndarray, gallery: Gallery,
               ap: str = "step") -> dict[str, np.ndarray]:
    """Per-query results for a block of rows (integer-coded ids and cameras, checked inputs)."""
    if np.isnan(d).any():
        raise ValueError("distmat contains NaN distances: check the features for NaN or infinite values")
    num_q = d.shape[0]
    out = {k: np.zeros(num_q) for k in ("ap", "ap_trapezoid", "inp")}
    first, num_matches = np.zeros(num_q, np.int64), np.zeros(num_q, np.int64)
    match_ranks_in_torch_threads(d, q_pids, q_cams, gallery.cams, gallery.by_pid, gallery.starts, gallery.keys,
                                 first, out["ap"], out["ap_trapezoid"], out["inp"], num_matches)
    return {"first_rank": first, "ap": out["ap_trapezoid" if ap == "trapezoid" else "ap"], "inp": out["inp"],
            "num_matches": num_matches}


def check_ap(ap: str) -> None:
    if ap not in AP_DEFINITIONS:
        raise ValueError(f"unknown AP definition '{ap}': choose one of {', '.join(AP_DEFINITIONS)}")


def check_lengths(num_q: int, num_g: int, q_pids: Any, g_pids: Any, q_camids: Any, g_camids: Any) -> None:
    if (len(q_pids), len(q_camids), len(g_pids), len(g_camids)) != (num_q, num_q, num_g, num_g):
        raise ValueError(
            f"distmat is {num_q} x {num_g} but got {len(q_pids)} query ids, {len(q_camids)} query cameras, "
            f"{len(g_pids)} gallery ids and {len(g_camids)} gallery cameras"
        )
    if num_g == 0 or num_q == 0:
        raise ValueError(f"nothing to rank: {num_q} queries and {num_g} gallery items")


def rank_queries(
    distmat: Any, q_pids: Any, g_pids: Any, q_camids: Any, g_camids: Any, ap: str = "step",
) -> dict[str, np.ndarray]:
    """Per query: 0-based rank of the first true match, AP, INP and the number of true matches.

    Gallery items of the query's identity seen by the query's camera are removed; ties keep gallery
    order. A query without any true match has ``num_matches`` 0 (and meaningless other entries).
    """
    check_ap(ap)
    d = _as_distances(distmat)
    if d.ndim != 2:
        raise ValueError(f"distmat must be a 2-D query x gallery matrix, got shape {d.shape}")
    check_lengths(*d.shape, q_pids, g_pids, q_camids, g_camids)
    q_pids, g_pids = as_ids(q_pids, g_pids)
    q_cams, g_cams = as_ids(q_camids, g_camids)
    return rank_block(d, q_pids, q_cams, Gallery(g_pids, g_cams), ap)


def summarize(per_query: dict[str, np.ndarray], max_rank: int) -> dict:
    """CMC to ``max_rank``, mAP, mINP over the queries that have a true match."""
    valid = per_query["num_matches"] > 0
    num_valid = int(valid.sum())
    if num_valid == 0:
        raise ValueError("no query has a true match in the gallery: check the query and gallery identities")
    hist = np.bincount(np.minimum(per_query["first_rank"][valid], max_rank), minlength=max_rank + 1)
    return {
        "cmc": np.cumsum(hist[:max_rank]) / num_valid,
        "mAP": float(per_query["ap"][valid].mean()),
        "mINP": float(per_query["inp"][valid].mean()),
        "num_valid": num_valid,
        "num_skipped": int(len(valid) - num_valid),
    }


def one_per_identity(g_pids: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Gallery columns of a single-shot draw: one random item per identity, in gallery order."""
    perm = rng.permutation(len(g_pids))
    _, first = np.unique(np.asarray(g_pids)[perm], return_index=True)
    return np.sort(perm[first])


def evaluate_rank(
    distmat: Any,
    q_pids: Any,
    g_pids: Any,
    q_camids: Any,
    g_camids: Any,
    max_rank: int = 50,
    *,
    ap: str = "step",
    single_shot: bool = False,
    trials: int = 10,
    seed: int = 0,
) -> dict:
    """Rank every gallery item for every query (smaller distance = better) and score the ranking.

    For each query, gallery items of the same identity *and* the same camera are removed (they would
    be trivial matches). Ties are broken by gallery order (as a stable sort does), so results are
    deterministic. Queries left without any true match are skipped and counted in ``num_skipped``.
    ``single_shot`` keeps one random gallery item per identity, ``trials`` times (seeded), and
    averages; ``num_valid``/``num_skipped`` are then those of the first draw.

    Returns ``cmc`` (length ``max_rank``: fraction of queries whose first true match is within rank
    k+1), ``mAP`` (mean average precision; ``ap="step"`` is the usual definition, ``"trapezoid"`` the
    official Market-1501 MATLAB code's), ``mINP`` (mean inverse negative penalty: matches / rank of
    the hardest match), ``num_valid`` and ``num_skipped``. Raises ValueError on mismatched lengths,
    NaN distances, an empty gallery, or when no query has a true match.
    """
    if not single_shot:
        return summarize(rank_queries(distmat, q_pids, g_pids, q_camids, g_camids, ap), max_rank)
    d = _as_distances(distmat)
    g_pids, g_camids = np.asarray(g_pids), np.asarray(g_camids)
    rng = np.random.default_rng(seed)
    results = []
    for _ in range(trials):
        cols = one_per_identity(g_pids, rng)
        per_query = rank_queries(d[:, cols], q_pids, g_pids[cols], q_camids, g_camids[cols], ap)
        results.append(summarize(per_query, max_rank))
    mean = {k: float(np.mean([r[k] for r in results])) for k in ("mAP", "mINP")}
    return {**results[0], **mean, "cmc": np.mean([r["cmc"] for r in results], axis=0)}
