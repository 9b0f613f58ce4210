"""Losses of the few-shot learners the paper compares with (Fig. 6): matching networks and model
regression, written for re-ID, where a probe is matched against a gallery of one-shot identities."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def matching_loss(query: torch.Tensor, support: torch.Tensor, query_labels: torch.Tensor,
                  support_labels: torch.Tensor, scale: float = 10.0) -> torch.Tensor:
    """Matching networks' episode loss (Vinyals et al., NeurIPS 2016, Eq. 1-2).

    Each query attends over the support set with ``a(q, s_i) = softmax_i(scale * cos(q, s_i))``; the
    predicted label distribution is ``P(c | q) = sum_{i: y_i = c} a(q, s_i)`` and the loss is the mean
    of ``-log P(y_q | q)``. The paper's attention is a softmax over raw cosines (``scale = 1``): with
    cosines bounded by 1 that leaves the attention nearly uniform over a support of many identities,
    so a scale (a fixed inverse temperature) is applied. Queries whose identity has no support image
    are left out; with none left the loss is 0.
    """
    match = query_labels[:, None] == support_labels[None, :]
    keep = match.any(1)
    if not keep.any():
        return query.sum() * 0.0
    logits = scale * F.normalize(query[keep], dim=1) @ F.normalize(support, dim=1).T
    attention = logits.log_softmax(1)
    # log sum_{i in class} a_i, computed in log space for stability
    log_p = attention.masked_fill(~match[keep], float("-inf")).logsumexp(1)
    return -log_p.mean()


def class_prototypes(embeddings: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Unit-length mean of each label's unit-length embeddings: the nearest-class-mean classifier of
    every identity. Returns (prototypes (C, D), the sorted labels they belong to)."""
    classes, index = labels.unique(return_inverse=True)
    sums = torch.zeros(len(classes), embeddings.shape[1], dtype=embeddings.dtype, device=embeddings.device)
    sums.index_add_(0, index, F.normalize(embeddings, dim=1))
    return F.normalize(sums, dim=1), classes


def model_regression_loss(regressed: torch.Tensor, labels: torch.Tensor, embeddings: torch.Tensor,
                          embedding_labels: torch.Tensor) -> torch.Tensor:
    """Model regression's loss (Wang and Hebert, ECCV 2016, Eq. 1, its regression term):
    ``mean_i || T(w0_i) - w*_{y_i} ||^2``.

    ``regressed`` holds ``T(w0)`` of small-sample models (one per row, of identity ``labels``); the
    large-sample model ``w*`` of an identity is its classifier learnt from all of ``embeddings`` with
    that label, here the nearest-class-mean classifier (:func:`class_prototypes`).
    """
    prototypes, classes = class_prototypes(embeddings, embedding_labels)
    rows = torch.searchsorted(classes, labels)
    if (rows >= len(classes)).any() or (classes[rows.clamp(max=len(classes) - 1)] != labels).any():
        raise ValueError("every regressed model's identity must have embeddings to learn its large-sample model from")
    return (regressed - prototypes[rows]).pow(2).sum(1).mean()
