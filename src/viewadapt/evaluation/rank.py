"""CMC and mAP from a distance matrix, with the market-style removal of same-camera true matches."""

from __future__ import annotations

import numpy as np


def evaluate_rank(
    distmat: np.ndarray,
    q_pids: np.ndarray,
    g_pids: np.ndarray,
    q_camids: np.ndarray,
    g_camids: np.ndarray,
    max_rank: int = 50,
) -> dict:
    """Rank every gallery item for every query (smaller distance = better) and score the ranking.

    For each query, gallery items of the same identity *and* the same camera are removed (they would
    be trivial matches). Ties are broken by gallery order (stable sort), so results are deterministic.
    Queries left without any true match are skipped and counted in ``num_skipped``.

    Returns ``cmc`` (length ``max_rank``: fraction of queries whose first true match is within rank
    k+1), ``mAP`` (mean over queries of the average precision, step definition), ``mINP`` (mean
    inverse negative penalty: matches / rank of the hardest match), ``num_valid`` and ``num_skipped``.
    """
    distmat = np.asarray(distmat)
    q_pids, g_pids = np.asarray(q_pids), np.asarray(g_pids)
    q_camids, g_camids = np.asarray(q_camids), np.asarray(g_camids)
    num_q, num_g = distmat.shape
    if len(q_pids) != num_q or len(q_camids) != num_q or len(g_pids) != num_g or len(g_camids) != num_g:
        raise ValueError(
            f"distmat is {num_q} x {num_g} but got {len(q_pids)} query ids, {len(q_camids)} query cameras, "
            f"{len(g_pids)} gallery ids and {len(g_camids)} gallery cameras"
        )
    if np.isnan(distmat).any():
        raise ValueError("distmat contains NaN distances")
    order = np.argsort(distmat, axis=1, kind="stable")
    matches = g_pids[order] == q_pids[:, None]
    keep = ~((g_pids[order] == q_pids[:, None]) & (g_camids[order] == q_camids[:, None]))

    cmc = np.zeros(max_rank)
    aps, inps = [], []
    for i in range(num_q):
        hits = matches[i][keep[i]]
        if not hits.any():
            continue
        positions = np.flatnonzero(hits)  # 0-based ranks of the true matches
        first = positions[0]
        if first < max_rank:
            cmc[first:] += 1
        precision_at_hit = np.arange(1, len(positions) + 1) / (positions + 1)
        aps.append(precision_at_hit.mean())
        inps.append(len(positions) / (positions[-1] + 1))
    num_valid = len(aps)
    if num_valid == 0:
        raise ValueError("no query has a true match in the gallery: check the query and gallery identities")
    return {
        "cmc": cmc / num_valid,
        "mAP": float(np.mean(aps)),
        "mINP": float(np.mean(inps)),
        "num_valid": num_valid,
        "num_skipped": num_q - num_valid,
    }
