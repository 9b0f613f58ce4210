"""The paper's losses, one function per equation, the baselines' domain terms and the few-shot learners' losses."""

from viewadapt.losses.baselines import adda_mapping_loss, coral, mk_mmd
from viewadapt.losses.fewshot import class_prototypes, matching_loss, model_regression_loss

from viewadapt.losses.similarity import (
    adaptive_similarity_loss,
    adaptive_weights,
    pair_distances,
    pair_masks,
    similarity_loss,
)
from viewadapt.losses.view import view_confusion_loss, view_discriminator_loss

__all__ = [
    "adda_mapping_loss",
    "coral",
    "mk_mmd",
    "class_prototypes",
    "matching_loss",
    "model_regression_loss",
    "adaptive_similarity_loss",
    "adaptive_weights",
    "pair_distances",
    "pair_masks",
    "similarity_loss",
    "view_confusion_loss",
    "view_discriminator_loss",
]
