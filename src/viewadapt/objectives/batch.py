"""An SP batch's two views as embeddings: what every stage (b) and (c) objective is computed on."""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from viewadapt.models import ViewMappings


@dataclass
class ViewBatch:
    """Embeddings of a batch's two views: ``view_s`` (probe side, e.g. through Ms) and ``view_t``; with
    ``f_s`` and ``f_t`` each view's feature before the neck's batch norm (the pooled backbone feature
    with a BNNeck), where a view discriminator may look instead."""

    e_s: torch.Tensor
    e_t: torch.Tensor
    pid_s: torch.Tensor
    pid_t: torch.Tensor
    view_s: int = 0
    view_t: int = 1
    f_s: torch.Tensor | None = None
    f_t: torch.Tensor | None = None

    def features(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self.f_s is None or self.f_t is None:
            raise ValueError("this batch was embedded without the features before the neck's batch norm")
        return self.f_s, self.f_t

    def float(self) -> "ViewBatch":
        """Embeddings in float32: the losses are computed at full precision under mixed precision too."""
        return replace(self, e_s=self.e_s.float(), e_t=self.e_t.float(),
                       f_s=None if self.f_s is None else self.f_s.float(),
                       f_t=None if self.f_t is None else self.f_t.float())

    def labeled(self) -> "ViewBatch":
        """The batch without its unlabelled images (label -1: ``data.labeled_pairs``), which only a
        view term may see."""
        s, t = self.pid_s >= 0, self.pid_t >= 0
        if bool(s.all()) and bool(t.all()):
            return self
        return replace(self, e_s=self.e_s[s], e_t=self.e_t[t], pid_s=self.pid_s[s], pid_t=self.pid_t[t],
                       f_s=None if self.f_s is None else self.f_s[s], f_t=None if self.f_t is None else self.f_t[t])

    def fixed_probe_side(self) -> "ViewBatch":
        """The same batch with the probe side as constants: no gradient reaches its mapping."""
        return replace(self, e_s=self.e_s.detach(), f_s=None if self.f_s is None else self.f_s.detach())


def embed_views(mappings: ViewMappings, images: torch.Tensor, pids: torch.Tensor, views: torch.Tensor) -> ViewBatch:
    """Map each of the batch's two views with its own mapping (probe view with Ms, gallery with Mt).

    An SP batch covers two views, the lower one being the probe side. A Siamese model embeds the whole
    batch in one pass, so its batch-norm statistics mix both views as a shared-weight network's would;
    separate passes would amount to view-specific normalisation.
    """
    a, b = int(views.min()), int(views.max())
    s, t = views == a, views == b
    if mappings.shared:
        feat, emb = mappings.probe.forward_train(images)
        return ViewBatch(emb[s], emb[t], pids[s], pids[t], a, b, feat[s], feat[t])
    (f_s, e_s), (f_t, e_t) = mappings.mapping(a).forward_train(images[s]), mappings.mapping(b).forward_train(images[t])
    return ViewBatch(e_s, e_t, pids[s], pids[t], a, b, f_s, f_t)
