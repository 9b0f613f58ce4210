"""The two discriminators of the method: similarity Ds (Eq. 2/5) and view Dd (Eq. 1/3)."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn


class SimilarityDiscriminator(nn.Module):
    """Ds: concat(e_s, e_t) -> FC 1024 -> ReLU -> FC 2048 -> ReLU -> FC 1, a same-person logit.

    The first layer acts on a concatenation, so it splits into a probe half and a gallery half; that
    lets :meth:`pair_logits` score every probe against every gallery embedding without materialising
    the N*M concatenated inputs.
    """

    def __init__(self, embedding_dim: int, hidden: Sequence[int] = (1024, 2048)) -> None:
        super().__init__()
        self.embedding_dim = embedding_dim
        self.first = nn.Linear(2 * embedding_dim, hidden[0])
        layers: list[nn.Module] = [nn.ReLU(inplace=True)]
        for a, b in zip(hidden[:-1], hidden[1:]):
            layers += [nn.Linear(a, b), nn.ReLU(inplace=True)]
        layers.append(nn.Linear(hidden[-1], 1))
        self.rest = nn.Sequential(*layers)

    def forward(self, e_s: torch.Tensor, e_t: torch.Tensor) -> torch.Tensor:
        """Logits for aligned pairs: (N, D), (N, D) -> (N,)."""
        return self.rest(self.first(torch.cat([e_s, e_t], dim=1))).squeeze(1)

    def pair_logits(self, e_s: torch.Tensor, e_t: torch.Tensor) -> torch.Tensor:
        """Logits for all pairs: (N, D), (M, D) -> (N, M)."""
        d = self.embedding_dim
        w, b = self.first.weight, self.first.bias
        h = (e_s @ w[:, :d].T)[:, None, :] + (e_t @ w[:, d:].T)[None, :, :] + b
        return self.rest(h).squeeze(-1)


class ViewDiscriminator(nn.Module):
    """Dd: two FC layers on one embedding, ``num_views`` logits (softmax over cameras).

    With two views, softmax over two logits is the paper's sigmoid D_d(e) = p(probe view | e).
    """

    def __init__(self, embedding_dim: int, hidden: int = 256, num_views: int = 2) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(embedding_dim, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, num_views))
        self.num_views = num_views

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        return self.net(embeddings)
