"""More than two views: a synthetic set with more cameras, one mapping per camera group, a V-way Dd,
SP batches over view pairs, and evaluation over every ordered camera pair."""

from __future__ import annotations

import json
import math
from collections import Counter

import numpy as np
import pytest

from conftest import tiny_overrides
from viewadapt.cli.main import main
from viewadapt.data.datasets import read_folder_dataset
from viewadapt.data.sampler import SPBatchSampler
from viewadapt.data.splits import camera_views, make_identity_split
from viewadapt.data.synthetic import SyntheticSpec, generate
from viewadapt.errors import DataError


@pytest.fixture(scope="module")
def three_cams(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("three"), SyntheticSpec(12, 2, 1.0, seed=4, num_cameras=3), 64, 32)


def test_synthetic_with_three_cameras_and_regeneration(three_cams, tmp_path):
    ds = read_folder_dataset(three_cams)
    assert ds.camera_names == ["cam_a", "cam_b", "cam_c"] and len(ds.records) == 12 * 3 * 2
    root = generate(tmp_path, SyntheticSpec(4, 1, 1.0, seed=1, num_cameras=3), 64, 32)
    generate(root, SyntheticSpec(4, 1, 1.0, seed=1, num_cameras=2), 64, 32)
    assert sorted(p.name for p in root.iterdir() if p.is_dir()) == ["cam_a", "cam_b"]  # no stale camera


def test_camera_groups_give_one_view_per_group(three_cams):
    ds = read_folder_dataset(three_cams)
    split = camera_views(make_identity_split(ds, 6, 3, -1, seed=0), ds, [["cam_a"], ["cam_b", "cam_c"]])
    assert {(r.camid, r.view) for r in split.train} == {(0, 0), (1, 1), (2, 1)}
    assert len(split.train) == 6 * 3 * 2  # every image of every camera of the identity
    per_cam = camera_views(make_identity_split(ds, 6, 3, -1, seed=0), ds, [["cam_a"], ["cam_b"], ["cam_c"]])
    assert all(r.view == r.camid for r in per_cam.test)
    with pytest.raises(DataError, match="camera 'cam_z', which folder does not have: its cameras are cam_a"):
        camera_views(split, ds, [["cam_a"], ["cam_z"]])


def test_sp_batches_cover_one_view_pair_each():
    rng = np.random.default_rng(0)
    pids, views = [], []
    for pid in range(30):
        for v in sorted(rng.choice(4, rng.integers(2, 5), replace=False)):
            pids += [pid] * 3
            views += [int(v)] * 3
    sampler = SPBatchSampler(pids, views, p=4, s=4, seed=1)
    pairs = Counter()
    for batch in sampler:
        vs = {views[i] for i in batch}
        assert len(vs) == 2
        pairs[tuple(sorted(vs))] += 1
        for pid in {pids[i] for i in batch}:
            assert {views[i] for i in batch if pids[i] == pid} == vs  # every identity in both views
    assert len(pairs) >= 5  # the view pairs vary across batches


def test_three_view_run_trains_evaluates_every_pair_and_exports(three_cams, tmp_path, capsys):
    args = tiny_overrides(three_cams, tmp_path / "runs") + [
        "data.synthetic.num_identities=12", "data.synthetic.seed=4", "data.synthetic.num_cameras=3",
        "data.camera_groups=[[cam_a],[cam_b],[cam_c]]", "model.extra_backbones=[vggm_small]",
        "data.num_train=6", "data.num_valid=3", "data.num_test=3", "name=v3"]
    assert main(["train", "--quiet", *args]) == 0
    run = tmp_path / "runs" / "v3"
    metrics = json.loads((run / "metrics.json").read_text())
    assert sorted(metrics["test"]["pairs"]) == ["0->1", "0->2", "1->0", "1->2", "2->0", "2->1"]
    mean = np.mean([p["rank1"] for p in metrics["test"]["pairs"].values()])
    assert metrics["test"]["rank1"] == pytest.approx(mean)
    confusion = [h["confusion"] for h in metrics["history"] if h["stage"] == "adaptation"]
    assert all(c >= 2 * math.log(3) - 1e-4 for c in confusion)  # the V-way uniform target's minimum, per view
    from viewadapt.inference import ReIDModel

    model = ReIDModel.from_run(run)
    assert len(model.mappings.networks()) == 3 and model.mappings.mapping(2) is not model.mappings.mapping(1)
    feats = model.extract(three_cams / "cam_c", "cam_c")
    assert feats.view == 2
    with pytest.raises(DataError, match="no mapping for view 'cam_d': its views are cam_a \\(0\\)"):
        model.extract(three_cams / "cam_c", "cam_d")
    pytest.importorskip("onnx")
    assert main(["export", str(run), "--out", str(tmp_path / "onnx")]) == 0
    assert sorted(p.name for p in (tmp_path / "onnx").glob("*.onnx")) == ["gallery.onnx", "probe.onnx", "view2.onnx"]
