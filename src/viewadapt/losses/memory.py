"""The loss that suits clusters (Dai et al. 2021, Cluster Contrast): each identity, labelled or a cluster, is
one centroid in a memory; an embedding's loss is the softmax cross-entropy of its similarities to every
centroid against its own (InfoNCE over centroids), and after each step its identity's centroid moves
towards the batch's embeddings of it by momentum."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def centroid_loss(embeddings: torch.Tensor, labels: torch.Tensor, centroids: torch.Tensor,
                  temperature: float) -> torch.Tensor:
    """``-log softmax(<e, c_k> / temperature)[label]``, averaged over the batch: ``embeddings`` (B, D) and
    ``centroids`` (C, D) unit rows, ``labels`` (B,) centroid indices."""
    return F.cross_entropy(F.normalize(embeddings, dim=1) @ centroids.T / temperature, labels)


@torch.no_grad()
def momentum_update(centroids: torch.Tensor, embeddings: torch.Tensor, labels: torch.Tensor,
                    momentum: float) -> torch.Tensor:
    """Each centroid of the batch's identities moved to ``momentum * c + (1 - momentum) * mean(e)`` of its
    embeddings in the batch, back to unit length; the others unchanged. Returns the new centroids."""
    out = centroids.clone()
    unit = F.normalize(embeddings.detach().float(), dim=1)
    for label in labels.unique():
        mean = unit[labels == label].mean(0)
        out[label] = F.normalize(momentum * centroids[label] + (1 - momentum) * mean, dim=0)
    return out
