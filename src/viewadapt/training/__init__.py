"""Training: the steps of Algorithm 1 as stages, the hooks around their epochs, and the trainer that runs them."""

from viewadapt.training.setup import EpochData, RunSetup, TrainingStore
from viewadapt.training.trainer import Trainer

__all__ = ["EpochData", "RunSetup", "Trainer", "TrainingStore"]
