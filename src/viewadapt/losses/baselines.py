"""Domain terms of the view-adaptation baselines, used in place of Eq. 3 in stage (c): those the paper
compares with (Table VII), DAN's multi-kernel MMD and ADDA's inverted-label GAN loss, and Deep CORAL's
second-order alignment."""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

# DAN's kernel family: Gaussian kernels whose bandwidths are the mean squared distance times these.
MMD_SCALES = (0.25, 0.5, 1.0, 2.0, 4.0)


def mk_mmd(x: torch.Tensor, y: torch.Tensor, scales: Sequence[float] = MMD_SCALES,
           bandwidth: float | None = None) -> torch.Tensor:
    """Multi-kernel MMD^2 between two sets of embeddings (Long et al., DAN, ICML 2015), biased estimate:

    ``mean k(x, x') + mean k(y, y') - 2 mean k(x, y)`` with ``k = sum_s exp(-||a - b||^2 / (s * b0))``.
    ``b0`` is the mean squared distance over all pairs of the joint set (detached), unless given.
    It is zero when the two sets are the same and grows as they move apart.
    """
    z = torch.cat([x, y])
    sq = torch.cdist(z, z).pow(2)
    b0 = sq.detach().sum() / max(len(z) * (len(z) - 1), 1) if bandwidth is None else torch.tensor(bandwidth)
    k = sum(torch.exp(-sq / (s * b0)) for s in scales)
    n = len(x)
    return k[:n, :n].mean() + k[n:, n:].mean() - 2 * k[:n, n:].mean()


def adda_mapping_loss(gallery_logits: torch.Tensor, probe_view: int = 0) -> torch.Tensor:
    """ADDA's mapping loss (Tzeng et al., CVPR 2017): the gallery mapping is trained so that Dd labels
    its embeddings as the probe view ("inverted labels"); the probe mapping stays fixed."""
    target = torch.full((len(gallery_logits),), probe_view, dtype=torch.long, device=gallery_logits.device)
    return F.cross_entropy(gallery_logits, target)


def coral(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Deep CORAL's loss (Sun and Saenko, ECCV 2016 workshops, Eq. 1): ``||C_x - C_y||_F^2 / (4 d^2)``.

    ``C`` is the unbiased covariance of a set of ``d``-dimensional embeddings (rows); the loss aligns the
    two views' second-order statistics and is zero when their covariances are equal.
    """
    d = x.shape[1]
    return (torch.cov(x.T) - torch.cov(y.T)).pow(2).sum() / (4 * d * d)
