"""Optimisers and learning-rate schedules: the paper's step schedule (lr divided by 10 every 10 epochs),
or cosine decay, each after an optional linear warm-up. Schedules advance once per epoch."""

from __future__ import annotations

import math
from typing import Iterable, Protocol

import torch


class StageSchedule(Protocol):
    """What optimisers and schedules read of a stage's settings (a config's ``train.<stage>``)."""

    optimizer: str
    lr: float
    weight_decay: float
    schedule: str
    epochs: int
    lr_step: int
    lr_decay: float
    warmup: int


def build_optimizer(params: Iterable[torch.nn.Parameter], cfg: StageSchedule) -> torch.optim.Optimizer:
    params = [p for p in params if p.requires_grad]
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=0.9, weight_decay=cfg.weight_decay)
    return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def lr_factor(epoch: int, cfg: StageSchedule) -> float:
    """The learning rate of epoch ``epoch`` (from 0) as a fraction of ``cfg.lr``.

    Warm-up rises linearly over the first ``warmup`` epochs (1/(w+1), 2/(w+1), ...); then ``step``
    multiplies by ``lr_decay`` every ``lr_step`` epochs (counted from the first) and ``cosine``
    follows half a cosine from 1 towards 0 over the epochs after the warm-up.
    """
    if epoch < cfg.warmup:
        return (epoch + 1) / (cfg.warmup + 1)
    if cfg.schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * (epoch - cfg.warmup) / (cfg.epochs - cfg.warmup)))
    return cfg.lr_decay ** (epoch // cfg.lr_step)


def build_scheduler(optimizer: torch.optim.Optimizer, cfg: StageSchedule) -> torch.optim.lr_scheduler.LRScheduler:
    if cfg.schedule == "step" and cfg.warmup == 0:
        # the paper's schedule, as the step scheduler computes it (runs written before warm-up existed resume)
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=cfg.lr_step, gamma=cfg.lr_decay)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: lr_factor(epoch, cfg))
