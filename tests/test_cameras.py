"""Cameras with few or no labels: one-camera SP batches, pseudo-labels by cross-camera mutual nearest
neighbours, the self-training stage, and the experiment that compares them from committed records."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from conftest import tiny_overrides
from viewadapt.config import load_config
from viewadapt.data.sampler import SPBatchSampler
from viewadapt.errors import ConfigError
from viewadapt.objectives.batch import ViewBatch, first_halves
from viewadapt.builders import create_trainer, resume_trainer
from viewadapt.training import Trainer
from viewadapt.training.pseudo_labels import kept_fraction, mutual_neighbours, prototypes


def test_without_cross_view_identities_sp_batches_come_from_one_camera_and_never_repeat_an_image():
    # identities 0-5 in view 0 only: three with three images, three with two; identity 6 has one image
    pids = [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 4, 4, 5, 5, 6]
    views = [0] * len(pids)
    sampler = SPBatchSampler(pids, views, p=3, s=4, seed=0)
    assert sampler.single_view and len(sampler) == 6  # identity 6 cannot be paired with itself
    for batch in sampler:
        assert len({pids[i] for i in batch}) == 3
        for pid in {pids[i] for i in batch}:
            mine = [i for i in batch if pids[i] == pid]
            assert len(mine) == min(4, pids.count(pid)) and len(set(mine)) == len(mine)
    # with P identities seen in both views the batches are cross-view, as before
    cross = SPBatchSampler(pids + [0, 1, 2], views + [1, 1, 1], p=3, s=4, seed=0)
    assert not cross.single_view and len(cross) == 3


def test_a_batch_without_labelled_gallery_images_is_matched_within_its_probe_side():
    pids = torch.tensor([7, 7, 7, 9, 9])
    assert first_halves(pids).tolist() == [True, True, False, True, False]
    e = torch.arange(10.0).reshape(5, 2)
    unlabelled = torch.zeros(3, 2)
    batch = ViewBatch(e, unlabelled, pids, torch.full((3,), -1))
    pairs = batch.labeled()
    assert pairs.pid_s.tolist() == [7, 7, 9] and pairs.pid_t.tolist() == [7, 9]
    assert torch.equal(pairs.e_s, e[[0, 1, 3]]) and torch.equal(pairs.e_t, e[[2, 4]])
    assert pairs.view_s == pairs.view_t == 0
    full = ViewBatch(e[:2], e[2:4], pids[:2], pids[:2])
    assert full.labeled() is full


def test_pseudo_labels_by_mutual_neighbours_against_a_hand_worked_case():
    # prototypes: identity 10 at (1, 0), identity 20 at (0, 1)
    ids, protos = prototypes(np.array([[2.0, 0.0], [1.0, 0.0], [0.0, 3.0]]), np.array([10, 10, 20]))
    assert ids.tolist() == [10, 20] and np.allclose(protos, [[1, 0], [0, 1]])
    # unit-norm unlabelled images; similarities to (p10, p20):
    # a (0.6, 0.8): (0.6, 0.8) -> 20, margin 0.2;  b (0.8, 0.6): (0.8, 0.6) -> 10, margin 0.2
    # c (1, 0): -> 10, margin 1;  d (0.28, 0.96): -> 20, margin 0.68
    u = np.array([[0.6, 0.8], [0.8, 0.6], [1.0, 0.0], [0.28, 0.96]])
    # k = 1: p10's nearest image is c, p20's is d: only those are mutual
    labels, margin = mutual_neighbours(u, protos, k=1)
    assert labels.tolist() == [-1, -1, 0, 1] and np.allclose(margin, [0.2, 0.2, 1.0, 0.68])
    # k = 2: p10's two nearest are c, b (both nearest p10); p20's are d, a: all four pass
    labels, _ = mutual_neighbours(u, protos, k=2)
    assert labels.tolist() == [1, 0, 0, 1]
    # half of them, the largest margins first: c (1.0) and d (0.68)
    labels, _ = mutual_neighbours(u, protos, k=2, fraction=0.5)
    assert labels.tolist() == [-1, -1, 0, 1]
    assert kept_fraction(0.5, 0, 5) == 0.5 and kept_fraction(0.5, 2, 5) == 0.75 and kept_fraction(0.5, 4, 5) == 1.0


def test_self_training_is_skipped_where_every_image_is_labelled(tiny_config):
    trainer = create_trainer(tiny_config("train.self_training.enabled=true", "name=all"), verbose=False)
    assert [s.name for s in trainer.stages] == ["init", "similarity", "adaptation"]


def _weights(trainer: Trainer) -> dict:
    return {k: v.clone() for k, v in trainer.method.mappings.state_dict().items()}


def test_self_training_pseudo_labels_a_camera_without_labels_and_resumes_exactly(tiny_config):
    overrides = ("data.labeled_pairs=0", "model.asymmetry=stats", "model.probe_backbone=mobilenet_v3_small",
                 "train.adaptation.enabled=false", "train.self_training.enabled=true", "train.self_training.epochs=3",
                 "train.self_training.patience=5")
    straight = create_trainer(tiny_config(*overrides, "name=straight"), verbose=False)
    assert all(r.view == 0 for r in straight.train_set.records)  # the gallery camera has no label at all
    metrics = straight.fit()
    steps = [h for h in metrics["history"] if h["stage"] == "self_training"]
    assert metrics["finished"] and len(steps) == 3
    assert all(0 <= h["pseudo_labelled"] <= 1 and 0 <= h["pseudo_precision"] <= 1 for h in steps)
    assert steps[-1]["pseudo_labelled"] > 0
    assert set(straight.train_set.decoded) >= {r.path for r in straight.split.train}  # data.cache_images
    uncached = create_trainer(tiny_config(*overrides, "data.cache_images=false", "name=uncached"), verbose=False)
    assert uncached.train_set.decoded is None
    assert [h["loss"] for h in uncached.fit()["history"]] == [h["loss"] for h in metrics["history"]]

    interrupted = create_trainer(tiny_config(*overrides, "name=interrupted"), verbose=False)
    interrupted.fit(max_epochs=5)  # inside self-training, after its first epoch
    resumed = resume_trainer(interrupted.run_dir, verbose=False)
    done = resumed.fit()
    assert [h["loss"] for h in done["history"]] == [h["loss"] for h in metrics["history"]]
    assert [h.get("pseudo_labelled") for h in done["history"]] == [h.get("pseudo_labelled") for h in metrics["history"]]
    a, b = _weights(straight), _weights(resumed)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_view_no_stage_trains_on_is_named_at_the_start_and_calibration_silences_it(tiny_config):
    """A new camera's own batch norms keep the pretrained statistics when nothing trains on its images:
    the run says so before it trains, and names the fixes; a run that learns from them, or re-estimates
    them at test time, or has one network for every view, is not warned."""
    import logging

    base = ("data.labeled_pairs=0", "train.adaptation.enabled=false")
    runs = iter(range(10))

    class Said(logging.Handler):
        def __init__(self) -> None:
            super().__init__(logging.WARNING)
            self.lines: list[str] = []

        def emit(self, record: logging.LogRecord) -> None:
            self.lines.append(record.getMessage())

    def warned(*overrides: str) -> tuple[list[int], bool]:
        trainer = create_trainer(tiny_config(*base, *overrides, f"name=w{next(runs)}"), verbose=False)
        said = Said()
        trainer.log.addHandler(said)
        try:
            trainer._warn_untrained_views()
        finally:
            trainer.log.removeHandler(said)
        return trainer.untrained_views(), any("viewadapt calibrate" in line for line in said.lines)

    assert warned("model.asymmetry=stats") == ([1], True)
    assert warned("model.asymmetry=stats", "eval.camera_statistics=true") == ([1], False)
    assert warned("model.asymmetry=none") == ([], False)
    assert warned("model.asymmetry=stats", "data.labeled_pairs=-1") == ([], False)
    # self-training trains the new camera, and is told it bets on unchecked pseudo-labels; with some of
    # the camera labelled it is not
    assert warned("model.asymmetry=stats", "train.self_training.enabled=true") == ([], True)
    assert warned("model.asymmetry=stats", "train.self_training.enabled=true", "data.labeled_pairs=4") == ([], False)


def test_a_folder_of_unlabelled_crops_is_pseudo_labelled_and_a_resumed_run_trains_on_the_same_ones(
        tiny_config, tiny_synthetic, tmp_path):
    """data.unlabeled_root: a gallery camera's crops that carry no identity join its unlabelled images,
    self-training pseudo-labels them (with no precision to log: nobody knows who they are), and the run's
    split file keeps their list, so a crop added later does not change a resumed run."""
    import shutil
    from pathlib import Path

    from viewadapt.data.records import UNKNOWN_PID

    crops = tmp_path / "garage" / "day1"
    crops.mkdir(parents=True)
    for i, src in enumerate(sorted(Path(tiny_synthetic).glob("cam_b/*/*.jpg"))[:12]):
        shutil.copy(src, crops / f"{i:03d}.jpg")
    overrides = (f"data.unlabeled_root={tmp_path / 'garage'}", "model.asymmetry=stats",
                 "model.probe_backbone=mobilenet_v3_small", "train.adaptation.enabled=false",
                 "train.self_training.enabled=true", "train.self_training.epochs=2", "train.self_training.patience=5")
    straight = create_trainer(tiny_config(*overrides, "name=straight"), verbose=False)
    unlabelled = straight.stages[-1].ctx.unlabeled_set.records
    assert sorted(Path(r.path).name for r in unlabelled) == [f"{i:03d}.jpg" for i in range(12)]
    assert {(r.pid, r.view) for r in unlabelled} == {(UNKNOWN_PID, 1)}
    assert UNKNOWN_PID not in {r.pid for r in straight.train_set.records}
    metrics = straight.fit()
    steps = [h for h in metrics["history"] if h["stage"] == "self_training"]
    assert len(steps) == 2 and steps[-1]["pseudo_labelled"] > 0 and not any("pseudo_precision" in h for h in steps)

    interrupted = create_trainer(tiny_config(*overrides, "name=interrupted"), verbose=False)
    interrupted.fit(max_epochs=5)  # inside self-training, after its first epoch
    shutil.copy(crops / "000.jpg", crops / "late.jpg")
    resumed = resume_trainer(interrupted.run_dir, verbose=False)
    assert len(resumed.stages[-1].ctx.unlabeled_set.records) == 12
    assert [h["loss"] for h in resumed.fit()["history"]] == [h["loss"] for h in metrics["history"]]


def test_strangers_join_a_new_cameras_unlabelled_crops_and_a_stranger_taken_counts_as_a_wrong_label(
        tiny_config, tmp_path):
    """The synthetic set's strangers (data.synthetic.strangers) are unlabelled images of the last view
    and of no split; the log says what fraction of them pseudo-labels took, and counts each one taken
    against the pseudo-labels' precision."""
    from viewadapt.data.records import STRANGER_PID

    overrides = (f"data.root={tmp_path / 'synthetic'}", "data.synthetic.strangers=8", "data.labeled_pairs=0",
                 "model.asymmetry=stats", "model.probe_backbone=mobilenet_v3_small",
                 "train.adaptation.enabled=false", "train.self_training.enabled=true", "train.self_training.epochs=2",
                 "train.self_training.patience=5", "train.self_training.k=8")
    trainer = create_trainer(tiny_config(*overrides), verbose=False)
    unlabelled = trainer.stages[-1].ctx.unlabeled_set.records
    strangers = [r for r in unlabelled if r.pid == STRANGER_PID]
    assert len(strangers) == 16 and {r.view for r in strangers} == {1}
    assert all(r.pid != STRANGER_PID for part in ("train", "valid", "test") for r in trainer.split.subset(part))
    steps = [h for h in trainer.fit()["history"] if h["stage"] == "self_training"]
    assert len(steps) == 2 and all(0 <= h["strangers_labelled"] <= 1 for h in steps)
    for h in steps:  # strangers taken are among the wrong labels
        taken = h["pseudo_labelled"] * len(unlabelled)
        assert h["pseudo_precision"] <= 1 - h["strangers_labelled"] * len(strangers) / taken + 1e-9
    assert any(h["strangers_labelled"] > 0 for h in steps)


@pytest.mark.parametrize("overrides, message", [
    (["data.labeled_pairs=3"], "data.labeled_pairs=3 is below train.batch_p=4"),
    (["data.labeled_pairs=0", "train.self_training.enabled=true", "model.shared=true", "loss.metric=regression",
      "train.adaptation.enabled=false"], "loss.metric=regression keeps them fixed"),
    (["train.self_training.k=0"], "train.self_training.k must be >= 1"),
    (["data.unlabeled_root=/crops", "train.adaptation.enabled=false", "train.self_training.enabled=false"],
     "set train.self_training.enabled=true"),
    (["data.dataset=folder", "data.synthetic.strangers=2"], "only the synthetic set draws strangers"),
])
def test_settings_of_unlabelled_cameras_that_cannot_train_are_refused(tiny_config, overrides, message):
    with pytest.raises(ConfigError, match=message):
        tiny_config(*overrides)


@pytest.fixture
def cameras_experiment(monkeypatch):
    """A two-regime cameras experiment small enough for a test: a baseline, its test-time camera
    statistics row (no training of its own), and a self-training row only where a camera is unlabelled."""
    from viewadapt.experiments import runner
    from viewadapt.experiments.registry import Experiment, Row, Setting

    exp = Experiment("tiny_cameras", "tiny", (
        Row("Siamese", ("model.shared=true", "train.adaptation.enabled=false"), key="siamese"),
        Row("Siamese, camera statistics", ("model.shared=true", "train.adaptation.enabled=false",
                                           "eval.camera_statistics=true"), key="siamese_camstats"),
        Row("stats + self-training", ("model.asymmetry=stats", "model.probe_backbone=mobilenet_v3_small",
                                      "train.adaptation.enabled=false", "train.self_training.enabled=true",
                                      "train.self_training.epochs=1"), key="stats_self", only=("new",)),
    ), settings=(Setting("all", (), "all labelled"), Setting("new", ("data.labeled_pairs=0",), "a new camera")),
        baseline="siamese")
    monkeypatch.setitem(runner.EXPERIMENTS, exp.name, exp)
    return exp


def test_the_cameras_table_is_rebuilt_from_its_records_alone(cameras_experiment, tiny_synthetic, tmp_path):
    import shutil

    from viewadapt.experiments.runner import run_experiment

    fast = tiny_overrides(tiny_synthetic, tmp_path / "unused") + ["train.init.epochs=1", "train.similarity.epochs=1"]
    records = tmp_path / "records"
    path = run_experiment("tiny_cameras", None, fast, seeds=2, out=tmp_path / "exp", records=records)
    table = path.read_text()
    # one training for a row and its test-time variant: 2 settings x 2 seeds, plus stats_self's 2 seeds
    assert len(list((tmp_path / "exp" / "runs").glob("*/seed*"))) == 6
    assert len(list(records.glob("*/seed*.json"))) == 6
    all_labelled, new_camera = table.split("## a new camera")
    assert "stats + self-training" not in all_labelled and "| stats + self-training (`stats_self`) |" in new_camera
    assert "rank-1 − siamese, paired by seed" in all_labelled
    row = next(line for line in all_labelled.splitlines() if line.startswith("| Siamese, camera statistics"))
    assert row.rstrip(" |").endswith(")")  # its paired difference, seed by seed
    shutil.rmtree(tmp_path / "exp")  # no run, no weights: the records alone
    # a record filed before a config key existed: found by its settings, and moved to its key
    one = sorted(records.glob("*/seed0.json"))[0]
    record = json.loads(one.read_text())
    record["config"]["train"]["self_training"].pop("start")
    old = one.parent.with_name("0123456789ab")
    one.parent.rename(old)
    (old / "seed0.json").write_text(json.dumps(record))
    again = run_experiment("tiny_cameras", None, fast, seeds=2, out=tmp_path / "rebuilt", records=records,
                           report_only=True)
    assert again.read_text() == table
    assert not old.joinpath("seed0.json").exists() and one.is_file()
    # a third seed not trained yet: the rows say how many seeds they hold, and nothing trains
    partial = run_experiment("tiny_cameras", None, fast, seeds=3, out=tmp_path / "rebuilt", records=records,
                             report_only=True).read_text()
    assert partial.count("(2 of 3 seeds)") == 5 and not (tmp_path / "rebuilt" / "runs").exists()


def test_the_cameras_regimes_run_on_a_folder_of_ones_own_cameras(tiny_synthetic, tmp_path):
    """On a real dataset a regime brings only which labels exist; the sizes and budgets are the user's."""
    from viewadapt.experiments.runner import run_experiment

    mine = tiny_overrides(tiny_synthetic, tmp_path / "unused") + [
        "data.dataset=folder", "train.init.epochs=1", "train.similarity.epochs=1", "train.self_training.epochs=1"]
    path = run_experiment("cameras", None, mine, seeds=1, out=tmp_path / "exp", settings=["both_labelled", "new_camera"],
                          methods=["siamese", "stats_self"])
    table = path.read_text()
    assert "Dataset folder" in table and "setting: data.labeled_pairs=0." in table
    assert table.count("(`siamese`)") == 2 and table.count("(`stats_self`)") == 1


def test_a_third_camera_without_labels_is_pseudo_labelled_and_scored_against_the_labelled_two(tmp_path):
    """Two labelled cameras and a new one: only the new camera's images lose their labels, self-training
    labels them, and the table scores probes of cameras 1 and 2 against camera 3's gallery."""
    from viewadapt.data.splits import hide_gallery_labels
    from viewadapt.data.synthetic import SyntheticSpec, generate
    from viewadapt.experiments.runner import run_experiment

    root = generate(tmp_path / "three", SyntheticSpec(16, 2, 1.0, seed=4, num_cameras=3), 64, 32)
    mine = tiny_overrides(root, tmp_path / "unused") + [
        "data.dataset=folder", "data.camera_groups=[[cam_a],[cam_b],[cam_c]]", "model.extra_backbones=[vggm_small]",
        "train.init.epochs=1", "train.similarity.epochs=1", "train.self_training.epochs=1"]
    cfg = load_config(None, mine + ["data.labeled_pairs=0", "train.adaptation.enabled=false"])
    trainer = create_trainer(cfg, verbose=False)
    assert {r.view for r in trainer.train_set.records} == {0, 1}
    assert {r.view for r in trainer.stages[-1].ctx.unlabeled_set.records} == {2}
    records = trainer.train_set.records + trainer.stages[-1].ctx.unlabeled_set.records
    assert hide_gallery_labels(records, 0, 0, view=2) == (trainer.train_set.records,
                                                         trainer.stages[-1].ctx.unlabeled_set.records)
    trainer.close()
    with pytest.raises(ConfigError, match="stage \\(c\\)'s view term compares two views"):
        load_config(None, mine + ["data.labeled_pairs=0"])
    path = run_experiment("cameras", None, mine, seeds=1, out=tmp_path / "exp", settings=["new_camera_3"],
                          methods=["siamese", "stats_self"])
    table = path.read_text()
    assert table.count("(`siamese`)") == 1 and table.count("(`stats_self`)") == 1
    results = json.loads((tmp_path / "exp" / "cameras" / "results.json").read_text())
    run = results["settings"]["new_camera_3"]["results"]
    siamese = next(v for k, v in run.items() if k.startswith("Siamese"))[0]
    metrics = json.loads((tmp_path / "exp" / "runs" / siamese["run"].split("/runs/")[1] / "metrics.json").read_text())
    pairs = metrics["test"]["pairs"]
    assert siamese["rank1"] == pytest.approx((pairs["0->2"]["rank1"] + pairs["1->2"]["rank1"]) / 2)


def test_the_cpu_config_is_the_cameras_tables_recommended_row():
    """In each of the cameras table's regimes, `-c cpu` trains exactly what the table measured as
    stats_self (so the README's numbers are that config's): experiments-pretrained's recipe and budget."""
    from viewadapt.experiments import EXPERIMENTS
    from viewadapt.experiments.records import settings_tree

    exp = EXPERIMENTS["cameras"]
    row = next(m for m in exp.methods if m.key == "stats_self")
    for setting in (s for s in exp.settings if s.applies(generated=True)):
        regime = list(setting.overrides_for(generated=True))
        measured = load_config("experiments-pretrained", regime + list(row.overrides))
        assert settings_tree(load_config("cpu", regime)) == settings_tree(measured), setting.name
