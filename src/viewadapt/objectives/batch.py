"""An SP batch's two views as embeddings: what every stage (b) and (c) objective is computed on."""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from viewadapt.models import ViewMappings


@dataclass
class ViewBatch:
    """Embeddings of a batch's two views: ``view_s`` (probe side, e.g. through Ms) and ``view_t``."""

    e_s: torch.Tensor
    e_t: torch.Tensor
    pid_s: torch.Tensor
    pid_t: torch.Tensor
    view_s: int = 0
    view_t: int = 1

    def float(self) -> "ViewBatch":
        """Embeddings in float32: the losses are computed at full precision under mixed precision too."""
        return replace(self, e_s=self.e_s.float(), e_t=self.e_t.float())

    def fixed_probe_side(self) -> "ViewBatch":
        """The same batch with the probe-side embeddings as constants: no gradient reaches their mapping."""
        return replace(self, e_s=self.e_s.detach())


def embed_views(mappings: ViewMappings, images: torch.Tensor, pids: torch.Tensor, views: torch.Tensor) -> ViewBatch:
    """Map each of the batch's two views with its own mapping (probe view with Ms, gallery with Mt).

    An SP batch covers two views, the lower one being the probe side. A Siamese model embeds the whole
    batch in one pass, so its batch-norm statistics mix both views as a shared-weight network's would;
    separate passes would amount to view-specific normalisation.
    """
    a, b = int(views.min()), int(views.max())
    s, t = views == a, views == b
    if mappings.shared:
        emb = mappings.probe(images)
        return ViewBatch(emb[s], emb[t], pids[s], pids[t], a, b)
    return ViewBatch(mappings.mapping(a)(images[s]), mappings.mapping(b)(images[t]), pids[s], pids[t], a, b)
