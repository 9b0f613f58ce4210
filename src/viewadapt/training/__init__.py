"""Training: the steps of Algorithm 1 as stages, the hooks around their epochs, and the trainer that runs them."""

from viewadapt.training.trainer import RunSettings, Trainer

__all__ = ["RunSettings", "Trainer"]
