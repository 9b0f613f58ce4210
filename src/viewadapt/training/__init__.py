"""Training: batch objectives, one epoch per stage, and the staged trainer of Algorithm 1."""

from viewadapt.training.trainer import Trainer, build_models, load_trained

__all__ = ["Trainer", "build_models", "load_trained"]
