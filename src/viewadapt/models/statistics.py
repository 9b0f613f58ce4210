"""Batch-norm statistics of a network re-estimated from images, its weights untouched (AdaBN; CBN)."""

from __future__ import annotations

import copy
from typing import Iterable

import torch
from torch import nn

from viewadapt.errors import DataError

STATISTICS = ("running_mean", "running_var")


def recalibrated(network: nn.Module, batches: Iterable[torch.Tensor]) -> nn.Module:
    """A copy of ``network`` (in eval mode) whose batch norms' running mean and variance are estimated
    anew over ``batches``, every weight as it was: each batch norm's statistics are the average of its
    per-batch mean and unbiased variance (PyTorch's cumulative average), each layer seeing the layers
    before it normalised by the same batch's statistics. ``network`` itself is not changed."""
    net = copy.deepcopy(network).eval()  # dropout and the like as at test time
    norms = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        raise DataError("this run's network has no batch norm: there are no statistics to calibrate")
    for bn in norms:
        bn.reset_running_stats()
        bn.momentum = None
        bn.train()
    with torch.no_grad():
        for batch in batches:
            net(batch)
    return net.eval()


def batch_norm_statistics(network: nn.Module, batches: Iterable[torch.Tensor]) -> dict[str, torch.Tensor]:
    """The running statistics of :func:`recalibrated`, by state-dict name."""
    net = recalibrated(network, batches)
    return {k: v.detach().cpu().clone() for k, v in net.state_dict().items() if k.endswith(STATISTICS)}


def even_batches(count: int, batch_size: int) -> list[range]:
    """``count`` items in batches of at least ``batch_size`` (sizes differing by at most one): a batch
    of one image has no variance, so the remainder is spread over the others instead."""
    if batch_size < 2:
        raise DataError(f"batch size {batch_size}: statistics need at least two images a batch")
    n = max(1, count // batch_size)
    bounds = [round(i * count / n) for i in range(n + 1)]
    return [range(a, b) for a, b in zip(bounds, bounds[1:])]
