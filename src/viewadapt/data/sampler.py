"""SP batches (MTMCT, ref [26] of the paper): P identities x S images, both views of each identity."""

from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np
from torch.utils.data import Sampler

from viewadapt.errors import ConfigError


class SPBatchSampler(Sampler[list[int]]):
    """Each identity leads one batch per epoch; P-1 others join it at random; S images each.

    An identity's S images are split between the probe and the gallery view (S//2 gallery, the rest
    probe), drawn without replacement where the view has enough images and with replacement otherwise,
    so every probe anchor has at least one cross-view positive. The order depends only on
    ``(seed, epoch)``, which makes a resumed run draw the same batches as an uninterrupted one.
    """

    def __init__(self, pids: Sequence[int], views: Sequence[int], p: int, s: int, seed: int) -> None:
        if p < 2 or s < 2:
            raise ConfigError(f"SP batches need P >= 2 identities and S >= 2 images (got P={p}, S={s})")
        self.p, self.s, self.seed, self.epoch = p, s, seed, 0
        self.index: dict[int, tuple[list[int], list[int]]] = {}
        for i, (pid, view) in enumerate(zip(pids, views)):
            self.index.setdefault(int(pid), ([], []))[int(view)].append(i)
        self.ids = sorted(pid for pid, (a, b) in self.index.items() if a and b)
        if len(self.ids) < p:
            raise ConfigError(
                f"SP batches of P={p} identities need at least {p} identities seen in both views, "
                f"found {len(self.ids)}: lower train.batch_p"
            )

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.ids)

    def _draw(self, rng: np.random.Generator, pool: list[int], k: int) -> list[int]:
        return [int(i) for i in rng.choice(pool, k, replace=len(pool) < k)]

    def __iter__(self) -> Iterator[list[int]]:
        rng = np.random.default_rng([self.seed, self.epoch])
        ids = np.array(self.ids)
        n_gallery = self.s // 2
        for lead in rng.permutation(ids):
            others = rng.choice(ids[ids != lead], self.p - 1, replace=False)
            batch: list[int] = []
            for pid in [int(lead), *map(int, others)]:
                probe, gallery = self.index[pid]
                batch += self._draw(rng, probe, self.s - n_gallery) + self._draw(rng, gallery, n_gallery)
            yield batch
