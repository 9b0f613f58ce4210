"""k-reciprocal re-ranking written out densely, step by step, as the paper states it (for tests)."""

from __future__ import annotations

import numpy as np


def reference_k_reciprocal(qf, gf, k1=20, k2=6, lam=0.3):
    x = np.concatenate([qf, gf]).astype(np.float64)
    n, num_q = len(x), len(qf)
    d = ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)
    d = d / d.max(1, keepdims=True)
    rank = np.argsort(d, axis=1, kind="stable")

    def r_set(i, k):
        return [j for j in rank[i, :k + 1] if i in rank[j, :k + 1]]

    v = np.zeros((n, n))
    for i in range(n):
        core = r_set(i, k1)
        expanded = set(core)
        for j in core:
            extra = r_set(j, int(np.around(k1 / 2)))
            if len(set(extra) & set(core)) > 2 / 3 * len(extra):
                expanded |= set(extra)
        idx = sorted(expanded)
        w = np.exp(-d[i, idx])
        v[i, idx] = w / w.sum()
    if k2 > 1:
        v = np.stack([v[rank[i, :k2]].mean(0) for i in range(n)])
    jac = np.zeros((num_q, n - num_q))
    for a in range(num_q):
        for b in range(num_q, n):
            jac[a, b - num_q] = 1 - np.minimum(v[a], v[b]).sum() / np.maximum(v[a], v[b]).sum()
    return (1 - lam) * jac + lam * d[:num_q, num_q:]
