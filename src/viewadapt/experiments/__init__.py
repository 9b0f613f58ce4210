"""The paper's comparisons as named, resumable experiments (``viewadapt experiment NAME``)."""

from viewadapt.experiments.registry import EXPERIMENTS, Experiment, Row
from viewadapt.experiments.runner import run_experiment

__all__ = ["EXPERIMENTS", "Experiment", "Row", "run_experiment"]
