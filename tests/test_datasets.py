"""Dataset adapters against tiny trees in the exact real layouts (tests/layouts.py)."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from layouts import (CUHK03_PEOPLE, DUKE_GALLERY_ONLY, DUKE_TEST_IDS, DUKE_TRAIN_IDS, MARKET_TEST_IDS,
                     MARKET_TRAIN_IDS, cuhk03_files, image, make_cuhk03, make_duke, make_market, make_viper)
from viewadapt.data.datasets import DATASETS, read_csv_index
from viewadapt.data.records import DISTRACTOR_PID
from viewadapt.errors import DataError


def read(name: str, root: Path, variant: str = ""):
    return DATASETS[name].read(root, variant)


# ---- VIPeR ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def viper_root(tmp_path_factory) -> Path:
    return make_viper(tmp_path_factory.mktemp("viper"))


def test_viper_reads_632_people_paired_by_number(viper_root):
    ds = read("viper", viper_root)
    assert len(ds.records) == 1264 and len(ds.pids) == 632 and ds.camera_names == ["cam_a", "cam_b"]
    assert ds.ordered_views and max(ds.pids) > 632  # numbers run with gaps, as VIPeR's do
    per = {(r.pid, r.camid): Path(r.path) for r in ds.records}
    for pid in ds.pids[:50]:
        a, b = per[(pid, 0)], per[(pid, 1)]
        assert a.parent.name == "cam_a" and b.parent.name == "cam_b" and a.suffix == ".bmp"
        assert a.stem.split("_")[0] == b.stem.split("_")[0] == f"{pid:03d}"


def _copy_viper(viper_root: Path, tmp_path: Path) -> Path:
    shutil.copytree(viper_root / "viper", tmp_path / "viper")
    return tmp_path / "viper" / "VIPeR"


def test_viper_bad_copies_fail_naming_the_file(viper_root, tmp_path):
    with pytest.raises(DataError, match="VIPeR not found.*viper/VIPeR/cam_a"):
        read("viper", tmp_path)
    base = _copy_viper(viper_root, tmp_path)
    lonely = sorted((base / "cam_b").iterdir())[7]
    lonely.unlink()
    with pytest.raises(DataError, match=rf"{lonely.stem.split('_')[0]}_\d+\.bmp has no cam_b image .*incomplete"):
        read("viper", tmp_path)
    image(base / "cam_b" / "notes.bmp")
    with pytest.raises(DataError, match=r"notes\.bmp: VIPeR file names look like 000_45\.bmp"):
        read("viper", tmp_path)
    shutil.rmtree(base / "cam_b")
    (base / "cam_b").mkdir()
    with pytest.raises(DataError, match="cam_b holds no images"):
        read("viper", tmp_path)


# ---- Market-1501 and DukeMTMC-reID ------------------------------------------------------------------
@pytest.fixture(scope="module")
def market_root(tmp_path_factory) -> Path:
    return make_market(tmp_path_factory.mktemp("market"))


def test_market_parts_junk_and_distractors(market_root):
    ds = read("market1501", market_root)
    parts = Counter(r.subset for r in ds.records)
    assert parts == {"train": 36, "query": 8, "gallery": 26}  # junk (-1) dropped, Thumbs.db ignored
    assert ds.pids == sorted(MARKET_TRAIN_IDS + MARKET_TEST_IDS) and ds.num_cameras == 6
    distractors = [r for r in ds.records if r.pid == DISTRACTOR_PID]
    assert len(distractors) == 2 and {r.subset for r in distractors} == {"gallery"}
    for r in ds.records:  # camera from cN, zero-based
        name = Path(r.path).name
        assert int(name.split("_")[1][1]) == r.camid + 1
        assert r.pid == DISTRACTOR_PID or int(name[:4]) == r.pid
    assert {r.camid for r in ds.records if r.subset == "query"} == {0, 3}


def test_market_flattened_folder_is_accepted(market_root, tmp_path):
    shutil.copytree(market_root / "market1501" / "Market-1501-v15.09.15", tmp_path / "market1501")
    assert len(read("market1501", tmp_path).records) == 70


def test_market_bad_copies_fail_naming_the_path(market_root, tmp_path):
    with pytest.raises(DataError, match="extract Market-1501-v15.09.15.zip into"):
        read("market1501", tmp_path)
    shutil.copytree(market_root / "market1501", tmp_path / "market1501")
    base = tmp_path / "market1501" / "Market-1501-v15.09.15"
    shutil.rmtree(base / "query")
    with pytest.raises(DataError, match="query is missing: the archive looks half-extracted"):
        read("market1501", tmp_path)
    (base / "query").mkdir()
    with pytest.raises(DataError, match="query holds no images"):
        read("market1501", tmp_path)
    image(base / "query" / "0001_c1s1_000001_00.jpg")
    image(base / "query" / "IMG_2231.jpg")
    with pytest.raises(DataError, match=r"IMG_2231\.jpg: market1501 file names start with <person>_c<camera>"):
        read("market1501", tmp_path)
    (base / "query" / "IMG_2231.jpg").unlink()
    image(base / "query" / "0001_c9s1_000001_00.jpg")
    with pytest.raises(DataError, match=r"c9 is outside c1..c6"):
        read("market1501", tmp_path)
    (base / "query" / "0001_c9s1_000001_00.jpg").unlink()
    image(base / "query" / "0000_c1s1_000001_00.jpg")
    with pytest.raises(DataError, match="distractor id 0000 outside bounding_box_test"):
        read("market1501", tmp_path)


def test_duke_eight_cameras_and_gallery_only_people(tmp_path):
    ds = read("dukemtmc", make_duke(tmp_path))
    assert ds.num_cameras == 8 and ds.camera_names[-1] == "c8"
    assert Counter(r.subset for r in ds.records) == {"train": 15, "query": 3, "gallery": 7}
    assert ds.pids == sorted(DUKE_TRAIN_IDS + DUKE_TEST_IDS + DUKE_GALLERY_ONLY)
    assert {r.subset for r in ds.records if r.pid in DUKE_GALLERY_ONLY} == {"gallery"}
    assert {r.camid for r in ds.records} == set(range(8))


# ---- CUHK03 -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cuhk03_root(tmp_path_factory) -> Path:
    return make_cuhk03(tmp_path_factory.mktemp("cuhk03"))


@pytest.mark.parametrize("variant", ["labeled", "detected"])
def test_cuhk03_v73_mat_is_extracted_with_torchreid_names(cuhk03_root, variant):
    ds = read("cuhk03", cuhk03_root, variant)
    names = sorted(Path(r.path).name for r in ds.records)
    assert names == sorted(cuhk03_files(variant))
    assert (cuhk03_root / "cuhk03" / f"images_{variant}").is_dir()
    assert not (cuhk03_root / "cuhk03" / f"images_{variant}.partial").exists()
    assert len(ds.pids) == sum(CUHK03_PEOPLE) and ds.num_cameras == 10 and ds.ordered_views
    for r in ds.records:
        pair, person, cam, k = (int(x) for x in Path(r.path).stem.split("_"))
        assert r.pid == pair * 1000 + person and r.camid == 2 * (pair - 1) + cam - 1
        with Image.open(r.path) as img:  # HxWx3 survived MATLAB's reversed dimensions
            assert img.size == (10 + person, 20 + k - 1) and img.mode == "RGB"
    assert len(ds.test_sets) == 20 and ds.test_sets[0] == [3001, 4002] and ds.test_sets[1] == [1001, 2003]


def test_cuhk03_extracts_once(cuhk03_root):
    read("cuhk03", cuhk03_root)
    first = sorted((cuhk03_root / "cuhk03" / "images_labeled").iterdir())[0]
    stamp = first.stat().st_mtime_ns
    read("cuhk03", cuhk03_root)
    assert first.stat().st_mtime_ns == stamp


def test_cuhk03_new_protocol_parts(cuhk03_root):
    ds = read("cuhk03", cuhk03_root, "labeled")
    parts = Counter(r.subset for r in ds.records)
    train_ids = {r.pid for r in ds.records if r.subset == "train"}
    query_ids = {r.pid for r in ds.records if r.subset == "query"}
    assert train_ids == {1001, 1002, 1003, 1004, 2001, 2002, 2003} and query_ids == {3001, 3002, 4001, 4002, 5001, 5002}
    assert parts["query"] == 12 and parts["train"] + parts["query"] + parts["gallery"] == len(ds.records)


def test_cuhk03_bad_input(cuhk03_root, tmp_path):
    with pytest.raises(DataError, match="cuhk03_release/cuhk-03.mat.*extract cuhk03_release.zip"):
        read("cuhk03", tmp_path)
    (tmp_path / "cuhk03" / "cuhk03_release").mkdir(parents=True)
    (tmp_path / "cuhk03" / "cuhk03_release" / "cuhk-03.mat").write_bytes(b"MATLAB 5.0 MAT-file" + b"\0" * 200)
    with pytest.raises(DataError, match=r"as a MATLAB v7.3 \(HDF5\) file"):
        read("cuhk03", tmp_path)
    assert not (tmp_path / "cuhk03" / "images_labeled").exists()  # nothing half-written under the real name
    with pytest.raises(DataError, match="no 'sketch' images"):
        read("cuhk03", cuhk03_root, "sketch")


# ---- custom CSV index ---------------------------------------------------------------------------------
def test_csv_index_with_subsets_and_distractors(tmp_path):
    rows = ["path,identity,camera,subset"]
    for ident in ("anna", "ben", "carl"):
        for cam in ("door", "lift"):
            rows.append(f"imgs/{ident}_{cam}.png,{ident},{cam},train")
            image(tmp_path / "imgs" / f"{ident}_{cam}.png")
    rows += ["imgs/x.png,-1,lift,gallery", "/abs/missing.png,dan,door,query"]
    image(tmp_path / "imgs" / "x.png")
    index = tmp_path / "index.csv"
    index.write_text("\n".join(rows[:-1]) + "\n")
    ds = read_csv_index(index)
    assert ds.camera_names == ["door", "lift"] and ds.pids == [0, 1, 2] and ds.base == str(tmp_path)
    assert [r.pid for r in ds.records if r.subset == "gallery"] == [DISTRACTOR_PID]
    index.write_text("\n".join(rows) + "\n")
    with pytest.raises(DataError, match=r"index.csv line 9: image /abs/missing.png does not exist"):
        read_csv_index(index)
    index.write_text("file,person,cam\nx.png,1,1\n")
    with pytest.raises(DataError, match="must name the columns path,identity,camera"):
        read_csv_index(index)
    index.write_text("path,identity,camera,subset\nimgs/x.png,1,1,test\n")
    with pytest.raises(DataError, match="subset 'test' is not one of train, query, gallery"):
        read_csv_index(index)
