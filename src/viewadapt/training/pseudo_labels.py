"""Pseudo-labels for images nobody labelled, by a rule from :data:`PSEUDO_LABELS`
(``train.self_training.rule``). A rule takes the labelled images' embeddings, identities and views and the
unlabelled images' embeddings and views, and gives each unlabelled image an identity or :data:`LEFT_OUT`.

``cluster``, density clustering of all of them together (:mod:`viewadapt.training.clustering`): people
labelled nowhere become new identities.

``mutual``, cross-camera mutual nearest neighbours: an unlabelled image takes the labelled identity whose prototype (the mean of its labelled embeddings)
it is nearest, if the check runs the other way too: the image is among the ``k`` unlabelled images
nearest that prototype (a k-reciprocal check, Zhong et al. 2017). Of the images that pass, the most
confident fraction is kept, confidence being the margin between the nearest and the second-nearest
identity. Cosine similarity throughout.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from viewadapt.registry import Registry
from viewadapt.training.clustering import NOISE, dbscan, jaccard_graph

LEFT_OUT = -1  # an unlabelled image a rule gives no identity (never a training identity: -1 is a distractor's)


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def prototypes(embeddings: np.ndarray, pids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(identities, their prototypes): each identity's mean unit embedding, as a unit vector."""
    ids = np.unique(pids)
    unit = _unit(embeddings)
    return ids, _unit(np.stack([unit[pids == pid].mean(0) for pid in ids]))


def mutual_neighbours(unlabelled: np.ndarray, protos: np.ndarray, k: int,
                      fraction: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """(prototype index per unlabelled image or -1, confidence margin per image).

    An image is labelled when its nearest prototype j has it among its ``k`` nearest unlabelled images,
    and its margin (similarity to j minus that to the second-nearest prototype) is among the largest
    ``ceil(fraction * passing)`` of the passing images'."""
    sim = _unit(unlabelled) @ _unit(protos).T
    nearest = sim.argmax(1)
    ranked = np.sort(sim, axis=1)
    margin = ranked[:, -1] - (ranked[:, -2] if sim.shape[1] > 1 else 0.0)
    # each prototype's k nearest unlabelled images (stable: ties keep image order)
    closest = np.argsort(-sim, axis=0, kind="stable")[:k]
    mutual = np.zeros(len(sim), dtype=bool)
    for j in range(sim.shape[1]):
        mutual[closest[:, j]] |= nearest[closest[:, j]] == j
    passing = np.flatnonzero(mutual)
    kept = passing[np.argsort(-margin[passing], kind="stable")][: math.ceil(fraction * len(passing))]
    labels = np.full(len(sim), -1)
    labels[kept] = nearest[kept]
    return labels, margin


def kept_fraction(start: float, epoch: int, epochs: int) -> float:
    """The confidence rule's schedule: ``start`` in the first epoch, rising linearly to 1 in the last."""
    return start + (1.0 - start) * min(1.0, epoch / max(1, epochs - 1))


@dataclass
class Embedded:
    """What a rule sees of one epoch: the labelled images' embeddings, identities and views, and the
    unlabelled images' embeddings and views (their identities, where known, are for the log alone)."""

    labelled: np.ndarray
    pids: np.ndarray
    labelled_views: np.ndarray
    unlabelled: np.ndarray
    unlabelled_views: np.ndarray


class PseudoLabelRule(Protocol):
    """One way of pseudo-labelling: ``assign`` gives each unlabelled image an identity (a labelled one's, or
    a new one above them all) or :data:`LEFT_OUT`; ``settings`` is the self-training stage's section,
    ``epoch`` and its ``epochs`` say where the stage is. It depends on the embeddings alone, so a resumed run
    draws the same pseudo-labels."""

    description: str

    def assign(self, data: Embedded, settings: Any, epoch: int) -> np.ndarray: ...


PSEUDO_LABELS: Registry[PseudoLabelRule] = Registry("pseudo-label rule")


class MutualNeighbours:
    description = ("an unlabelled image takes the labelled identity whose prototype it is nearest, when it is "
                   "among that prototype's k nearest unlabelled images; the surest fraction (start, rising to "
                   "all by the last epoch) is kept. A closed set: it names no new person")

    def assign(self, data: Embedded, settings: Any, epoch: int) -> np.ndarray:
        ids, protos = prototypes(data.labelled, data.pids)
        index, _ = mutual_neighbours(data.unlabelled, protos, settings.k,
                                     kept_fraction(settings.start, epoch, settings.epochs))
        return np.where(index >= 0, ids[np.maximum(index, 0)], LEFT_OUT)


EVERY_CAMERA, LABELLED = -1, 0  # k1's two data-scaled values (ClusterConfig.k1)


def neighbourhood(k1: int, k2: int, pids: np.ndarray, views: np.ndarray, cameras: int) -> tuple[int, int]:
    """The k-reciprocal neighbourhood's sizes: as given, or scaled to the data. :data:`EVERY_CAMERA`: k1 the
    images a labelled person would have were it labelled in all ``cameras`` (its images, ``views`` being
    their cameras, over the cameras it is labelled in, times ``cameras``), so that an image's reciprocal set
    spans about one person in every camera; :data:`LABELLED`: the images a labelled person has. Either the
    median over the labelled people, at least 2; k2 half of k1 (at least 1).

    The two agree where every labelled person is labelled in every camera. Where a camera has no labels,
    ``LABELLED`` counts one camera's worth: a crop's reciprocal set stays in its own camera, and a new
    camera's clusters never reach the labelled people (13 rank-1 against mutual neighbours' 83,
    docs/findings.md)."""
    if k1 in (EVERY_CAMERA, LABELLED):
        per_person = np.array([2.0])
        if len(pids):
            ids, inverse, counts = np.unique(pids, return_inverse=True, return_counts=True)
            per_person = counts.astype(float)
            if k1 == EVERY_CAMERA:  # each person's cameras: its distinct (person, camera) pairs, counted
                pairs = np.unique(np.stack([inverse, views], axis=1), axis=0)
                seen_in = np.bincount(pairs[:, 0], minlength=len(ids))
                per_person = counts / seen_in * max(cameras, 1)
        k1 = max(2, int(np.median(per_person)))
    return k1, k2 or max(1, k1 // 2)


class Clusters:
    description = ("density clustering (DBSCAN) of the labelled and unlabelled images together over "
                   "k-reciprocal Jaccard distances (train.self_training.cluster): a cluster with labelled "
                   "images gives its unlabelled ones their identity (the nearest one's, where it holds "
                   "several), one without is a new person, and one "
                   "that a single camera saw, or an image no cluster took, is left out. An open set")

    def assign(self, data: Embedded, settings: Any, epoch: int) -> np.ndarray:
        c = settings.cluster
        n = len(data.labelled)
        views = np.concatenate([data.labelled_views, data.unlabelled_views])
        k1, k2 = neighbourhood(c.k1, c.k2, data.pids, data.labelled_views, len(np.unique(views)))
        labels = dbscan(jaccard_graph(np.concatenate([data.labelled, data.unlabelled]), k1, k2), c.eps,
                        c.min_samples)
        known, unknown = labels[:n], labels[n:]
        new_id = int(data.pids.max()) + 1 if n else 0
        out = np.full(len(unknown), LEFT_OUT, np.int64)
        for cluster in np.unique(unknown[unknown != NOISE]):
            members = unknown == cluster
            labelled = data.pids[known == cluster]
            if len(labelled):
                # a labelled person's cluster gives its unlabelled images that person; one that merged
                # several labelled people gives each image the one whose prototype it is nearest
                ids, protos = prototypes(data.labelled[known == cluster], labelled)
                nearest_id = ids[np.argmax(_unit(data.unlabelled[members]) @ protos.T, axis=1)]
                out[members] = nearest_id
            elif not c.cameras or len(np.unique(views[labels == cluster])) > 1:
                out[members] = new_id  # a new person, seen by more than one camera
                new_id += 1
        return out


PSEUDO_LABELS.register("mutual")(MutualNeighbours())
PSEUDO_LABELS.register("cluster")(Clusters())
