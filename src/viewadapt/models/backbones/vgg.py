"""The paper's two backbones at any width, trained from scratch: M-Net (VGG-M, Chatfield et al.,
"Return of the devil in the details") and D-Net (VGG-16, Simonyan & Zisserman).

VGG-M's ImageNet weights were never released for PyTorch, and narrow nets have no weights at all,
so these start from random weights; batch norm (in place of VGG-M's local response normalisation)
lets them train from scratch. The full-width pretrained VGG-16 is torchvision's ``vgg16``.
"""

from __future__ import annotations

import torch
from torch import nn

from viewadapt.models.backbones.stages import sequential_stages
from viewadapt.models.backbones.torchvision_nets import IMAGENET_MEAN, IMAGENET_STD


def _block(in_ch: int, out_ch: int, kernel: int, stride: int, pool: bool) -> list[nn.Module]:
    layers: list[nn.Module] = [
        nn.Conv2d(in_ch, out_ch, kernel, stride=stride, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(out_ch),
        nn.ReLU(inplace=True),
    ]
    if pool:
        layers.append(nn.MaxPool2d(3, stride=2, padding=1))
    return layers


class _ScratchVGG(nn.Module):
    """A plain conv stack returning its last feature map, He-initialised for training from scratch."""

    input_mean = IMAGENET_MEAN
    input_std = IMAGENET_STD

    def __init__(self, layers: list[nn.Module], out_channels: int) -> None:
        super().__init__()
        self.features = nn.Sequential(*layers)
        self.out_channels = out_channels
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def stage_names(self) -> list[list[str]]:
        return sequential_stages("features", self.features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)


class VGGM(_ScratchVGG):
    """M-Net: conv1 7x7/2 -> pool -> conv2 5x5/2 -> pool -> conv3..5 3x3 -> pool, widths scaled by ``width``."""

    def __init__(self, width: float = 1.0) -> None:
        c1, c2, c3 = (max(8, int(c * width)) for c in (96, 256, 512))
        layers = [
            *_block(3, c1, 7, 2, pool=True),
            *_block(c1, c2, 5, 2, pool=True),
            *_block(c2, c3, 3, 1, pool=False),
            *_block(c3, c3, 3, 1, pool=False),
            *_block(c3, c3, 3, 1, pool=True),
        ]
        super().__init__(layers, c3)


class VGG16Like(_ScratchVGG):
    """D-Net: VGG-16's thirteen 3x3 convolutions in five pooled groups, widths scaled by ``width``."""

    def __init__(self, width: float = 1.0) -> None:
        layers: list[nn.Module] = []
        in_ch = 3
        for channels, convs in ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3)):
            out_ch = max(8, int(channels * width))
            for i in range(convs):
                layers += _block(in_ch, out_ch, 3, 1, pool=i == convs - 1)
                in_ch = out_ch
        super().__init__(layers, in_ch)
