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

import torch
from torch import nn
from torch.utils.data import DataLoader

from viewadapt.data import Split
from viewadapt.data.images import ViewImages
from viewadapt.errors import CheckpointError
from viewadapt.evaluation.leakage import models_leakage
from viewadapt.evaluation.rescoring import RERANKERS
from viewadapt.evaluation.scoring import score_records
from viewadapt.models import Embedder
from viewadapt.objectives import Method
from viewadapt.runs.checkpoint import rng_state, set_rng_state
from viewadapt.runs.folder import CHECKPOINT_FILE, ZERO_SHOT
from viewadapt.runs.lock import RunLock
from viewadapt.training.distributed import Dist, ShardedBatches
from viewadapt.training.estimate import TimedBatches, run_estimate
from viewadapt.training.hooks import Hook, default_hooks
from viewadapt.training.setup import RunSetup, TrainingStore
from viewadapt.training.stages import Stage, StageContext, build_stages
from viewadapt.training.step import Diverged, Stepper


class Trainer:
    """Runs the enabled stages in order, calling its hooks; ``fit`` resumes where it stopped. It is
    given what it trains, already built (:mod:`viewadapt.builders.trainer` makes one from a config)."""

    def __init__(self, setup: RunSetup, run_dir: Path, split: Split, method: Method, train_set: ViewImages,
                 valid_set: ViewImages, unlabeled_set: ViewImages | None, device: torch.device,
                 logger: logging.Logger | None = None, d: Dist | None = None,
                 hooks: list[Hook] | None = None) -> None:
        self.setup, self.run_dir, self.split = setup, Path(run_dir), split
        self.log = logger or logging.getLogger("viewadapt")
        self.dist = d or Dist()
        self.device = device
        self.stepper = Stepper(setup.amp, self.device, self.dist)
        self.method = method.to(self.device)
        ctx = StageContext(setup, self.method, train_set, valid_set, self.device, self.stepper, self.dist,
                           unlabeled_set)
        self.stages: list[Stage] = build_stages(ctx)
        self.order = tuple(setup.stages)  # every step of Algorithm 1, enabled or not: checkpoints index it
        self.train_set = ctx.train_set
        self._labelled_views = {r.view for r in self.train_set.records}
        self._unlabelled_views = {r.view for r in unlabeled_set.records} if unlabeled_set is not None else set()
        for module in self.modules().values():
            self.dist.sync_module(module)  # one starting point on every rank
        self.hooks = hooks if hooks is not None else default_hooks()
        for hook in self.hooks:
            hook.trainer = self
        # Progress: the step of Algorithm 1 being trained (an index of self.order) and its last finished epoch.
        self.stage_index, self.epoch = 0, -1
        self.finished = False
        self.epoch_started = 0.0
        self.store = TrainingStore()  # what the run measured; hooks write it through its methods
        self._resume_state: dict | None = None
        self._lock: RunLock | None = None  # rank 0's hold on the run folder, from create/resume to close

    def hold(self, lock: RunLock | None) -> None:
        """Keep ``lock`` on the run folder until :meth:`close` (rank 0; the other ranks hold None)."""
        self._lock = lock

    def close(self) -> None:
        """Let other processes train or resume this run folder."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> "Trainer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # what the store holds, read where the trainer is at hand
    @property
    def history(self) -> list[dict]:
        return self.store.history

    @property
    def stage_results(self) -> dict[str, dict]:
        return self.store.stage_results

    @property
    def zero_shot(self) -> dict | None:
        return self.store.zero_shot

    def progress(self) -> str:
        """Where a resumed run stands: the last epoch completed and the one it continues with."""
        current = self.order[self.stage_index]
        if current in self.stage_results or self.epoch < 0:
            done = [s for s in self.order if s in self.stage_results]
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
            "config": self.setup.config,
            "stage_index": self.stage_index,
            "epoch": self.epoch,
            "models": {k: m.state_dict() for k, m in self.modules().items()},
            **running,
            **{h.state_key: h.state_dict() for h in self.hooks if h.state_key},
            **self.store.state_dict(),
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
            self.store = TrainingStore.from_state(state)
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
        e = self.setup.eval
        options = replace(e, rerank=rerank or e.rerank, distance=distance or e.distance,
                          camera_statistics=e.camera_statistics and subset == "test")
        if RERANKERS[options.rerank].needs_pair_scorer and pair_scorer is None:
            options = replace(options, rerank="none")  # no trained Ds yet to re-rank with
        result = None
        if self.dist.is_main:  # one rank scores; the others get its numbers
            s = self.setup
            result = score_records(model, self.split.subset(subset), options, s.height, s.width,
                                   seed=s.seed, device=self.device, num_workers=s.num_workers,
                                   pair_scorer=pair_scorer, view_leakage=s.view_leakage and subset == "test",
                                   decoded=self.train_set.decoded)
            result = {**result, "split": self.split.label}
        return self.dist.broadcast(result)

    def leakage(self, models: list[tuple[Embedder, nn.Module | None]], subset: str = "valid") -> float:
        """View leakage (:func:`~viewadapt.evaluation.leakage.view_leakage`) of a split's embeddings by each
        model, averaged over the models (stage (a)'s networks)."""
        value = None
        if self.dist.is_main:
            s = self.setup
            value = models_leakage([model for model, _ in models], self.split.subset(subset), s.height, s.width,
                                   s.eval.batch_size, self.device, s.seed, s.num_workers, self.train_set.decoded)
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
        data = stage.prepare_epoch(epoch)
        batches = ShardedBatches(data.batches, self.dist) if self.dist.active else data.batches
        loader = DataLoader(data.dataset, batch_sampler=batches, num_workers=self.setup.num_workers,
                            pin_memory=self.device.type == "cuda")
        if not self.store.history and self.dist.is_main:  # a new run's first epoch: say what the run will cost
            loader = TimedBatches(loader, lambda pace: self.log.info(run_estimate(pace, self._images_per_stage(),
                                                                                  (self.setup.height, self.setup.width))))
        try:
            stats = {**stage.train_epoch(loader, f"{stage.name} {epoch + 1}/{stage.settings.epochs}"), **data.stats}
            if not all(torch.isfinite(p).all() for m in self.modules().values() for p in m.parameters()):
                raise Diverged("the weights stopped being finite numbers")
        except Diverged as exc:
            raise Diverged(f"training diverged in stage {stage.name}, epoch {epoch + 1} ({exc}): lower "
                           f"train.{stage.name}.lr (now {stage.settings.lr:g}) and train a new run; this run's last "
                           "checkpoint, from before that epoch, is kept") from None
        for module in self.modules().values():
            self.dist.sync_module(module, buffers_only=True)  # batch-norm statistics: rank 0's
        if self.dist.active:
            stats["first_loss_by_rank"] = self.dist.gather(stats["first_loss"])
        stats["lr"] = stage.lr
        stage.end_epoch()
        return self.dist.mean(stats)

    def _images_per_stage(self) -> dict[str, int]:
        """Roughly how many training images each stage will see over its epochs (an SP epoch as its batches
        show them; self-training over the labelled and unlabelled images)."""
        s, out = self.setup, {}
        labelled = len(self.train_set)
        unlabelled = len(self.stages[-1].ctx.unlabeled_set or []) if self.stages else 0
        for stage in self.stages:
            per_epoch = labelled if stage.name == "init" else (
                labelled + unlabelled if stage.name == "self_training" else labelled)
            if stage.name != "init" and s.sp_epoch == "identities":
                per_epoch = len(self.train_set.pids) * s.batch_p * s.batch_s
            out[stage.name] = per_epoch * stage.settings.epochs
        return out

    def fit(self, max_epochs: int | None = None) -> dict:
        """Train until every enabled stage is done, or for at most ``max_epochs`` epochs in this call.

        Returns the metrics written to ``metrics.json``; an unfinished call can be continued with
        :meth:`resume`.
        """
        budget = max_epochs
        self.finished = False
        if self.stage_index == 0 and self.epoch == -1:
            self._warn_untrained_views()
        self._call("before_train")
        for stage in self.stages:
            index = self.order.index(stage.name)
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

    def untrained_views(self) -> list[int]:
        """The views that own layers (batch norms at least) which no training batch reaches: no labelled
        image of theirs, and no stage that learns from their unlabelled ones. Their batch norms keep the
        pretrained statistics, which a trained network's weights no longer fit (on CUHK03's new camera,
        camera statistics score below the untrained floor until calibrated)."""
        if self.method.embedder().mappings.shared:
            return []
        seen = set(self._labelled_views)
        stages = self.setup.stages
        if self._unlabelled_views and (stages["self_training"].enabled or stages["adaptation"].enabled):
            seen |= self._unlabelled_views
        return [v for v in range(self.method.embedder().num_views) if v not in seen]

    def self_trained_unlabelled_views(self) -> list[int]:
        """The views self-training will learn from with no labelled image of their own: a new camera,
        whose pseudo-labels nothing in training can check."""
        if not self.setup.stages["self_training"].enabled:
            return []
        return sorted(self._unlabelled_views - self._labelled_views)

    def _warn_untrained_views(self) -> None:
        views = self.untrained_views()
        if views and not self.setup.eval.camera_statistics:
            self.log.warning(f"view(s) {', '.join(map(str, views))} have no image any stage trains on: their batch "
                             "norms keep the pretrained statistics. Run `viewadapt calibrate` on the run with that "
                             "camera's images, or set eval.camera_statistics=true (or "
                             "train.self_training.enabled=true)")
        unchecked = self.self_trained_unlabelled_views()
        if unchecked:
            # On CUHK03 a new camera's pseudo-labels were right one time in seven and self-training lost to
            # calibration (docs/findings.md); on the synthetic set it won. The user should know it is a bet.
            self.log.warning(f"view(s) {', '.join(map(str, unchecked))} have no labelled image: self-training names "
                             "their crops with pseudo-labels nothing checks, and on real crops (CUHK03) that lost to "
                             "calibration. To compare, train with train.self_training.enabled=false and run "
                             "`viewadapt calibrate` with that camera's crops")

    def _run_stage(self, stage: Stage, budget: int | None) -> int | None:
        stage.start()
        self.store.request_stop(False)
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
        while not self.store.stop_requested and self.epoch + 1 < stage.settings.epochs:
            if budget is not None and budget <= 0:
                return budget
            self.epoch_started = time.time()
            record = self._train_epoch(stage, self.epoch + 1)
            self.epoch += 1
            self._call("after_epoch", stage, record)
            budget = None if budget is None else budget - 1
        self.store.add_results(stage.name)  # the stage is done: hooks add what they measured of it
        self._call("after_stage", stage)
        return budget

    def metrics(self) -> dict:
        done = [s for s in self.order if s in self.stage_results]
        return {
            "finished": self.finished,
            "history": self.history,
            "stages": self.stage_results,
            ZERO_SHOT: self.zero_shot,
            "test": self.stage_results[done[-1]].get("test") if self.finished else None,
            "train_time_s": self.store.elapsed,
        }


__all__ = ["Trainer"]
