"""The staged trainer of Algorithm 1: it runs a list of stages, epoch by epoch, and calls its hooks.

What each stage trains and how is the stage's business (:mod:`viewadapt.training.stages`); validation,
early stopping, test evaluation, logging, checkpoints and the metrics file are hooks
(:mod:`viewadapt.training.hooks`). The trainer owns the progress through the stages, an epoch budget,
and the state that makes a run resume exactly.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable

import torch
from torch import nn
from torch.utils.data import DataLoader

from viewadapt.build import build_method, ensure_generated, prepare_split, split_base
from viewadapt.config import STAGES, Config, config_from_dict, load_config
from viewadapt.data import Split, hide_gallery_labels
from viewadapt.data.augment import eval_transform, train_transform
from viewadapt.data.images import ViewImages, ensure_readable
from viewadapt.errors import CheckpointError
from viewadapt.evaluation.leakage import models_leakage
from viewadapt.evaluation.scoring import score_records
from viewadapt.models import Embedder
from viewadapt.runs.checkpoint import load_checkpoint, rng_state, set_rng_state
from viewadapt.runs.device import resolve_device
from viewadapt.runs.folder import (CHECKPOINT_FILE, CONFIG_FILE, SPLIT_FILE, ZERO_SHOT, new_run_folder,
                                  remove_new_run_folder, run_finished, setup_logging)
from viewadapt.runs.lock import RunLock
from viewadapt.training.distributed import Dist, ShardedBatches
from viewadapt.training.hooks import Hook, default_hooks
from viewadapt.training.stages import Stage, StageContext, StagePlan, build_stages
from viewadapt.training.step import Stepper


def stage_plan(cfg: Config) -> StagePlan:
    """What the stages read of ``cfg``, as values."""
    t, loss, d = cfg.train, cfg.loss, cfg.data
    return StagePlan({name: cfg.stage(name) for name in STAGES}, t.seed, t.batch_p, t.batch_s, t.init_batch_size,
                     t.init_sampler, t.init_classifier == "shared", loss.label_smoothing, loss.triplet,
                     loss.triplet_margin, loss.lambda_sim, d.num_workers, d.height, d.width, cfg.eval.batch_size)


def _quiet_logger() -> logging.Logger:
    """Ranks other than 0 log nothing: one run, one log."""
    log = logging.getLogger("viewadapt.rank")
    log.addHandler(logging.NullHandler())
    log.propagate = False
    return log


class Trainer:
    """Runs the enabled stages in order, calling its hooks; ``fit`` resumes where it stopped."""

    def __init__(self, cfg: Config, run_dir: Path, split: Split, logger: logging.Logger | None = None,
                 d: Dist | None = None, device: torch.device | None = None, hooks: list[Hook] | None = None) -> None:
        self.cfg, self.run_dir, self.split = cfg, Path(run_dir), split
        self.log = logger or logging.getLogger("viewadapt")
        self.dist = d or Dist()
        self.device = device or resolve_device(cfg.train.device)
        self.stepper = Stepper(cfg.train.amp, self.device, self.dist)
        torch.manual_seed(cfg.train.seed)
        self.method = build_method(cfg).to(self.device)
        h, w = cfg.data.height, cfg.data.width
        labeled, unlabeled = hide_gallery_labels(split.train, cfg.data.labeled_pairs, cfg.data.split_seed,
                                                 cfg.num_views - 1)
        augmented = train_transform(h, w, cfg.data.augment)
        ctx = StageContext(stage_plan(cfg), self.method, ViewImages(labeled, augmented),
                           ViewImages(split.valid, eval_transform(h, w)), self.device, self.stepper, self.dist,
                           ViewImages(unlabeled, augmented) if unlabeled else None)
        self.stages: list[Stage] = build_stages(ctx)
        self.train_set = ctx.train_set
        for module in self.modules().values():
            self.dist.sync_module(module)  # one starting point on every rank
        self.hooks = hooks if hooks is not None else default_hooks()
        for hook in self.hooks:
            hook.trainer = self
        # Progress: the step of Algorithm 1 being trained (an index of STAGES) and its last finished epoch.
        self.stage_index, self.epoch = 0, -1
        self.stop_stage, self.finished = False, False
        self.epoch_started = 0.0
        self.history: list[dict] = []
        self.stage_results: dict[str, dict] = {}
        self.zero_shot: dict | None = None  # the untrained networks' scores, before stage (a)
        self.elapsed = 0.0
        self._resume_state: dict | None = None
        self._lock: RunLock | None = None  # rank 0's hold on the run folder, from create/resume to close

    def close(self) -> None:
        """Let other processes train or resume this run folder."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> "Trainer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- construction -------------------------------------------------------------------------
    @classmethod
    def create(cls, cfg: Config, verbose: bool = True, d: Dist | None = None,
               device: torch.device | None = None) -> "Trainer":
        """A new run folder with the resolved config, the environment, the split and a log.

        Under ``torchrun`` rank 0 makes the folder and the split; the other ranks read them from it.
        """
        d = d or Dist()
        device = device or resolve_device(cfg.train.device)  # a missing GPU is told before a folder is made
        run_dir, lock = None, None
        if d.is_main:
            _, split = prepare_split(cfg.data)
            ensure_readable([r.path for n in ("train", "valid", "test") for r in split.subset(n)], cfg.data.dataset)
            run_dir = new_run_folder(cfg, split, split_base(cfg.data), d.world)
            lock = RunLock.acquire(run_dir)
        run_dir = Path(d.broadcast(str(run_dir)))
        if not d.is_main:
            split = Split.from_json(run_dir / SPLIT_FILE, split_base(cfg.data))
        logger = setup_logging(run_dir, verbose) if d.is_main else _quiet_logger()
        logger.info(f"run folder {run_dir}" + (f", {d.world} processes" if d.active else ""))
        try:
            return cls._locked(lock, lambda: cls(cfg, run_dir, split, logger, d, device))
        except BaseException:
            if d.is_main:
                remove_new_run_folder(run_dir)  # nothing trained yet: the same command starts it again
            raise

    @staticmethod
    def _locked(lock: RunLock | None, make: Callable[[], Trainer]) -> "Trainer":
        """The trainer ``make`` builds, holding ``lock``; the lock is let go if building fails."""
        try:
            trainer = make()
        except BaseException:
            if lock is not None:
                lock.release()
            raise
        trainer._lock = lock
        return trainer

    @classmethod
    def resume(cls, run_dir: str | Path, verbose: bool = True, d: Dist | None = None,
               device: torch.device | None = None) -> "Trainer":
        """Continue the run in ``run_dir`` from its last checkpoint; a run that stopped before its first
        checkpoint starts over in the same folder, with the config and split it was created with."""
        d = d or Dist()
        run_dir = Path(run_dir)
        if not (run_dir / CONFIG_FILE).is_file() or not (run_dir / SPLIT_FILE).is_file():
            raise CheckpointError(f"{run_dir} is not a run folder (no {CONFIG_FILE} and {SPLIT_FILE}): give the "
                                  "folder `viewadapt train` printed")
        if run_finished(run_dir):
            raise CheckpointError(f"{run_dir} has finished training: nothing to resume (its files are unchanged); "
                                  f"score it with `viewadapt evaluate {run_dir}`, or train a new run")
        lock = RunLock.acquire(run_dir) if d.is_main else None
        return cls._locked(lock, lambda: cls._resumed(run_dir, verbose, d, device))

    @classmethod
    def _resumed(cls, run_dir: Path, verbose: bool, d: Dist, device: torch.device | None) -> "Trainer":
        has_checkpoint = (run_dir / CHECKPOINT_FILE).is_file()
        state = load_checkpoint(run_dir / CHECKPOINT_FILE) if has_checkpoint else None
        cfg = load_config(run_dir / CONFIG_FILE)
        if state is not None:
            saved = state.get("config")
            if not isinstance(saved, dict) or config_from_dict(saved).to_dict() != cfg.to_dict():
                raise CheckpointError(f"{run_dir / CHECKPOINT_FILE} was written for another config than "
                                      f"{run_dir / CONFIG_FILE}: restore that file or start a new run")
        if d.is_main:
            ensure_generated(cfg.data)
        d.broadcast(None)  # the other ranks read the images only once rank 0 has them in place
        split = Split.from_json(run_dir / SPLIT_FILE, split_base(cfg.data))
        trainer = cls(cfg, run_dir, split, setup_logging(run_dir, verbose) if d.is_main else _quiet_logger(), d, device)
        if state is None:
            trainer.log.info(f"{run_dir} stopped before its first checkpoint: training it from the start")
            return trainer
        trainer.load_state_dict(state, run_dir / CHECKPOINT_FILE)
        trainer.log.info(f"resumed {run_dir}: {trainer.progress()}")
        return trainer

    def progress(self) -> str:
        """Where a resumed run stands: the last epoch completed and the one it continues with."""
        current = STAGES[self.stage_index]
        if current in self.stage_results or self.epoch < 0:
            done = [s for s in STAGES if s in self.stage_results]
            upcoming = next((s.name for s in self.stages if s.name not in self.stage_results), None)
            last = f"stage {done[-1]} completed" if done else "no epoch completed"
            return f"{last}; continuing with stage {upcoming}, epoch 1" if upcoming else f"{last}; every stage done"
        total = next(s.settings.epochs for s in self.stages if s.name == current)
        return (f"last completed stage {current} epoch {self.epoch + 1}/{total}; "
                f"continuing with epoch {self.epoch + 2}")

    # ---- state --------------------------------------------------------------------------------
    def modules(self) -> dict[str, nn.Module]:
        """Every module of the run by name: the method's parts and the stages' own (stage (a)'s classifiers)."""
        out = self.method.stored()
        for stage in self.stages:
            out.update(stage.own_modules())
        return out

    def state_dict(self, stage: Stage | None) -> dict:
        """Everything a resumed run needs to continue exactly; ``stage`` is the one running (None
        between stages, when no optimiser or hook state carries over)."""
        running = stage.state_dict() if stage else {"optimizers": {}, "schedulers": {}}
        return {
            "config": self.cfg.to_dict(),
            "stage_index": self.stage_index,
            "epoch": self.epoch,
            "models": {k: m.state_dict() for k, m in self.modules().items()},
            **running,
            **{h.state_key: h.state_dict() for h in self.hooks if h.state_key},
            "history": self.history,
            "stage_results": self.stage_results,
            "zero_shot": self.zero_shot,
            "elapsed": self.elapsed,
            "rng": rng_state(),
            "grad_scaler": self.stepper.state_dict(),
        }

    def load_state_dict(self, state: dict, source: Path | str = "the checkpoint") -> None:
        try:
            for key, module in self.modules().items():
                module.load_state_dict(state["models"][key])
        except (KeyError, RuntimeError, TypeError):
            raise CheckpointError(f"{source} holds other models than this version of viewadapt builds for its "
                                  "config: resume it with the version that wrote it, or start a new run") from None
        try:
            self.stage_index, self.epoch = int(state["stage_index"]), int(state["epoch"])
            self.history, self.stage_results = list(state["history"]), dict(state["stage_results"])
            self.zero_shot = state.get("zero_shot")
            self.elapsed = float(state["elapsed"])
            set_rng_state(state["rng"])
            self.stepper.load_state_dict(state.get("grad_scaler", {}))
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise CheckpointError(f"{source} is incomplete ({type(exc).__name__}: {exc!s:.40}): it was not written "
                                  "by this version of viewadapt or was altered; resume with the version that wrote "
                                  "it, or start a new run") from None
        self._resume_state = state

    # ---- evaluation ---------------------------------------------------------------------------
    def _score_one(self, model: Embedder, pair_scorer: nn.Module | None, subset: str, rerank: str | None,
                   distance: str | None) -> dict:
        # Camera statistics are a test-time step: validation, which picks epochs, scores the trained model.
        options = replace(self.cfg.eval, rerank=rerank or self.cfg.eval.rerank,
                          distance=distance or self.cfg.eval.distance,
                          camera_statistics=self.cfg.eval.camera_statistics and subset == "test")
        if options.rerank == "ds" and pair_scorer is None:
            options = replace(options, rerank="none")  # no trained Ds yet to re-rank with
        result = None
        if self.dist.is_main:  # one rank scores; the others get its numbers
            d = self.cfg.data
            result = score_records(model, self.split.subset(subset), options, d.height, d.width,
                                   seed=self.cfg.train.seed, device=self.device, num_workers=d.num_workers,
                                   pair_scorer=pair_scorer,
                                   view_leakage=self.cfg.eval.view_leakage and subset == "test")
            result = {**result, "split": self.split.label}
        return self.dist.broadcast(result)

    def leakage(self, models: list[tuple[Embedder, nn.Module | None]], subset: str = "valid") -> float:
        """View leakage (:func:`~viewadapt.evaluation.leakage.view_leakage`) of a split's embeddings by each
        model, averaged over the models (stage (a)'s networks)."""
        value = None
        if self.dist.is_main:
            d = self.cfg.data
            value = models_leakage([model for model, _ in models], self.split.subset(subset), d.height, d.width,
                                   self.cfg.eval.batch_size, self.device, self.cfg.train.seed, d.num_workers)
        return self.dist.broadcast(value)

    def score(self, models: list[tuple[Embedder, nn.Module | None]], subset: str = "test",
              rerank: str | None = None, distance: str | None = None) -> dict:
        """Score a split with embedding models, each with its pair scorer (Ds) or None (what a stage's
        :meth:`~viewadapt.training.stages.Stage.scored` gives); several models (stage (a)'s networks)
        are each scored and the headline is their mean, each under ``per_network``."""
        results = [self._score_one(model, scorer, subset, rerank, distance) for model, scorer in models]
        if len(results) == 1:
            return results[0]
        mean = {k: sum(r[k] for r in results) / len(results) for k, v in results[0].items() if isinstance(v, float)}
        mean["cmc"] = [sum(c) / len(results) for c in zip(*(r["cmc"] for r in results))]
        return {**results[0], **mean, "per_network": results}

    # ---- training -----------------------------------------------------------------------------
    def _call(self, point: str, *args: object) -> None:
        for hook in self.hooks:
            getattr(hook, point)(*args)

    def _train_epoch(self, stage: Stage, epoch: int) -> dict:
        batches = stage.sampler(epoch)
        if self.dist.active:
            batches = ShardedBatches(batches, self.dist)
        loader = DataLoader(stage.dataset(), batch_sampler=batches, num_workers=self.cfg.data.num_workers,
                            pin_memory=self.device.type == "cuda")
        stats = stage.train_epoch(loader, f"{stage.name} {epoch + 1}/{stage.settings.epochs}")
        for module in self.modules().values():
            self.dist.sync_module(module, buffers_only=True)  # batch-norm statistics: rank 0's
        if self.dist.active:
            stats["first_loss_by_rank"] = self.dist.gather(stats["first_loss"])
        stats["lr"] = stage.lr
        stage.end_epoch()
        return self.dist.mean(stats)

    def fit(self, max_epochs: int | None = None) -> dict:
        """Train until every enabled stage is done, or for at most ``max_epochs`` epochs in this call.

        Returns the metrics written to ``metrics.json``; an unfinished call can be continued with
        :meth:`resume`.
        """
        budget = max_epochs
        self.finished = False
        self._call("before_train")
        for stage in self.stages:
            index = STAGES.index(stage.name)
            if index < self.stage_index or stage.name in self.stage_results:
                continue
            if index > self.stage_index:
                self.stage_index, self.epoch = index, -1
                self._resume_state = None  # a resumed stage's optimisers never carry into the next stage
            budget = self._run_stage(stage, budget)
            if stage.name not in self.stage_results:
                break
        else:
            self.finished = True
        self._call("after_train")
        return self.metrics()

    def _run_stage(self, stage: Stage, budget: int | None) -> int | None:
        stage.start()
        self.stop_stage = False
        self._call("before_stage", stage)
        resume, self._resume_state = self._resume_state, None
        if resume is not None and resume["epoch"] >= 0:
            try:
                stage.load_state_dict(resume)
                for hook in self.hooks:
                    if hook.state_key:
                        hook.load_state_dict(resume.get(hook.state_key))  # None: written before the hook had state
            except (KeyError, TypeError, ValueError, RuntimeError) as exc:
                raise CheckpointError(f"{self.run_dir / CHECKPOINT_FILE} holds no usable state of stage {stage.name}'s "
                                      f"optimisers ({type(exc).__name__}): it was altered or written by another "
                                      "version; resume with that version, or start a new run") from None
        while not self.stop_stage and self.epoch + 1 < stage.settings.epochs:
            if budget is not None and budget <= 0:
                return budget
            self.epoch_started = time.time()
            record = self._train_epoch(stage, self.epoch + 1)
            self.epoch += 1
            self._call("after_epoch", stage, record)
            budget = None if budget is None else budget - 1
        self.stage_results[stage.name] = {}
        self._call("after_stage", stage)
        return budget

    def metrics(self) -> dict:
        done = [s for s in STAGES if s in self.stage_results]
        return {
            "finished": self.finished,
            "history": self.history,
            "stages": self.stage_results,
            ZERO_SHOT: self.zero_shot,
            "test": self.stage_results[done[-1]].get("test") if self.finished else None,
            "train_time_s": self.elapsed,
        }


__all__ = ["Trainer"]
