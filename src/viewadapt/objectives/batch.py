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
        """What a matcher compares: the batch without its unlabelled images (label -1:
        ``data.labeled_pairs``), which only a view term may see. A batch with no labelled gallery-side
        image (a gallery camera without labels) is matched within its probe side: each identity's first
        half of images there against the rest (:func:`first_halves`)."""
        known_s, known_t = self.pid_s >= 0, self.pid_t >= 0  # labelled images of each side
        if bool(known_s.all()) and bool(known_t.all()) and len(self.pid_t):
            return self
        if not bool(known_t.any()):
            emb, pid = self.e_s[known_s], self.pid_s[known_s]
            feat = None if self.f_s is None else self.f_s[known_s]
            first = first_halves(pid)
            return ViewBatch(emb[first], emb[~first], pid[first], pid[~first], self.view_s, self.view_s,
                             None if feat is None else feat[first], None if feat is None else feat[~first])
        return replace(self, e_s=self.e_s[known_s], e_t=self.e_t[known_t], pid_s=self.pid_s[known_s],
                       pid_t=self.pid_t[known_t], f_s=None if self.f_s is None else self.f_s[known_s],
                       f_t=None if self.f_t is None else self.f_t[known_t])

    def fixed_probe_side(self) -> "ViewBatch":
        """The same batch with the probe side as constants: no gradient reaches its mapping."""
        return replace(self, e_s=self.e_s.detach(), f_s=None if self.f_s is None else self.f_s.detach())


def first_halves(pids: torch.Tensor) -> torch.Tensor:
    """Which of a batch's images are in the first half of their identity's images, in batch order (an
    identity with k images has ceil(k / 2) in its first half)."""
    first = torch.zeros(len(pids), dtype=torch.bool, device=pids.device)
    for pid in pids.unique():
        at = (pids == pid).nonzero().flatten()
        first[at[: (len(at) + 1) // 2]] = True
    return first


def embed_views(mappings: ViewMappings, images: torch.Tensor, pids: torch.Tensor, views: torch.Tensor) -> ViewBatch:
    """Map each of the batch's two views with its own mapping (probe view with Ms, gallery with Mt).

    An SP batch covers two views, the lower one being the probe side. A Siamese model embeds the whole
    batch in one pass, so its batch-norm statistics mix both views as a shared-weight network's would;
    separate passes would amount to view-specific normalisation. A batch of one view (a gallery camera
    without labels) is embedded in one pass as the probe side, its gallery side empty.
    """
    a, b = int(views.min()), int(views.max())
    in_a, in_b = views == a, views == b  # the probe side's images, the gallery side's
    if mappings.shared or a == b:
        feat, emb = mappings.mapping(a).forward_train(images)
        if a == b:
            in_b = torch.zeros_like(in_a)
        return ViewBatch(emb[in_a], emb[in_b], pids[in_a], pids[in_b], a, b, feat[in_a], feat[in_b])
    (f_s, e_s) = mappings.mapping(a).forward_train(images[in_a])
    (f_t, e_t) = mappings.mapping(b).forward_train(images[in_b])
    return ViewBatch(e_s, e_t, pids[in_a], pids[in_b], a, b, f_s, f_t)
