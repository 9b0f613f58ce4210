"""Embedding extraction: probe-view images through Ms, gallery-view images through Mt."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from viewadapt.data.augment import eval_transform
from viewadapt.data.images import ViewImages
from viewadapt.data.records import ViewRecord


@torch.no_grad()
def extract_embeddings(
    model: nn.Module,
    records: Sequence[ViewRecord],
    height: int,
    width: int,
    batch_size: int = 128,
    device: torch.device | str = "cpu",
    num_workers: int = 0,
) -> np.ndarray:
    """Embed each record with ``model(images, view)`` (its view's mapping); returns (N, D) float32 in
    record order. ``model`` has an ``embedding_dim`` (:class:`~viewadapt.models.Embedder`, ViewMappings)."""
    was_training = model.training
    model.eval()
    out = np.zeros((len(records), model.embedding_dim), dtype=np.float32)
    # A generator of its own: evaluating never moves the global random state a training run draws from.
    loader = DataLoader(ViewImages(records, eval_transform(height, width)), batch_size=batch_size,
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
