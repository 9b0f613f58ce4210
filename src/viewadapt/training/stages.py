"""One training epoch of each stage of Algorithm 1, as functions of modules, optimisers and batches."""

from __future__ import annotations

from typing import Iterable

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from viewadapt.config import LossConfig
from viewadapt.models import SimilarityDiscriminator, ViewDiscriminator, ViewMappings
from viewadapt.training.objectives import (
    discriminator_objective,
    embed_views,
    mapping_objective,
    regression_objective,
    similarity_objective,
)
from viewadapt.training.step import Stepper

Batches = Iterable[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]


class ClassifierHead(nn.Module):
    """Stage (a)'s K-way identity classifier, dropped after the stage.

    Batch norm before the linear layer (the "BNNeck" of strong re-ID baselines) lets the softmax shape
    the normalised feature while the embedding itself stays free for Euclidean matching.
    """

    def __init__(self, embedding_dim: int, num_classes: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm1d(embedding_dim)
        self.bn.bias.requires_grad_(False)
        self.fc = nn.Linear(embedding_dim, num_classes, bias=False)

    def forward(self, emb: torch.Tensor) -> torch.Tensor:
        return self.fc(self.bn(emb))


def _progress(batches: Batches, desc: str) -> Batches:
    return tqdm(batches, desc=desc, leave=False, disable=None, dynamic_ncols=True)


def init_epoch(
    mappings: ViewMappings, heads: nn.ModuleList, optimizer: torch.optim.Optimizer, batches: Batches,
    device: torch.device, desc: str = "init", stepper: Stepper | None = None,
) -> dict:
    """Stage (a): softmax identity loss for each distinct network (Ms and Mt, or the shared one).

    ``first_loss`` is the loss of the epoch's first batch, before any update of the epoch.
    """
    stepper = stepper or Stepper(device=device)
    mappings.train()
    heads.train()
    total, correct, seen, first = 0.0, 0, 0, None
    for images, labels, _ in _progress(batches, desc):
        images, labels = images.to(device), labels.to(device)
        loss = torch.zeros((), device=device)
        with stepper.autocast():
            for net, head in zip(mappings.views(), heads):
                logits = head(net(images))
                loss = loss + F.cross_entropy(logits.float(), labels)
                correct += (logits.argmax(1) == labels).sum().item()
        stepper.step(loss, optimizer)
        stepper.end_iteration()
        first = loss.item() if first is None else first
        total += loss.item() * len(images)
        seen += len(images)
    n_nets = len(heads)
    return {"loss": total / max(seen, 1), "train_acc": correct / max(seen * n_nets, 1), "first_loss": first or 0.0}


def similarity_epoch(
    mappings: ViewMappings, ds: SimilarityDiscriminator, optimizer: torch.optim.Optimizer, batches: Batches,
    loss_cfg: LossConfig, device: torch.device, desc: str = "similarity", stepper: Stepper | None = None,
) -> dict:
    """Stage (b): Ms, Mt and Ds minimise Eq. 2 (or Eq. 5) on SP batches."""
    stepper = stepper or Stepper(device=device)
    mappings.train()
    ds.train()
    total, n, first = 0.0, 0, None
    for images, labels, views in _progress(batches, desc):
        with stepper.autocast():
            batch = embed_views(mappings, images.to(device), labels.to(device), views.to(device))
        loss = similarity_objective(batch.float(), ds, loss_cfg)
        stepper.step(loss, optimizer)
        stepper.end_iteration()
        first = loss.item() if first is None else first
        total, n = total + loss.item(), n + 1
    return {"loss": total / max(n, 1), "first_loss": first or 0.0}


def regression_epoch(
    mappings: ViewMappings, optimizer: torch.optim.Optimizer, batches: Batches, loss_cfg: LossConfig,
    device: torch.device, desc: str = "regression", stepper: Stepper | None = None,
) -> dict:
    """Stage (b) of the model-regression baseline: only the regressor T learns; the stage (a) network
    stays frozen, batch-norm statistics included (it runs in eval mode)."""
    stepper = stepper or Stepper(device=device)
    mappings.eval()
    mappings.regressor.train()
    total, n, first = 0.0, 0, None
    for images, labels, views in _progress(batches, desc):
        with torch.no_grad(), stepper.autocast():
            batch = embed_views(mappings, images.to(device), labels.to(device), views.to(device))
        loss = regression_objective(batch.float(), mappings.regressor, loss_cfg)
        stepper.step(loss, optimizer)
        stepper.end_iteration()
        first = loss.item() if first is None else first
        total, n = total + loss.item(), n + 1
    return {"loss": total / max(n, 1), "first_loss": first or 0.0}


def adaptation_epoch(
    mappings: ViewMappings, ds: SimilarityDiscriminator, dd: ViewDiscriminator,
    map_optimizer: torch.optim.Optimizer, dd_optimizer: torch.optim.Optimizer, batches: Batches,
    loss_cfg: LossConfig, device: torch.device, dd_steps: int = 1, desc: str = "adaptation",
    stepper: Stepper | None = None,
) -> dict:
    """Stage (c), per batch: Dd minimises Eq. 1 with the mappings fixed, then Ms and Mt minimise
    Eq. 3 (+ lambda_sim * Eq. 2/5, with Ds) against the updated, frozen Dd."""
    stepper = stepper or Stepper(device=device)
    mappings.train()
    ds.train()
    dd.train()
    sums = {"loss": 0.0, "dd_loss": 0.0, "dd_acc": 0.0, "confusion": 0.0, "similarity": 0.0}
    n, first = 0, None
    for images, labels, views in _progress(batches, desc):
        with stepper.autocast():
            batch = embed_views(mappings, images.to(device), labels.to(device), views.to(device)).float()
        for _ in range(dd_steps):
            dd_loss, dd_acc = discriminator_objective(batch, dd)
            stepper.step(dd_loss, dd_optimizer)
        loss, confusion, sim = mapping_objective(batch, dd, ds, loss_cfg)
        stepper.step(loss, map_optimizer)
        stepper.end_iteration()
        first = loss.item() if first is None else first
        for key, value in (("loss", loss), ("dd_loss", dd_loss), ("dd_acc", dd_acc),
                           ("confusion", confusion), ("similarity", sim)):
            sums[key] += value.item() if torch.is_tensor(value) else value
        n += 1
    return {**{k: v / max(n, 1) for k, v in sums.items()}, "first_loss": first or 0.0}


@torch.no_grad()
def validation_loss(
    stage: str, mappings: ViewMappings, ds: SimilarityDiscriminator, dd: ViewDiscriminator,
    batches: Batches, loss_cfg: LossConfig, device: torch.device,
) -> float:
    """The stage's own objective on C_valid (the paper stops when it no longer decreases)."""
    mappings.eval()
    ds.eval()
    dd.eval()
    total, n = 0.0, 0
    for images, labels, views in batches:
        batch = embed_views(mappings, images.to(device), labels.to(device), views.to(device))
        if stage == "adaptation":
            total += mapping_objective(batch, dd, ds, loss_cfg)[0].item()
        elif loss_cfg.metric == "regression":
            total += regression_objective(batch, mappings.regressor, loss_cfg).item()
        else:
            total += similarity_objective(batch, ds, loss_cfg).item()
        n += 1
    return total / max(n, 1)
