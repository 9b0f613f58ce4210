"""Density clustering of embeddings over k-reciprocal Jaccard distances, in memory linear in the number of
crops (never an N x N matrix): what the ``cluster`` pseudo-label rule groups crops with.

1. Each crop's ``k1`` nearest neighbours by cosine similarity (faiss where installed, else exact blocks).
2. Its k-reciprocal set (Zhong et al. 2017): the neighbours that have it among theirs, expanded by a
   neighbour's own (``k1 / 2``) reciprocal set where two thirds of that set are already in; each member
   weighted by ``exp(-d)`` (``d`` the squared distance of unit vectors), the weights summing to 1, then
   averaged over the crop's ``k2`` nearest neighbours (query expansion). A sparse row per crop.
3. The Jaccard distance ``1 - m / (2 - m)``, ``m`` the summed minimum of two rows' weights, for each crop
   and its ``k1`` neighbours only (a pair outside them shares next to nothing: distance 1). With rows that
   sum to 1, ``m = 1 - |V_i - V_j|_1 / 2``: sparse row differences, in chunks.
4. DBSCAN over that sparse graph: a crop with at least ``min_samples`` crops (itself included) within
   ``eps`` is a core; cores within ``eps`` of each other share a cluster (connected components); a crop
   within ``eps`` of a core joins the nearest one's cluster; the rest are noise (-1).
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components

NOISE = -1


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def nearest(x: np.ndarray, k: int, block: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """(indices, cosine similarities) of each row's ``k`` nearest rows of ``x`` (unit rows), itself first;
    faiss's exact inner-product index where installed, else blocks of rows against all (block x N floats
    at a time)."""
    k = min(k, len(x))
    try:
        import faiss
    except ImportError:
        faiss = None
    if faiss is not None:
        index = faiss.IndexFlatIP(x.shape[1])
        index.add(np.ascontiguousarray(x))
        sims, idx = index.search(np.ascontiguousarray(x), k)
        return idx.astype(np.int64), sims
    idx = np.empty((len(x), k), np.int64)
    sims = np.empty((len(x), k), np.float32)
    for start in range(0, len(x), block):
        s = x[start:start + block] @ x.T
        part = np.argpartition(-s, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(s, part, 1), axis=1, kind="stable")
        idx[start:start + block] = np.take_along_axis(part, order, 1)
        sims[start:start + block] = np.take_along_axis(s, idx[start:start + block], 1)
    return idx, sims


def _reciprocal(nn: np.ndarray, k: int) -> list[np.ndarray]:
    """Each row's k-reciprocal neighbours within its first ``k + 1`` (itself included)."""
    fwd = nn[:, :k + 1]
    out = []
    for i in range(len(nn)):
        back = fwd[fwd[i]]  # (k+1, k+1): each neighbour's own neighbours
        out.append(fwd[i][(back == i).any(axis=1)])
    return out


def reciprocal_weights(x: np.ndarray, nn: np.ndarray, k1: int, k2: int) -> sparse.csr_matrix:
    """The k-reciprocal encoding of every row (step 2 of the module's docstring), as a sparse matrix whose
    rows sum to 1."""
    n = len(x)
    full, half = _reciprocal(nn, k1), _reciprocal(nn, max(1, int(round(k1 / 2))))
    rows, cols, vals = [], [], []
    for i in range(n):
        members = set(full[i].tolist())
        expanded = set(members)
        for c in full[i]:
            cand = half[c]
            if len(cand) and len(members.intersection(cand.tolist())) > 2 / 3 * len(cand):
                expanded.update(cand.tolist())
        j = np.fromiter(expanded, np.int64, len(expanded))
        w = np.exp(-(2.0 - 2.0 * (x[j] @ x[i])))  # squared distance of unit vectors
        rows.append(np.full(len(j), i))
        cols.append(j)
        vals.append(w / w.sum())
    v = sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))
    k2 = min(k2, nn.shape[1])
    if k2 > 1:  # local query expansion: each row the mean of its k2 nearest rows' encodings
        qe = sparse.csr_matrix((np.full(n * k2, 1.0 / k2), (np.repeat(np.arange(n), k2), nn[:, :k2].ravel())),
                               shape=(n, n))
        v = qe @ v
    return v.tocsr()


def jaccard_graph(x: np.ndarray, k1: int = 30, k2: int = 6, chunk: int = 50_000) -> sparse.csr_matrix:
    """The k-reciprocal Jaccard distance between each row of ``x`` and its ``k1`` nearest rows, as a sparse
    symmetric matrix (a stored entry is a distance, an absent one 1); rows are unit-normalised first."""
    x = unit(np.asarray(x, np.float32))
    nn, _ = nearest(x, k1 + 1)
    v = reciprocal_weights(x, nn, k1, k2)
    n, width = nn.shape
    ii = np.repeat(np.arange(n), width - 1)
    jj = nn[:, 1:].ravel()
    dist = np.empty(len(ii), np.float32)
    for start in range(0, len(ii), chunk):  # |V_i - V_j|_1 for a chunk of pairs: sparse row differences
        a, b = ii[start:start + chunk], jj[start:start + chunk]
        l1 = np.asarray(abs(v[a] - v[b]).sum(axis=1)).ravel()
        m = np.clip(1.0 - l1 / 2.0, 0.0, 1.0)
        dist[start:start + chunk] = 1.0 - m / (2.0 - m)
    return _symmetrise(ii, jj, dist, n)


def _symmetrise(rows: np.ndarray, cols: np.ndarray, dist: np.ndarray, n: int) -> sparse.csr_matrix:
    """Each pair stored both ways with the smaller of its distances (a pair found by one side only keeps
    that side's; a crop is never its own pair)."""
    keep = rows != cols
    rows, cols, dist = rows[keep], cols[keep], dist[keep]
    ii, jj, d = np.concatenate([rows, cols]), np.concatenate([cols, rows]), np.concatenate([dist, dist])
    order = np.lexsort((d, jj, ii))  # per (i, j), smallest distance first
    ii, jj, d = ii[order], jj[order], d[order]
    first = np.ones(len(ii), bool)
    first[1:] = (ii[1:] != ii[:-1]) | (jj[1:] != jj[:-1])
    # +1: a distance of exactly 0 must survive as a stored entry; subtracted back below
    out = sparse.csr_matrix((d[first] + 1.0, (ii[first], jj[first])), shape=(n, n))
    out.data -= 1.0
    return out


def dbscan(graph: sparse.csr_matrix, eps: float, min_samples: int) -> np.ndarray:
    """Cluster labels (0..C-1, :data:`NOISE` for noise) of the sparse distance ``graph``'s nodes (step 4
    of the module's docstring; a node's own distance 0 counts it among its neighbours)."""
    n = graph.shape[0]
    close = graph.copy()
    close.data = (close.data <= eps).astype(np.int8)
    close.eliminate_zeros()
    core = np.asarray(close.sum(axis=1)).ravel() + 1 >= min_samples
    labels = np.full(n, NOISE, np.int64)
    if not core.any():
        return labels
    cores = np.flatnonzero(core)
    links = close[cores][:, cores]
    count, comp = connected_components(links, directed=False)
    labels[cores] = comp
    border = close[~core][:, cores].tocsr()  # non-core nodes within eps of a core
    dists = graph[~core][:, cores].tocsr()
    for row, node in enumerate(np.flatnonzero(~core)):
        start, end = border.indptr[row], border.indptr[row + 1]
        if start == end:
            continue
        near = border.indices[start:end]
        d = np.asarray(dists[row, near].todense()).ravel()
        labels[node] = comp[near[np.argmin(d)]]
    return labels
