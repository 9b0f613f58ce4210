"""What a trained run embeds with: each view's mapping, then that view's head where the matcher has one."""

from __future__ import annotations

from typing import Mapping

import torch
from torch import nn

from viewadapt.models.mapping import ViewMappings


class Embedder(nn.Module):
    """Images of view ``v`` -> the embeddings that are matched: ``head_v(M_v(x))``, or ``M_v(x)``.

    A view head is part of what is matched, not of the view mapping: model regression's T maps a
    probe's embedding to the classifier it is matched by. Evaluation, extraction and ONNX export run
    this module, so they never need to know which matcher trained the run.
    """

    def __init__(self, mappings: ViewMappings, view_heads: Mapping[int, nn.Module] | None = None) -> None:
        super().__init__()
        self.mappings = mappings
        self.heads = nn.ModuleDict({str(v): head for v, head in (view_heads or {}).items()})

    @property
    def num_views(self) -> int:
        return self.mappings.num_views

    @property
    def embedding_dim(self) -> int:
        return self.mappings.embedding_dim

    @property
    def one_network(self) -> bool:
        """Every view is embedded by the very same module (a Siamese model without view heads)."""
        return self.mappings.shared and not self.heads

    def mapping(self, view: int, network: nn.Module | None = None) -> nn.Module:
        """View ``view``'s whole embedding path as one module (for export); ``network`` in place of the
        view's own network (the same network with a calibrated camera's statistics)."""
        network = network if network is not None else self.mappings.mapping(view)
        head = self.heads[str(view)] if str(view) in self.heads else None
        # Built per call: a registered chain would hold the network twice in this module's state.
        return network if head is None else nn.Sequential(network, head)

    def forward(self, images: torch.Tensor, view: int) -> torch.Tensor:
        return self.mapping(view)(images)
