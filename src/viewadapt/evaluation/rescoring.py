"""Re-scoring a query's gallery before ranking: the method's own Ds, or k-reciprocal re-ranking.

Both act on one block of query rows at a time (see ``evaluate_features(rescore=...)``), so they
work within the blocked evaluator's memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from viewadapt.evaluation.distances import as_features, unit_rows


def topk_stable(block: np.ndarray, k: int) -> np.ndarray:
    """Per row, the indices of the ``k`` smallest values in stable-sort order (ties: gallery order),
    found with a partition rather than a full sort."""
    k = min(k, block.shape[1])
    kth = np.partition(block, k - 1, axis=1)[:, k - 1:k]
    below = block < kth
    equal = block == kth
    need = k - below.sum(1, keepdims=True)
    chosen = below | (equal & (np.cumsum(equal, axis=1) <= need))
    idx = np.nonzero(chosen)[1].reshape(len(block), k)
    order = np.argsort(np.take_along_axis(block, idx, 1), axis=1, kind="stable")
    return np.take_along_axis(idx, order, 1)


class DsRerank:
    """Re-order each probe's top-``k`` gallery items by Ds's same-person probability.

    Ds (Eq. 2's similarity discriminator) scores the pair of embeddings (probe through Ms, gallery
    through Mt). The re-ordered items stay ahead of the rest of the gallery, which keeps its order.
    """

    def __init__(self, ds: nn.Module, qf: Any, gf: Any, topk: int = 20, device: str | torch.device = "cpu",
                 batch_pairs: int = 65536) -> None:
        self.ds, self.topk, self.device, self.batch_pairs = ds, topk, device, batch_pairs
        self.qf = as_features(qf, "query").float()
        self.gf = as_features(gf, "gallery").float()

    @torch.no_grad()
    def probabilities(self, q_rows: np.ndarray, g_idx: np.ndarray) -> np.ndarray:
        """Ds's same-person probability for pairs (q_rows[i], g_idx[i, j])."""
        was_training = self.ds.training
        self.ds.eval()
        q = np.repeat(q_rows, g_idx.shape[1])
        g = g_idx.reshape(-1)
        out = np.empty(len(q), np.float64)
        for s in range(0, len(q), self.batch_pairs):
            e_s = self.qf[q[s:s + self.batch_pairs]].to(self.device)
            e_t = self.gf[g[s:s + self.batch_pairs]].to(self.device)
            out[s:s + len(e_s)] = torch.sigmoid(self.ds(e_s, e_t)).double().cpu().numpy()
        self.ds.train(was_training)
        return out.reshape(g_idx.shape)

    def __call__(self, start: int, block: np.ndarray) -> np.ndarray:
        idx = topk_stable(block, self.topk)
        p = self.probabilities(np.arange(start, start + len(block)), idx)
        out = block.astype(np.float64)
        # Values below every distance of the row, ordered by 1 - p (ties keep gallery order).
        floor = out.min(1, keepdims=True) - 2.0
        np.put_along_axis(out, idx, floor + (1.0 - p), 1)
        return out


class KReciprocal:
    """k-reciprocal re-ranking (Zhong et al., CVPR 2017) of query x gallery distances.

    Over the ``N = Q + G`` probe and gallery features with squared Euclidean distances, each row
    divided by its maximum: the k-reciprocal neighbours of ``i`` are ``j`` in ``i``'s ``k1 + 1``
    nearest (itself included) with ``i`` in ``j``'s; the set grows by the ``round(k1 / 2)``-reciprocal
    sets of its members that share more than 2/3 of their items with it; ``V[i]`` holds
    ``exp(-d)`` weights over the set, normalised; query expansion averages ``V`` over the ``k2``
    nearest. The final distance is ``(1 - lam) * Jaccard(V[q], V[g]) + lam * d(q, g)``.
    Neighbours come from blocks of the N x N distances, so memory is O(N * k1) plus one block; time
    grows as N^2, which suits galleries up to some tens of thousands.
    """

    def __init__(self, qf: Any, gf: Any, k1: int = 20, k2: int = 6, lam: float = 0.3,
                 block_rows: int = 1024) -> None:
        q, g = as_features(qf, "query").float(), as_features(gf, "gallery").float()
        self.num_q, self.lam = len(q), lam
        self.x = torch.cat([q, g])
        self.sq = (self.x * self.x).sum(1)
        n = len(self.x)
        k = min(k1 + 1, n)
        self.row_max = np.empty(n)
        neighbours = np.empty((n, k), np.int64)
        for s in range(0, n, block_rows):
            d = self._sq_dist(np.arange(s, min(s + block_rows, n)), None)
            self.row_max[s:s + len(d)] = d.max(1)
            neighbours[s:s + len(d)] = topk_stable(d, k)
        self.row_max[self.row_max == 0] = 1.0
        v = self._weights(neighbours, k1)
        if k2 > 1:
            m = min(k2, k)
            expand = sp.csr_matrix((np.full(n * m, 1.0 / m), neighbours[:, :m].reshape(-1), np.arange(0, n * m + 1, m)),
                                   shape=(n, n))
            v = expand @ v
        self.v_q = v[: self.num_q].tocsr()
        self.v_g = v[self.num_q:].tocsc()

    def _sq_dist(self, rows: np.ndarray, cols: np.ndarray | None) -> np.ndarray:
        a = self.x[torch.from_numpy(rows)]
        b = self.x if cols is None else self.x[torch.from_numpy(cols)]
        b_sq = self.sq if cols is None else self.sq[torch.from_numpy(cols)]
        return ((a * a).sum(1, keepdim=True) + b_sq[None] - 2 * a @ b.T).clamp_(min=0).double().numpy()

    def _weights(self, nn_idx: np.ndarray, k1: int) -> sp.csr_matrix:
        n, half = len(nn_idx), int(np.around(k1 / 2.0)) + 1

        def reciprocal(i: int, width: int) -> np.ndarray:
            cand = nn_idx[i, :width]
            return cand[(nn_idx[cand, :width] == i).any(1)]

        rows, cols, vals = [], [], []
        for i in range(n):
            core = reciprocal(i, nn_idx.shape[1])
            members = [core]
            for j in core:
                extra = reciprocal(int(j), half)
                if len(np.intersect1d(extra, core)) > 2.0 / 3.0 * len(extra):
                    members.append(extra)
            expanded = np.unique(np.concatenate(members))
            w = np.exp(-self._sq_dist(np.array([i]), expanded)[0] / self.row_max[i])
            rows.append(np.full(len(expanded), i))
            cols.append(expanded)
            vals.append(w / w.sum())
        return sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))

    def jaccard(self, q_rows: np.ndarray) -> np.ndarray:
        """1 - sum(min) / sum(max) between V of the given queries and V of every gallery item."""
        num_g = self.v_g.shape[0]
        out = np.empty((len(q_rows), num_g))
        for r, i in enumerate(q_rows):
            row = self.v_q[i]
            sub = self.v_g[:, row.indices]
            owner = np.repeat(np.arange(len(row.indices)), np.diff(sub.indptr))
            shared = np.bincount(sub.indices, weights=np.minimum(sub.data, row.data[owner]), minlength=num_g)
            # rows of V sum to 1, so sum(max) = 2 - sum(min)
            out[r] = 1.0 - shared / (2.0 - shared)
        return out

    def __call__(self, start: int, block: np.ndarray) -> np.ndarray:
        rows = np.arange(start, start + len(block))
        original = self._sq_dist(rows, np.arange(self.num_q, len(self.x))) / self.row_max[rows, None]
        return (1 - self.lam) * self.jaccard(rows) + self.lam * original


def _ds(options: Any, pair_scorer: nn.Module | None, device: torch.device | str) -> Callable:
    if pair_scorer is None:
        raise ValueError("rerank=ds needs the run's similarity discriminator Ds")
    return lambda qf, gf: DsRerank(pair_scorer, qf, gf, options.rerank_topk, device)


def _k_reciprocal(options: Any, pair_scorer: nn.Module | None, device: torch.device | str) -> Callable:
    if options.distance == "cosine":  # its neighbourhoods come from Euclidean distances of what it is given
        return lambda qf, gf: KReciprocal(unit_rows(qf), unit_rows(gf), options.k1, options.k2, options.kr_lambda)
    return lambda qf, gf: KReciprocal(qf, gf, options.k1, options.k2, options.kr_lambda)


@dataclass(frozen=True)
class Reranker:
    """One ``eval.rerank`` choice: what it does, and ``make(options, Ds or None, device)``, the factory of
    its block re-scorers (None: ranking by distance alone)."""

    description: str
    make: Callable[[Any, nn.Module | None, torch.device | str], Callable] | None = None
    needs_pair_scorer: bool = False  # it re-scores with the run's Ds (stage (b)'s ds matcher)


RERANKERS: dict[str, Reranker] = {
    "none": Reranker("ranking by distance alone"),
    "ds": Reranker("each probe's first rerank_topk matches re-ordered by Ds's same-person probability", _ds, True),
    "k_reciprocal": Reranker("Zhong et al. 2017's k-reciprocal re-ranking, with k1, k2 and kr_lambda", _k_reciprocal),
}
