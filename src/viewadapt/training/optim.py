"""Optimisers and the paper's step schedule (lr divided by 10 every 10 epochs)."""

from __future__ import annotations

from typing import Iterable

import torch

from viewadapt.config import StageConfig


def build_optimizer(params: Iterable[torch.nn.Parameter], cfg: StageConfig) -> torch.optim.Optimizer:
    params = [p for p in params if p.requires_grad]
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=0.9, weight_decay=cfg.weight_decay)
    return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def build_scheduler(optimizer: torch.optim.Optimizer, cfg: StageConfig) -> torch.optim.lr_scheduler.StepLR:
    return torch.optim.lr_scheduler.StepLR(optimizer, step_size=cfg.lr_step, gamma=cfg.lr_decay)
