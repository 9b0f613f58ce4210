"""The paper's losses, one function per equation."""

from viewadapt.losses.similarity import (
    adaptive_similarity_loss,
    adaptive_weights,
    pair_distances,
    pair_masks,
    similarity_loss,
)
from viewadapt.losses.view import view_confusion_loss, view_discriminator_loss

__all__ = [
    "adaptive_similarity_loss",
    "adaptive_weights",
    "pair_distances",
    "pair_masks",
    "similarity_loss",
    "view_confusion_loss",
    "view_discriminator_loss",
]
