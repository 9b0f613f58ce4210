"""The steps of Algorithm 1 as objects: each holds what it trains, its optimisers, its batches, its epoch
and its validation objective. The trainer runs a list of them and knows none of these details."""

from __future__ import annotations

from dataclasses import dataclass, replace
from itertools import chain, islice, repeat
from typing import Any, Iterable, Iterator

import numpy as np
import torch
from torch import nn
from torch.utils.data import BatchSampler, DataLoader, RandomSampler
from tqdm import tqdm

from viewadapt.data.images import ViewImages
from viewadapt.data.records import STRANGER_PID, UNKNOWN_PID
from viewadapt.data.sampler import SPBatchSampler
from viewadapt.evaluation.features import extract_embeddings, per_view_statistics
from viewadapt.models import Embedder, ViewMappings
from viewadapt.objectives import Method, ViewBatch, adaptation_objective, embed_views
from viewadapt.losses import centroid_loss, momentum_update
from viewadapt.objectives.identity import IdentityObjective
from viewadapt.training.distributed import Dist
from viewadapt.training.optim import build_optimizer, build_scheduler
from viewadapt.training.pseudo_labels import LEFT_OUT, PSEUDO_LABELS, Embedded
from viewadapt.training.setup import EpochData, RunSetup
from viewadapt.training.step import Stepper

Batches = Iterable[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]
# Validation batches are drawn the same way every epoch, so their losses compare across epochs.
VALIDATION_SEED = 12345


@dataclass
class StageContext:
    """What every stage works with: its settings, the method's parts, the data, where to compute."""

    setup: RunSetup
    method: Method
    train_set: ViewImages
    valid_set: ViewImages
    device: torch.device
    stepper: Stepper
    dist: Dist
    # C_train's gallery-view images without labels (data.labeled_pairs), for stage (c)'s view term and
    # self-training
    unlabeled_set: ViewImages | None = None


class EpochStats:
    """Per-epoch means of batch values, and ``first_loss``: the loss of the epoch's first batch, before
    any update of the epoch."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.weight = 0.0
        self.first: float | None = None

    def add(self, weight: float = 1.0, **values: torch.Tensor | float) -> None:
        values = {k: v.item() if torch.is_tensor(v) else v for k, v in values.items()}
        self.first = values["loss"] if self.first is None else self.first
        for key, value in values.items():
            self.sums[key] = self.sums.get(key, 0.0) + weight * value
        self.weight += weight

    def result(self) -> dict:
        return {**{k: v / max(self.weight, 1) for k, v in self.sums.items()}, "first_loss": self.first or 0.0}


def progress(batches: Batches, desc: str, total: int | None = None) -> Batches:
    return tqdm(batches, desc=desc, total=total, leave=False, disable=None, dynamic_ncols=True)


class Stage:
    """One step of Algorithm 1. ``name`` is its config section (``train.<name>``) and its key in
    ``metrics.json``; subclasses say what it trains and how."""

    name = ""

    def __init__(self, ctx: StageContext) -> None:
        self.ctx = ctx
        self.settings = ctx.setup.stages[self.name]
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.schedulers: dict[str, torch.optim.lr_scheduler.LRScheduler] = {}

    @property
    def mappings(self) -> ViewMappings:
        return self.ctx.method.mappings

    def modules(self) -> dict[str, nn.Module]:
        """What the stage trains, by the name its state is stored under; the best epoch's state of
        these is what the stage ends with."""
        raise NotImplementedError

    def own_modules(self) -> dict[str, nn.Module]:
        """Modules only this stage has (not the method's), which checkpoints keep too."""
        return {}

    def build_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        raise NotImplementedError

    def start(self) -> None:
        """New optimisers and schedulers: a stage never carries another stage's optimiser state."""
        self.optimizers = self.build_optimizers()
        self.schedulers = {k: build_scheduler(o, self.settings) for k, o in self.optimizers.items()}

    @property
    def lr(self) -> float:
        return next(iter(self.optimizers.values())).param_groups[0]["lr"]

    def end_epoch(self) -> None:
        for scheduler in self.schedulers.values():
            scheduler.step()

    def prepare_epoch(self, epoch: int) -> EpochData:
        """What the epoch trains on: the images, their batches as dataset indices (the order depends on
        (train.seed, epoch) only), and what preparing them measured. The trainer calls it before each
        epoch."""
        raise NotImplementedError

    def train_epoch(self, batches: Batches, desc: str) -> dict:
        raise NotImplementedError

    def validation_loss(self) -> float | None:
        """The stage's own objective on C_valid (the paper stops when it no longer decreases), or None."""
        return None

    def scored(self) -> list[tuple[Embedder, nn.Module | None]]:
        """What "rank-1 after this stage" scores: embedding models, each with its pair scorer (Ds) or None.
        Several are averaged."""
        matcher = self.ctx.method.matcher
        return [(self.ctx.method.embedder(), matcher.pair_scorer())]

    def state_dict(self) -> dict:
        return {"optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
                "schedulers": {k: s.state_dict() for k, s in self.schedulers.items()}}

    def load_state_dict(self, state: dict) -> None:
        for k, o in self.optimizers.items():
            o.load_state_dict(state["optimizers"][k])
        for k, s in self.schedulers.items():
            s.load_state_dict(state["schedulers"][k])

    def _sp_sampler(self, dataset: ViewImages, seed: int, num_batches: int | None = None) -> SPBatchSampler:
        s = self.ctx.setup
        pids, views = [r.pid for r in dataset.records], [r.view for r in dataset.records]
        return SPBatchSampler(pids, views, min(s.batch_p, len(dataset.pids)), s.batch_s, seed, num_batches)

    def _sp_epoch(self, dataset: ViewImages, epoch: int, stats: dict[str, float] | None = None) -> EpochData:
        """The epoch's SP batches of a training stage over ``dataset``: one led by each identity, or
        (``train.sp_epoch=images``) as many as show each image about once."""
        s = self.ctx.setup
        count = max(1, round(len(dataset) / (s.batch_p * s.batch_s))) if s.sp_epoch == "images" else None
        sampler = self._sp_sampler(dataset, s.seed + list(s.stages).index(self.name), count)
        sampler.set_epoch(epoch)
        return EpochData(dataset, sampler, stats or {})


class IdentityInit(Stage):
    """Stage (a): each distinct network (Ms and Mt, or the shared one) learns the training identities
    with a classifier of its own: softmax, with ``loss.label_smoothing`` and, with ``loss.triplet`` > 0,
    the batch-hard triplet loss on PK batches (``train.init_sampler=pk``)."""

    name = "init"

    def __init__(self, ctx: StageContext) -> None:
        super().__init__(ctx)
        setup, networks = ctx.setup, self.mappings.networks()
        # A mapping with a BNNeck normalises its embedding itself; otherwise the head's batch norm does.
        head_bn = networks[0].bn is None
        # Views that share every weight (statistics per view only) are one network to classify with.
        self.one_network = self.mappings.statistics_only
        self.objective = IdentityObjective(1 if self.one_network else len(networks), self.mappings.embedding_dim,
                                           len(ctx.train_set.pids),
                                           head_bn, setup.label_smoothing, setup.triplet, setup.triplet_margin,
                                           setup.shared_classifier)
        self.objective.to(ctx.device)

    def modules(self) -> dict[str, nn.Module]:
        return {"mappings": self.mappings, "heads": self.objective.heads}

    def own_modules(self) -> dict[str, nn.Module]:
        return {"heads": self.objective.heads}

    def build_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        params = [*self.mappings.parameters(), *self.objective.parameters()]
        return {"init": build_optimizer(params, self.settings)}

    def prepare_epoch(self, epoch: int) -> EpochData:
        s, data = self.ctx.setup, self.ctx.train_set
        if s.init_sampler == "pk":  # as many images an epoch as random batches show
            sampler = self._sp_sampler(data, s.seed + list(s.stages).index(self.name),
                                       max(1, round(len(data) / (s.batch_p * s.batch_s))))
            sampler.set_epoch(epoch)
            return EpochData(data, sampler)
        gen = torch.Generator().manual_seed(s.seed * 100003 + epoch)
        size = min(s.init_batch_size, len(data))
        return EpochData(data, BatchSampler(RandomSampler(data, generator=gen), size, drop_last=len(data) > size))

    def train_epoch(self, batches: Batches, desc: str) -> dict:
        ctx, stats = self.ctx, EpochStats()
        self.mappings.train()
        self.objective.train()
        networks = self.mappings.networks()
        for images, labels, views in progress(batches, desc):
            images, labels = images.to(ctx.device), labels.to(ctx.device)
            loss = torch.zeros((), device=ctx.device)
            correct = 0
            with ctx.stepper.autocast():
                if self.one_network:  # each view's images normalised by their own batch statistics
                    feat, emb, kept = self.mappings.forward_train_by_view(images, views.to(ctx.device))
                    loss, logits = self.objective.loss(0, feat, emb, labels[kept])
                    correct, seen = (logits.argmax(1) == labels[kept]).sum().item(), int(kept.sum())
                else:
                    for i, net in enumerate(networks):
                        net_loss, logits = self.objective.loss(i, *net.forward_train(images), labels)
                        loss = loss + net_loss
                        correct += (logits.argmax(1) == labels).sum().item()
                    seen = len(images) * len(networks)
            ctx.stepper.step(loss, self.optimizers["init"])
            ctx.stepper.end_iteration()
            stats.add(len(images), loss=loss, train_acc=correct / seen)
        return stats.result()

    def scored(self) -> list[tuple[Embedder, nn.Module | None]]:
        """After stage (a) Ms and Mt are two unrelated networks, so cross-network distances mean nothing
        yet: each network is scored on both views alone, and Ds is not trained yet."""
        views = self.mappings.num_views
        if self.one_network:  # one network already, each view with its own statistics
            return [(Embedder(self.mappings), None)]
        return [(Embedder(ViewMappings.single(net, views)), None) for net in self.mappings.networks()]


class SimilarityTraining(Stage):
    """Stage (b): the mappings and the matcher (Ds with Eq. 2 or Eq. 5/6, or a few-shot learner's loss)
    learn to match the views on SP batches."""

    name = "similarity"

    def modules(self) -> dict[str, nn.Module]:
        return {"mappings": self.mappings, **dict(self.ctx.method.matcher.named_children())}

    def build_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        method = self.ctx.method
        return {"similarity": build_optimizer([*method.mappings.parameters(), *method.matcher.parameters()],
                                              self.settings)}

    def prepare_epoch(self, epoch: int) -> EpochData:
        return self._sp_epoch(self.ctx.train_set, epoch)

    def _embed(self, images: torch.Tensor, labels: torch.Tensor, views: torch.Tensor) -> ViewBatch:
        device = self.ctx.device
        with self.ctx.stepper.autocast():
            return embed_views(self.mappings, images.to(device), labels.to(device), views.to(device)).float()

    def train_epoch(self, batches: Batches, desc: str) -> dict:
        matcher, stats = self.ctx.method.matcher, EpochStats()
        self.mappings.train()
        matcher.train()
        for images, labels, views in progress(batches, desc):
            loss = matcher.loss(self._embed(images, labels, views).labeled())
            self.ctx.stepper.step(loss, self.optimizers["similarity"])
            self.ctx.stepper.end_iteration()
            stats.add(loss=loss)
        return stats.result()

    def batch_objective(self, batch: ViewBatch) -> torch.Tensor:
        """The stage's loss of an embedded batch (its validation objective)."""
        return self.ctx.method.matcher.loss(batch.labeled())

    @torch.no_grad()
    def validation_loss(self) -> float:
        method, ctx = self.ctx.method, self.ctx
        for module in (method.mappings, method.matcher, method.domain):
            module.eval()
        sampler = self._sp_sampler(ctx.valid_set, VALIDATION_SEED)
        batches = DataLoader(ctx.valid_set, batch_sampler=sampler, num_workers=ctx.setup.num_workers,
                             generator=torch.Generator())  # leaves the global random state to training
        total, n = 0.0, 0
        for images, labels, views in batches:
            batch = embed_views(self.mappings, images.to(ctx.device), labels.to(ctx.device), views.to(ctx.device))
            total += self.batch_objective(batch).item()
            n += 1
        return total / max(n, 1)


class FrozenMappingsTraining(SimilarityTraining):
    """Stage (b) of a matcher that learns on fixed embeddings (model regression's regressor T): the
    stage (a) network stays frozen, batch-norm statistics included (it runs in eval mode)."""

    def modules(self) -> dict[str, nn.Module]:
        return dict(self.ctx.method.matcher.named_children())

    def build_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"similarity": build_optimizer(self.ctx.method.matcher.parameters(), self.settings)}

    def train_epoch(self, batches: Batches, desc: str) -> dict:
        matcher, stats = self.ctx.method.matcher, EpochStats()
        self.mappings.eval()
        matcher.train()
        for images, labels, views in progress(batches, desc):
            with torch.no_grad():
                batch = self._embed(images, labels, views)
            loss = matcher.loss(batch.labeled())
            self.ctx.stepper.step(loss, self.optimizers["similarity"])
            self.ctx.stepper.end_iteration()
            stats.add(loss=loss)
        return stats.result()


class ViewAdaptation(SimilarityTraining):
    """Stage (c), per batch: the domain term's discriminator (Dd) learns the views (Eq. 1) with the
    mappings fixed, then the mappings minimise the domain term (Eq. 3, or a baseline's) plus
    ``loss.lambda_sim`` times the matcher's loss, against the updated Dd."""

    name = "adaptation"

    def __init__(self, ctx: StageContext) -> None:
        super().__init__(ctx)
        self.unlabeled: Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] | None = None

    def modules(self) -> dict[str, nn.Module]:
        return {**super().modules(), **dict(self.ctx.method.domain.named_children())}

    def build_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        method = self.ctx.method
        # A term with an adversary trains it with an optimiser of its own; any other term's weights
        # (DANN's Dd) learn in the mappings' update.
        dd = method.domain.discriminator_optimizer()
        own = [] if dd else [*method.domain.parameters()]
        opts = {"mappings": build_optimizer([*method.mappings.parameters(), *method.matcher.parameters(), *own],
                                            self.settings)}
        return {**opts, "dd": dd} if dd else opts

    def prepare_epoch(self, epoch: int) -> EpochData:
        data, s = self.ctx.unlabeled_set, self.ctx.setup
        if data is not None and self.ctx.method.domain.compares_views:
            # As many unlabelled gallery images join each batch as it has labelled ones, in an order
            # that depends on (train.seed, epoch, rank) only, as the SP batches' does.
            gen = torch.Generator().manual_seed((s.seed * 100003 + epoch) * 1009 + self.ctx.dist.rank)
            size = min(s.batch_p * (s.batch_s // 2), len(data))
            loader = DataLoader(data, batch_size=size, sampler=RandomSampler(data, generator=gen), drop_last=True,
                                num_workers=s.num_workers)
            self.unlabeled = chain.from_iterable(repeat(loader))  # each pass a new order
        return super().prepare_epoch(epoch)

    def _embed(self, images: torch.Tensor, labels: torch.Tensor, views: torch.Tensor) -> ViewBatch:
        """The batch with the epoch's next unlabelled images, labelled -1: the view term sees them, the
        matcher's loss does not (:meth:`ViewBatch.labeled`)."""
        if self.unlabeled is not None:
            extra, _, extra_views = next(self.unlabeled)
            images, views = torch.cat([images, extra]), torch.cat([views, extra_views])
            labels = torch.cat([labels, labels.new_full((len(extra),), -1)])
        return super()._embed(images, labels, views)

    def start(self) -> None:
        super().start()
        self.dd_warm = self.ctx.method.domain.warmup_steps == 0

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.dd_warm = True  # a checkpoint of this stage comes after its first epoch, warm-up included

    def _dd_step(self, loss: torch.Tensor) -> None:
        self.ctx.stepper.step(loss, self.optimizers["dd"])

    def warm_up_dd(self, batches: Batches) -> dict:
        """The domain term's warm-up, cycling over the stage's first batches with the mappings' weights
        fixed. The mappings run in train mode, so Dd learns the per-view batch statistics the game shows
        it (their batch norms' running statistics move as in any train-mode pass)."""
        steps = self.ctx.method.domain.warmup_steps
        passes = chain.from_iterable(repeat(batches))  # each pass draws the batches (and augmentations) anew

        def embedded() -> Iterator[ViewBatch]:
            for images, labels, views in progress(islice(passes, steps), "Dd warm-up", steps):
                with torch.no_grad():  # left before the yield: Dd's own loss needs its gradient
                    batch = self._embed(images, labels, views)
                yield batch

        def step(loss: torch.Tensor) -> None:
            self._dd_step(loss)
            self.ctx.stepper.end_iteration()

        self.dd_warm = True
        return self.ctx.method.domain.warm_up(embedded(), step)

    def train_epoch(self, batches: Batches, desc: str) -> dict:
        ctx, method, stats = self.ctx, self.ctx.method, EpochStats()
        for module in (method.mappings, method.matcher, method.domain):
            module.train()
        warmup = {} if self.dd_warm else self.warm_up_dd(batches)
        for images, labels, views in progress(batches, desc):
            batch = self._embed(images, labels, views)
            values = method.domain.train_discriminator(batch, self._dd_step)
            loss, term, sim = adaptation_objective(batch, method.domain, method.matcher, ctx.setup.lambda_sim)
            ctx.stepper.step(loss, self.optimizers["mappings"])
            ctx.stepper.end_iteration()
            if method.domain.stat:
                values[method.domain.stat] = term
            stats.add(loss=loss, **values, similarity=sim)
        return {**stats.result(), **warmup}

    def batch_objective(self, batch: ViewBatch) -> torch.Tensor:
        method = self.ctx.method
        return adaptation_objective(batch, method.domain, method.matcher, self.ctx.setup.lambda_sim)[0]


class SelfTraining(SimilarityTraining):
    """Self-training for a gallery camera with few or no labels (``train.self_training``): each epoch
    embeds C_train with the current mappings (each camera's images normalised by statistics of their
    own), pseudo-labels the camera's unlabelled images by its rule (``train.self_training.rule``,
    :mod:`~viewadapt.training.pseudo_labels`; ``mutual``: cross-camera mutual nearest neighbours, the
    surest half first and all by the last epoch), and trains the matcher's loss (Eq. 5) on SP batches of the labelled and
    pseudo-labelled images together. The pseudo-labels depend on the weights only, so a resumed run
    draws the same ones."""

    name = "self_training"

    def __init__(self, ctx: StageContext) -> None:
        super().__init__(ctx)
        self.centroids: torch.Tensor | None = None  # loss=memory: the epoch's identities' centroids

    def prepare_epoch(self, epoch: int) -> EpochData:
        """The epoch's pseudo-labels, then SP batches of the labelled and pseudo-labelled images; what was
        labelled joins the epoch's record. With ``loss=memory`` each identity's centroid, the mean of its
        images' embeddings, starts the epoch's memory."""
        images, stats, embedded = self.pseudo_labelled(epoch)
        if self.settings.loss == "memory":
            labels = np.array([images.label_of[r.pid] for r in images.records])
            sums = np.zeros((len(images.pids), embedded.shape[1]), np.float32)
            np.add.at(sums, labels, embedded / np.maximum(np.linalg.norm(embedded, axis=1, keepdims=True), 1e-12))
            self.centroids = torch.nn.functional.normalize(torch.from_numpy(sums), dim=1).to(self.ctx.device)
        return self._sp_epoch(images, epoch, stats)

    def train_epoch(self, batches: Batches, desc: str) -> dict:
        if self.settings.loss != "memory":
            return super().train_epoch(batches, desc)
        ctx, stats, st = self.ctx, EpochStats(), self.settings
        self.mappings.train()
        for images, labels, views in progress(batches, desc):
            images, labels, views = images.to(ctx.device), labels.to(ctx.device), views.to(ctx.device)
            with ctx.stepper.autocast():
                _, emb, kept = self.mappings.forward_train_by_view(images, views)
                loss = centroid_loss(emb.float(), labels[kept], self.centroids, st.temperature)
            ctx.stepper.step(loss, self.optimizers["similarity"])
            ctx.stepper.end_iteration()
            self.centroids = momentum_update(self.centroids, emb, labels[kept], st.momentum)
            stats.add(loss=loss)
        return stats.result()

    def pseudo_labelled(self, epoch: int) -> tuple[ViewImages, dict[str, float], np.ndarray]:
        """C_train's labelled images with the epoch's pseudo-labelled ones, what was labelled
        (:func:`pseudo_label_stats`), and those images' embeddings, in the same order."""
        ctx, st, setup = self.ctx, self.settings, self.ctx.setup
        labelled, unlabelled = ctx.train_set.records, ctx.unlabeled_set.records
        size = setup.eval.batch_size
        # Each camera's images normalised by statistics of their own (CBN's step, here on C_train): a
        # camera no batch has shown yet would otherwise be embedded with another camera's statistics.
        cache = ctx.train_set.decoded
        model = per_view_statistics(ctx.method.embedder(), labelled + unlabelled, setup.height, setup.width, size,
                                    ctx.device, setup.num_workers, cache)

        def embed(records: list) -> np.ndarray:
            return extract_embeddings(model, records, setup.height, setup.width, size, ctx.device, setup.num_workers,
                                      cache)

        data = Embedded(embed(labelled), np.array([r.pid for r in labelled]), np.array([r.view for r in labelled]),
                        embed(unlabelled), np.array([r.view for r in unlabelled]))
        assigned = PSEUDO_LABELS[st.rule].assign(data, st, epoch)
        taken = [(r, int(pid)) for r, pid in zip(unlabelled, assigned) if pid != LEFT_OUT]
        records = labelled + [replace(r, pid=pid) for r, pid in taken]
        embedded = np.concatenate([data.labelled, data.unlabelled[assigned != LEFT_OUT]])
        return (ViewImages(records, ctx.train_set.transform, cache),
                pseudo_label_stats(unlabelled, taken, set(data.pids.tolist())), embedded)


def pseudo_label_stats(unlabelled: list, taken: list[tuple[Any, int]], known_ids: set[int]) -> dict[str, float]:
    """What an epoch's pseudo-labels did, for the log (read by no loss): the fraction of unlabelled images
    taken; where their identity is known, the fraction of those given a labelled identity that got their
    own (``pseudo_precision``), and of the synthetic set's strangers taken at all; for a rule that names new
    people, how many (``new_people``) and how pure they are (``purity``: of the images of each new
    identity whose person is known, the share of its commonest person)."""
    stats = {"pseudo_labelled": len(taken) / len(unlabelled)}
    to_known = [(r, pid) for r, pid in taken if pid in known_ids]
    checkable = [(r, pid) for r, pid in to_known if r.pid != UNKNOWN_PID]  # a folder's crops have no identity
    if checkable:
        stats["pseudo_precision"] = sum(r.pid == pid for r, pid in checkable) / len(checkable)
    strangers = sum(r.pid == STRANGER_PID for r in unlabelled)
    if strangers:  # each one taken is given an identity it is not
        stats["strangers_labelled"] = sum(r.pid == STRANGER_PID for r, _ in taken) / strangers
    new = {}
    for r, pid in taken:
        if pid not in known_ids:
            new.setdefault(pid, []).append(r.pid)
    if new:
        stats["new_people"] = float(len(new))
        people = [[p for p in members if p >= 0] for members in new.values()]  # strangers and unknowns apart
        if any(people):
            stats["purity"] = sum(max(p.count(x) for x in set(p)) for p in people if p) / sum(len(p) for p in people)
    return stats


def build_stages(ctx: StageContext) -> list[Stage]:
    """The enabled steps of Algorithm 1, in order, then self-training where a camera has unlabelled
    images; stage (b) of a matcher that leaves the mappings fixed trains that matcher alone."""
    similarity = SimilarityTraining if ctx.method.matcher.trains_mappings else FrozenMappingsTraining
    return [cls(ctx) for cls in (IdentityInit, similarity, ViewAdaptation, SelfTraining)
            if ctx.setup.stages[cls.name].enabled and (cls is not SelfTraining or ctx.unlabeled_set is not None)]
