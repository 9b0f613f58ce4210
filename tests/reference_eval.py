"""The plain, obviously-correct evaluator the fast one must equal: one stable argsort per query.

AP follows the two definitions literally: the step definition (mean precision at each hit) and the
loop of the official Market-1501 MATLAB code (compute_AP.m: trapezoids between successive precisions).
"""

from __future__ import annotations

import numpy as np


def reference_rank(distmat, q_pids, g_pids, q_camids, g_camids, max_rank=50, ap="step"):
    distmat = np.asarray(distmat)
    cmc = np.zeros(max_rank)
    aps, inps = [], []
    for i in range(distmat.shape[0]):
        order = np.argsort(distmat[i], kind="stable")
        keep = ~((g_pids[order] == q_pids[i]) & (g_camids[order] == q_camids[i]))
        hits = (g_pids[order] == q_pids[i])[keep]
        if not hits.any():
            continue
        positions = np.flatnonzero(hits)
        if positions[0] < max_rank:
            cmc[positions[0]:] += 1
        if ap == "step":
            aps.append(np.mean(np.arange(1, len(positions) + 1) / (positions + 1)))
        else:
            found, old_recall, old_precision, total = 0, 0.0, 1.0, 0.0
            for j, hit in enumerate(hits):
                found += hit
                recall, precision = found / len(positions), found / (j + 1)
                total += (recall - old_recall) * (old_precision + precision) / 2
                old_recall, old_precision = recall, precision
                if found == len(positions):
                    break
            aps.append(total)
        inps.append(len(positions) / (positions[-1] + 1))
    n = len(aps)
    return {"cmc": cmc / n, "mAP": float(np.mean(aps)), "mINP": float(np.mean(inps)), "num_valid": n,
            "num_skipped": distmat.shape[0] - n}
