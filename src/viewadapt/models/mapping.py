"""View mappings Ms (probe camera) and Mt (gallery camera): backbone -> pooled feature -> linear neck."""

from __future__ import annotations

import copy
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from viewadapt.models.asymmetry import Asymmetry
from viewadapt.models.backbones import build_backbone


NECKS = ("linear", "bnneck")


def padded_identity(in_dim: int, out_dim: int) -> nn.Linear:
    """A projection to a larger dimension that starts as the identity padded with zeros: it keeps the
    pretrained feature as it is and lets training use the extra dimensions."""
    proj = nn.Linear(in_dim, out_dim, bias=False)
    with torch.no_grad():
        proj.weight.copy_(torch.eye(out_dim, in_dim))
    return proj


class ViewMapping(nn.Module):
    """One view's mapping M_v: images in [0, 1] -> embedding of ``embedding_dim``.

    The backbone's own input normalisation is applied here so that callers never need to know which
    statistics a pretrained net expects. The neck turns the pooled backbone feature into the embedding:

    - ``linear``: a linear layer to ``embedding_dim`` (the paper's reading: two different backbones
      get equal dims), randomly initialised;
    - ``bnneck``: batch norm of the pooled feature itself (the BNNeck of the strong re-ID baselines),
      which keeps the pretrained representation; a backbone narrower than ``embedding_dim`` is first
      padded up to it by :func:`padded_identity`.
    """

    def __init__(self, backbone: nn.Module, embedding_dim: int, normalize: bool = False, neck: str = "linear") -> None:
        super().__init__()
        if neck not in NECKS:
            raise ValueError(f"unknown neck '{neck}': choose one of {', '.join(NECKS)}")
        self.backbone = backbone
        self.register_buffer("mean", torch.tensor(backbone.input_mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(backbone.input_std).view(1, 3, 1, 1), persistent=False)
        self.bn: nn.BatchNorm1d | None = None
        if neck == "linear":
            self.neck: nn.Module = nn.Linear(backbone.out_channels, embedding_dim)
        else:
            if embedding_dim < backbone.out_channels:
                raise ValueError(f"a bnneck keeps the {backbone.out_channels}-d pooled feature: embedding_dim "
                                 f"{embedding_dim} is smaller")
            self.neck = (nn.Identity() if embedding_dim == backbone.out_channels
                         else padded_identity(backbone.out_channels, embedding_dim))
            self.bn = nn.BatchNorm1d(embedding_dim)
            self.bn.bias.requires_grad_(False)  # a shift of the embedding means nothing to a distance
        self.normalize = normalize
        self.embedding_dim = embedding_dim

    def pooled(self, images: torch.Tensor) -> torch.Tensor:
        """The backbone's globally average-pooled feature, before any neck."""
        return F.adaptive_avg_pool2d(self.backbone((images - self.mean) / self.std), 1).flatten(1)

    def forward_train(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(feature before the neck's batch norm, embedding): a metric loss such as the triplet acts on
        the first, an identity classifier on the second (they are the same with a linear neck)."""
        feat = self.neck(self.pooled(images))
        emb = feat if self.bn is None else self.bn(feat)
        return feat, F.normalize(emb, dim=1) if self.normalize else emb

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.forward_train(images)[1]


class Pooled(nn.Module):
    """A mapping's pooled backbone feature alone: what the pretrained network gives with no training."""

    def __init__(self, mapping: ViewMapping) -> None:
        super().__init__()
        self.mapping = mapping
        self.embedding_dim = mapping.backbone.out_channels

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.mapping.pooled(images)


def tied_copy(mapping: ViewMapping, own: Callable[[str, nn.Module], bool], statistics_only: bool = False) -> ViewMapping:
    """A copy of ``mapping`` that holds the very same layers (parameters and running statistics) as
    ``mapping`` except the ones ``own(name, layer)`` keeps: those start as copies and then train apart.
    With ``statistics_only`` an owned layer keeps only its buffers (a batch norm's running statistics)
    and holds ``mapping``'s very parameters (its affine weights)."""
    twin = copy.deepcopy(mapping)
    for name, layer in mapping.named_modules():
        tensors = [*layer.parameters(recurse=False), *layer.buffers(recurse=False)]
        if not name or not tensors:
            continue
        if not own(name, layer):
            parent, _, child = name.rpartition(".")
            setattr(twin.get_submodule(parent), child, layer)
        elif statistics_only:
            copied = twin.get_submodule(name)
            for pname, param in layer.named_parameters(recurse=False):
                setattr(copied, pname, param)
    return twin


def is_batch_norm(name: str, layer: nn.Module) -> bool:
    return isinstance(layer, nn.modules.batchnorm._BatchNorm)


def _own_layers(asymmetry: Asymmetry, mapping: ViewMapping) -> Callable[[str, nn.Module], bool]:
    if asymmetry.owns_batch_norms:
        return is_batch_norm
    stages, k = mapping.backbone.stage_names(), asymmetry.k
    if k > len(stages):
        raise ValueError(f"asymmetry {asymmetry} needs {k} backbone stages, and the backbone has {len(stages)}")
    prefixes = tuple(f"backbone.{name}" for stage in stages[:k] for name in stage)
    return lambda name, layer: any(name == p or name.startswith(p + ".") for p in prefixes)


class ViewMappings(nn.Module):
    """One mapping per view: (Ms, Mt), plus one per further camera (group) when V > 2.

    ``shared=True`` is the Siamese baseline: one network serves every view.
    """

    def __init__(self, probe: ViewMapping, gallery: ViewMapping | None, others: Sequence[ViewMapping] = (),
                 num_views: int | None = None, statistics_only: bool = False) -> None:
        super().__init__()
        # Every weight shared, each view with batch-norm statistics of its own (``asymmetry="stats"``):
        # one network, normalised per view.
        self.statistics_only = statistics_only
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
        pretrained: bool = True,
        allow_download: bool = False,
        normalize: bool = False,
        extra_backbones: Sequence[str] = (),
        neck: str = "linear",
        asymmetry: Asymmetry | str = "full",
    ) -> "ViewMappings":
        """Views 0 and 1 get the probe and gallery backbones, views 2.. ``extra_backbones``, each a network
        of its own (``asymmetry="full"``). Below that level, every view starts from the probe backbone's
        network and shares all of it but its first K backbone stages (``partial:K``), its batch norms
        (``bn``) or its batch norms' running statistics (``stats``: camera-based batch normalisation,
        every weight shared), or all of it (``none``: one module).

        With a ``bnneck`` the embedding is the pooled feature, so ``embedding_dim`` is not used: it is
        the widest backbone's output (narrower ones are padded up to it)."""
        if isinstance(asymmetry, str):
            asymmetry = Asymmetry.parse(asymmetry)
        names = [probe_backbone, gallery_backbone, *extra_backbones] if asymmetry.separate_networks else [probe_backbone]
        if neck == "bnneck":
            backbones = [build_backbone(name, pretrained, allow_download) for name in names]
            width = max(b.out_channels for b in backbones)
            nets = [ViewMapping(b, width, normalize, neck) for b in backbones]
        else:  # each backbone, then its neck: the order the random initialisation is drawn in
            nets = [ViewMapping(build_backbone(name, pretrained, allow_download), embedding_dim, normalize, neck)
                    for name in names]
        if asymmetry.one_network:
            return cls(nets[0], None, num_views=2 + len(extra_backbones))
        if asymmetry.one_start:
            own = _own_layers(asymmetry, nets[0])
            nets += [tied_copy(nets[0], own, asymmetry.statistics_only) for _ in range(1 + len(extra_backbones))]
        return cls(nets[0], nets[1], nets[2:], statistics_only=asymmetry.statistics_only)

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

    def forward_train_by_view(self, images: torch.Tensor,
                              views: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(features, embeddings, kept) of a batch that mixes views, each view's images through its own
        mapping, so that each is normalised by its own batch statistics (camera-based batch norm).
        The rows are those of the images ``kept`` marks, in the batch's order: a view with a single
        image in the batch has no batch statistics to speak of and is left out, as CBN does."""
        present, counts = torch.unique(views, return_counts=True)
        kept = torch.zeros_like(views, dtype=torch.bool)
        outputs: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
        for view, count in zip(present.tolist(), counts.tolist()):
            if count >= 2:
                mask = views == view
                kept |= mask
                outputs.append((mask.nonzero().squeeze(1), *self.mapping(view).forward_train(images[mask])))
        if not outputs:
            raise ValueError("no view has two images in this batch: nothing to normalise per view")
        index = torch.cat([o[0] for o in outputs])
        order = torch.argsort(index)  # back to the batch's own order
        feat, emb = (torch.cat([o[i] for o in outputs])[order] for i in (1, 2))
        return feat, emb, kept

    def forward(self, images: torch.Tensor, view: int) -> torch.Tensor:
        return self.mapping(view)(images)
