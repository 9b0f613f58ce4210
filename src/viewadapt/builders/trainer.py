"""From a config to a trainer: a new run folder and what the trainer trains, or a run resumed from its
folder with the config and split it was created with."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

import torch

from viewadapt.builders.data import check_split_images, decoded_images, ensure_generated, prepare_split, split_base
from viewadapt.builders.trained import read_split
from viewadapt.builders.method import build_method
from viewadapt.config import STAGES, Config, config_from_dict, load_config
from viewadapt.data import Split, hide_gallery_labels
from viewadapt.data.splits import hide_people
from viewadapt.data.augment import eval_transform, train_transform
from viewadapt.data.images import ViewImages
from viewadapt.data.records import STRANGER_PID
from viewadapt.errors import CheckpointError
from viewadapt.runs.checkpoint import load_checkpoint
from viewadapt.runs.device import resolve_device
from viewadapt.runs.folder import (CHECKPOINT_FILE, CONFIG_FILE, SPLIT_FILE, new_run_folder, remove_new_run_folder,
                                  run_finished, setup_logging)
from viewadapt.runs.lock import RunLock
from viewadapt.training.distributed import Dist
from viewadapt.training.hooks import Hook
from viewadapt.training.setup import RunSetup
from viewadapt.training.trainer import Trainer


def run_setup(cfg: Config) -> RunSetup:
    """What training reads of ``cfg``, as values."""
    t, loss, d, e = cfg.train, cfg.loss, cfg.data, cfg.eval
    return RunSetup(
        config=cfg.to_dict(), stages={name: cfg.stage(name) for name in STAGES}, seed=t.seed, batch_p=t.batch_p,
        batch_s=t.batch_s, init_batch_size=t.init_batch_size, init_sampler=t.init_sampler, sp_epoch=t.sp_epoch,
        shared_classifier=t.init_classifier == "shared", label_smoothing=loss.label_smoothing, triplet=loss.triplet,
        triplet_margin=loss.triplet_margin, lambda_sim=loss.lambda_sim, amp=t.amp, eval=e,
        after_each_stage=e.after_each_stage, epoch_validation=e.epoch_validation, zero_shot=e.zero_shot, view_leakage=e.view_leakage,
        one_start=cfg.model.view_asymmetry.one_start, num_workers=d.num_workers, height=d.height, width=d.width,
        tensorboard=t.tensorboard)


def zero_shot_label(cfg: Config) -> str:
    """Which untrained features a run's zero-shot floor scores: its distinct networks' initial weights,
    named in sorted order because the floor is their mean, whichever view each one maps."""
    m = cfg.model
    nets = [m.probe_backbone] if m.view_asymmetry.one_start else [m.probe_backbone, m.gallery_backbone,
                                                                  *m.extra_backbones]
    names = " / ".join(sorted(set(nets)))
    weights = "ImageNet features" if m.pretrained else "random weights"
    return f"zero-shot: {names} {weights}, no training" + (" (mean over the networks)" if len(set(nets)) > 1 else "")


def run_config_text(cfg: Config) -> str:
    """A run's ``config.yaml``: the resolved config under two lines that say which method it trains."""
    return (f"# {cfg.method()}\n# the paper's method: -c paper; the recommended one: no -c (the defaults)\n"
            + cfg.to_yaml())


def build_trainer(cfg: Config, run_dir: Path, split: Split, logger: logging.Logger | None = None,
                  d: Dist | None = None, device: torch.device | None = None,
                  hooks: list[Hook] | None = None) -> Trainer:
    """The trainer of ``cfg`` for the run in ``run_dir``: the method built from the seed, the training
    images (people nobody labelled, ``data.labeled_people``, and a camera's hidden labels, ``data.labeled_pairs``,
    apart, with ``data.unlabeled_root``'s) with
    the config's augmentation, decoded once where ``data.cache_images``."""
    device = device or resolve_device(cfg.train.device)
    torch.manual_seed(cfg.train.seed)  # before the method: its initial weights are drawn from it
    method = build_method(cfg)
    h, w = cfg.data.height, cfg.data.width
    people, nobody = hide_people(split.train, cfg.data.labeled_people, cfg.data.split_seed)
    labeled, hidden = hide_gallery_labels(people, cfg.data.labeled_pairs, cfg.data.split_seed, cfg.num_views - 1)
    unlabeled = nobody + hidden + split.unlabeled
    augmented = train_transform(h, w, cfg.data.augment)
    decoded = decoded_images(cfg.data, split)
    return Trainer(run_setup(cfg), run_dir, split, method,
                   ViewImages(labeled, augmented, decoded), ViewImages(split.valid, eval_transform(h, w), decoded),
                   ViewImages(unlabeled, augmented, decoded) if unlabeled else None, device, logger, d, hooks)


def _quiet_logger() -> logging.Logger:
    """Ranks other than 0 log nothing: one run, one log."""
    log = logging.getLogger("viewadapt.rank")
    log.addHandler(logging.NullHandler())
    log.propagate = False
    return log


def _locked(lock: RunLock | None, make: Callable[[], Trainer]) -> Trainer:
    """The trainer ``make`` builds, holding ``lock``; the lock is let go if building fails."""
    try:
        trainer = make()
    except BaseException:
        if lock is not None:
            lock.release()
        raise
    trainer.hold(lock)
    return trainer


def create_trainer(cfg: Config, verbose: bool = True, d: Dist | None = None,
                   device: torch.device | None = None) -> Trainer:
    """A new run folder with the resolved config, the environment, the split and a log, and its trainer.

    Under ``torchrun`` rank 0 makes the folder and the split; the other ranks read them from it.
    """
    d = d or Dist()
    device = device or resolve_device(cfg.train.device)  # a missing GPU is told before a folder is made
    run_dir, lock = None, None
    if d.is_main:
        _, split = prepare_split(cfg.data)
        check_split_images(cfg.data, split)
        run_dir = new_run_folder(cfg.output_dir, cfg.name, run_config_text(cfg), split, split_base(cfg.data), d.world)
        lock = RunLock.acquire(run_dir)
    run_dir = Path(d.broadcast(str(run_dir)))
    if not d.is_main:
        split = Split.from_json(run_dir / SPLIT_FILE, split_base(cfg.data))
    logger = setup_logging(run_dir, verbose) if d.is_main else _quiet_logger()
    logger.info(f"run folder {run_dir}" + (f", {d.world} processes" if d.active else ""))
    if split.unlabeled:
        view, strangers = split.unlabeled[0].view, sum(r.pid == STRANGER_PID for r in split.unlabeled)
        if strangers < len(split.unlabeled):
            logger.info(f"{len(split.unlabeled) - strangers} unlabelled images of view {view} from "
                        f"{cfg.data.unlabeled_root}")
        if strangers:
            logger.info(f"{strangers} crops of the synthetic set's strangers (people labelled nowhere) join view "
                        f"{view}'s unlabelled images")
    try:
        return _locked(lock, lambda: build_trainer(cfg, run_dir, split, logger, d, device))
    except BaseException:
        if d.is_main:
            remove_new_run_folder(run_dir)  # nothing trained yet: the same command starts it again
        raise


def resume_trainer(run_dir: str | Path, verbose: bool = True, d: Dist | None = None,
                   device: torch.device | None = None) -> Trainer:
    """The trainer of the run in ``run_dir``, from its last checkpoint; a run that stopped before its first
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
    return _locked(lock, lambda: _resumed(run_dir, verbose, d, device))


def _placed(tree: dict) -> dict:
    """A config tree less where its data are (``data.root``)."""
    return {**tree, "data": {k: v for k, v in tree["data"].items() if k != "root"}}


def _resumed(run_dir: Path, verbose: bool, d: Dist, device: torch.device | None) -> Trainer:
    has_checkpoint = (run_dir / CHECKPOINT_FILE).is_file()
    state = load_checkpoint(run_dir / CHECKPOINT_FILE) if has_checkpoint else None
    cfg = load_config(run_dir / CONFIG_FILE)
    if state is not None:
        saved = state.get("config")
        # where the data is may change between the two (a moved dataset); what the run trains may not
        if not isinstance(saved, dict) or _placed(config_from_dict(saved).to_dict()) != _placed(cfg.to_dict()):
            raise CheckpointError(f"{run_dir / CHECKPOINT_FILE} was written for another config than "
                                  f"{run_dir / CONFIG_FILE}: restore that file or start a new run")
    if d.is_main:
        ensure_generated(cfg.data)
    d.broadcast(None)  # the other ranks read the images only once rank 0 has them in place
    split = read_split(run_dir, split_base(cfg.data))
    if d.is_main:
        check_split_images(cfg.data, split, run_dir)
    logger = setup_logging(run_dir, verbose) if d.is_main else _quiet_logger()
    trainer = build_trainer(cfg, run_dir, split, logger, d, device)
    if state is None:
        trainer.log.info(f"{run_dir} stopped before its first checkpoint: training it from the start")
        return trainer
    trainer.load_state_dict(state, run_dir / CHECKPOINT_FILE)
    trainer.log.info(f"resumed {run_dir}: {trainer.progress()}")
    return trainer
