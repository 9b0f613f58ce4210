"""Stage (b)'s matchers: how the mappings learn to match a probe-view image to gallery-view images.

Each matcher is an ``nn.Module`` that owns the parameters its loss needs (Ds, the regressor T) and is
registered under the name ``loss.metric`` takes. A trainer asks it for the loss of an SP batch; a
trained run asks it what it adds to a view's embedding path (:meth:`Matcher.view_heads`) and whether
it scores pairs (Ds's same-person probability, used by ``match`` and ``eval.rerank=ds``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from torch import nn

from viewadapt.losses import (
    adaptive_similarity_loss,
    matching_loss,
    model_regression_loss,
    pair_distances,
    pair_masks,
    similarity_loss,
)
from viewadapt.models import ModelRegressor, SimilarityDiscriminator
from viewadapt.objectives.batch import ViewBatch
from viewadapt.registry import Registry


@dataclass(frozen=True)
class MatcherOptions:
    """What the matchers are built from (the config's loss.* and model.ds_hidden / regressor_hidden)."""

    ds_hidden: Sequence[int] = (1024, 2048)  # Ds's layers
    margin: float = 2.0  # Eq. 2 / 5's contrastive margin
    gamma: float = 2.5  # the contrastive term's weight
    adaptive: bool = True  # Eq. 5/6 rather than Eq. 2
    detach_weights: bool = False  # Eq. 6's weights as constants
    scale: float = 10.0  # the few-shot learners' cosine scale
    regressor_hidden: Sequence[int] = (512,)  # model regression's T


class Matcher(nn.Module):
    """Base of stage (b)'s objectives; subclasses implement :meth:`loss`."""

    #: False for a matcher that learns on frozen embeddings (the mappings keep their stage (a) weights):
    #: it trains in stage (b) alone, since stage (c) moves the mappings.
    trains_mappings: bool = True
    #: True for a matcher whose :meth:`pair_scorer` gives a same-person logit for a pair of embeddings.
    scores_pairs: bool = False
    #: True for a matcher of one network's embeddings (every view through the same weights).
    needs_one_network: bool = False

    @classmethod
    def create(cls, embedding_dim: int, options: MatcherOptions) -> "Matcher":
        """The matcher for embeddings of ``embedding_dim`` (the mappings' output)."""
        return cls()

    def loss(self, batch: ViewBatch) -> torch.Tensor:
        raise NotImplementedError

    def view_heads(self) -> dict[int, nn.Module]:
        """Modules that follow a view's mapping when embeddings are matched, by view."""
        return {}

    def pair_scorer(self) -> nn.Module | None:
        """A module ``(e_s, e_t) -> same-person logits`` for aligned pairs, or None."""
        return None


MATCHERS: Registry[type[Matcher]] = Registry("matcher")


@MATCHERS.register("ds")
class SimilarityMatcher(Matcher):
    """The method: Eq. 2 ("Ours") or Eq. 5/6 ("Ours*") over every (probe, gallery) pair of the batch,
    with the similarity discriminator Ds it owns."""

    scores_pairs = True

    def __init__(self, embedding_dim: int, hidden: Sequence[int] = (1024, 2048), margin: float = 2.0,
                 gamma: float = 2.5, adaptive: bool = True, detach_weights: bool = False) -> None:
        super().__init__()
        self.ds = SimilarityDiscriminator(embedding_dim, hidden)
        self.margin, self.gamma, self.adaptive, self.detach_weights = margin, gamma, adaptive, detach_weights

    @classmethod
    def create(cls, embedding_dim: int, options: MatcherOptions) -> "SimilarityMatcher":
        o = options
        return cls(embedding_dim, o.ds_hidden, o.margin, o.gamma, o.adaptive, o.detach_weights)

    def loss(self, batch: ViewBatch) -> torch.Tensor:
        logits = self.ds.pair_logits(batch.e_s, batch.e_t)
        dist = pair_distances(batch.e_s, batch.e_t)
        # Probe and gallery embeddings are different images, so no pair is an image with itself.
        pos, neg = pair_masks(batch.pid_s, batch.pid_t)
        if self.adaptive:
            return adaptive_similarity_loss(logits, dist, pos, neg, self.margin, self.gamma, self.detach_weights)
        return similarity_loss(logits, dist, pos, self.margin, self.gamma)

    def pair_scorer(self) -> nn.Module:
        return self.ds


@MATCHERS.register("matching")
class MatchingNetworks(Matcher):
    """Matching networks' episode loss (Fig. 6 baseline): the batch's probe-view images are the queries,
    its gallery-view images the support set."""

    def __init__(self, scale: float = 10.0) -> None:
        super().__init__()
        self.scale = scale

    @classmethod
    def create(cls, embedding_dim: int, options: MatcherOptions) -> "MatchingNetworks":
        return cls(options.scale)

    def loss(self, batch: ViewBatch) -> torch.Tensor:
        return matching_loss(batch.e_s, batch.e_t, batch.pid_s, batch.pid_t, self.scale)


@MATCHERS.register("regression")
class ModelRegression(Matcher):
    """Model regression (Fig. 6 baseline): a regressor T, trained on the frozen stage (a) network's
    embeddings, maps a probe's one-shot classifier to the classifier all its images would give.

    A small-sample model is the cosine classifier one probe-view image gives (its embedding); the
    large-sample model of its identity is the mean over all the batch's images of that identity, both
    views (an SP batch holds S of them). Wang and Hebert add a performance term on training samples
    (a hinge loss); here it is the matching loss of the gallery-view images against the batch's
    regressed classifiers, the way re-ID then uses them. Probes are matched by T of their embedding.
    """

    trains_mappings = False
    needs_one_network = True  # it regresses one network's classifiers

    def __init__(self, embedding_dim: int, hidden: Sequence[int] = (512,), scale: float = 10.0) -> None:
        super().__init__()
        self.regressor = ModelRegressor(embedding_dim, hidden)
        self.scale = scale

    @classmethod
    def create(cls, embedding_dim: int, options: MatcherOptions) -> "ModelRegression":
        return cls(embedding_dim, options.regressor_hidden, options.scale)

    def loss(self, batch: ViewBatch) -> torch.Tensor:
        regressed = self.regressor(batch.e_s)
        embeddings, labels = torch.cat([batch.e_s, batch.e_t]), torch.cat([batch.pid_s, batch.pid_t])
        regression = model_regression_loss(regressed, batch.pid_s, embeddings, labels)
        return regression + matching_loss(batch.e_t, regressed, batch.pid_t, batch.pid_s, self.scale)

    def view_heads(self) -> dict[int, nn.Module]:
        return {0: self.regressor}
