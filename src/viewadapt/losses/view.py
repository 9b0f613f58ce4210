"""View losses: the view discriminator's cross-entropy (Eq. 1), the mappings' view confusion (Eq. 3), and
the gradient reversal with which DANN trains both sides of Eq. 1 in one update."""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F


def view_discriminator_loss(logits_per_view: Sequence[torch.Tensor], views: Sequence[int] | None = None) -> torch.Tensor:
    """Eq. 1, generalised to V views: ``sum_v E_{x ~ X_v}[-log Dd_v(M_v(x))]``.

    ``logits_per_view[i]`` holds Dd's (N_i, V) logits for embeddings of view ``views[i]`` (default: view
    i). With V = 2 and view 0 the probe this is ``-E[log Dd(e_s)] - E[log(1 - Dd(e_t))]`` with
    ``Dd = softmax(logits)[:, 0]``. Each view's expectation is its own mean, so unequal view counts do
    not reweight the terms.
    """
    views = range(len(logits_per_view)) if views is None else views
    return sum(
        F.cross_entropy(logits, torch.full((len(logits),), v, dtype=torch.long, device=logits.device))
        for v, logits in zip(views, logits_per_view)
    )


def view_confusion_loss(logits_per_view: Sequence[torch.Tensor]) -> torch.Tensor:
    """Eq. 3, generalised to V views: cross-entropy of Dd's output against the uniform distribution.

    ``-sum_v E_{x ~ X_v}[ (1/V) sum_k log Dd_k(M_v(x)) ]``; its minimum, reached when Dd outputs 1/V
    for every embedding, is ``log V`` per view (``2 log 2`` for the paper's two views).
    """
    return sum(-F.log_softmax(logits, dim=1).mean(dim=1).mean() for logits in logits_per_view)


class _ReverseGradient(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, scale: float) -> torch.Tensor:
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return -ctx.scale * grad, None


def reverse_gradient(x: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """The identity forward; backward, the gradient times ``-scale`` (Ganin & Lempitsky's gradient
    reversal layer): a discriminator after it minimises Eq. 1 while what comes before maximises it."""
    return _ReverseGradient.apply(x, scale)
