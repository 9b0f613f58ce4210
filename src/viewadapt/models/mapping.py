"""View mappings Ms (probe camera) and Mt (gallery camera): backbone -> pooled feature -> linear neck."""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from viewadapt.models.backbones import build_backbone


class ViewMapping(nn.Module):
    """One view's mapping M_v: images in [0, 1] -> embedding of ``embedding_dim``.

    The backbone's own input normalisation is applied here so that callers never need to know which
    statistics a pretrained net expects. The linear neck gives two different backbones equal dims.
    """

    def __init__(self, backbone: nn.Module, embedding_dim: int, normalize: bool = False) -> None:
        super().__init__()
        self.backbone = backbone
        self.register_buffer("mean", torch.tensor(backbone.input_mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(backbone.input_std).view(1, 3, 1, 1), persistent=False)
        self.neck = nn.Linear(backbone.out_channels, embedding_dim)
        self.normalize = normalize
        self.embedding_dim = embedding_dim

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        feat = self.backbone((images - self.mean) / self.std)
        emb = self.neck(F.adaptive_avg_pool2d(feat, 1).flatten(1))
        return F.normalize(emb, dim=1) if self.normalize else emb


class ViewMappings(nn.Module):
    """One mapping per view: (Ms, Mt), plus one per further camera (group) when V > 2.

    ``shared=True`` is the Siamese baseline: one network serves every view.
    """

    def __init__(self, probe: ViewMapping, gallery: ViewMapping | None, others: Sequence[ViewMapping] = (),
                 num_views: int | None = None) -> None:
        super().__init__()
        self.probe = probe
        # A Siamese pair stores one module; ``gallery`` then resolves to the same object.
        self._gallery = gallery
        self.others = nn.ModuleList(others)
        self.shared = gallery is None
        self.num_views = num_views or 2 + len(self.others)

    @property
    def gallery(self) -> ViewMapping:
        return self.probe if self._gallery is None else self._gallery

    @property
    def embedding_dim(self) -> int:
        return self.probe.embedding_dim

    @classmethod
    def build(
        cls,
        probe_backbone: str,
        gallery_backbone: str,
        embedding_dim: int,
        shared: bool = False,
        pretrained: bool = True,
        allow_download: bool = False,
        normalize: bool = False,
        extra_backbones: Sequence[str] = (),
    ) -> "ViewMappings":
        """Views 0 and 1 get the probe and gallery backbones, views 2.. ``extra_backbones``."""
        def make(name: str) -> ViewMapping:
            return ViewMapping(build_backbone(name, pretrained, allow_download), embedding_dim, normalize)

        if shared:
            return cls(make(probe_backbone), None, num_views=2 + len(extra_backbones))
        return cls(make(probe_backbone), make(gallery_backbone), [make(n) for n in extra_backbones])

    @classmethod
    def single(cls, network: ViewMapping, num_views: int) -> "ViewMappings":
        """One network serving every view: the Siamese form of any one network."""
        return cls(network, None, num_views=num_views)

    def mapping(self, view: int) -> ViewMapping:
        if not 0 <= view < self.num_views:
            raise IndexError(f"view {view} outside the model's {self.num_views} views")
        if self.shared or view == 0:
            return self.probe
        return self.gallery if view == 1 else self.others[view - 2]

    def networks(self) -> tuple[ViewMapping, ...]:
        """The distinct networks: one for a Siamese model, one per view otherwise."""
        return (self.probe,) if self.shared else (self.probe, self.gallery, *self.others)

    def forward(self, images: torch.Tensor, view: int) -> torch.Tensor:
        return self.mapping(view)(images)
