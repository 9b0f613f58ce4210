"""The paper's losses, one function per equation, the baselines' domain terms, the few-shot learners'
losses and stage (a)'s identity losses."""

from viewadapt.losses.baselines import adda_mapping_loss, coral, mk_mmd
from viewadapt.losses.fewshot import class_prototypes, matching_loss, model_regression_loss
from viewadapt.losses.identity import batch_hard_triplet_loss, identity_loss
from viewadapt.losses.memory import centroid_loss, momentum_update

from viewadapt.losses.similarity import (
    adaptive_similarity_loss,
    adaptive_weights,
    pair_distances,
    pair_masks,
    similarity_loss,
)
from viewadapt.losses.view import reverse_gradient, view_confusion_loss, view_discriminator_loss

__all__ = [
    "adda_mapping_loss",
    "batch_hard_triplet_loss",
    "centroid_loss",
    "momentum_update",
    "identity_loss",
    "coral",
    "mk_mmd",
    "class_prototypes",
    "matching_loss",
    "model_regression_loss",
    "adaptive_similarity_loss",
    "adaptive_weights",
    "pair_distances",
    "pair_masks",
    "reverse_gradient",
    "similarity_loss",
    "view_confusion_loss",
    "view_discriminator_loss",
]
