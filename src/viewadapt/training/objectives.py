"""Batch-level objectives: the losses of :mod:`viewadapt.losses` applied to an SP batch's two views."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from viewadapt.config import LossConfig
from viewadapt.losses import (
    adda_mapping_loss,
    adaptive_similarity_loss,
    matching_loss,
    mk_mmd,
    model_regression_loss,
    pair_distances,
    pair_masks,
    similarity_loss,
    view_confusion_loss,
    view_discriminator_loss,
)
from viewadapt.models import ModelRegressor, SimilarityDiscriminator, ViewDiscriminator, ViewMappings


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
        return ViewBatch(self.e_s.float(), self.e_t.float(), self.pid_s, self.pid_t, self.view_s, self.view_t)


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


def similarity_objective(batch: ViewBatch, ds: SimilarityDiscriminator, cfg: LossConfig) -> torch.Tensor:
    """Eq. 2 ("Ours") or Eq. 5 ("Ours*") over every (probe, gallery) pair of the batch.

    With ``loss.metric=matching`` it is matching networks' loss instead, the batch being an episode:
    its probe-view images are the queries, its gallery-view images the support set.
    """
    if cfg.metric == "matching":
        return matching_loss(batch.e_s, batch.e_t, batch.pid_s, batch.pid_t, cfg.fewshot_scale)
    logits = ds.pair_logits(batch.e_s, batch.e_t)
    dist = pair_distances(batch.e_s, batch.e_t)
    # Probe and gallery embeddings are different images, so no pair is an image with itself.
    pos, neg = pair_masks(batch.pid_s, batch.pid_t)
    if cfg.adaptive:
        return adaptive_similarity_loss(logits, dist, pos, neg, cfg.margin, cfg.gamma, cfg.detach_weights)
    return similarity_loss(logits, dist, pos, cfg.margin, cfg.gamma)


def regression_objective(batch: ViewBatch, regressor: ModelRegressor, cfg: LossConfig) -> torch.Tensor:
    """Model regression's objective for T on a batch of (frozen) embeddings.

    A small-sample model is the cosine classifier one probe-view image gives (its embedding); the
    large-sample model of its identity is the mean over all the batch's images of that identity, both
    views (an SP batch holds S of them). Wang and Hebert add a performance term on training samples
    (a hinge loss); here it is the matching loss of the gallery-view images against the batch's
    regressed classifiers, the way re-ID then uses them.
    """
    regressed = regressor(batch.e_s)
    embeddings, labels = torch.cat([batch.e_s, batch.e_t]), torch.cat([batch.pid_s, batch.pid_t])
    regression = model_regression_loss(regressed, batch.pid_s, embeddings, labels)
    return regression + matching_loss(batch.e_t, regressed, batch.pid_t, batch.pid_s, cfg.fewshot_scale)


def discriminator_objective(batch: ViewBatch, dd: ViewDiscriminator) -> tuple[torch.Tensor, float]:
    """Eq. 1 on detached embeddings (the mappings stay fixed) and Dd's view accuracy on them."""
    logits = [dd(batch.e_s.detach()), dd(batch.e_t.detach())]
    views = (batch.view_s, batch.view_t)
    with torch.no_grad():
        correct = sum((lg.argmax(1) == v).sum().item() for v, lg in zip(views, logits))
    return view_discriminator_loss(logits, views), correct / (len(batch.e_s) + len(batch.e_t))


def mapping_objective(
    batch: ViewBatch, dd: ViewDiscriminator, ds: SimilarityDiscriminator, cfg: LossConfig
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Stage (c)'s mapping update: domain term + lambda_sim * (Eq. 2 or 5). Returns (total, domain, similarity).

    The domain term is Eq. 3 (``loss.adaptation=confusion``), or a baseline's: DAN's multi-kernel MMD
    between the two views' embeddings, or ADDA's inverted-label loss on the gallery view, with the
    probe embeddings detached so that the probe mapping stays fixed; ``none`` leaves only the
    similarity term (stage (c) as extra similarity training, the budget-matched ablation). Dd's parameters are frozen for
    this objective, so its gradient reaches the mappings only.
    """
    if cfg.adaptation == "adda":
        batch = ViewBatch(batch.e_s.detach(), batch.e_t, batch.pid_s, batch.pid_t, batch.view_s, batch.view_t)
    if cfg.adaptation == "mmd":
        domain = mk_mmd(batch.e_s, batch.e_t)
    elif cfg.adaptation == "none":
        domain = torch.zeros((), device=batch.e_s.device)
    else:
        flags = [p.requires_grad for p in dd.parameters()]
        for p in dd.parameters():
            p.requires_grad_(False)
        try:
            if cfg.adaptation == "adda":
                domain = adda_mapping_loss(dd(batch.e_t), batch.view_s)
            else:
                domain = view_confusion_loss([dd(batch.e_s), dd(batch.e_t)])
        finally:
            for p, flag in zip(dd.parameters(), flags):
                p.requires_grad_(flag)
    if cfg.lambda_sim > 0:
        sim = similarity_objective(batch, ds, cfg)
        return domain + cfg.lambda_sim * sim, domain, sim
    return domain, domain, torch.zeros((), device=domain.device)
