"""A VGG-M-like network (Chatfield et al., "Return of the devil in the details"): the paper's M-Net.

VGG-M's ImageNet weights were never released for PyTorch, so this net starts from random weights;
batch norm replaces the original local response normalisation so that it trains from scratch.
"""

from __future__ import annotations

import torch
from torch import nn


def _block(in_ch: int, out_ch: int, kernel: int, stride: int, pool: bool) -> list[nn.Module]:
    layers: list[nn.Module] = [
        nn.Conv2d(in_ch, out_ch, kernel, stride=stride, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(out_ch),
        nn.ReLU(inplace=True),
    ]
    if pool:
        layers.append(nn.MaxPool2d(3, stride=2, padding=1))
    return layers


class VGGM(nn.Module):
    """conv1 7x7/2 -> pool -> conv2 5x5/2 -> pool -> conv3..5 3x3 -> pool, channel widths scaled by ``width``."""

    input_mean = (0.485, 0.456, 0.406)
    input_std = (0.229, 0.224, 0.225)

    def __init__(self, width: float = 1.0) -> None:
        super().__init__()
        c1, c2, c3 = (max(8, int(c * width)) for c in (96, 256, 512))
        self.features = nn.Sequential(
            *_block(3, c1, 7, 2, pool=True),
            *_block(c1, c2, 5, 2, pool=True),
            *_block(c2, c3, 3, 1, pool=False),
            *_block(c3, c3, 3, 1, pool=False),
            *_block(c3, c3, 3, 1, pool=True),
        )
        self.out_channels = c3
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)
