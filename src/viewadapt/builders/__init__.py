"""From a config to what it describes: the dataset and its split, the method's parts, a trainer for a new
or resumed run, a finished run loaded back and scored again.

This is where the typed config meets the libraries, which take plain arguments: ``data``, ``models``,
``objectives``, ``training``, ``runs`` and ``reports`` know nothing of :class:`~viewadapt.config.Config`.
"""

from viewadapt.builders.data import (ensure_generated, load_dataset, prepare_split, split_base, split_dataset,
                                     split_request)
from viewadapt.builders.evaluate import evaluate_run
from viewadapt.builders.method import build_method
from viewadapt.builders.trained import TrainedRun, load_trained, run_image_size
from viewadapt.builders.trainer import build_trainer, create_trainer, resume_trainer, zero_shot_label

__all__ = ["TrainedRun", "build_method", "build_trainer", "create_trainer", "ensure_generated", "evaluate_run",
           "load_dataset", "load_trained", "prepare_split", "resume_trainer", "run_image_size", "split_base",
           "split_dataset", "split_request", "zero_shot_label"]
