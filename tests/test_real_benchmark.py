"""CUHK03 camera pair 1, the real benchmark: its loader on the real layout (generated here: no real crop is
ever in the repository or the tests), the budget keys its CPU config uses, and the experiment settings
that apply to real data only."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from layouts import make_cuhk03_pair1
from viewadapt.builders import load_dataset, split_dataset
from viewadapt.config import DataConfig, load_config
from viewadapt.errors import ConfigError, DataError

REPO = Path(__file__).parent.parent


@pytest.fixture(scope="module")
def pair1_root(tmp_path_factory) -> Path:
    return make_cuhk03_pair1(tmp_path_factory.mktemp("cuhk03"), ("labeled", "detected"))


def _data(root: Path, **kw) -> DataConfig:
    return DataConfig(dataset="cuhk03_pair1", root=str(root), protocol="paper", **kw)


def test_pair1_reads_843_people_in_two_cameras_with_test_sets_of_true_boxes_only(pair1_root):
    labeled = load_dataset(_data(pair1_root, variant="labeled"))
    assert labeled.camera_names == ["camA", "camB"] and len(labeled.pids) == 843 and len(labeled.records) == 1686
    name = {r.pid: Path(r.path).parent.name for r in labeled.records}
    assert len(labeled.test_sets) == 20 and all(len(s) == 100 for s in labeled.test_sets)
    # the copy's last 100 people have detector boxes in both variants: never a test person
    assert all(int(name[p]) < 743 for s in labeled.test_sets for p in s)
    assert len({tuple(s) for s in labeled.test_sets}) == 20
    detected = load_dataset(_data(pair1_root, variant="detected"))
    assert detected.test_sets == labeled.test_sets  # both variants scored on the same people
    assert "cuhk03_detected" in detected.records[0].path

    split = split_dataset(_data(pair1_root, variant="labeled", trial=3), labeled)
    ids = {part: {r.pid for r in split.subset(part)} for part in ("train", "valid", "test")}
    assert [len(ids[p]) for p in ("train", "valid", "test")] == [643, 100, 100]  # Table I's sizes
    assert ids["test"] == set(labeled.test_sets[3]) and not ids["train"] & ids["valid"]
    assert {r.view for r in split.test if r.camid == 0} == {0}  # camera A is the probe view


def test_train_subset_trains_on_part_of_c_train_and_keeps_valid_and_test(pair1_root):
    dataset = load_dataset(_data(pair1_root))
    full = split_dataset(_data(pair1_root), dataset)
    part = split_dataset(_data(pair1_root, train_subset=200), dataset)
    train = {r.pid for r in part.train}
    assert len(train) == 200 and train < {r.pid for r in full.train}
    assert part.valid == full.valid and part.test == full.test
    assert split_dataset(_data(pair1_root, train_subset=200), dataset).train == part.train  # seeded
    with pytest.raises(DataError, match="train_subset=700 but C_train has 643"):
        split_dataset(_data(pair1_root, train_subset=700), dataset)
    with pytest.raises(ConfigError, match="data.train_subset must be >= 2"):
        load_config(None, ["data.train_subset=1"])


@pytest.mark.parametrize("layout, message", [
    ("missing", "does not exist: CUHK03 camera pair 1 is laid out as"),
    ("one_camera", "holds the camera folders camA, expected camA and camB"),
    ("incomplete", "holds 842 people, expected 843"),
])
def test_a_missing_or_wrongly_laid_out_copy_says_where_pair1_comes_from(pair1_root, tmp_path, layout, message):
    root = tmp_path / "data"
    if layout != "missing":
        shutil.copytree(pair1_root / "cuhk03_labeled", root / "cuhk03_labeled")
        if layout == "one_camera":
            shutil.rmtree(root / "cuhk03_labeled" / "camB")
        else:
            for cam in ("camA", "camB"):
                shutil.rmtree(root / "cuhk03_labeled" / cam / "0842")
    with pytest.raises(DataError, match=message) as err:
        load_dataset(_data(root))
    assert "manideep2510/CUHK03_dataset" in str(err.value) and "\n" not in str(err.value)


def test_the_cuhk03_config_on_a_pair1_folder_names_the_pair1_configs(pair1_root):
    """`-c cuhk03` reads the release's .mat; given the public copy of pair 1 it says which config reads that."""
    from viewadapt.data.datasets import DATASETS

    with pytest.raises(DataError, match=r"holds CUHK03's camera pair 1 laid out by camera.*-c cuhk03_pair1 ") as err:
        DATASETS["cuhk03"].read(pair1_root, "labeled")
    assert "\n" not in str(err.value)


def test_sp_epoch_images_gives_a_camera_with_few_labels_as_many_steps_as_one_with_all(tiny_config):
    """train.sp_epoch=images: about every training image once per SP epoch, whatever the labels; the
    default is the paper's epoch, a batch led by each identity labelled in both views."""
    from viewadapt.builders import create_trainer

    def batches(*extra: str) -> tuple[int, int]:
        trainer = create_trainer(tiny_config("train.adaptation.enabled=false", *extra), verbose=False)
        similarity = next(s for s in trainer.stages if s.name == "similarity")
        count, images = len(similarity.prepare_epoch(0).batches), len(trainer.train_set)
        trainer.close()
        return count, images

    assert batches("name=ids")[0] == 8  # C_train's 8 identities
    assert batches("data.labeled_pairs=4", "name=few")[0] == 4
    count, images = batches("train.sp_epoch=images", "name=all_images")
    assert count == round(images / 16)  # P x S = 4 x 4
    few, few_images = batches("train.sp_epoch=images", "data.labeled_pairs=4", "name=few_images")
    assert few == round(few_images / 16) and few >= count // 2
    with pytest.raises(ConfigError, match="train.sp_epoch 'rows' is not one of: identities, images"):
        load_config(None, ["train.sp_epoch=rows"])


def test_settings_apply_where_they_mean_something():
    """The cameras experiment on real crops of two cameras: no third camera (a real set needs one, the
    synthetic set draws it), a second few-labels point instead; the upper bound's budget override is the
    synthetic set's alone."""
    from viewadapt.experiments import EXPERIMENTS
    from viewadapt.experiments.runner import _chosen_settings

    cameras = EXPERIMENTS["cameras"]
    real = [s.name for s in _chosen_settings(cameras, None, generated=False)]
    synthetic = [s.name for s in _chosen_settings(cameras, None, generated=True)]
    assert real == ["both_labelled", "few_labels", "new_camera", "few_labels_50"]
    assert synthetic == ["both_labelled", "few_labels", "new_camera", "new_camera_3"]
    with pytest.raises(ConfigError, match="setting new_camera_3 needs 3 camera views and the config gives 2"):
        _chosen_settings(cameras, ["new_camera_3"], generated=False)
    with pytest.raises(ConfigError, match="setting few_labels_50 runs on real datasets only"):
        _chosen_settings(cameras, ["few_labels_50"], generated=True)
    assert "new_camera_3" in [s.name for s in _chosen_settings(cameras, None, generated=False, num_views=3)]
    bound = next(m for m in cameras.methods if m.key == "all_labels")
    assert "train.similarity.epochs=2" in bound.overrides_for(True)
    assert "train.similarity.epochs=2" not in bound.overrides_for(False)


def test_the_pair1_configs_load_and_the_cpu_one_is_its_budget():
    cpu = load_config("cuhk03_pair1-cpu")
    full = load_config("cuhk03_pair1")
    assert cpu.data.dataset == full.data.dataset == "cuhk03_pair1" and cpu.data.protocol == "paper"
    assert cpu.data.train_subset == 200 and full.data.train_subset == -1
    assert (full.data.height, full.data.width) == (256, 128)
    assert cpu.method().startswith("the recommended method") and full.method().startswith("the recommended method")


def test_an_experiment_on_pair1_prints_the_papers_cuhk03_numbers(pair1_root, tiny_synthetic, tmp_path):
    from conftest import tiny_overrides
    from viewadapt.experiments.runner import run_experiment

    tiny = [o for o in tiny_overrides(tiny_synthetic, tmp_path / "unused") if not o.startswith("data.")]
    mine = tiny + ["data.dataset=cuhk03_pair1", f"data.root={pair1_root}", "data.protocol=paper",
                   "data.train_subset=8", "data.height=64", "data.width=32", "train.init.epochs=1",
                   "train.similarity.epochs=1", "train.adaptation.epochs=1", "eval.zero_shot=false"]
    table = run_experiment("table7", None, mine, seeds=1, out=tmp_path / "exp", methods=["ours"]).read_text()
    assert "Dataset cuhk03_pair1" in table and "| paper rank-1 |" in table
    row = next(line for line in table.splitlines() if "(`ours`)" in line)
    assert row.rstrip().endswith("| 88.9 |")  # the paper's CUHK03 Ours*


def test_no_crop_of_a_real_person_is_in_the_repository():
    """Real crops are photographs of people for research only: no image file is tracked but the figures
    the results draw and what the tests draw themselves."""
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    tracked = subprocess.run(["git", "-C", str(REPO), "ls-files"], capture_output=True, text=True, check=True)
    images = [p for p in tracked.stdout.splitlines() if Path(p).suffix.lower() in {".jpg", ".jpeg", ".bmp", ".png",
                                                                                   ".gif", ".webp", ".tif", ".tiff"}]
    assert not [p for p in images if not (p.startswith("docs/results/") and p.endswith(".png"))], images
