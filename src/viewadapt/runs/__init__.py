"""Run folders: their files, checkpoints that resume exactly, the final weights (a finished run is loaded
back by :func:`viewadapt.builders.load_trained`)."""

from viewadapt.runs.device import resolve_device
from viewadapt.runs.folder import CHECKPOINT_FILE, CONFIG_FILE, METRICS_FILE, SPLIT_FILE, WEIGHTS_FILE

__all__ = ["CHECKPOINT_FILE", "CONFIG_FILE", "METRICS_FILE", "SPLIT_FILE", "WEIGHTS_FILE", "resolve_device"]
