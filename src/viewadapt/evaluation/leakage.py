"""View leakage: how much of the camera view an embedding still gives away.

A discriminator that an adversary trains against (Dd in stage (c)) can be fooled without the view
information going away, so leakage is measured by a probe that nobody trained against: a small
classifier trained afresh, with a fixed recipe, to predict the view from the embeddings of some
identities and scored on the embeddings of the others. Its accuracy is near 1/V when the views look
alike to it and near 1 when the embedding says which camera took the image.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from viewadapt.data.records import ViewRecord
from viewadapt.evaluation.features import extract_embeddings


def view_leakage(embeddings: np.ndarray, views: np.ndarray, pids: np.ndarray, seed: int = 0, hidden: int = 64,
                 steps: int = 300, lr: float = 1e-2) -> float:
    """Accuracy of a fresh two-layer probe that predicts the view, trained on the embeddings of half the
    identities (full batch, Adam, ``steps`` steps) and scored on the other half, each view weighted
    equally. Seeded, and it leaves the global random state as it found it."""
    embeddings, views, pids = np.asarray(embeddings, np.float32), np.asarray(views), np.asarray(pids)
    labels = np.unique(views, return_inverse=True)[1]
    num_views = labels.max() + 1
    identities = np.unique(pids)
    if num_views < 2 or len(identities) < 2:
        raise ValueError("view leakage needs embeddings of at least two views and two identities")
    rng = np.random.default_rng(seed)
    train_ids = rng.permutation(identities)[: len(identities) // 2]
    train = np.isin(pids, train_ids)
    x = torch.from_numpy(embeddings)
    # the probe sees standardised inputs, so one recipe fits embeddings of any scale
    mean, std = x[train].mean(0), x[train].std(0) + 1e-6
    x = (x - mean) / std
    y = torch.from_numpy(labels)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        probe = nn.Sequential(nn.Linear(x.shape[1], hidden), nn.ReLU(), nn.Linear(hidden, int(num_views)))
        opt = torch.optim.Adam(probe.parameters(), lr=lr, weight_decay=1e-4)
        tr = torch.from_numpy(train)
        for _ in range(steps):
            opt.zero_grad()
            F.cross_entropy(probe(x[tr]), y[tr]).backward()
            opt.step()
        with torch.no_grad():
            correct = (probe(x[~tr]).argmax(1) == y[~tr]).numpy()
    held_out = labels[~train]
    return float(np.mean([correct[held_out == v].mean() for v in np.unique(held_out)]))


def records_leakage(embeddings: np.ndarray, records: Sequence[ViewRecord], seed: int = 0) -> float:
    """:func:`view_leakage` of embeddings in record order, the views and identities read off the records."""
    return view_leakage(embeddings, np.array([r.view for r in records]), np.array([r.pid for r in records]), seed=seed)


def models_leakage(models: Sequence[nn.Module], records: Sequence[ViewRecord], height: int, width: int,
                   batch_size: int, device: torch.device | str, seed: int = 0, num_workers: int = 0,
                   decoded: Mapping[str, torch.Tensor] | None = None) -> float:
    """:func:`records_leakage` of each model's embeddings of ``records``, averaged over the models;
    ``decoded`` holds images already decoded."""
    return float(np.mean([records_leakage(extract_embeddings(m, records, height, width, batch_size, device,
                                                             num_workers, decoded), records, seed)
                          for m in models]))
