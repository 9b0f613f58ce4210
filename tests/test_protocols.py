"""Split protocols: the paper's Table I splits, the standard protocols, their determinism per seed."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from layouts import make_cuhk03, make_market, make_viper
from viewadapt.config import DataConfig
from viewadapt.builders import prepare_split, split_base
from viewadapt.data import make_split
from viewadapt.data.datasets import DATASETS
from viewadapt.data.records import DISTRACTOR_PID, DatasetDescription, ImageRecord
from viewadapt.data.splits import Split, SplitRequest
from viewadapt.errors import DataError


def ids(records) -> set[int]:
    return {r.pid for r in records if r.pid != DISTRACTOR_PID}


def in_memory(name: str, num_ids: int, num_cameras: int, **kw) -> DatasetDescription:
    """A dataset description of the real size without image files: splits only look at records.

    With more than two cameras, each identity misses one of them.
    """
    recs = [ImageRecord(f"/d/{pid}_{cam}_{k}.jpg", pid, cam) for pid in range(1, num_ids + 1)
            for cam in range(num_cameras) if num_cameras == 2 or (pid + cam) % num_cameras for k in range(2)]
    return DatasetDescription(name, "/d", recs, [f"c{i + 1}" for i in range(num_cameras)], **kw)


@pytest.mark.parametrize("name,num_ids,cams,sizes", [
    ("viper", 632, 2, (216, 100, 316)),
    ("market1501", 1501, 6, (650, 100, 751)),
    ("dukemtmc", 1404, 8, (602, 100, 702)),
])
def test_paper_protocol_has_table_one_sizes(name, num_ids, cams, sizes):
    ds = in_memory(name, num_ids, cams)
    split = make_split(ds, "paper", SplitRequest(1, 1, 1, seed=4, paper_split=DATASETS[name].paper_split))
    got = [ids(split.subset(n)) for n in ("train", "valid", "test")]
    assert tuple(map(len, got)) == sizes
    assert not (got[0] & got[1]) and not (got[0] & got[2]) and not (got[1] & got[2])
    views = Counter((r.pid, r.view) for r in split.test)
    assert all(views[(pid, 0)] and views[(pid, 1)] for pid in got[2])  # every test person has both views
    cams_used = {r.pid: set() for r in split.train}
    for r in split.train:
        cams_used[r.pid].add((r.view, r.camid))
    assert all(len(v) == 2 for v in cams_used.values())  # exactly one probe and one gallery camera
    if cams > 2:  # random cameras in random order: both orders occur
        probe_first = Counter(dict(v)[0] < dict(v)[1] for v in cams_used.values())
        assert probe_first[True] > 50 and probe_first[False] > 50
    again = make_split(ds, "paper", SplitRequest(1, 1, 1, seed=4, paper_split=DATASETS[name].paper_split))
    assert again.test == split.test and again.train == split.train
    other_seed = SplitRequest(1, 1, 1, seed=5, paper_split=DATASETS[name].paper_split)
    assert make_split(ds, "paper", other_seed).test != split.test


def test_cuhk03_paper_protocol_uses_the_classic_test_set_of_the_trial():
    ds = in_memory("cuhk03", 1467, 2, test_sets=[list(range(100 * t + 1, 100 * t + 101)) for t in range(20)])
    for trial in (0, 7):
        split = make_split(ds, "paper",
                           SplitRequest(1, 1, 1, seed=0, trial=trial, paper_split=DATASETS["cuhk03"].paper_split))
        expected = set(ds.test_sets[trial])
        assert ids(split.test) == expected
        assert len(ids(split.train)) == 1160 and len(ids(split.valid)) == 100
        assert not ids(split.train) & expected and split.label == f"cuhk03/paper{' trial 7' if trial else ''} (seed 0)"
    with pytest.raises(DataError, match="20 classic test sets: set data.trial to 0-19"):
        make_split(ds, "paper", SplitRequest(1, 1, 1, seed=0, trial=20, paper_split=DATASETS["cuhk03"].paper_split))


def test_paper_protocol_only_for_table_one_datasets():
    with pytest.raises(DataError, match="the paper gives no split for folder"):
        make_split(in_memory("folder", 50, 2), "paper", SplitRequest(1, 1, 1, seed=0))


def test_viper_standard_trials_are_fixed_halves(tmp_path):
    ds = DATASETS["viper"].read(make_viper(tmp_path), "")

    def standard(trial: int):  # the halves are a trait of the source, not of the name
        return make_split(ds, "standard",
                          SplitRequest(0, 50, 0, seed=0, trial=trial, random_halves=DATASETS["viper"].random_halves))

    splits = [standard(t) for t in range(10)]
    for s in splits:
        assert len(ids(s.test)) == 316 and len(ids(s.train)) == 266 and len(ids(s.valid)) == 50
        assert not ids(s.test) & (ids(s.train) | ids(s.valid))
        assert all(r.view == r.camid for r in s.test)  # cam_a is the probe
    assert len({frozenset(ids(s.test)) for s in splits}) == 10
    assert standard(3).test == splits[3].test
    with pytest.raises(DataError, match="trials 0-9"):
        standard(10)
    with pytest.raises(DataError, match="no standard query/gallery protocol here: use protocol paper or custom"):
        make_split(ds, "standard", SplitRequest(0, 50, 0, seed=0))  # a folder of two cameras has neither parts nor halves


def test_market_standard_is_the_official_query_gallery(tmp_path):
    ds = DATASETS["market1501"].read(make_market(tmp_path), "")
    split = make_split(ds, "standard", SplitRequest(0, 2, 0, seed=0))
    query = [r for r in split.test if r.view == 0]
    gallery = [r for r in split.test if r.view == 1]
    assert len(query) == 8 and all("/query/" in r.path for r in query)
    assert len(gallery) == 26 and all("/bounding_box_test/" in r.path for r in gallery)
    assert sum(r.pid == DISTRACTOR_PID for r in gallery) == 2
    assert len(ids(split.valid)) == 2 and len(ids(split.train)) == 4
    assert len(split.train) == 4 * 6  # every training image is used, its cameras halved between the views
    assert {r.view for r in split.train} == {0, 1}
    with pytest.raises(DataError, match="one fixed split"):
        make_split(ds, "standard", SplitRequest(0, 2, 0, seed=0, trial=1))
    with pytest.raises(DataError, match="too few to hold out data.num_valid=6"):
        make_split(ds, "standard", SplitRequest(0, 6, 0, seed=0))


def test_cuhk03_new_protocol_needs_its_config_file(tmp_path):
    root = make_cuhk03(tmp_path, with_new_protocol=False)
    with pytest.raises(DataError, match="cuhk03_new_protocol_config_<variant>.mat"):
        make_split(DATASETS["cuhk03"].read(root, "labeled"), "standard",
                   SplitRequest(0, 2, 0, seed=0, standard_fix=DATASETS["cuhk03"].standard_fix))


def test_split_json_is_relative_to_the_root_and_round_trips(tmp_path):
    root = make_market(tmp_path / "data")
    cfg = DataConfig(dataset="market1501", root=str(root), protocol="standard", num_valid=2)
    _, split = prepare_split(cfg)
    split.to_json(tmp_path / "split.json", split_base(cfg))
    raw = json.loads((tmp_path / "split.json").read_text())
    assert raw["protocol"] == "standard" and raw["dataset"] == "market1501"
    assert raw["test"][0]["path"].startswith("market1501/Market-1501-v15.09.15/")
    (tmp_path / "data").rename(tmp_path / "moved")  # moving the data only needs data.root changed
    back = Split.from_json(tmp_path / "split.json", str(tmp_path / "moved"))
    assert [r.path.replace("/moved/", "/data/") for r in back.test] == [r.path for r in split.test]
    assert back.label == split.label == "market1501/standard (seed 0)"
