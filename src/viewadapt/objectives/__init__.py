"""The method's objectives as modules that own their parameters: stage (b) matchers (``loss.metric``)
and stage (c) domain terms (``loss.adaptation``), each in a registry by name; and the method's parts
together (:class:`Method`)."""

from viewadapt.objectives.batch import ViewBatch, embed_views
from viewadapt.objectives.domain import (
    ADDA,
    DD_INPUTS,
    DOMAIN_TERMS,
    MMD,
    AdversarialTerm,
    DiscriminatorOptions,
    DomainTerm,
    NoAdaptation,
    ViewConfusion,
    adaptation_objective,
)
from viewadapt.objectives.matchers import (
    MATCHERS,
    Matcher,
    MatcherOptions,
    MatchingNetworks,
    ModelRegression,
    SimilarityMatcher,
)
from viewadapt.objectives.method import Method

__all__ = [
    "ADDA",
    "DD_INPUTS",
    "DOMAIN_TERMS",
    "MATCHERS",
    "MMD",
    "AdversarialTerm",
    "DiscriminatorOptions",
    "DomainTerm",
    "Matcher",
    "MatcherOptions",
    "Method",
    "MatchingNetworks",
    "ModelRegression",
    "NoAdaptation",
    "SimilarityMatcher",
    "ViewBatch",
    "ViewConfusion",
    "adaptation_objective",
    "embed_views",
]
