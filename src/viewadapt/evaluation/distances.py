"""Query x gallery distances from features, one block of queries at a time.

Memory stays at one block (``block_rows`` x gallery floats) however many queries there are, so a
20,000 x 200,000 evaluation needs a few GB rather than the 16 GB of the whole matrix.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

import numpy as np
import torch

from viewadapt.evaluation.rank import Gallery, as_ids, check_ap, check_lengths, rank_block, summarize

DISTANCES = ("euclidean", "cosine")
BLOCK_BYTES = 256 * 2**20

# A block transform: (first query row, distance block) -> a block to rank instead (re-scoring).
Rescore = Callable[[int, np.ndarray], np.ndarray]


def as_features(x: Any, name: str) -> torch.Tensor:
    """(N, D) float features from NumPy or torch, float16 or float32, computed on in float32."""
    t = x.detach() if isinstance(x, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(x))
    if t.ndim != 2:
        raise ValueError(f"{name} features must be an (N, D) matrix, got shape {tuple(t.shape)}")
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} features contain NaN or infinite values: check the model's outputs")
    return t


def unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero): Euclidean distances between them rank as cosine."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def default_block_rows(num_gallery: int) -> int:
    return max(1, min(4096, BLOCK_BYTES // (4 * max(num_gallery, 1))))


def distance_blocks(
    qf: Any, gf: Any, metric: str = "euclidean", block_rows: int | None = None, device: str | torch.device = "cpu",
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(first_row, block)`` with ``block`` = distances of queries ``first_row:first_row + n``."""
    if metric not in DISTANCES:
        raise ValueError(f"unknown metric '{metric}': choose one of {', '.join(DISTANCES)}")
    q, g = as_features(qf, "query").to(device), as_features(gf, "gallery").to(device)
    if q.shape[1] != g.shape[1]:
        raise ValueError(f"query features have {q.shape[1]} dimensions, gallery features {g.shape[1]}")
    g = g.float()
    if metric == "cosine":
        g = torch.nn.functional.normalize(g, dim=1)
    g_sq = (g * g).sum(1)
    rows = block_rows or default_block_rows(len(g))
    for start in range(0, len(q), rows):
        b = q[start:start + rows].float()
        if metric == "cosine":
            block = 1 - torch.nn.functional.normalize(b, dim=1) @ g.T
        else:
            block = ((b * b).sum(1, keepdim=True) + g_sq[None, :] - 2 * b @ g.T).clamp_(min=0).sqrt_()
        yield start, block.cpu().numpy()


def evaluate_features(
    qf: Any, gf: Any, q_pids: Any, g_pids: Any, q_camids: Any, g_camids: Any, max_rank: int = 50, *,
    metric: str = "euclidean", ap: str = "step", block_rows: int | None = None,
    device: str | torch.device = "cpu", rescore: Rescore | None = None,
) -> dict:
    """:func:`~viewadapt.evaluation.rank.evaluate_rank` (market-style) from features, block by block.

    ``rescore`` replaces each distance block before ranking (Ds re-ranking, k-reciprocal).
    """
    check_ap(ap)
    check_lengths(len(qf), len(gf), q_pids, g_pids, q_camids, g_camids)
    q_pids, g_pids = as_ids(q_pids, g_pids)
    q_cams, g_cams = as_ids(q_camids, g_camids)
    gallery = Gallery(g_pids, g_cams)
    parts = []
    for start, block in distance_blocks(qf, gf, metric, block_rows, device):
        if rescore is not None:
            block = rescore(start, block)
        stop = start + len(block)
        parts.append(rank_block(np.ascontiguousarray(block), q_pids[start:stop], q_cams[start:stop], gallery, ap))
    per_query = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    return summarize(per_query, max_rank)
