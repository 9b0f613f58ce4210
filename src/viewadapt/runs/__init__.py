"""Run folders: their files, checkpoints that resume exactly, the final weights, loading a finished run."""

from viewadapt.runs.device import resolve_device
from viewadapt.runs.folder import CHECKPOINT_FILE, CONFIG_FILE, METRICS_FILE, SPLIT_FILE, WEIGHTS_FILE
from viewadapt.runs.trained import TrainedRun, load_trained

__all__ = ["CHECKPOINT_FILE", "CONFIG_FILE", "METRICS_FILE", "SPLIT_FILE", "WEIGHTS_FILE", "TrainedRun", "load_trained",
           "resolve_device"]
