"""Backbone registry: name -> feature extractor with ``out_channels``, ``input_mean`` and ``input_std``."""

from __future__ import annotations

from typing import Callable

from torch import nn

from viewadapt.errors import ConfigError
from viewadapt.models.backbones.efficientnet_lite import LITE_SCALES, efficientnet_lite
from viewadapt.models.backbones.torchvision_nets import TORCHVISION_BACKBONES, torchvision_backbone
from viewadapt.models.backbones.vgg import VGGM, VGG16Like


def _scratch(cls: type, width: float, name: str) -> Callable[[bool, bool], nn.Module]:
    def build(pretrained: bool, allow_download: bool) -> nn.Module:
        if pretrained:
            raise ConfigError(f"{name} has no ImageNet weights: set model.pretrained=false to train it from scratch")
        return cls(width)

    return build


BACKBONES: dict[str, Callable[[bool, bool], nn.Module]] = {
    **{name: (lambda p, d, n=name: efficientnet_lite(n, p)) for name in LITE_SCALES},
    **{name: (lambda p, d, n=name: torchvision_backbone(n, p, d)) for name in TORCHVISION_BACKBONES},
    "vggm": _scratch(VGGM, 1.0, "vggm"),
    "vggm_small": _scratch(VGGM, 0.5, "vggm_small"),
    "dnet_small": _scratch(VGG16Like, 0.25, "dnet_small"),
}


def build_backbone(name: str, pretrained: bool, allow_download: bool = False) -> nn.Module:
    """Build a registered backbone; an unknown name is a :class:`ConfigError` listing the known ones."""
    if name not in BACKBONES:
        raise ConfigError(f"unknown backbone '{name}': choose one of {', '.join(sorted(BACKBONES))}")
    return BACKBONES[name](pretrained, allow_download)
