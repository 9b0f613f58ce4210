"""The staged trainer of Algorithm 1: (a) identity init, (b) similarity, (c) adversarial view adaptation.

It composes models, losses, samplers and evaluation defined elsewhere; what it owns is the order of
the stages, validation and early stopping, checkpoints and the run folder.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn
from torch.utils.data import BatchSampler, DataLoader, RandomSampler

from viewadapt.config import STAGES, Config, config_from_dict, load_config
from viewadapt.data import Split, ensure_generated, prepare_split, split_base
from viewadapt.data.images import ViewImages, ensure_readable, eval_transform, train_transform
from viewadapt.data.sampler import SPBatchSampler
from viewadapt.errors import CheckpointError
from viewadapt.evaluation.scoring import score_records
from viewadapt.models import SimilarityDiscriminator, ViewDiscriminator, ViewMappings
from viewadapt.training import stages
from viewadapt.training.checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from viewadapt.training.distributed import Dist, ShardedBatches
from viewadapt.training.early_stopping import EarlyStopping
from viewadapt.training.optim import build_optimizer, build_scheduler
from viewadapt.training.run_dir import environment, new_run_dir, setup_logging, write_json
from viewadapt.training.step import Stepper

CHECKPOINT = Path("checkpoints") / "last.pt"
WEIGHTS = "model.safetensors"


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def build_models(cfg: Config) -> tuple[ViewMappings, SimilarityDiscriminator, ViewDiscriminator]:
    m = cfg.model
    regressor = m.regressor_hidden if cfg.loss.metric == "regression" else None
    mappings = ViewMappings.build(m.probe_backbone, m.gallery_backbone, m.embedding_dim, m.shared,
                                  m.pretrained, m.allow_download, m.normalize, cfg.extra_backbones(), regressor)
    return (mappings, SimilarityDiscriminator(m.embedding_dim, m.ds_hidden),
            ViewDiscriminator(m.embedding_dim, m.dd_hidden, cfg.num_views))


def save_weights(path: Path, mappings: nn.Module, ds: nn.Module, dd: nn.Module, cfg: Config) -> None:
    tensors = {f"{prefix}.{k}": v.detach().cpu().contiguous()
               for prefix, mod in (("mappings", mappings), ("ds", ds), ("dd", dd))
               for k, v in mod.state_dict().items()}
    save_file(tensors, str(path), metadata={"config": cfg.to_yaml()})


def load_weights(path: Path, mappings: nn.Module, ds: nn.Module, dd: nn.Module) -> None:
    try:
        tensors = load_file(str(path))
    except Exception as exc:
        raise CheckpointError(f"cannot read weights {path} ({exc}): the file is corrupt; retrain or restore it") from None
    for prefix, mod in (("mappings", mappings), ("ds", ds), ("dd", dd)):
        part = {k[len(prefix) + 1:]: v for k, v in tensors.items() if k.startswith(prefix + ".")}
        try:
            mod.load_state_dict(part)
        except RuntimeError:
            raise CheckpointError(f"weights {path} do not fit the model of this config: evaluate with the "
                                  "config.yaml of the run that wrote them") from None


def _quiet_logger() -> logging.Logger:
    """Ranks other than 0 log nothing: one run, one log."""
    log = logging.getLogger("viewadapt.rank")
    log.addHandler(logging.NullHandler())
    log.propagate = False
    return log


class Trainer:
    """Runs the enabled stages in order, checkpointing after every epoch; ``fit`` resumes where it stopped."""

    def __init__(self, cfg: Config, run_dir: Path, split: Split, logger: logging.Logger | None = None,
                 d: Dist | None = None, device: torch.device | None = None) -> None:
        self.cfg, self.run_dir, self.split = cfg, Path(run_dir), split
        self.log = logger or logging.getLogger("viewadapt")
        self.dist = d or Dist()
        self.device = device or resolve_device(cfg.train.device)
        self.stepper = Stepper(cfg.train.amp, self.device, self.dist)
        torch.manual_seed(cfg.train.seed)
        self.mappings, self.ds, self.dd = (m.to(self.device) for m in build_models(cfg))
        self.train_set = ViewImages(split.train, train_transform(cfg.data.height, cfg.data.width))
        self.heads = nn.ModuleList(
            stages.ClassifierHead(cfg.model.embedding_dim, len(self.train_set.pids)) for _ in self.mappings.views()
        ).to(self.device)
        for module in (self.mappings, self.ds, self.dd, self.heads):
            self.dist.sync_module(module)  # one starting point on every rank
        self.valid_set = ViewImages(split.valid, eval_transform(cfg.data.height, cfg.data.width))
        # Progress: the stage being trained and the last finished epoch within it.
        self.stage_index, self.epoch = 0, -1
        self.history: list[dict] = []
        self.stage_results: dict[str, dict] = {}
        self.elapsed = 0.0
        self._resume_state: dict | None = None

    # ---- construction -------------------------------------------------------------------------
    @classmethod
    def create(cls, cfg: Config, verbose: bool = True, d: Dist | None = None,
               device: torch.device | None = None) -> "Trainer":
        """A new run folder with the resolved config, the environment, the split and a log.

        Under ``torchrun`` rank 0 makes the folder and the split; the other ranks read them from it.
        """
        d = d or Dist()
        run_dir = None
        if d.is_main:
            _, split = prepare_split(cfg.data)
            ensure_readable([r.path for n in ("train", "valid", "test") for r in split.subset(n)], cfg.data.dataset)
            run_dir = new_run_dir(cfg)
            (run_dir / "config.yaml").write_text(cfg.to_yaml())
            write_json(run_dir / "environment.json", {**environment(), "world_size": d.world})
            split.to_json(run_dir / "split.json", split_base(cfg.data))
        run_dir = Path(d.broadcast(str(run_dir)))
        if not d.is_main:
            split = Split.from_json(run_dir / "split.json", split_base(cfg.data))
        logger = setup_logging(run_dir, verbose) if d.is_main else _quiet_logger()
        logger.info(f"run folder {run_dir}" + (f", {d.world} processes" if d.active else ""))
        return cls(cfg, run_dir, split, logger, d, device)

    @classmethod
    def resume(cls, run_dir: str | Path, verbose: bool = True, d: Dist | None = None,
               device: torch.device | None = None) -> "Trainer":
        d = d or Dist()
        run_dir = Path(run_dir)
        state = load_checkpoint(run_dir / CHECKPOINT)
        cfg = load_config(run_dir / "config.yaml")
        saved = state.get("config")
        if not isinstance(saved, dict) or config_from_dict(saved).to_dict() != cfg.to_dict():
            raise CheckpointError(f"{run_dir / CHECKPOINT} was written for another config than "
                                  f"{run_dir / 'config.yaml'}: restore that file or start a new run")
        if d.is_main:
            ensure_generated(cfg.data)
        d.broadcast(None)  # the other ranks read the images only once rank 0 has them in place
        split = Split.from_json(run_dir / "split.json", split_base(cfg.data))
        trainer = cls(cfg, run_dir, split, setup_logging(run_dir, verbose) if d.is_main else _quiet_logger(), d, device)
        trainer._load(state)
        trainer.log.info(f"resumed {run_dir} at stage {STAGES[trainer.stage_index]}, epoch {trainer.epoch + 1}")
        return trainer

    # ---- state --------------------------------------------------------------------------------
    def _modules(self, stage: str) -> dict[str, nn.Module]:
        """What a stage trains, and so what its best state holds."""
        if stage == "init":
            return {"mappings": self.mappings, "heads": self.heads}
        if stage == "similarity":
            return {"mappings": self.mappings, "ds": self.ds}
        return {"mappings": self.mappings, "ds": self.ds, "dd": self.dd}

    def _model_state(self, stage: str) -> dict:
        return {k: m.state_dict() for k, m in self._modules(stage).items()}

    def _checkpoint(self, optimizers: dict, schedulers: dict, early: EarlyStopping | None) -> None:
        if not self.dist.is_main:
            return
        save_checkpoint(self.run_dir / CHECKPOINT, {
            "config": self.cfg.to_dict(),
            "stage_index": self.stage_index,
            "epoch": self.epoch,
            "models": {k: m.state_dict() for k, m in
                       (("mappings", self.mappings), ("ds", self.ds), ("dd", self.dd), ("heads", self.heads))},
            "optimizers": {k: o.state_dict() for k, o in optimizers.items()},
            "schedulers": {k: s.state_dict() for k, s in schedulers.items()},
            "early_stopping": early.state_dict() if early else None,
            "history": self.history,
            "stage_results": self.stage_results,
            "elapsed": self.elapsed,
            "rng": rng_state(),
            "grad_scaler": self.stepper.state_dict(),
        })

    def _load(self, state: dict) -> None:
        for key, mod in (("mappings", self.mappings), ("ds", self.ds), ("dd", self.dd), ("heads", self.heads)):
            mod.load_state_dict(state["models"][key])
        self.stage_index, self.epoch = state["stage_index"], state["epoch"]
        self.history, self.stage_results = state["history"], state["stage_results"]
        self.elapsed = state["elapsed"]
        set_rng_state(state["rng"])
        self.stepper.load_state_dict(state.get("grad_scaler", {}))
        self._resume_state = state

    # ---- data ---------------------------------------------------------------------------------
    def _loader(self, stage: str, epoch: int) -> DataLoader:
        t, workers = self.cfg.train, self.cfg.data.num_workers
        if stage == "init":
            gen = torch.Generator().manual_seed(t.seed * 100003 + epoch)
            bs = min(t.init_batch_size, len(self.train_set))
            batches = BatchSampler(RandomSampler(self.train_set, generator=gen), bs, drop_last=len(self.train_set) > bs)
        else:
            batches = self._sp_sampler(self.train_set, t.seed + STAGES.index(stage))
            batches.set_epoch(epoch)
        if self.dist.active:
            batches = ShardedBatches(batches, self.dist)
        return DataLoader(self.train_set, batch_sampler=batches, num_workers=workers,
                          pin_memory=self.device.type == "cuda")

    def _sp_sampler(self, dataset: ViewImages, seed: int) -> SPBatchSampler:
        t = self.cfg.train
        pids, views = [r.pid for r in dataset.records], [r.view for r in dataset.records]
        return SPBatchSampler(pids, views, min(t.batch_p, len(dataset.pids)), t.batch_s, seed)

    # ---- evaluation ---------------------------------------------------------------------------
    def evaluate(self, subset: str = "test", protocol: str | None = None, network: int | None = None,
                 rerank: str | None = None) -> dict:
        """Score a split: probes through Ms, gallery through Mt; or both views through one network.

        Before stage (b) there is no trained Ds, so a configured Ds re-ranking is left out there.
        """
        mappings = self.mappings
        if network is not None:
            mappings = ViewMappings(self.mappings.views()[network], None, num_views=self.mappings.num_views)
            if (rerank or self.cfg.eval.rerank) == "ds":
                rerank = "none"
        result = None
        if self.dist.is_main:  # one rank scores; the others get its numbers
            result = score_records(mappings, self.split.subset(subset), self.cfg, self.device, protocol,
                                   ds=self.ds, rerank=rerank)
            result = {**result, "split": self.split.label}
        return self.dist.broadcast(result)

    def _stage_eval(self, stage: str, subset: str, rerank: str | None = None) -> dict:
        """After stage (a) Ms and Mt are two unrelated networks, so cross-network distances mean nothing
        yet: that stage is scored per network (each on both views) and its headline is the mean."""
        if stage != "init":
            return self.evaluate(subset, rerank=rerank)
        per_net = [self.evaluate(subset, network=i, rerank=rerank) for i in range(len(self.mappings.views()))]
        if len(per_net) == 1:
            return per_net[0]
        mean = {k: sum(r[k] for r in per_net) / len(per_net) for k, v in per_net[0].items() if isinstance(v, float)}
        mean["cmc"] = [sum(c) / len(per_net) for c in zip(*(r["cmc"] for r in per_net))]
        return {**per_net[0], **mean, "per_network": per_net}

    def _validate(self, stage: str) -> dict:
        metrics = self._stage_eval(stage, "valid", rerank="none")  # early stopping watches the plain ranking
        out = {"val_rank1": metrics["rank1"], "val_mAP": metrics["mAP"]}
        if stage != "init":
            sampler = self._sp_sampler(self.valid_set, seed=12345)  # the same batches every epoch
            batches = DataLoader(self.valid_set, batch_sampler=sampler, num_workers=self.cfg.data.num_workers)
            out["val_loss"] = self.dist.broadcast(
                stages.validation_loss(stage, self.mappings, self.ds, self.dd, batches, self.cfg.loss, self.device)
                if self.dist.is_main else None)
        return out

    # ---- training -----------------------------------------------------------------------------
    def _optimizers(self, stage: str) -> tuple[dict, dict]:
        sc = self.cfg.stage(stage)
        if stage == "init":
            opts = {"init": build_optimizer([*self.mappings.parameters(), *self.heads.parameters()], sc)}
        elif stage == "similarity" and self.cfg.loss.metric == "regression":
            opts = {"similarity": build_optimizer(list(self.mappings.regressor.parameters()), sc)}
        elif stage == "similarity":
            opts = {"similarity": build_optimizer([*self.mappings.parameters(), *self.ds.parameters()], sc)}
        else:
            opts = {"mappings": build_optimizer([*self.mappings.parameters(), *self.ds.parameters()], sc),
                    "dd": torch.optim.Adam(self.dd.parameters(), lr=self.cfg.train.dd_lr, betas=(0.5, 0.999))}
        return opts, {k: build_scheduler(o, sc) for k, o in opts.items()}

    def _train_epoch(self, stage: str, epoch: int, opts: dict) -> dict:
        batches = self._loader(stage, epoch)
        desc = f"{stage} {epoch + 1}/{self.cfg.stage(stage).epochs}"
        if stage == "init":
            stats = stages.init_epoch(self.mappings, self.heads, opts["init"], batches, self.device, desc, self.stepper)
        elif stage == "similarity" and self.cfg.loss.metric == "regression":
            stats = stages.regression_epoch(self.mappings, opts["similarity"], batches, self.cfg.loss, self.device,
                                            desc, self.stepper)
        elif stage == "similarity":
            stats = stages.similarity_epoch(self.mappings, self.ds, opts["similarity"], batches, self.cfg.loss,
                                            self.device, desc, self.stepper)
        else:
            stats = stages.adaptation_epoch(self.mappings, self.ds, self.dd, opts["mappings"], opts["dd"], batches,
                                            self.cfg.loss, self.device, self.cfg.train.dd_steps, desc, self.stepper)
        for module in (self.mappings, self.ds, self.dd, self.heads):
            self.dist.sync_module(module, buffers_only=True)  # batch-norm statistics: rank 0's
        if self.dist.active:
            stats["first_loss_by_rank"] = self.dist.gather(stats["first_loss"])
        return self.dist.mean(stats)

    def fit(self, max_epochs: int | None = None) -> dict:
        """Train until every enabled stage is done, or for at most ``max_epochs`` epochs in this call.

        Returns the metrics written to ``metrics.json``; an unfinished call can be continued with
        :meth:`resume`.
        """
        budget = max_epochs
        while self.stage_index < len(STAGES):
            stage = STAGES[self.stage_index]
            if self.cfg.stage(stage).enabled and stage not in self.stage_results:
                budget = self._run_stage(stage, budget)
                if stage not in self.stage_results:
                    return self._write_metrics(finished=False)
            self.stage_index, self.epoch = self.stage_index + 1, -1
            self._resume_state = None  # a resumed stage's optimisers never carry into the next stage
        self._finish()
        return self._write_metrics(finished=True)

    def _run_stage(self, stage: str, budget: int | None) -> int | None:
        sc = self.cfg.stage(stage)
        opts, scheds = self._optimizers(stage)
        early = EarlyStopping(sc.patience, "min" if sc.monitor == "val_loss" else "max")
        resume, self._resume_state = self._resume_state, None
        if resume is not None and resume["epoch"] >= 0:
            for k, o in opts.items():
                o.load_state_dict(resume["optimizers"][k])
            for k, s in scheds.items():
                s.load_state_dict(resume["schedulers"][k])
            early.load_state_dict(resume["early_stopping"])
        stop = early.bad_epochs >= early.patience
        while not stop and self.epoch + 1 < sc.epochs:
            if budget is not None and budget <= 0:
                return budget
            epoch = self.epoch + 1
            start = time.time()
            stats = self._train_epoch(stage, epoch, opts)
            stats.update(self._validate(stage))
            stats["lr"] = next(iter(opts.values())).param_groups[0]["lr"]
            for s in scheds.values():
                s.step()
            stop = early.step(stats[sc.monitor], epoch, self._model_state(stage))
            stats["time_s"] = time.time() - start
            self.elapsed += stats["time_s"]
            self.history.append({"stage": stage, "epoch": epoch + 1, **stats})
            self.log.info(f"{stage} epoch {epoch + 1}/{sc.epochs} " +
                          " ".join(f"{k}={v:.4g}" for k, v in stats.items() if isinstance(v, float)))
            self.epoch = epoch
            self._checkpoint(opts, scheds, early)
            budget = None if budget is None else budget - 1
        self._end_stage(stage, early)
        self._checkpoint({}, {}, None)
        return budget

    def _end_stage(self, stage: str, early: EarlyStopping) -> None:
        for key, module in self._modules(stage).items():
            module.load_state_dict(early.best_state[key])
        result = {"best_epoch": early.best_epoch + 1, "best_" + self.cfg.stage(stage).monitor: early.best}
        if self.cfg.eval.after_each_stage:
            result["test"] = self._stage_eval(stage, "test")
            self.log.info(f"{stage} done (best epoch {early.best_epoch + 1}): test "
                          f"rank-1 {result['test']['rank1']:.3f} mAP {result['test']['mAP']:.3f}")
        self.stage_results[stage] = result

    def _finish(self) -> None:
        last = [s for s in STAGES if s in self.stage_results][-1]
        if "test" not in self.stage_results[last]:
            self.stage_results[last]["test"] = self._stage_eval(last, "test")
        if self.dist.is_main:
            save_weights(self.run_dir / WEIGHTS, self.mappings, self.ds, self.dd, self.cfg)

    def _write_metrics(self, finished: bool) -> dict:
        stages_done = [s for s in STAGES if s in self.stage_results]
        metrics = {
            "finished": finished,
            "history": self.history,
            "stages": self.stage_results,
            "test": self.stage_results[stages_done[-1]].get("test") if finished else None,
            "train_time_s": self.elapsed,
        }
        if self.dist.is_main:
            write_json(self.run_dir / "metrics.json", metrics)
        return metrics


def load_trained(run_dir: str | Path) -> tuple[Config, Split, ViewMappings, SimilarityDiscriminator, ViewDiscriminator]:
    """A finished run's config, split and models (weights from ``model.safetensors``)."""
    run_dir = Path(run_dir)
    if not (run_dir / "config.yaml").is_file():
        raise CheckpointError(f"{run_dir} is not a run folder (no config.yaml): give the folder `viewadapt train` wrote")
    cfg = load_config(run_dir / "config.yaml")
    if not (run_dir / WEIGHTS).is_file():
        raise CheckpointError(f"{run_dir} has no {WEIGHTS}: its training did not finish; "
                              f"run `viewadapt train --resume {run_dir}`")
    cfg.model.pretrained = False  # the weights file replaces any initial weights
    ensure_generated(cfg.data)
    mappings, ds, dd = build_models(cfg)
    load_weights(run_dir / WEIGHTS, mappings, ds, dd)
    split = Split.from_json(run_dir / "split.json", split_base(cfg.data))
    return cfg, split, mappings, ds, dd


__all__ = ["Trainer", "build_models", "load_trained", "resolve_device"]
