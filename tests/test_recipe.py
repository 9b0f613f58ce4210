"""The training recipe's parts: augmentation presets, the BNNeck, the batch-hard triplet, label smoothing,
schedules, PK batches for stage (a), cosine distance, the zero-shot floor, and their bad-input messages."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import tiny_overrides
from viewadapt.cli.main import main
from viewadapt.config import StageConfig, load_config
from viewadapt.data.augment import AUGMENT_PRESETS, AugmentOptions, eval_transform, train_transform
from viewadapt.data.sampler import SPBatchSampler
from viewadapt.errors import ConfigError
from viewadapt.evaluation.protocols import evaluate_views
from viewadapt.data.records import ViewRecord
from viewadapt.losses import batch_hard_triplet_loss, identity_loss
from viewadapt.models import ViewMappings
from viewadapt.models.mapping import padded_identity
from viewadapt.builders import create_trainer
from viewadapt.training.optim import lr_factor


def _image() -> Image.Image:
    pixels = np.random.default_rng(0).integers(0, 255, (64, 32, 3), dtype=np.uint8)
    return Image.fromarray(pixels)


def test_the_paper_preset_does_not_augment_and_reid_does():
    img = _image()
    paper = train_transform(64, 32, AugmentOptions(preset="paper"))
    assert torch.equal(paper(img), eval_transform(64, 32)(img))
    assert AUGMENT_PRESETS["paper"] == () and "erasing" in AUGMENT_PRESETS["reid"]
    torch.manual_seed(0)
    reid = train_transform(64, 32, AugmentOptions(preset="reid", erasing=1.0))
    out = reid(img)
    assert out.shape == (3, 64, 32) and 0 <= out.min() and out.max() <= 1
    assert not torch.equal(out, eval_transform(64, 32)(img))  # a rectangle was erased, at least
    flipped = train_transform(64, 32, AugmentOptions(preset="light", flip=1.0, pad=0))(img)
    assert torch.equal(flipped, eval_transform(64, 32)(img).flip(-1))


def test_a_run_trains_on_images_augmented_as_its_config_says(tiny_config):
    """The preset must reach the training images (it once stopped at the config: every run trained with
    the default reid preset, whatever its config said)."""

    plain = create_trainer(tiny_config("data.augment.preset=paper", "name=plain"), verbose=False).train_set
    assert torch.equal(plain[0][0], plain[0][0])  # no random operation at all
    torch.manual_seed(0)
    erased = create_trainer(tiny_config("data.augment.preset=reid", "data.augment.erasing=1", "data.augment.pad=0",
                                        "data.augment.flip=0", "name=erased"), verbose=False).train_set
    assert erased[0][0].shape == plain[0][0].shape and not torch.equal(erased[0][0], plain[0][0])


@pytest.mark.parametrize("override, message", [
    ("data.augment.preset=heavy", "data.augment.preset 'heavy' is not one of: paper, light, reid, reid_jitter"),
    ("data.augment.erasing=1.5", "data.augment.erasing is a probability: give a value in [0, 1], not 1.5"),
    ("data.augment.flip=-0.1", "data.augment.flip is a probability"),
    ("eval.distance=manhattan", "eval.distance 'manhattan' is not one of: euclidean, cosine"),
    ("model.neck=mlp", "model.neck 'mlp' is not one of: linear, bnneck"),
    ("loss.triplet=1", "loss.triplet needs batches with several images of each identity"),
    ("train.init.schedule=poly", "train.init.schedule 'poly' is not one of: step, cosine"),
    ("train.init.warmup=40", "train.init.warmup must be >= 0 and below train.init.epochs (40 and 30)"),
    ("train.init.keep=first", "train.init.keep 'first' is not one of: best, last"),
    ("loss.label_smoothing=1", "loss.label_smoothing must be in [0, 1)"),
])
def test_bad_recipe_values_are_one_line_naming_the_fix(override, message, tmp_path, capsys):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        load_config(None, [override])
    assert main(["train", override, f"output_dir={tmp_path}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert not list(tmp_path.iterdir())  # refused before any run folder is made


def test_batch_hard_triplet_hand_value():
    # 1-d features 0, 1 (id 0) and 3, 7 (id 1), margin 0.5: only the anchor at 3 is violated,
    # by 0.5 + d(3, 7) - d(3, 1) = 0.5 + 4 - 2 = 2.5; the mean over the four anchors is 0.625
    features = torch.tensor([[0.0], [1.0], [3.0], [7.0]], requires_grad=True)
    loss = batch_hard_triplet_loss(features, torch.tensor([0, 0, 1, 1]), margin=0.5)
    assert loss.item() == pytest.approx(0.625, abs=1e-5)
    loss.backward()
    assert features.grad[2].item() != 0 and features.grad[0].item() == 0
    # nobody has a positive: nothing to learn, and still a loss to step on
    alone = batch_hard_triplet_loss(torch.randn(3, 2, requires_grad=True), torch.tensor([0, 1, 2]))
    assert alone.item() == 0 and alone.requires_grad


def test_label_smoothing_hand_value():
    # two classes, logits (0, 0): plain CE log 2 whatever the smoothing
    assert identity_loss(torch.zeros(1, 2), torch.tensor([0]), 0.1).item() == pytest.approx(math.log(2))
    # logits (ln 3, 0): p = (3/4, 1/4); eps 0.2 puts target mass 0.9 / 0.1 -> -(0.9 ln 3/4 + 0.1 ln 1/4)
    logits = torch.tensor([[math.log(3), 0.0]])
    expected = -(0.9 * math.log(0.75) + 0.1 * math.log(0.25))
    assert identity_loss(logits, torch.tensor([0]), 0.2).item() == pytest.approx(expected, abs=1e-6)


def test_schedules_warm_up_then_decay():
    cosine = StageConfig(epochs=10, schedule="cosine", warmup=2)
    factors = [lr_factor(e, cosine) for e in range(10)]
    assert factors[:3] == pytest.approx([1 / 3, 2 / 3, 1.0])
    assert all(a > b for a, b in zip(factors[2:], factors[3:])) and factors[-1] > 0
    step = StageConfig(epochs=10, lr_step=4, lr_decay=0.1, warmup=1)
    assert [lr_factor(e, step) for e in range(9)] == pytest.approx([0.5, 1, 1, 1, 0.1, 0.1, 0.1, 0.1, 0.01])


def test_bnneck_keeps_the_pooled_feature_and_pads_a_narrower_backbone():
    proj = padded_identity(3, 5)
    x = torch.randn(4, 3)
    assert torch.equal(proj(x), torch.cat([x, torch.zeros(4, 2)], 1))
    torch.manual_seed(0)
    mappings = ViewMappings.build("vggm_small", "mobilenet_v3_small", 16, pretrained=False, neck="bnneck")
    assert mappings.embedding_dim == 576 == mappings.gallery.embedding_dim  # the wider backbone's width
    assert isinstance(mappings.gallery.neck, torch.nn.Identity) and mappings.probe.neck.weight.shape == (576, 256)
    net = mappings.probe.eval()
    images = torch.rand(2, 3, 64, 32)
    feat, emb = net.forward_train(images)
    pooled = net.pooled(images)
    assert torch.allclose(feat[:, :256], pooled) and torch.equal(feat[:, 256:], torch.zeros(2, 320))
    assert torch.allclose(emb, net.bn(feat)) and not net.bn.bias.requires_grad


def test_pk_batches_for_stage_a_show_each_image_about_once_an_epoch():
    pids = [p for p in range(12) for _ in range(4)]
    views = [0, 0, 1, 1] * 12
    sampler = SPBatchSampler(pids, views, p=4, s=4, seed=0, num_batches=3)
    batches = list(sampler)
    assert len(sampler) == len(batches) == 3 and all(len(b) == 16 for b in batches)
    leads = [pids[b[0]] for b in batches]
    assert len(set(leads)) == 3  # distinct identities lead, as the paper's epoch would


def test_cosine_distance_ranks_by_angle():
    records = [ViewRecord(f"{v}{i}", i, v, v) for v in (0, 1) for i in range(2)]
    # each probe points the way its gallery image does, but the other gallery image is nearer
    emb = np.array([[10.0, 0.0], [0.0, 1.0], [1.0, 0.0], [8.0, 6.0]], np.float32)
    euclid = evaluate_views(emb, records, "all_gallery", distance="euclidean")
    cosine = evaluate_views(emb, records, "all_gallery", distance="cosine")
    assert euclid["rank1"] == 0.0 and cosine["rank1"] == 1.0


def test_a_run_scores_its_zero_shot_floor_first_and_keeps_its_last_epoch(tiny_config):
    cfg = tiny_config("model.neck=bnneck", "model.normalize=true", "loss.label_smoothing=0.1", "loss.triplet=1",
                      "train.init_sampler=pk", "train.init.keep=last", "train.init.schedule=cosine",
                      "train.init.warmup=1", "eval.distance=cosine", "train.adaptation.enabled=false",
                      "train.similarity.epochs=1")
    trainer = create_trainer(cfg, verbose=False)
    metrics = trainer.fit()
    floor = metrics["zero_shot"]["test"]
    assert floor["distance"] == "cosine" and len(floor["per_network"]) == 2 and 0 <= floor["rank1"] <= 1
    assert metrics["stages"]["init"]["kept_epoch"] == cfg.train.init.epochs
    on_disk = json.loads((trainer.run_dir / "metrics.json").read_text())
    assert on_disk["zero_shot"]["test"] == floor and metrics["test"]["distance"] == "cosine"
    from viewadapt.reports import build_report

    assert "zero-shot floor" in build_report(trainer.run_dir).read_text()


def test_the_zero_shot_floor_is_the_untrained_pooled_feature(tiny_config):
    """Scoring it never moves the random state training draws from: runs with and without it train alike."""
    with_floor = create_trainer(tiny_config("name=a", "train.adaptation.enabled=false"), verbose=False).fit()
    without = create_trainer(tiny_config("name=b", "train.adaptation.enabled=false", "eval.zero_shot=false"),
                             verbose=False).fit()
    assert without["zero_shot"] is None and with_floor["zero_shot"] is not None
    assert [h["loss"] for h in with_floor["history"]] == [h["loss"] for h in without["history"]]
    assert with_floor["test"] == without["test"]


def test_experiments_show_the_zero_shot_row(tiny_synthetic, tmp_path):
    """(The demo's floor row: test_cli.py.)"""
    from viewadapt.experiments.runner import run_experiment

    fast = tiny_overrides(tiny_synthetic, tmp_path / "unused") + [
        "train.init.epochs=1", "train.similarity.epochs=1", "train.adaptation.epochs=1"]
    table = run_experiment("table2", None, fast, seeds=2, out=tmp_path / "exp", methods=["ours"]).read_text()
    rows = [line for line in table.splitlines() if line.startswith("| zero-shot")]
    assert len(rows) == 1 and " ± " in rows[0]


def test_view_leakage_is_high_when_the_embedding_says_the_view_and_chance_when_not():
    from viewadapt.evaluation.leakage import view_leakage

    rng = np.random.default_rng(0)
    pids = np.repeat(np.arange(40), 2)
    views = np.tile([0, 1], 40)
    plain = rng.normal(size=(80, 8)).astype(np.float32)
    marked = plain.copy()
    marked[:, 0] += 3.0 * views  # one coordinate tells the camera
    state = torch.get_rng_state()
    assert view_leakage(marked, views, pids) > 0.9
    assert 0.3 < view_leakage(plain, views, pids) < 0.7
    assert torch.equal(torch.get_rng_state(), state)  # a run's random state is left alone
    assert view_leakage(marked, views, pids, seed=1) == view_leakage(marked, views, pids, seed=1)
    with pytest.raises(ValueError, match="two views"):
        view_leakage(plain, np.zeros(80), pids)


def test_runs_log_where_each_stage_starts_and_the_view_leakage_after_it_and_on_c_test(tiny_config):
    from viewadapt.experiments.backfill import add_test_leakage

    trainer = create_trainer(tiny_config("train.adaptation.epochs=1", "eval.view_leakage=true"), verbose=False)
    metrics = trainer.fit()
    for name in ("init", "similarity", "adaptation"):
        result = metrics["stages"][name]
        assert 0 <= result["start_val_rank1"] <= 1 and 0 <= result["view_leakage"] <= 1
    assert 0 <= metrics["zero_shot"]["view_leakage"] <= 1
    trained, floor = metrics["test"]["view_leakage"], metrics["zero_shot"]["test"]["view_leakage"]
    assert 0 <= trained <= 1 and 0 <= floor <= 1
    # A run written before the test split was probed gets the very numbers a fresh run writes, its
    # floor from initial networks rebuilt with the run's seed, and the caller's random state is kept.
    file = trainer.run_dir / "metrics.json"
    older = json.loads(file.read_text())
    del older["test"]["view_leakage"], older["zero_shot"]["test"]["view_leakage"]
    file.write_text(json.dumps(older))
    torch.manual_seed(123)
    state = torch.get_rng_state()
    filled = add_test_leakage(trainer.run_dir)
    assert torch.equal(torch.get_rng_state(), state)
    assert filled["test"]["view_leakage"] == pytest.approx(trained)
    assert filled["zero_shot"]["test"]["view_leakage"] == pytest.approx(floor)
    assert json.loads(file.read_text())["test"]["view_leakage"] == pytest.approx(trained)


def test_a_shared_stage_a_classifier_puts_both_networks_in_one_prototype_space(tiny_config):
    cfg = tiny_config("train.init_classifier=shared", "train.similarity.enabled=false",
                      "train.adaptation.enabled=false", "train.init.epochs=1")
    trainer = create_trainer(cfg, verbose=False)
    heads = trainer.modules()["heads"]
    assert len(heads) == 1 and len(trainer.method.mappings.networks()) == 2
    before = heads[0].fc.weight.detach().clone()
    trainer.fit()
    assert not torch.equal(before, heads[0].fc.weight)
    with pytest.raises(ConfigError, match="train.init_classifier 'one' is not one of: separate, shared"):
        tiny_config("train.init_classifier=one")
