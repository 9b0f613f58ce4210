"""Stage (a)'s identity losses: softmax cross-entropy with label smoothing and the batch-hard triplet loss
(the "bag of tricks" baseline of Luo et al., CVPRW 2019)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from viewadapt.losses.similarity import pair_distances, pair_masks


def batch_hard_triplet_loss(features: torch.Tensor, labels: torch.Tensor, margin: float = 0.3) -> torch.Tensor:
    """Hermans et al.'s batch-hard triplet loss: per anchor, its farthest positive and its closest
    negative in the batch, ``mean max(0, margin + d(a, p) - d(a, n))`` (Euclidean distances).

    An image is never its own positive; anchors without a positive or a negative in the batch take no
    part, and a batch with none left gives 0 (with a gradient graph, so a step can still be taken).
    """
    dist = pair_distances(features, features)
    pos, neg = pair_masks(labels, labels, same_items=True)
    hardest_pos = dist.masked_fill(~pos, float("-inf")).amax(1)
    hardest_neg = dist.masked_fill(~neg, float("inf")).amin(1)
    valid = pos.any(1) & neg.any(1)
    if not valid.any():
        return features.sum() * 0.0
    return F.relu(margin + hardest_pos[valid] - hardest_neg[valid]).mean()


def identity_loss(logits: torch.Tensor, labels: torch.Tensor, label_smoothing: float = 0.0) -> torch.Tensor:
    """Softmax cross-entropy over the training identities; ``label_smoothing`` eps puts eps / K of the
    target mass on every class (Szegedy et al.), which keeps a small training set from being memorised."""
    return F.cross_entropy(logits, labels, label_smoothing=label_smoothing)
