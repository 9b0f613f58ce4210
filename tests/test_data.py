"""Synthetic benchmark, folder loader, identity splits and the image dataset."""

import json
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from viewadapt.builders import load_dataset
from viewadapt.data import make_identity_split
from viewadapt.data.datasets import read_folder_dataset
from viewadapt.data.augment import eval_transform
from viewadapt.data.images import ViewImages
from viewadapt.data.records import DatasetDescription, ImageRecord, ViewRecord
from viewadapt.data.splits import Split
from viewadapt.data.synthetic import SyntheticSpec, generate, stranger_paths
from viewadapt.config import DataConfig
from viewadapt.errors import DataError


def test_synthetic_layout_and_counts(tiny_synthetic):
    ds = read_folder_dataset(tiny_synthetic)
    assert ds.camera_names == ["cam_a", "cam_b"]
    assert len(ds.records) == 16 * 2 * 2 and len(ds.pids) == 16
    per = Counter((r.pid, r.camid) for r in ds.records)
    assert set(per.values()) == {2}
    first = Path(ds.records[0].path)
    assert first.parent.parent.name == "cam_a" and first.parent.name == "0000" and first.suffix == ".jpg"
    with Image.open(first) as img:
        assert img.size == (32, 64)  # width x height


def test_synthetic_is_deterministic_and_cached(tmp_path):
    spec = SyntheticSpec(num_identities=3, images_per_view=1, seed=7)
    a, b = generate(tmp_path / "a", spec, 64, 32), generate(tmp_path / "b", spec, 64, 32)
    for fa in sorted(a.rglob("*.jpg")):
        assert np.array_equal(np.asarray(Image.open(fa)), np.asarray(Image.open(b / fa.relative_to(a))))
    stamp = (a / "synthetic.json").stat().st_mtime_ns
    generate(a, spec, 64, 32)  # same spec: nothing rewritten
    assert (a / "synthetic.json").stat().st_mtime_ns == stamp


def test_strangers_are_no_camera_leave_every_other_image_as_it_was_and_go_with_their_set(tmp_path):
    """People only the last camera sees, labelled nowhere: their crops sit beside the camera folders,
    drawn from streams of their own, and a set generated without them removes them."""
    spec = SyntheticSpec(num_identities=3, images_per_view=2, seed=7, num_cameras=3)
    plain = generate(tmp_path / "plain", spec, 64, 32)
    root = generate(tmp_path / "with", replace(spec, strangers=2), 64, 32)
    assert sorted(p.relative_to(root).as_posix() for p in (root / "strangers").iterdir()) == [
        f"strangers/{s:04d}_cam_c_{k:02d}.jpg" for s in range(2) for k in range(2)]
    assert [str(p) for p in sorted((root / "strangers").iterdir())] == stranger_paths(root, replace(spec, strangers=2))
    for fa in sorted(plain.rglob("*.jpg")):
        assert np.array_equal(np.asarray(Image.open(fa)), np.asarray(Image.open(root / fa.relative_to(plain))))
    assert load_dataset(DataConfig(dataset="synthetic", root=str(root), height=64, width=32,
                                   synthetic=replace(spec, strangers=2))).camera_names == ["cam_a", "cam_b", "cam_c"]
    generate(root, spec, 64, 32)
    assert not (root / "strangers").exists()


def _camera_gap(root: Path) -> float:
    """Mean absolute pixel difference between the two cameras' images of the same identities."""
    gaps = []
    for fa in sorted((root / "cam_a").rglob("*.jpg")):
        fb = Path(str(fa).replace("cam_a", "cam_b"))
        gaps.append(np.abs(np.asarray(Image.open(fa), float) - np.asarray(Image.open(fb), float)).mean())
    return float(np.mean(gaps))


def test_view_shift_controls_the_camera_gap(tmp_path):
    gaps = [_camera_gap(generate(tmp_path / str(s), SyntheticSpec(12, 1, s, seed=1), 64, 32)) for s in (0.0, 2.0)]
    assert gaps[1] > 1.3 * gaps[0]


def test_identities_differ_more_than_views_of_one_identity(tmp_path):
    root = generate(tmp_path, SyntheticSpec(10, 2, 0.0, seed=2), 64, 32)

    def clothing(i: int, k: int) -> np.ndarray:
        """Mean colours of the torso and the legs, regions every pose and crop keeps in view."""
        img = np.asarray(Image.open(root / "cam_a" / f"{i:04d}" / f"{i:04d}_cam_a_{k:02d}.jpg"), float)
        return np.stack([img[20:30, 12:20].mean((0, 1)), img[42:52, 10:22].mean((0, 1))])

    same = np.mean([np.abs(clothing(i, 0) - clothing(i, 1)).mean() for i in range(10)])
    other = np.mean([np.abs(clothing(i, 0) - clothing((i + 1) % 10, 0)).mean() for i in range(10)])
    assert other > 2 * same


def test_folder_errors_name_the_path(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        read_folder_dataset(tmp_path / "missing")
    (tmp_path / "flat").mkdir()
    with pytest.raises(DataError, match="no camera folders"):
        read_folder_dataset(tmp_path / "flat")
    (tmp_path / "flat" / "cam1" / "0001").mkdir(parents=True)
    with pytest.raises(DataError, match="cam1 has no images"):
        read_folder_dataset(tmp_path / "flat")


def test_corrupt_image_names_the_file(tmp_path):
    bad = tmp_path / "c" / "1" / "x.jpg"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"not a jpeg")
    ds = read_folder_dataset(tmp_path)
    from viewadapt.data.records import ViewRecord

    items = ViewImages([ViewRecord(r.path, r.pid, r.camid, 0) for r in ds.records], eval_transform(64, 32))
    with pytest.raises(DataError, match="x.jpg"):
        items[0]


def test_decoded_images_give_the_items_their_files_give(tmp_path):
    """data.cache_images decodes once what every epoch would read: the same items, resized and augmented
    alike, for images of another size than the network's."""
    import torch

    from viewadapt.data.augment import AugmentOptions, train_transform
    from viewadapt.data.images import decode_images

    rng = np.random.default_rng(0)
    records = []
    for i, suffix in enumerate([".png", ".jpg", ".png"]):
        path = tmp_path / f"{i}{suffix}"
        Image.fromarray(rng.integers(0, 256, (50 + i, 23, 3), dtype=np.uint8)).save(path)
        records.append(ViewRecord(str(path), i, 0, i % 2))
    decoded = decode_images([r.path for r in records + records[:1]])
    assert list(decoded) == [r.path for r in records] and decoded[records[1].path].dtype == torch.uint8
    for transform in (eval_transform(64, 32), train_transform(64, 32, AugmentOptions())):
        torch.manual_seed(0)
        from_files = [ViewImages(records, transform)[i] for i in range(3)]
        torch.manual_seed(0)
        from_memory = [ViewImages(records, transform, decoded)[i] for i in range(3)]
        for (a, label_a, view_a), (b, label_b, view_b) in zip(from_files, from_memory):
            assert a.shape == (3, 64, 32) and torch.equal(a, b) and (label_a, view_a) == (label_b, view_b)


def test_evaluation_embeds_a_runs_decoded_images_and_reads_the_rest_from_files(tmp_path):
    """Validation scores C_valid every epoch from the run's decoded images, not its files; an image the
    cache does not hold (C_test) is read from its file; the embeddings are the files' either way."""
    import torch
    from torch import nn

    from viewadapt.data.images import decode_images
    from viewadapt.evaluation.features import extract_embeddings

    class ColourMeans(nn.Module):
        embedding_dim = 3

        def forward(self, images: torch.Tensor, view: int) -> torch.Tensor:
            return images.mean(dim=(2, 3)) + view

    rng = np.random.default_rng(0)
    records = []
    for i in range(4):
        path = tmp_path / f"{i}.png"
        Image.fromarray(rng.integers(0, 256, (40, 20, 3), dtype=np.uint8)).save(path)
        records.append(ViewRecord(str(path), i, 0, i % 2))
    from_files = extract_embeddings(ColourMeans(), records, 32, 16)
    decoded = decode_images([r.path for r in records[:2]])
    for r in records[:2]:
        Path(r.path).unlink()
    assert np.array_equal(extract_embeddings(ColourMeans(), records, 32, 16, decoded=decoded), from_files)
    with pytest.raises(DataError, match="0.png"):
        extract_embeddings(ColourMeans(), records, 32, 16)


def test_split_is_disjoint_sized_and_seeded(tiny_synthetic):
    ds = read_folder_dataset(tiny_synthetic)
    split = make_identity_split(ds, 8, 4, -1, seed=0)
    ids = {name: {r.pid for r in split.subset(name)} for name in ("train", "valid", "test")}
    assert [len(ids[n]) for n in ("train", "valid", "test")] == [8, 4, 4]
    assert not (ids["train"] & ids["valid"]) and not (ids["train"] & ids["test"]) and not (ids["valid"] & ids["test"])
    assert all(r.view == r.camid for r in split.train)  # two cameras: cam_a is always the probe view
    again = make_identity_split(ds, 8, 4, -1, seed=0)
    assert again.train == split.train
    assert make_identity_split(ds, 8, 4, -1, seed=1).train != split.train
    with pytest.raises(DataError, match=r"lower the data.num_\* sizes"):
        make_identity_split(ds, 10, 4, 4, seed=0)


def test_more_than_two_cameras_get_a_random_pair_per_identity(tmp_path):
    recs = [ImageRecord(f"{tmp_path}/{pid}_{cam}.jpg", pid, cam) for pid in range(30) for cam in range(4)]
    recs += [ImageRecord(f"{tmp_path}/solo.jpg", 99, 0)]  # one camera only: cannot form a pair
    ds = DatasetDescription("multi", str(tmp_path), recs, ["c1", "c2", "c3", "c4"])
    split = make_identity_split(ds, 10, 5, -1, seed=0)
    all_recs = split.train + split.valid + split.test
    assert 99 not in {r.pid for r in all_recs}
    pairs = {(r.pid, r.view): r.camid for r in all_recs}
    assert all(pairs[(pid, 0)] != pairs[(pid, 1)] for pid, _ in pairs)
    assert len({(pairs[(p, 0)], pairs[(p, 1)]) for p, _ in pairs}) > 2  # not one fixed camera pair


def test_a_gallery_camera_with_few_labels_keeps_them_for_that_many_identities(tmp_path):
    from viewadapt.config import load_config
    from viewadapt.data.splits import hide_gallery_labels
    from viewadapt.errors import ConfigError

    records = [ViewRecord(f"{pid}_{view}_{i}.jpg", pid, view, view) for pid in (3, 5, 8, 9) for view in (0, 1)
               for i in range(2)]
    labeled, unlabeled = hide_gallery_labels(records, 2, seed=0)
    kept = {r.pid for r in labeled if r.view == 1}
    assert len(kept) == 2 and len(labeled) == 8 + 4 and len(unlabeled) == 4
    assert {r.pid for r in labeled if r.view == 0} == {3, 5, 8, 9}  # every identity keeps its probe images
    assert {r.pid for r in unlabeled} == {3, 5, 8, 9} - kept and all(r.view == 1 for r in unlabeled)
    assert hide_gallery_labels(records, 2, seed=0) == (labeled, unlabeled)
    assert {r.pid for r in hide_gallery_labels(records, 2, seed=1)[1]} != {r.pid for r in unlabeled} or \
        {r.pid for r in hide_gallery_labels(records, 2, seed=2)[1]} != {r.pid for r in unlabeled}
    assert hide_gallery_labels(records, -1, seed=0) == (records, [])
    with pytest.raises(DataError, match="data.labeled_pairs=5 but C_train has 4 identities"):
        hide_gallery_labels(records, 5, seed=0)
    with pytest.raises(ConfigError, match="data.labeled_pairs with 3 views hides the last view's labels"):
        load_config(None, ["data.labeled_pairs=4", "train.batch_p=4", "data.camera_groups=[[a],[b],[c]]",
                    "train.adaptation.enabled=true"])


def test_split_json_round_trip_uses_relative_paths(tiny_synthetic, tmp_path):
    ds = read_folder_dataset(tiny_synthetic)
    split = make_identity_split(ds, 8, 4, 4, seed=0)
    split.to_json(tmp_path / "split.json", str(tiny_synthetic))
    raw = json.loads((tmp_path / "split.json").read_text())
    assert not raw["train"][0]["path"].startswith("/")
    back = Split.from_json(tmp_path / "split.json", str(tiny_synthetic))
    assert back.train == split.train and back.test == split.test


def test_load_dataset_generates_the_configured_synthetic_set(tmp_path):
    cfg = DataConfig(root=str(tmp_path / "syn"), height=64, width=32)
    cfg.synthetic.num_identities, cfg.synthetic.images_per_view = 7, 1
    ds = load_dataset(cfg)
    assert len(ds.pids) == 7 and len(ds.records) == 14
