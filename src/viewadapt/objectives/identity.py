"""Stage (a)'s objective: every distinct network learns the training identities with a classifier of its
own, by softmax (with label smoothing) and, optionally, the batch-hard triplet loss."""

from __future__ import annotations

import torch
from torch import nn

from viewadapt.losses import batch_hard_triplet_loss, identity_loss


class ClassifierHead(nn.Module):
    """A K-way identity classifier, dropped after stage (a).

    Without a batch norm of its own (``bn=False``) it classifies an embedding that already is batch
    normalised (a mapping with a BNNeck); otherwise its batch norm is the BNNeck: the softmax shapes
    the normalised feature while the embedding itself stays free for Euclidean matching.
    """

    def __init__(self, embedding_dim: int, num_classes: int, bn: bool = True) -> None:
        super().__init__()
        self.bn = nn.BatchNorm1d(embedding_dim) if bn else None
        if self.bn is not None:
            self.bn.bias.requires_grad_(False)
        self.fc = nn.Linear(embedding_dim, num_classes, bias=False)

    def forward(self, emb: torch.Tensor) -> torch.Tensor:
        return self.fc(emb if self.bn is None else self.bn(emb))


class IdentityObjective(nn.Module):
    """:class:`ClassifierHead` s (``heads``) and :meth:`loss` of one network's outputs: one head per
    network, or with ``shared_head`` one head for all of them, so that Ms and Mt learn one space of
    class prototypes instead of two unrelated ones (an aligned start for stage (b)).

    The triplet term (weight ``triplet``) acts on the feature before the mapping's batch norm, the
    softmax on the embedding (Luo et al.'s BNNeck arrangement); it needs batches with several images
    of each identity.
    """

    def __init__(self, num_networks: int, embedding_dim: int, num_classes: int, head_bn: bool = True,
                 label_smoothing: float = 0.0, triplet: float = 0.0, margin: float = 0.3,
                 shared_head: bool = False) -> None:
        super().__init__()
        count = 1 if shared_head else num_networks
        self.heads = nn.ModuleList(ClassifierHead(embedding_dim, num_classes, head_bn) for _ in range(count))
        self.label_smoothing, self.triplet, self.margin = label_smoothing, triplet, margin

    def loss(self, network: int, features: torch.Tensor, embeddings: torch.Tensor,
             labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(loss, logits) of network ``network``'s outputs on a batch."""
        logits = self.heads[min(network, len(self.heads) - 1)](embeddings)
        loss = identity_loss(logits.float(), labels, self.label_smoothing)
        if self.triplet > 0:
            loss = loss + self.triplet * batch_hard_triplet_loss(features.float(), labels, self.margin)
        return loss, logits
