"""Similarity losses on cross-view pairs: Eq. 2 (BCE + contrastive) and the adaptive weighted Eq. 5/6."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def pair_distances(e_s: torch.Tensor, e_t: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Euclidean distances d(x_s, x_t) = ||e_s - e_t||_2 for all pairs: (N, D), (M, D) -> (N, M).

    ``eps`` keeps the gradient of the square root finite when a positive pair has collapsed to a point.
    """
    sq = (e_s[:, None, :] - e_t[None, :, :]).pow(2).sum(-1)
    return (sq + eps).sqrt()


def pair_masks(
    anchor_pids: torch.Tensor, candidate_pids: torch.Tensor, same_items: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """Positive and negative masks (N, M) of anchors against candidates.

    ``same_items`` says the anchors and the candidates are the same images (in the same order): an
    image is then never paired with itself, so the anchor is never its own positive.
    """
    same = anchor_pids[:, None] == candidate_pids[None, :]
    distinct = torch.ones_like(same)
    if same_items:
        distinct.fill_diagonal_(False)
    return same & distinct, ~same & distinct


def similarity_loss(
    logits: torch.Tensor, dist: torch.Tensor, same: torch.Tensor, margin: float = 2.0, gamma: float = 2.5
) -> torch.Tensor:
    """Eq. 2 over a set of pairs (any shape, all three tensors alike):

    ``mean BCE(Ds, y) + gamma * mean[ y d^2 + (1 - y) max(0, m - d)^2 ]``.

    Our reading of Sec. III-B: the paper prints only ``y log Ds`` and ``- gamma``; a loss to minimise needs
    the full binary cross-entropy and ``+ gamma`` (Hadsell et al.'s contrastive loss).
    """
    y = same.to(dist.dtype)
    bce = F.binary_cross_entropy_with_logits(logits, y)
    contrastive = y * dist.pow(2) + (1 - y) * (margin - dist).clamp(min=0).pow(2)
    return bce + gamma * contrastive.mean()


def adaptive_weights(
    dist: torch.Tensor, pos_mask: torch.Tensor, neg_mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Eq. 6: per anchor (row), soft-max weights over its positives and soft-min weights over its negatives.

    ``w_p = exp(d_p) / sum_P exp(d)`` (a farther positive is harder) and
    ``w_n = exp(-d_n) / sum_N exp(-d)`` (a closer negative is harder). Our reading of Sec. III-D: the paper
    prints ``exp(+d)`` in w_n's denominator; a soft-min needs ``exp(-d)``. Entries outside the mask are 0;
    a row without any positive (negative) gets all-zero positive (negative) weights.
    """
    neg_inf = torch.finfo(dist.dtype).min

    def masked_softmax(scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        w = torch.softmax(scores.masked_fill(~mask, neg_inf), dim=1)
        return w * mask

    return masked_softmax(dist, pos_mask), masked_softmax(-dist, neg_mask)


def adaptive_similarity_loss(
    logits: torch.Tensor,
    dist: torch.Tensor,
    pos_mask: torch.Tensor,
    neg_mask: torch.Tensor,
    margin: float = 2.0,
    gamma: float = 2.5,
    detach_weights: bool = False,
) -> torch.Tensor:
    """Eq. 5 on an (anchors x candidates) block of an SP batch:

    ``mean_pairs BCE(Ds, y) + gamma * mean_anchors[ (sum_p w_p d_p)^2 + max(0, m - sum_n w_n d_n)^2 ]``.

    Pairs outside ``pos_mask | neg_mask`` (an anchor with itself, say) take part in nothing. Our reading
    of Sec. III-D: Eq. 5 prints ``w_p d^2`` and ``max(0, m - w_n d)^2`` inside sums; the weighted mean
    distances are the consistent reading (MTMCT's adaptive weighted triplet). ``detach_weights`` treats
    the weights as constants in the gradient.
    """
    valid = pos_mask | neg_mask
    bce = F.binary_cross_entropy_with_logits(logits[valid], pos_mask[valid].to(logits.dtype))
    w_p, w_n = adaptive_weights(dist.detach() if detach_weights else dist, pos_mask, neg_mask)
    d_pos = (w_p * dist).sum(1)
    d_neg = (w_n * dist).sum(1)
    has_pos, has_neg = pos_mask.any(1), neg_mask.any(1)
    per_anchor = has_pos * d_pos.pow(2) + has_neg * (margin - d_neg).clamp(min=0).pow(2)
    return bce + gamma * per_anchor[has_pos | has_neg].mean()
