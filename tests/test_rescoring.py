"""Re-scoring: Ds re-ranking of each probe's top-k, k-reciprocal re-ranking, stable top-k."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from reference_rerank import reference_k_reciprocal
from viewadapt.evaluation.distances import distance_blocks, evaluate_features
from viewadapt.evaluation.rescoring import DsRerank, KReciprocal, topk_stable


def test_topk_stable_breaks_ties_by_gallery_order():
    block = np.array([[0.3, 0.1, 0.3, 0.2, 0.3, 0.0]])
    assert topk_stable(block, 4).tolist() == [[5, 1, 3, 0]]
    rng = np.random.default_rng(0)
    many = np.round(rng.random((20, 50)) * 5)
    assert np.array_equal(topk_stable(many, 7), np.argsort(many, axis=1, kind="stable")[:, :7])


class PairOracle(nn.Module):
    """A Ds that knows which pairs are the same person: logit +5 for them, -5 otherwise."""

    def __init__(self, q_ids, g_ids):
        super().__init__()
        self.q_ids, self.g_ids = q_ids, g_ids

    def forward(self, e_s, e_t):
        same = e_s[:, 0].round() == e_t[:, 0].round()  # the identity travels in feature 0
        return torch.where(same, 5.0, -5.0)


def test_ds_rerank_reorders_the_top_k_only():
    # feature 0 = identity, feature 1 = noise large enough to rank true matches low
    q_ids, g_ids = np.arange(4), np.array([3, 2, 1, 0, 0, 1, 2, 3, 9, 9])
    rng = np.random.default_rng(1)
    qf = np.stack([q_ids, rng.normal(0, 3, 4)], 1).astype(np.float32)
    gf = np.stack([g_ids, rng.normal(0, 3, 10)], 1).astype(np.float32)
    ds = PairOracle(q_ids, g_ids)
    _, block = next(distance_blocks(qf * [1e-3, 1], gf * [1e-3, 1]))  # ranking ignores identity
    rer = DsRerank(ds, qf, gf, topk=10)(0, block)
    for i in range(4):
        order = np.argsort(rer[i], kind="stable")
        assert set(g_ids[order[:2]]) == {i}  # both true matches first
    top3 = DsRerank(ds, qf, gf, topk=3)(0, block)
    for i in range(4):
        base, new = np.argsort(block[i], kind="stable"), np.argsort(top3[i], kind="stable")
        assert set(new[:3]) == set(base[:3]) and np.array_equal(new[3:], base[3:])
    cams = np.zeros(4), np.ones(10)
    before = evaluate_features(qf * [1e-3, 1], gf * [1e-3, 1], q_ids, g_ids, *cams, max_rank=5)
    after = evaluate_features(qf * [1e-3, 1], gf * [1e-3, 1], q_ids, g_ids, *cams, max_rank=5,
                              rescore=DsRerank(ds, qf, gf, topk=10))
    assert after["mAP"] == 1.0 and before["mAP"] < 1.0


@pytest.mark.parametrize("k1,k2", [(4, 3), (6, 1), (3, 2)])
def test_k_reciprocal_equals_the_dense_textbook_version(k1, k2):
    rng = np.random.default_rng(k1)
    centres = rng.normal(size=(6, 5))
    qf = (centres[rng.integers(0, 6, 7)] + 0.5 * rng.normal(size=(7, 5))).astype(np.float32)
    gf = (centres[rng.integers(0, 6, 25)] + 0.5 * rng.normal(size=(25, 5))).astype(np.float32)
    expected = reference_k_reciprocal(qf, gf, k1, k2, 0.3)
    kr = KReciprocal(qf, gf, k1, k2, 0.3, block_rows=5)
    got = np.concatenate([kr(s, b) for s, b in distance_blocks(qf, gf, block_rows=3)])
    assert np.abs(got - expected).max() < 1e-5


def test_k_reciprocal_helps_on_clustered_data():
    rng = np.random.default_rng(7)
    ids = 30
    centres = rng.normal(size=(ids, 16))
    q_ids, g_ids = np.arange(ids), np.repeat(np.arange(ids), 6)
    qf = (centres[q_ids] + 0.9 * rng.normal(size=(ids, 16))).astype(np.float32)
    gf = (centres[g_ids] + 0.9 * rng.normal(size=(len(g_ids), 16))).astype(np.float32)
    cams = np.zeros(ids), np.ones(len(g_ids))
    plain = evaluate_features(qf, gf, q_ids, g_ids, *cams)
    reranked = evaluate_features(qf, gf, q_ids, g_ids, *cams, rescore=KReciprocal(qf, gf, k1=8, k2=3))
    assert reranked["mAP"] > plain["mAP"]
