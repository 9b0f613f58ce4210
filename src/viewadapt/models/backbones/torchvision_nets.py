"""torchvision backbones with their conv trunk only; ImageNet weights are read from torch's hub cache.

Nothing is downloaded unless the user allows it: a missing weights file is a clear error that says
where to put it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from viewadapt.errors import ConfigError
from viewadapt.models.backbones.stages import sequential_stages

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class Trunk(nn.Module):
    """The convolutional part of a torchvision classifier, returning its last feature map."""

    input_mean = IMAGENET_MEAN
    input_std = IMAGENET_STD

    def __init__(self, body: nn.Module, out_channels: int) -> None:
        super().__init__()
        self.body = body
        self.out_channels = out_channels

    def stage_names(self) -> list[list[str]]:
        return sequential_stages("body", self.body)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def _resnet_body(net: nn.Module) -> nn.Module:
    return nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool, net.layer1, net.layer2, net.layer3, net.layer4)


# name -> (torchvision builder name, weights enum name, trunk extractor, output channels)
_SPECS: dict[str, tuple[str, str, Callable[[nn.Module], nn.Module], int]] = {
    "resnet18": ("resnet18", "ResNet18_Weights", _resnet_body, 512),
    "resnet34": ("resnet34", "ResNet34_Weights", _resnet_body, 512),
    "resnet50": ("resnet50", "ResNet50_Weights", _resnet_body, 2048),
    "vgg16": ("vgg16", "VGG16_Weights", lambda n: n.features, 512),
    "mobilenet_v3_small": ("mobilenet_v3_small", "MobileNet_V3_Small_Weights", lambda n: n.features, 576),
    "mobilenet_v3_large": ("mobilenet_v3_large", "MobileNet_V3_Large_Weights", lambda n: n.features, 960),
}
TORCHVISION_BACKBONES = tuple(_SPECS)


def _cached_weights(weights) -> tuple[Path, str]:
    url = weights.url
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url), url


def torchvision_backbone(name: str, pretrained: bool, allow_download: bool = False) -> Trunk:
    import torchvision.models as tvm

    builder, weights_enum, trunk, channels = _SPECS[name]
    net = getattr(tvm, builder)(weights=None)
    if pretrained:
        weights = getattr(tvm, weights_enum).IMAGENET1K_V1
        path, url = _cached_weights(weights)
        if path.exists():
            net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        elif allow_download:
            net.load_state_dict(weights.get_state_dict(progress=True))
        else:
            raise ConfigError(
                f"ImageNet weights for {name} not found at {path}: download {url} to that path, "
                "or pass model.allow_download=true, or set model.pretrained=false"
            )
    else:
        # torchvision's MobileNets set batch-norm momentum 0.01, a setting for long ImageNet runs; from
        # scratch on a small dataset the running statistics would lag far behind the weights.
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.momentum = 0.1
    return Trunk(trunk(net), channels)
