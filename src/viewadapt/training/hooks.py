"""What happens around the epochs of a stage, as hooks the trainer calls at fixed points: validation,
early stopping, test evaluation, the history and log, checkpoints and the metrics file. A hook reads the
trainer and writes what it measures to the trainer's store (:class:`~viewadapt.training.setup.TrainingStore`)
through the store's methods; it assigns no trainer attribute.

The trainer calls, for every hook in its order: ``before_train()`` when ``fit`` starts,
``before_stage(stage)`` once a stage's optimisers exist, ``after_epoch(stage, record)`` with the
epoch's training statistics (hooks may add to them), ``after_stage(stage)``, and ``after_train()``
when ``fit`` returns, finished or not.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import yaml

from viewadapt.models import Embedder, ViewMappings
from viewadapt.models.mapping import Pooled
from viewadapt.runs.checkpoint import save_checkpoint
from viewadapt.runs.folder import CHECKPOINT_FILE, METRICS_FILE, WEIGHTS_FILE, write_json
from viewadapt.runs.weights import save_weights
from viewadapt.training.early_stopping import EarlyStopping
from viewadapt.training.stages import Stage

if TYPE_CHECKING:
    from viewadapt.training.trainer import Trainer


class Hook:
    """Base: every point does nothing. ``trainer`` is set when the trainer takes the hook. A hook with
    a ``state_key`` has state that checkpoints keep under that key while a stage runs."""

    trainer: "Trainer"
    state_key: str | None = None

    def before_train(self) -> None:
        pass

    def before_stage(self, stage: Stage) -> None:
        pass

    def after_epoch(self, stage: Stage, record: dict) -> None:
        pass

    def after_stage(self, stage: Stage) -> None:
        pass

    def after_train(self) -> None:
        pass

    def state_dict(self) -> Any:
        return None

    def load_state_dict(self, state: Any) -> None:
        pass


def zero_shot_models(one_start: bool, mappings: ViewMappings) -> list[tuple[Embedder, None]]:
    """The untrained networks a zero-shot floor scores, each as an embedder of its pooled backbone
    feature; tied copies are the same network before training, so scoring one is scoring all."""
    nets = mappings.networks()[:1] if one_start else mappings.networks()
    return [(Embedder(ViewMappings.single(Pooled(net), mappings.num_views)), None) for net in nets]


class ZeroShot(Hook):
    """Before any training: the test split scored with each network's pooled backbone feature and the
    cosine distance, the floor every trained method must clear (``eval.zero_shot``). With ImageNet
    weights this is what the pretrained features do with no training at all."""

    def before_train(self) -> None:
        t = self.trainer
        if not t.setup.zero_shot or t.store.zero_shot is not None:
            return
        models = zero_shot_models(t.setup.one_start, t.method.mappings)
        result = {"test": t.score(models, "test", rerank="none", distance="cosine")}
        if t.setup.view_leakage:
            result["view_leakage"] = t.leakage(models)
        t.store.set_zero_shot(result)
        t.log.info(f"zero-shot (no training): test rank-1 {result['test']['rank1']:.3f}"
                   + (f", view leakage {result['view_leakage']:.3f}" if t.setup.view_leakage else ""))


def validates(stage: Stage, mode: str) -> bool:
    """Whether ``stage`` scores C_valid after its epochs (``eval.epoch_validation``): always with ``every``;
    with ``deciding`` only where it decides something, i.e. early stopping can fire before the last epoch,
    or the stage keeps its best of several epochs. Elsewhere the stage ends with its last epoch's weights
    whether or not it validates."""
    s = stage.settings
    return mode == "every" or s.patience < s.epochs or (s.keep == "best" and s.epochs > 1)


class Validation(Hook):
    """Before a stage's first epoch and after every epoch: rank-1 and mAP on C_valid, and after every
    epoch the stage's own objective there. Where a stage starts from shows how far apart the views are
    when it begins (after stage (a), Ms and Mt are two unrelated networks); it is kept in the stage's
    results as ``start_val_rank1`` and ``start_val_mAP``."""

    state_key = "stage_start"

    def __init__(self) -> None:
        self.start: dict | None = None

    def before_stage(self, stage: Stage) -> None:
        t = self.trainer
        if t.epoch >= 0 or not validates(stage, t.setup.epoch_validation):  # resumed: the checkpoint has it
            return
        metrics = t.score(stage.scored(), "valid", rerank="none")
        self.start = {"start_val_rank1": metrics["rank1"], "start_val_mAP": metrics["mAP"]}
        t.log.info(f"{stage.name} starts at val_rank1={metrics['rank1']:.4g} val_mAP={metrics['mAP']:.4g}")

    def after_stage(self, stage: Stage) -> None:
        self.trainer.store.add_results(stage.name, **(self.start or {}))
        self.start = None

    def state_dict(self) -> dict | None:
        return self.start

    def load_state_dict(self, state: dict | None) -> None:
        self.start = state

    def after_epoch(self, stage: Stage, record: dict) -> None:
        t = self.trainer
        if not validates(stage, t.setup.epoch_validation):
            return
        metrics = t.score(stage.scored(), "valid", rerank="none")  # early stopping watches the plain ranking
        record.update(val_rank1=metrics["rank1"], val_mAP=metrics["mAP"])
        loss = t.dist.broadcast(stage.validation_loss() if t.dist.is_main else None)
        if loss is not None:
            record["val_loss"] = loss


class EarlyStop(Hook):
    """Stops a stage after ``patience`` epochs without a better validation value (``monitor``) and ends
    it with the best epoch's state of what it trains (``keep=best``), or with its last (``keep=last``)."""

    state_key = "early_stopping"

    def __init__(self) -> None:
        self.early: EarlyStopping | None = None

    def before_stage(self, stage: Stage) -> None:
        s = stage.settings
        self.early = EarlyStopping(s.patience, "min" if s.monitor == "val_loss" else "max")

    def after_epoch(self, stage: Stage, record: dict) -> None:
        if not validates(stage, self.trainer.setup.epoch_validation):  # nothing for validation to decide
            return
        state = {k: m.state_dict() for k, m in stage.modules().items()}
        self.trainer.store.request_stop(self.early.step(record[stage.settings.monitor], self.trainer.epoch, state))

    def after_stage(self, stage: Stage) -> None:
        if not validates(stage, self.trainer.setup.epoch_validation):  # it ends with its last, as it would have
            self.trainer.store.add_results(stage.name, kept_epoch=self.trainer.epoch + 1)
            self.early = None
            return
        if stage.settings.keep == "best":
            for key, module in stage.modules().items():
                module.load_state_dict(self.early.best_state[key])
        kept = self.early.best_epoch if stage.settings.keep == "best" else self.trainer.epoch
        self.trainer.store.add_results(stage.name, **{"best_epoch": self.early.best_epoch + 1,
                                                      "best_" + stage.settings.monitor: self.early.best,
                                                      "kept_epoch": kept + 1})
        self.early = None

    def state_dict(self) -> dict | None:
        return self.early.state_dict() if self.early else None

    def load_state_dict(self, state: dict) -> None:
        self.early.load_state_dict(state)
        self.trainer.store.request_stop(self.early.bad_epochs >= self.early.patience)


class TestEvaluation(Hook):
    """The test split's CMC and mAP after each stage (``eval.after_each_stage``), and after the last
    stage in any case."""

    def _test(self, stage: Stage) -> dict:
        return self.trainer.store.add_results(stage.name, test=self.trainer.score(stage.scored(), "test"))

    def after_stage(self, stage: Stage) -> None:
        t = self.trainer
        if t.setup.after_each_stage:
            result = self._test(stage)
            best = f", best {result['best_epoch']}" if "best_epoch" in result else ""
            t.log.info(f"{stage.name} done (kept epoch {result['kept_epoch']}{best}): test "
                       f"rank-1 {result['test']['rank1']:.3f} mAP {result['test']['mAP']:.3f}")

    def after_train(self) -> None:
        t = self.trainer
        if t.finished and "test" not in t.store.stage_results[t.stages[-1].name]:
            self._test(t.stages[-1])


class ViewLeakage(Hook):
    """After each stage (``eval.view_leakage``): how well a fresh probe tells the views apart from the
    C_valid embeddings (:func:`~viewadapt.evaluation.leakage.view_leakage`), kept in the stage's results;
    the zero-shot floor gets its own before training."""

    def after_stage(self, stage: Stage) -> None:
        t = self.trainer
        if t.setup.view_leakage:
            leakage = t.leakage(stage.scored())
            t.store.add_results(stage.name, view_leakage=leakage)
            t.log.info(f"{stage.name}: view leakage {leakage:.3f} (a fresh probe's view accuracy on C_valid)")


class History(Hook):
    """Every epoch's record, with its time, in the run's history and as a line of the log."""

    def after_epoch(self, stage: Stage, record: dict) -> None:
        t = self.trainer
        record["time_s"] = time.time() - t.epoch_started
        t.store.add_epoch(stage.name, t.epoch + 1, record)
        t.log.info(f"{stage.name} epoch {t.epoch + 1}/{stage.settings.epochs} " +
                   " ".join(f"{k}={v:.4g}" for k, v in record.items() if isinstance(v, float)) +
                   self._eta(stage))

    def _eta(self, stage: Stage) -> str:
        """The stage's time left at its epochs' pace so far (early stopping may end it sooner)."""
        t = self.trainer
        times = t.store.epoch_times(stage.name)
        left = stage.settings.epochs - (t.epoch + 1)
        return f" (stage eta {sum(times) / len(times) * left / 60:.1f} min)" if left > 0 else ""


class TensorBoard(Hook):
    """``train.tensorboard``: each epoch's numbers as TensorBoard scalars under ``<stage>/<name>``, stepped by
    the run's epoch count over all stages (a resumed run continues the curves), and each stage's view
    leakage and test scores when it ends; rank 0 writes, into the run's ``tensorboard/`` folder."""

    def __init__(self) -> None:
        self.writer = None

    def before_train(self) -> None:
        t = self.trainer
        if t.setup.tensorboard and t.dist.is_main and self.writer is None:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(t.run_dir / "tensorboard"))

    def _scalars(self, prefix: str, values: dict) -> None:
        step = len(self.trainer.store.history)
        for name, value in values.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                self.writer.add_scalar(f"{prefix}/{name}", value, step)

    def after_epoch(self, stage: Stage, record: dict) -> None:
        if self.writer is not None:
            self._scalars(stage.name, record)

    def after_stage(self, stage: Stage) -> None:
        if self.writer is not None:
            result = self.trainer.store.stage_results[stage.name]
            self._scalars(stage.name, {"view_leakage": result.get("view_leakage"),
                                       **{f"test_{k}": v for k, v in (result.get("test") or {}).items()}})
            self.writer.flush()

    def after_train(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


class Checkpointer(Hook):
    """``checkpoints/last.pt`` after every epoch and every stage, ``model.safetensors`` when training is
    done; rank 0 writes."""

    def after_epoch(self, stage: Stage, record: dict) -> None:
        self._save(stage)

    def after_stage(self, stage: Stage) -> None:
        self._save(None)

    def _save(self, stage: Stage | None) -> None:
        t = self.trainer
        if t.dist.is_main:
            save_checkpoint(t.run_dir / CHECKPOINT_FILE, t.state_dict(stage))

    def after_train(self) -> None:
        t = self.trainer
        if t.finished and t.dist.is_main:
            save_weights(t.run_dir / WEIGHTS_FILE, t.method.stored(), {"config": yaml.safe_dump(t.setup.config, sort_keys=False)})


class MetricsWriter(Hook):
    """``metrics.json``: per-epoch history and each stage's results, written when ``fit`` returns."""

    def after_train(self) -> None:
        t = self.trainer
        if t.dist.is_main:
            write_json(t.run_dir / METRICS_FILE, t.metrics())


def default_hooks() -> list[Hook]:
    """In the order they run at each point: validation before early stopping reads it, the best state
    restored before the test split is scored, the checkpoint after all of them."""
    return [ZeroShot(), Validation(), EarlyStop(), TestEvaluation(), ViewLeakage(), History(), TensorBoard(),
            Checkpointer(), MetricsWriter()]
