"""A backbone's stages (its ``stage_names()``): the groups of layers, in forward order, of which
``model.asymmetry=partial:K`` gives each view a copy of the first K and shares the rest."""

from __future__ import annotations

from torch import nn

_NORMS = (nn.modules.batchnorm._BatchNorm, nn.GroupNorm, nn.LayerNorm)


def sequential_stages(prefix: str, layers: nn.Sequential) -> list[list[str]]:
    """Group a plain layer stack into stages, each starting at a layer with weights: a normalisation or
    activation layer, or a pooling, belongs with the convolution before it."""
    stages: list[list[str]] = []
    for name, layer in layers.named_children():
        starts = any(True for _ in layer.parameters()) and not isinstance(layer, _NORMS)
        if starts or not stages:
            stages.append([])
        stages[-1].append(f"{prefix}.{name}")
    return stages

