"""Embedding extraction: probe-view images through Ms, gallery-view images through Mt."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from viewadapt.data.augment import eval_transform
from viewadapt.data.images import ViewImages
from viewadapt.data.records import ViewRecord
from viewadapt.errors import DataError
from viewadapt.models.statistics import even_batches, recalibrated


class PerViewStatistics(nn.Module):
    """``model``'s view paths, each normalised by batch-norm statistics of its own view's images
    (test-time camera statistics: AdaBN on a shared network, CBN's re-estimation on a ``stats`` one)."""

    def __init__(self, paths: dict[int, nn.Module], embedding_dim: int) -> None:
        super().__init__()
        self.paths = nn.ModuleDict({str(v): p for v, p in paths.items()})
        self.embedding_dim = embedding_dim

    def forward(self, images: torch.Tensor, view: int) -> torch.Tensor:
        return self.paths[str(view)](images)


def per_view_statistics(model: nn.Module, records: Sequence[ViewRecord], height: int, width: int,
                        batch_size: int = 128, device: torch.device | str = "cpu",
                        num_workers: int = 0,
                        decoded: Mapping[str, torch.Tensor] | None = None) -> PerViewStatistics:
    """Each view's path of ``model`` (``model.mapping(v)``) with its batch norms re-estimated from the
    images of ``records`` in that view, no label read (:func:`~viewadapt.models.statistics.recalibrated`).
    ``decoded`` holds images already decoded (:func:`~viewadapt.data.images.decode_images`)."""
    images = ViewImages(records, eval_transform(height, width), decoded)
    paths = {}
    for view in sorted({r.view for r in records}):
        members = [i for i, r in enumerate(records) if r.view == view]
        if len(members) < 2:
            raise DataError(f"eval.camera_statistics: view {view} has {len(members)} image in this split, and "
                            "statistics need at least two; turn it off for this split")
        spans = [[members[i] for i in span] for span in even_batches(len(members), min(batch_size, len(members)))]
        loader = DataLoader(images, batch_sampler=spans, num_workers=num_workers)
        paths[view] = recalibrated(model.mapping(view), (x.to(device) for x, _, _ in loader))
    return PerViewStatistics(paths, model.embedding_dim)


@torch.no_grad()
def extract_embeddings(
    model: nn.Module,
    records: Sequence[ViewRecord],
    height: int,
    width: int,
    batch_size: int = 128,
    device: torch.device | str = "cpu",
    num_workers: int = 0,
    decoded: Mapping[str, torch.Tensor] | None = None,
) -> np.ndarray:
    """Embed each record with ``model(images, view)`` (its view's mapping); returns (N, D) float32 in
    record order. ``model`` has an ``embedding_dim`` (:class:`~viewadapt.models.Embedder`, ViewMappings).
    ``decoded`` holds images already decoded (a training run's cache), read from their files otherwise."""
    was_training = model.training
    model.eval()
    out = np.zeros((len(records), model.embedding_dim), dtype=np.float32)
    # A generator of its own: evaluating never moves the global random state a training run draws from.
    loader = DataLoader(ViewImages(records, eval_transform(height, width), decoded), batch_size=batch_size,
                        num_workers=num_workers, generator=torch.Generator())
    start = 0
    for images, _, views in loader:
        images = images.to(device)
        emb = torch.empty(len(images), out.shape[1], device=device)
        for v in views.unique().tolist():
            sel = (views == v).to(device)
            emb[sel] = model(images[sel], int(v))
        out[start : start + len(images)] = emb.cpu().numpy()
        start += len(images)
    model.train(was_training)
    return out
