"""The model regressor T of the model-regression baseline (Fig. 6): small-sample classifier -> large."""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn


class ModelRegressor(nn.Module):
    """T: the classifier a probe's one image gives -> the classifier all its images would give.

    Wang and Hebert's T is a small MLP with leaky ReLUs. Here it is residual, ``w + MLP(w)``, with its
    last layer starting at zero, so that T starts as the identity (plain one-shot matching) and
    learns only the correction. Classifiers are unit vectors (cosine classifiers) in and out.
    """

    def __init__(self, dim: int, hidden: Sequence[int] = (512,)) -> None:
        super().__init__()
        widths = [dim, *hidden]
        layers: list[nn.Module] = []
        for a, b in zip(widths[:-1], widths[1:]):
            layers += [nn.Linear(a, b), nn.LeakyReLU(0.2, inplace=True)]
        last = nn.Linear(widths[-1], dim)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        self.net = nn.Sequential(*layers, last)

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        w = F.normalize(w, dim=1)
        return F.normalize(w + self.net(w), dim=1)
