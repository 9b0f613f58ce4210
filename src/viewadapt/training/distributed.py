"""Data-parallel training across processes launched by ``torchrun`` (NCCL on GPUs, gloo on CPUs).

Every rank holds the same models. Each takes its own share of the batches (batch ``i`` of the
global, seeded order goes to rank ``i mod world``), gradients are averaged across ranks before
every optimiser step, batch-norm statistics follow rank 0, and rank 0 alone evaluates, writes the
run folder and checkpoints; what it decides (metrics, early stopping) is broadcast to the others.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import Sampler


@dataclass(frozen=True)
class Dist:
    """This process's place in the job; the default is a single process."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1

    def broadcast(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every rank (any picklable value)."""
        if not self.active:
            return obj
        box = [obj if self.is_main else None]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def gather(self, obj: Any) -> list:
        """Every rank's ``obj``, in rank order, on every rank."""
        if not self.active:
            return [obj]
        out: list = [None] * self.world
        dist.all_gather_object(out, obj)
        return out

    def average_gradients(self, params: Iterable[nn.Parameter]) -> None:
        if not self.active:
            return
        grads = [p.grad for p in params if p.grad is not None]
        if grads:
            flat = torch.cat([g.reshape(-1) for g in grads])
            dist.all_reduce(flat)
            flat /= self.world
            offset = 0
            for g in grads:
                g.copy_(flat[offset:offset + g.numel()].view_as(g))
                offset += g.numel()

    def mean(self, stats: dict) -> dict:
        """Float statistics averaged over ranks (others pass through)."""
        if not self.active:
            return stats
        keys = sorted(k for k, v in stats.items() if isinstance(v, float))
        values = torch.tensor([stats[k] for k in keys], dtype=torch.float64)
        dist.all_reduce(values)
        return {**stats, **{k: float(v) / self.world for k, v in zip(keys, values)}}

    def sync_module(self, module: nn.Module, buffers_only: bool = False) -> None:
        """Rank 0's parameters (and buffers) on every rank."""
        if not self.active:
            return
        tensors = list(module.buffers()) + ([] if buffers_only else list(module.parameters()))
        for t in tensors:
            dist.broadcast(t.data, src=0)


def setup(device_name: str) -> tuple[Dist, torch.device | None]:
    """Join the job ``torchrun`` started (WORLD_SIZE > 1), else a single process; returns the device
    a rank must use (its own GPU) or None to keep the config's."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist(), None
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    cuda = device_name != "cpu" and torch.cuda.is_available()
    if not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo")
    if cuda:
        torch.cuda.set_device(local)
    return Dist(rank, world, local), torch.device(f"cuda:{local}") if cuda else torch.device("cpu")


def teardown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


class ShardedBatches(Sampler[list[int]]):
    """Batch ``i`` of ``batches`` goes to rank ``i mod world``; every rank gets the same count, so
    ranks stay in step (the last ``len % world`` batches of an epoch are dropped)."""

    def __init__(self, batches: Sampler[list[int]], d: Dist) -> None:
        self.batches, self.d = batches, d

    def __len__(self) -> int:
        return len(self.batches) // self.d.world

    def __iter__(self) -> Iterator[list[int]]:
        n = len(self)
        for i, batch in enumerate(self.batches):
            if i // self.d.world >= n:
                return
            if i % self.d.world == self.d.rank:
                yield batch
