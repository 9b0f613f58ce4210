"""Backbone registry: name -> feature extractor with ``out_channels``, ``input_mean`` and ``input_std``."""

from __future__ import annotations

from typing import Callable

from torch import nn

from viewadapt.errors import ConfigError
from viewadapt.models.backbones.efficientnet_lite import LITE_SCALES, efficientnet_lite
from viewadapt.models.backbones.torchvision_nets import TORCHVISION_BACKBONES, torchvision_backbone
from viewadapt.models.backbones.vgg import VGGM, VGG16Like
from viewadapt.registry import Registry

# name -> builder(pretrained, allow_download)
BACKBONES: Registry[Callable[[bool, bool], nn.Module]] = Registry("backbone")


def _scratch(cls: type, width: float, name: str) -> Callable[[bool, bool], nn.Module]:
    def build(pretrained: bool, allow_download: bool) -> nn.Module:
        if pretrained:
            raise ConfigError(f"{name} has no ImageNet weights: set model.pretrained=false to train it from scratch")
        return cls(width)

    return build


for _name in LITE_SCALES:
    BACKBONES.register(_name)(lambda p, d, n=_name: efficientnet_lite(n, p))
for _name in TORCHVISION_BACKBONES:
    BACKBONES.register(_name)(lambda p, d, n=_name: torchvision_backbone(n, p, d))
BACKBONES.register("vggm")(_scratch(VGGM, 1.0, "vggm"))
BACKBONES.register("vggm_small")(_scratch(VGGM, 0.5, "vggm_small"))
BACKBONES.register("dnet_small")(_scratch(VGG16Like, 0.25, "dnet_small"))


def build_backbone(name: str, pretrained: bool, allow_download: bool = False) -> nn.Module:
    """Build a registered backbone; an unknown name is a :class:`ConfigError` listing the known ones."""
    return BACKBONES[name](pretrained, allow_download)
