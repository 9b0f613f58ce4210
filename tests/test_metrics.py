"""evaluate_rank on hand-worked cases, and the two-view protocols."""

import numpy as np
import pytest

from viewadapt.data.records import ViewRecord
from viewadapt.evaluation import evaluate_rank, evaluate_views


def test_viper_style_one_to_one():
    # query i's match is gallery i; it ranks 1st, 2nd and 3rd for queries 0, 1, 2
    d = np.array([[0.1, 0.5, 0.9],
                  [0.2, 0.3, 0.9],
                  [0.1, 0.2, 0.3]])
    ids = np.arange(3)
    r = evaluate_rank(d, ids, ids, np.zeros(3), np.ones(3), max_rank=5)
    assert r["cmc"].tolist() == pytest.approx([1 / 3, 2 / 3, 1, 1, 1])
    assert r["mAP"] == pytest.approx((1 + 1 / 2 + 1 / 3) / 3)
    assert r["num_valid"] == 3 and r["num_skipped"] == 0
    assert len(r["cmc"]) == 5  # padded past the gallery size


def test_several_matches_average_precision_and_minp():
    # true matches at ranks 1 and 3: AP = (1/1 + 2/3) / 2; INP = 2 / 3
    d = np.array([[0.1, 0.2, 0.3, 0.4]])
    r = evaluate_rank(d, np.array([7]), np.array([7, 1, 7, 2]), np.array([0]), np.array([1, 1, 1, 1]), max_rank=4)
    assert r["mAP"] == pytest.approx((1 + 2 / 3) / 2)
    assert r["mINP"] == pytest.approx(2 / 3)
    assert r["cmc"].tolist() == [1, 1, 1, 1]


def test_ties_keep_gallery_order():
    d = np.array([[0.5, 0.5, 0.5]])
    r = evaluate_rank(d, np.array([3]), np.array([1, 3, 2]), np.array([0]), np.array([1, 1, 1]), max_rank=3)
    assert r["cmc"].tolist() == [0, 1, 1]  # the tie puts gallery item 1 second
    assert r["mAP"] == pytest.approx(0.5)


def test_same_camera_matches_are_removed_and_unmatched_queries_skipped():
    d = np.array([[0.1, 0.2, 0.3],
                  [0.1, 0.2, 0.3]])
    q_pids, q_cams = np.array([1, 2]), np.array([0, 0])
    g_pids, g_cams = np.array([1, 9, 1]), np.array([0, 1, 1])
    r = evaluate_rank(d, q_pids, g_pids, q_cams, g_cams, max_rank=3)
    # query 0: its camera-0 twin is dropped, so the camera-1 match ranks 2nd; query 1 has no match
    assert r["num_valid"] == 1 and r["num_skipped"] == 1
    assert r["cmc"].tolist() == [0, 1, 1]
    assert r["mAP"] == pytest.approx(0.5)


def test_bad_inputs_are_clear_errors():
    d = np.zeros((2, 3))
    with pytest.raises(ValueError, match="distmat is 2 x 3"):
        evaluate_rank(d, np.arange(3), np.arange(3), np.zeros(2), np.ones(3))
    with pytest.raises(ValueError, match="NaN"):
        evaluate_rank(np.full((1, 1), np.nan), np.zeros(1), np.zeros(1), np.zeros(1), np.ones(1))
    with pytest.raises(ValueError, match="no query has a true match"):
        evaluate_rank(np.zeros((1, 2)), np.array([5]), np.array([1, 2]), np.zeros(1), np.ones(2))


def _records(pids_views):
    return [ViewRecord(f"{i}.jpg", pid, view, view) for i, (pid, view) in enumerate(pids_views)]


def test_single_shot_uses_one_gallery_image_per_identity():
    # identity 0 has two gallery images: a perfect one and a far one; identity 1 has one
    recs = _records([(0, 0), (1, 0), (0, 1), (0, 1), (1, 1)])
    emb = np.array([[0.0], [10.0], [0.0], [20.0], [10.0]], dtype=np.float32)
    one = evaluate_views(emb, recs, "single_shot", trials=50, seed=0, max_rank=2)
    assert one["protocol"] == "single_shot" and one["num_queries"] == 2
    # when the far image of id 0 is drawn, query 0 ranks id 1's image (at 10) before it (at 20)
    assert 0.5 < one["rank1"] < 1.0
    assert one == evaluate_views(emb, recs, "single_shot", trials=50, seed=0, max_rank=2)
    full = evaluate_views(emb, recs, "all_gallery", max_rank=2)
    # query 0 ranks its two matches 1st and 3rd: AP (1 + 2/3) / 2; query 1: AP 1
    assert full["rank1"] == 1.0 and full["mAP"] == pytest.approx(((1 + 2 / 3) / 2 + 1) / 2)
