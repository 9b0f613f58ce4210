"""Turning probe and gallery embeddings into CMC and mAP."""

from viewadapt.evaluation.protocols import PROTOCOLS, evaluate_views
from viewadapt.evaluation.rank import evaluate_rank

__all__ = ["PROTOCOLS", "evaluate_rank", "evaluate_views"]
