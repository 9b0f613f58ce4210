"""The training contract: what training reads of a run's config (:class:`RunSetup`, values built by keyword
at the edge), what it has measured and where it stands (:class:`TrainingStore`, owned by the trainer and
written by hooks through its methods only), and what a stage prepares for an epoch (:class:`EpochData`).

A hook reads the trainer and writes to its store; it never assigns a trainer attribute, so hooks do not
depend on each other's order for anything but what the store says (a test walks the code for it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from torch.utils.data import Sampler

from viewadapt.data.images import ViewImages
from viewadapt.evaluation.options import EvalOptions


@dataclass(frozen=True)
class RunSetup:
    """Everything the trainer, its stages and its hooks read of a run's config, as values
    (:func:`viewadapt.builders.trainer.run_setup` builds it, by keyword). The resolved config itself only
    travels: into every checkpoint (a resume checks it) and into the final weights' metadata."""

    config: dict
    stages: dict[str, Any]  # each stage's settings by name, in the order they run: enabled, epochs, schedule
    seed: int  # weights, batches and augmentation depend on (seed, epoch) only
    batch_p: int  # SP batches: identities per batch
    batch_s: int  # SP batches: images per identity, over the views
    init_batch_size: int  # stage (a)'s random batches
    init_sampler: str  # stage (a)'s batches: random or pk
    sp_epoch: str  # an SP-batch stage's epoch: a batch per identity (identities) or about every image once (images)
    shared_classifier: bool  # stage (a): one identity classifier for every network
    label_smoothing: float
    triplet: float  # stage (a)'s batch-hard triplet weight
    triplet_margin: float
    lambda_sim: float  # stage (c): the matcher's loss weight beside the domain term
    amp: str  # mixed precision: none, bf16 or fp16
    eval: EvalOptions  # how the test and validation splits are scored (and the batch size of every embedding pass)
    after_each_stage: bool  # the test split scored after every stage, not only the last
    epoch_validation: str  # C_valid after every epoch (every) or where it decides something (deciding)
    zero_shot: bool  # the untrained networks scored before training
    view_leakage: bool  # a fresh probe's view accuracy after each stage and on the test split
    one_start: bool  # every view starts from one network: one zero-shot floor, not one per network
    num_workers: int  # data-loading processes
    height: int  # image size
    width: int
    tensorboard: bool


@dataclass
class EpochData:
    """What a stage trains on in one epoch: the images its batches index, the batches (dataset indices, in
    an order that depends on the seed and the epoch only), and what preparing them measured (self-training's
    pseudo-labels), which joins the epoch's record."""

    dataset: ViewImages
    batches: Sampler[list[int]]
    stats: dict[str, float] = field(default_factory=dict)


@dataclass
class TrainingStore:
    """What a run has measured, kept in its checkpoints: every epoch's record (``history``), each finished
    stage's results, the untrained networks' scores, the training time; and whether a hook asked the
    running stage to stop. Hooks write through the methods; the trainer reads."""

    history: list[dict] = field(default_factory=list)
    stage_results: dict[str, dict] = field(default_factory=dict)
    zero_shot: dict | None = None
    elapsed: float = 0.0
    stop_requested: bool = False

    def add_epoch(self, stage: str, epoch: int, record: dict) -> dict:
        """Keep a finished epoch's record (its ``time_s`` counts into the training time); returns the entry."""
        entry = {"stage": stage, "epoch": epoch, **record}
        self.history.append(entry)
        self.elapsed += record.get("time_s", 0.0)
        return entry

    def epoch_times(self, stage: str) -> list[float]:
        return [h["time_s"] for h in self.history if h["stage"] == stage]

    def add_results(self, stage: str, **values: Any) -> dict:
        """Add to a stage's results (made when the stage ends); returns them."""
        results = self.stage_results.setdefault(stage, {})
        results.update(values)
        return results

    def set_zero_shot(self, result: dict) -> None:
        self.zero_shot = result

    def request_stop(self, stop: bool = True) -> None:
        """Ask the running stage to end after this epoch (early stopping); the trainer clears it when a
        stage starts."""
        self.stop_requested = stop

    def state_dict(self) -> dict:
        return {"history": self.history, "stage_results": self.stage_results, "zero_shot": self.zero_shot,
                "elapsed": self.elapsed}

    @classmethod
    def from_state(cls, state: dict) -> "TrainingStore":
        return cls(list(state["history"]), dict(state["stage_results"]), state.get("zero_shot"),
                   float(state["elapsed"]))
