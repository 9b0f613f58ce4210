"""The paper's comparisons as named, resumable experiments (``viewadapt experiment NAME``)."""

from viewadapt.experiments.registry import EXPERIMENTS, Experiment, Method
from viewadapt.experiments.runner import run_experiment

__all__ = ["EXPERIMENTS", "Experiment", "Method", "run_experiment"]
