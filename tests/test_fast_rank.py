"""The fast evaluator against the reference on random inputs: ties, removed items, many matches."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from reference_eval import reference_rank
from viewadapt.evaluation import evaluate_rank
from viewadapt.evaluation.rank import one_per_identity
from viewadapt.evaluation.ranking_kernel import SORT_ABOVE


def random_problem(seed, num_q=60, num_g=400, num_ids=40, num_cams=4, levels=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    d = rng.random((num_q, num_g))
    if levels:  # quantised distances: many exact ties
        d = np.round(d * levels) / levels
    g_pids = rng.integers(0, num_ids, num_g)
    g_pids[rng.random(num_g) < 0.1] = -1  # distractors: nobody's match
    return (d.astype(dtype), rng.integers(0, num_ids, num_q), g_pids, rng.integers(0, num_cams, num_q),
            rng.integers(0, num_cams, num_g))


def assert_same(fast, ref):
    assert np.abs(fast["cmc"] - ref["cmc"]).max() <= 1e-6
    assert abs(fast["mAP"] - ref["mAP"]) <= 1e-6 and abs(fast["mINP"] - ref["mINP"]) <= 1e-6
    assert (fast["num_valid"], fast["num_skipped"]) == (ref["num_valid"], ref["num_skipped"])


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("levels", [0, 7, 50])
@pytest.mark.parametrize("ap", ["step", "trapezoid"])
def test_equals_reference(seed, levels, ap):
    problem = random_problem(seed, levels=levels)
    assert_same(evaluate_rank(*problem, max_rank=30, ap=ap), reference_rank(*problem, max_rank=30, ap=ap))


def test_equals_reference_with_many_matches_per_query():
    """Above SORT_ABOVE matches a query takes the sort path; both paths must agree with the reference."""
    problem = random_problem(1, num_q=30, num_g=2000, num_ids=8, num_cams=2, levels=20)
    assert np.bincount(problem[2][problem[2] >= 0]).min() > SORT_ABOVE
    assert_same(evaluate_rank(*problem, max_rank=50), reference_rank(*problem, max_rank=50))


def test_float64_torch_and_string_ids():
    d, qp, gp, qc, gc = random_problem(5, dtype=np.float64)
    ref = reference_rank(d, qp, gp, qc, gc, 20)
    assert_same(evaluate_rank(torch.from_numpy(d), qp, gp, qc, gc, 20), ref)
    names = np.array([f"person{p}" for p in range(-1, 40)])
    cams = np.array(["door", "lift", "hall", "gate"])
    assert_same(evaluate_rank(d, names[qp + 1], names[gp + 1], cams[qc], cams[gc], 20), ref)


def test_single_shot_draws_one_item_per_identity_and_averages():
    d, qp, gp, qc, gc = random_problem(2, levels=9)
    rng = np.random.default_rng(11)
    cols = [one_per_identity(gp, rng) for _ in range(5)]
    assert all(len(np.unique(gp[c])) == len(c) == len(np.unique(gp)) for c in cols)
    refs = [reference_rank(d[:, c], qp, gp[c], qc, gc[c], 10) for c in cols]
    fast = evaluate_rank(d, qp, gp, qc, gc, 10, single_shot=True, trials=5, seed=11)
    assert np.abs(fast["cmc"] - np.mean([r["cmc"] for r in refs], axis=0)).max() <= 1e-9
    assert fast["mAP"] == pytest.approx(np.mean([r["mAP"] for r in refs]), abs=1e-12)


def test_trapezoid_ap_by_hand():
    # matches at positions 0 and 2 of 4: step AP (1 + 2/3) / 2; trapezoid AP
    # 1/2 * [(1 + 1) / 2] + 1/2 * [(1/2 + 2/3) / 2]
    d = np.array([[0.1, 0.2, 0.3, 0.4]])
    args = (np.array([7]), np.array([7, 1, 7, 2]), np.array([0]), np.array([1, 1, 1, 1]))
    assert evaluate_rank(d, *args, max_rank=4, ap="trapezoid")["mAP"] == pytest.approx(0.5 + 0.5 * (0.5 + 2 / 3) / 2)
    with pytest.raises(ValueError, match="unknown AP definition 'area'"):
        evaluate_rank(d, *args, ap="area")


def test_empty_gallery_and_wrong_shapes_are_errors():
    with pytest.raises(ValueError, match="nothing to rank: 2 queries and 0 gallery items"):
        evaluate_rank(np.zeros((2, 0)), [1, 2], [], [0, 0], [])
    with pytest.raises(ValueError, match="2-D query x gallery matrix"):
        evaluate_rank(np.zeros(3), [1], [1, 2, 3], [0], [1, 1, 1])


def test_features_in_blocks_equal_the_whole_matrix():
    from viewadapt.evaluation.distances import distance_blocks, evaluate_features

    rng = np.random.default_rng(3)
    qf, gf = rng.normal(size=(37, 8)).astype(np.float32), rng.normal(size=(120, 8)).astype(np.float32)
    _, qp, gp, qc, gc = random_problem(3, num_q=37, num_g=120, num_ids=15)
    whole = np.concatenate([b for _, b in distance_blocks(qf, gf, block_rows=1000)])
    assert np.allclose(whole, np.linalg.norm(qf[:, None] - gf[None], axis=2), atol=1e-4)
    ref = reference_rank(whole, qp, gp, qc, gc, 20)
    for rows in (1, 5, 37):
        assert_same(evaluate_features(qf, gf, qp, gp, qc, gc, 20, block_rows=rows), ref)
    half = evaluate_features(qf.astype(np.float16), torch.from_numpy(gf).half(), qp, gp, qc, gc, 20)
    assert abs(half["mAP"] - ref["mAP"]) < 0.02  # float16 features, float32 arithmetic
    cos = np.concatenate([b for _, b in distance_blocks(qf, gf, "cosine")])
    unit = lambda x: x / np.linalg.norm(x, axis=1, keepdims=True)  # noqa: E731
    assert np.allclose(cos, 1 - unit(qf) @ unit(gf).T, atol=1e-5)
    bad = qf.copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="query features contain NaN"):
        evaluate_features(bad, gf, qp, gp, qc, gc)


def test_faiss_topk_equals_dense_when_k_covers_the_gallery_and_truncates_ap_otherwise():
    pytest.importorskip("faiss")
    from viewadapt.evaluation.distances import evaluate_features
    from viewadapt.evaluation.faiss_search import evaluate_topk, faiss_search

    rng = np.random.default_rng(4)
    centres = rng.normal(size=(15, 8))
    qp, gp = rng.integers(0, 15, 40), rng.integers(0, 15, 300)
    qf = (centres[qp] + rng.normal(size=(40, 8))).astype(np.float32)
    gf = (centres[gp] + rng.normal(size=(300, 8))).astype(np.float32)
    qc, gc = rng.integers(0, 3, 40), rng.integers(0, 3, 300)
    dense = evaluate_features(qf, gf, qp, gp, qc, gc, 30)
    dist, idx = faiss_search(qf, gf, 300)
    full = evaluate_topk(idx, qp, gp, qc, gc, 30)
    assert np.abs(full["cmc"] - dense["cmc"]).max() < 1e-9 and abs(full["mAP"] - dense["mAP"]) < 1e-9
    assert np.all(np.diff(dist, axis=1) >= -1e-4)
    top = evaluate_topk(faiss_search(qf, gf, 40)[1], qp, gp, qc, gc, 30)
    assert np.abs(top["cmc"][:20] - dense["cmc"][:20]).max() < 1e-9  # exact within the list
    assert top["mAP"] < dense["mAP"] and top["topk"] == 40
    approx = evaluate_topk(faiss_search(qf, gf, 40, index="ivf", nlist=8, nprobe=8)[1], qp, gp, qc, gc, 30)
    assert approx["cmc"][0] == pytest.approx(dense["cmc"][0], abs=1e-9)  # nprobe = nlist: every cell searched


def test_ranking_runs_on_torch_threads_and_leaves_their_count_as_it_was():
    # numba's OpenMP layer once reset the process's thread count to every core: a run held to one
    # thread to train beside another then took both cores after its first evaluation.
    import numba

    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("one core: numba and torch cannot disagree on the thread count")
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        d, q_pids, g_pids, q_cams, g_cams = random_problem(0)
        assert_same(evaluate_rank(d, q_pids, g_pids, q_cams, g_cams), reference_rank(d, q_pids, g_pids, q_cams, g_cams))
        assert torch.get_num_threads() == 1 and numba.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
