"""SP batches (MTMCT, ref [26] of the paper): P identities x S images, both views of each identity."""

from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np
from torch.utils.data import Sampler

from viewadapt.errors import ConfigError


class SPBatchSampler(Sampler[list[int]]):
    """Each identity leads one batch per epoch; P-1 others join it at random; S images each.

    A batch covers two views (a, b), a < b: with the paper's two views always (probe, gallery); with
    V > 2 camera views, a random pair of the lead identity's views, the other identities drawn among
    those seen in both. An identity's S images are split between the views (S//2 in b, the rest in
    a), drawn without replacement where the view has enough images and with replacement otherwise, so
    every anchor has at least one cross-view positive. The order depends only on ``(seed, epoch)``,
    which makes a resumed run draw the same batches as an uninterrupted one.

    Where fewer than P identities are seen in two views (a gallery camera without labels,
    ``data.labeled_pairs=0``, or self-training's first pseudo-labels), the batches come from one
    camera: each identity with at least two images in a view gives min(S, its images there) of them,
    drawn without replacement, the first half matched against the second
    (:meth:`~viewadapt.objectives.batch.ViewBatch.labeled`), so no image is ever its own positive.

    ``num_batches`` makes an epoch that many batches instead (their leads a random sample of the
    identities, cycling through them): with about ``len(images) / (P * S)`` an epoch shows each image
    about once, as random batches do, where the paper's epoch shows each identity P * S times.
    """

    def __init__(self, pids: Sequence[int], views: Sequence[int], p: int, s: int, seed: int,
                 num_batches: int | None = None) -> None:
        if p < 2 or s < 2:
            raise ConfigError(f"SP batches need P >= 2 identities and S >= 2 images (got P={p}, S={s})")
        self.p, self.s, self.seed, self.epoch = p, s, seed, 0
        self.num_batches = num_batches
        self.index: dict[int, dict[int, list[int]]] = {}
        for i, (pid, view) in enumerate(zip(pids, views)):
            self.index.setdefault(int(pid), {}).setdefault(int(view), []).append(i)
        self.ids = sorted(pid for pid, by_view in self.index.items() if len(by_view) >= 2)
        self.single_view = len(self.ids) < p
        if self.single_view:
            self.ids = sorted(pid for pid, by_view in self.index.items() if max(map(len, by_view.values())) >= 2)
        if len(self.ids) < p:
            raise ConfigError(
                f"SP batches of P={p} identities need at least {p} identities seen in two views, or with two "
                f"images in one view, found {len(self.ids)}: lower train.batch_p"
            )
        # identities by view pair, for drawing a batch's companions ((v, v): two images in view v)
        self.by_pair: dict[tuple[int, int], np.ndarray] = {}
        for pid in self.ids:
            for a, b in self._pairs(pid):
                self.by_pair.setdefault((a, b), []).append(pid)  # type: ignore[arg-type]
        self.by_pair = {k: np.array(v) for k, v in self.by_pair.items()}

    def _pairs(self, pid: int) -> list[tuple[int, int]]:
        """The view pairs a batch led by ``pid`` may cover (in one camera: the first with two images)."""
        views_of = sorted(self.index[pid])
        if self.single_view:
            return [next((v, v) for v in views_of if len(self.index[pid][v]) >= 2)]
        return [(a, b) for i, a in enumerate(views_of) for b in views_of[i + 1:]]

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.num_batches or len(self.ids)

    def _draw(self, rng: np.random.Generator, pool: list[int], k: int) -> list[int]:
        return [int(i) for i in rng.choice(pool, k, replace=len(pool) < k)]

    def __iter__(self) -> Iterator[list[int]]:
        rng = np.random.default_rng([self.seed, self.epoch])
        n_b = self.s // 2
        leads = rng.permutation(np.array(self.ids))
        if self.num_batches:
            leads = np.resize(leads, self.num_batches)
        for lead in leads:
            views_of = sorted(self.index[int(lead)])
            if self.single_view:
                a = b = next(v for v in views_of if len(self.index[int(lead)][v]) >= 2)
            elif len(views_of) == 2:
                a, b = views_of
            else:
                a, b = sorted(int(v) for v in rng.choice(views_of, 2, replace=False))
            pool = self.by_pair[(a, b)]
            pool = pool[pool != lead]
            others = rng.choice(pool, min(self.p - 1, len(pool)), replace=False)
            batch: list[int] = []
            for pid in [int(lead), *map(int, others)]:
                if a == b:
                    images = self.index[pid][a]
                    batch += [int(i) for i in rng.choice(images, min(self.s, len(images)), replace=False)]
                else:
                    batch += (self._draw(rng, self.index[pid][a], self.s - n_b)
                              + self._draw(rng, self.index[pid][b], n_b))
            yield batch
