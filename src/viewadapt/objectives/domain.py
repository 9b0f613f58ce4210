"""Stage (c)'s domain terms: what the mappings minimise so that the views' embeddings look alike.

Each term is an ``nn.Module`` registered under the name ``loss.adaptation`` takes. An adversarial term
owns its view discriminator Dd and everything that trains it: its optimiser, its steps per mapping step
and its warm-up (Eq. 1, :meth:`DomainTerm.train_discriminator`); the mappings' loss then treats Dd's
weights as constants, so no gradient of theirs reaches Dd. Stage (c) only calls these.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

import torch
from torch import nn
from torch.func import functional_call

from viewadapt.losses import (
    adda_mapping_loss,
    coral,
    mk_mmd,
    reverse_gradient,
    view_confusion_loss,
    view_discriminator_loss,
)
from viewadapt.models import ViewDiscriminator
from viewadapt.objectives.batch import ViewBatch
from viewadapt.objectives.matchers import Matcher
from viewadapt.registry import Registry

# What a view discriminator looks at: the embedding the matcher scores, or the feature before the neck's
# batch norm (the pooled backbone feature with a BNNeck), where the per-view normalisation of the
# embedding cannot hide a difference between the views from it.
DD_INPUTS = ("embedding", "feature")
# An optimiser step of a loss, as the stage takes it (its loss scaling and gradient averaging included)
Step = Callable[[torch.Tensor], None]


@dataclass(frozen=True)
class DiscriminatorOptions:
    """A term's view discriminator Dd: its hidden width, what it looks at (:data:`DD_INPUTS`), and, for
    one trained in alternation, its learning rate, its steps per mapping step and its warm-up steps."""

    hidden: int = 256
    on: str = "embedding"
    lr: float = 1e-3
    steps: int = 1
    warmup: int = 0


class DomainTerm(nn.Module):
    """Base of stage (c)'s domain terms; subclasses implement :meth:`mapping_loss`."""

    #: the name the term's value is logged under (None: nothing to log)
    stat: str | None = None
    #: True for a term with a discriminator that :meth:`discriminator_loss` trains
    adversarial: bool = False
    #: False for a term that never compares the views: it is given no unlabelled images, which would
    #: otherwise still move the batch-norm statistics (an adaptation of its own)
    compares_views: bool = True
    #: steps of the term's discriminator alone before stage (c) proper (0: none)
    warmup_steps: int = 0

    @classmethod
    def create(cls, embedding_dim: int, num_views: int, dd: DiscriminatorOptions) -> "DomainTerm":
        """The term for ``num_views`` views' embeddings of ``embedding_dim`` (the mappings' output),
        with a view discriminator as ``dd`` says where it has one."""
        return cls()

    def discriminator_optimizer(self) -> torch.optim.Optimizer | None:
        """The optimiser of weights that train apart from the mappings (an adversary), or None: any
        weights of the term then learn in the mappings' own update."""
        return None

    def train_discriminator(self, batch: ViewBatch, step: Step) -> dict[str, torch.Tensor | float]:
        """Train the term's own discriminator on ``batch``, the mappings fixed, each loss handed to
        ``step``; what to log. Nothing for a term without one."""
        return {}

    def warm_up(self, batches: Iterable[ViewBatch], step: Step) -> dict[str, float]:
        """:attr:`warmup_steps` steps of the discriminator alone, one per batch of ``batches``; what to log."""
        return {}

    def mapping_batch(self, batch: ViewBatch) -> ViewBatch:
        """The batch the mappings' update sees (a term may hold one view's mapping fixed)."""
        return batch

    def mapping_loss(self, batch: ViewBatch) -> torch.Tensor:
        raise NotImplementedError


DOMAIN_TERMS: Registry[type[DomainTerm]] = Registry("domain term")


class ViewDiscriminatorTerm(DomainTerm):
    """A domain term with a view discriminator Dd of its own: two FC layers, one logit per view, on the
    embeddings or (``on="feature"``) on the features before the neck's batch norm, which have the same
    width."""

    def __init__(self, embedding_dim: int, num_views: int = 2, hidden: int = 256, on: str = "embedding") -> None:
        super().__init__()
        if on not in DD_INPUTS:
            raise ValueError(f"unknown view discriminator input '{on}': choose one of {', '.join(DD_INPUTS)}")
        self.dd = ViewDiscriminator(embedding_dim, hidden, num_views)
        self.on = on

    @classmethod
    def create(cls, embedding_dim: int, num_views: int, dd: DiscriminatorOptions) -> "ViewDiscriminatorTerm":
        return cls(embedding_dim, num_views, dd.hidden, dd.on)

    def inputs(self, batch: ViewBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """What Dd sees of the two views."""
        return (batch.e_s, batch.e_t) if self.on == "embedding" else batch.features()


class AdversarialTerm(ViewDiscriminatorTerm):
    """A term whose Dd trains in alternation with the mappings: its own Adam at ``lr`` (beta1 0.5, as
    GANs' discriminators), ``steps`` Dd steps per mapping step, after ``warmup`` steps of Dd alone."""

    adversarial = True

    def __init__(self, embedding_dim: int, num_views: int = 2, hidden: int = 256, on: str = "embedding",
                 lr: float = 1e-3, steps: int = 1, warmup: int = 0) -> None:
        super().__init__(embedding_dim, num_views, hidden, on)
        self.lr, self.steps, self.warmup_steps = lr, steps, warmup

    @classmethod
    def create(cls, embedding_dim: int, num_views: int, dd: DiscriminatorOptions) -> "AdversarialTerm":
        return cls(embedding_dim, num_views, dd.hidden, dd.on, dd.lr, dd.steps, dd.warmup)

    def discriminator_optimizer(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.lr, betas=(0.5, 0.999))

    def train_discriminator(self, batch: ViewBatch, step: Step) -> dict[str, torch.Tensor | float]:
        for _ in range(self.steps):
            loss, acc = self.discriminator_loss(batch)
            step(loss)
        return {"dd_loss": loss, "dd_acc": acc}

    def warm_up(self, batches: Iterable[ViewBatch], step: Step) -> dict[str, float]:
        """Dd learns the views alone, so that the game starts against a discriminator that tells them
        apart rather than one at chance, which the mappings fool at once. Dd's mean loss and accuracy
        over the last tenth of the steps."""
        losses, accs = [], []
        logged_from = self.warmup_steps - max(1, self.warmup_steps // 10)
        for i, batch in enumerate(batches):
            loss, acc = self.discriminator_loss(batch)
            step(loss)
            if i >= logged_from:
                losses.append(loss.item())
                accs.append(acc)
        n = max(len(losses), 1)
        return {"dd_warmup_loss": sum(losses) / n, "dd_warmup_acc": sum(accs) / n}

    def discriminator_loss(self, batch: ViewBatch) -> tuple[torch.Tensor, float]:
        """Eq. 1 on detached embeddings (the mappings stay fixed) and Dd's view accuracy on them."""
        logits = [self.dd(x.detach()) for x in self.inputs(batch)]
        views = (batch.view_s, batch.view_t)
        with torch.no_grad():
            correct = sum((lg.argmax(1) == v).sum().item() for v, lg in zip(views, logits))
        return view_discriminator_loss(logits, views), correct / (len(batch.e_s) + len(batch.e_t))

    def frozen_dd(self, embeddings: torch.Tensor) -> torch.Tensor:
        """Dd's logits with its weights as constants: the gradient reaches the embeddings only."""
        weights = {name: p.detach() for name, p in self.dd.named_parameters()}
        return functional_call(self.dd, weights, (embeddings,))


@DOMAIN_TERMS.register("confusion")
class ViewConfusion(AdversarialTerm):
    """The method's Eq. 3: cross-entropy of Dd's output against the uniform distribution over views."""

    stat = "confusion"

    def mapping_loss(self, batch: ViewBatch) -> torch.Tensor:
        return view_confusion_loss([self.frozen_dd(x) for x in self.inputs(batch)])


@DOMAIN_TERMS.register("dann")
class GradientReversal(ViewDiscriminatorTerm):
    """DANN's gradient reversal instead of alternating updates: Dd learns the views (Eq. 1) in the
    mappings' own update, through a layer that hands the mappings the opposite gradient, so one step
    moves Dd towards telling the views apart and the mappings towards making it fail. Dd's weights
    train with the mappings' optimiser, at stage (c)'s learning rate."""

    stat = "dann"

    def mapping_loss(self, batch: ViewBatch) -> torch.Tensor:
        logits = [self.dd(reverse_gradient(x)) for x in self.inputs(batch)]
        return view_discriminator_loss(logits, (batch.view_s, batch.view_t))


@DOMAIN_TERMS.register("mmd")
class MMD(DomainTerm):
    """DAN's multi-kernel MMD between the two views' embeddings (Table VII baseline)."""

    stat = "mmd"

    def mapping_loss(self, batch: ViewBatch) -> torch.Tensor:
        return mk_mmd(batch.e_s, batch.e_t)


@DOMAIN_TERMS.register("adda")
class ADDA(AdversarialTerm):
    """ADDA's inverted labels (Table VII baseline): the gallery mapping learns to make Dd call its
    embeddings probe-view ones, the probe mapping stays fixed."""

    stat = "adda"

    def mapping_batch(self, batch: ViewBatch) -> ViewBatch:
        return batch.fixed_probe_side()

    def mapping_loss(self, batch: ViewBatch) -> torch.Tensor:
        return adda_mapping_loss(self.frozen_dd(self.inputs(batch)[1]), batch.view_s)


@DOMAIN_TERMS.register("coral")
class CORAL(DomainTerm):
    """Deep CORAL: the two views' embedding covariances are made equal."""

    stat = "coral"

    def mapping_loss(self, batch: ViewBatch) -> torch.Tensor:
        return coral(batch.e_s, batch.e_t)


@DOMAIN_TERMS.register("none")
class NoAdaptation(DomainTerm):
    """No domain term: stage (c) as more similarity training, the ablation with the method's budget."""

    compares_views = False

    def mapping_loss(self, batch: ViewBatch) -> torch.Tensor:
        return torch.zeros((), device=batch.e_s.device)


def adaptation_objective(batch: ViewBatch, domain: DomainTerm, matcher: Matcher,
                         lambda_sim: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Stage (c)'s mapping update: domain term + lambda_sim * the matcher's loss (Eq. 2 or 5).

    Returns (total, domain term, matcher loss). ``lambda_sim = 0`` is the literal Algorithm 1; the
    matcher's term keeps the mappings discriminative (our reading of Sec. III-C and III-D). Unlabelled images in the
    batch (``data.labeled_pairs``) count in the domain term only.
    """
    batch = domain.mapping_batch(batch)
    term = domain.mapping_loss(batch)
    if lambda_sim > 0:
        sim = matcher.loss(batch.labeled())
        return term + lambda_sim * sim, term, sim
    return term, term, torch.zeros((), device=term.device)
