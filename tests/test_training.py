"""The staged trainer end to end on tiny data: train, checkpoint, resume exactly, evaluate."""

import json

import pytest
import torch
from safetensors.torch import load_file

from viewadapt.errors import CheckpointError
from viewadapt.models import ViewMappings
from viewadapt.objectives import (
    DOMAIN_TERMS,
    MATCHERS,
    SimilarityMatcher,
    ViewConfusion,
    adaptation_objective,
    embed_views,
)
from viewadapt.builders import load_trained
from viewadapt.builders import create_trainer, resume_trainer
from viewadapt.reports import build_report


def _batch():
    torch.manual_seed(0)
    mappings = ViewMappings.build("vggm_small", "mobilenet_v3_small", 8, pretrained=False)
    images = torch.rand(8, 3, 64, 32)
    pids = torch.tensor([0, 0, 1, 1, 0, 0, 1, 1])
    views = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])
    return mappings, embed_views(mappings, images, pids, views)


def _grads(module):
    return [p.grad for p in module.parameters()]


def test_gradients_flow_only_where_each_stage_says():
    mappings, batch = _batch()
    matcher, confusion_term = SimilarityMatcher(8, (16, 16)), ViewConfusion(8, 2, 8)
    ds, dd = matcher.ds, confusion_term.dd
    # Eq. 1 trains Dd only: the mappings' embeddings are detached.
    dd_loss, acc = confusion_term.discriminator_loss(batch)
    dd_loss.backward(retain_graph=True)
    assert all(g is not None for g in _grads(dd)) and 0 <= acc <= 1
    assert all(g is None for g in _grads(mappings))
    dd.zero_grad(set_to_none=True)
    # Eq. 3 (+ Eq. 5) trains the mappings and Ds; Dd stays frozen.
    total, confusion, sim = adaptation_objective(batch, confusion_term, matcher, lambda_sim=1.0)
    total.backward(retain_graph=True)
    assert all(g is None for g in _grads(dd))
    assert all(p.requires_grad for p in dd.parameters())  # frozen only for that objective
    assert all(g is not None for g in _grads(mappings.probe)) and all(g is not None for g in _grads(mappings.gallery))
    assert all(g is not None for g in _grads(ds))
    # With lambda_sim = 0 (literal Algorithm 1), Ds receives nothing in stage (c).
    ds.zero_grad(set_to_none=True)
    adaptation_objective(batch, confusion_term, matcher, lambda_sim=0.0)[0].backward(retain_graph=True)
    assert all(g is None for g in _grads(ds))
    # Eq. 2 reaches both mappings and Ds.
    mappings.zero_grad(set_to_none=True)
    SimilarityMatcher(8, (16, 16), adaptive=False).loss(batch).backward()
    assert all(g is not None for g in _grads(mappings.gallery))


def test_probe_images_go_through_ms_and_gallery_images_through_mt():
    mappings, batch = _batch()
    assert batch.e_s.shape == batch.e_t.shape == (4, 8)
    assert batch.pid_s.tolist() == [0, 0, 1, 1]


def _params(trainer):
    return {f"{k}.{n}": t.clone() for k, m in trainer.method.stored().items() for n, t in m.state_dict().items()}


def test_train_checkpoint_resume_evaluate(tiny_config, capsys):
    cfg = tiny_config("name=straight")
    straight = create_trainer(cfg, verbose=False)
    metrics = straight.fit()
    run = straight.run_dir
    for name in ("config.yaml", "environment.json", "metrics.json", "split.json", "train.log",
                 "model.safetensors", "checkpoints/last.pt"):
        assert (run / name).is_file(), name
    env = json.loads((run / "environment.json").read_text())  # what another host or uncommitted code would change
    assert torch.backends.cpu.get_cpu_capability() in env["cpu"] and isinstance(env["git_dirty"], bool)
    assert metrics["finished"] and set(metrics["stages"]) == {"init", "similarity", "adaptation"}
    assert len(metrics["history"]) == 6 and "dd_acc" in metrics["history"][-1]
    assert 0 <= metrics["test"]["rank1"] <= 1 and len(metrics["test"]["cmc"]) == 50
    epochs = [line for line in (run / "train.log").read_text().splitlines() if " init epoch " in line]
    assert "(stage eta " in epochs[0] and "eta" not in epochs[1]  # the stage's last epoch has none left

    # Interrupt after three epochs (inside stage b), then resume: the result is the same, bit for bit.
    first = create_trainer(tiny_config("name=interrupted"), verbose=False)
    partial = first.fit(max_epochs=3)
    assert not partial["finished"] and "model.safetensors" not in {p.name for p in first.run_dir.iterdir()}
    resumed = resume_trainer(first.run_dir, verbose=False)
    assert resumed.stage_index == 1 and resumed.epoch == 0
    done = resumed.fit()
    a, b = _params(straight), _params(resumed)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert done["test"] == metrics["test"]
    assert [h["loss"] for h in done["history"]] == [h["loss"] for h in metrics["history"]]

    # The saved weights reproduce the test metrics through the evaluate command.
    from viewadapt.cli.main import main

    assert main(["evaluate", str(run), "--trials", "2"]) == 0
    written = json.loads((run / "eval" / "test_single_shot.json").read_text())
    assert written["rank1"] == pytest.approx(metrics["test"]["rank1"])
    mappings = load_trained(run).method.mappings
    assert torch.equal(mappings.probe.neck.weight, straight.method.mappings.probe.neck.weight)


def test_siamese_run_without_adaptation(tiny_config):
    trainer = create_trainer(tiny_config("model.shared=true", "train.adaptation.enabled=false"), verbose=False)
    metrics = trainer.fit()
    assert set(metrics["stages"]) == {"init", "similarity"} and len(trainer.modules()["heads"]) == 1


def test_corrupt_or_foreign_checkpoints_are_refused(tiny_config):
    trainer = create_trainer(tiny_config(), verbose=False)
    trainer.fit(max_epochs=1)
    ckpt = trainer.run_dir / "checkpoints" / "last.pt"
    config = trainer.run_dir / "config.yaml"
    config.write_text(config.read_text().replace("gamma: 2.5", "gamma: 1.0"))
    with pytest.raises(CheckpointError, match="another config"):
        resume_trainer(trainer.run_dir, verbose=False)
    ckpt.write_bytes(ckpt.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="corrupt"):
        resume_trainer(trainer.run_dir, verbose=False)
    torch.save({"format": 999}, ckpt)
    with pytest.raises(CheckpointError, match="format 999"):
        resume_trainer(trainer.run_dir, verbose=False)


def test_view_discriminator_learns_views_that_differ():
    # Dd's near-chance accuracy in a demo's stage (c) must mean aligned views, not a Dd that cannot learn.
    from viewadapt.objectives import ViewBatch

    torch.manual_seed(0)
    term = ViewConfusion(8, 2, 16)
    dd = term.dd
    opt = torch.optim.Adam(dd.parameters(), lr=1e-2, betas=(0.5, 0.999))
    for _ in range(100):
        batch = ViewBatch(torch.randn(32, 8) + 1.5, torch.randn(32, 8) - 1.5, torch.zeros(32), torch.zeros(32))
        loss, acc = term.discriminator_loss(batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert acc > 0.95 and loss.item() < 0.3


@pytest.mark.parametrize("metric", list(MATCHERS))
def test_every_registered_matcher_trains_and_is_scored(tiny_config, metric):
    """A matcher runs with what it declares it needs (one network; stage (b) alone when it learns on
    fixed embeddings): its own weights move, and the run ends with test scores."""

    matcher = MATCHERS[metric]
    needs = (["model.asymmetry=none"] if matcher.needs_one_network else []) + (
        [] if matcher.trains_mappings else ["train.adaptation.enabled=false"])
    cfg = tiny_config(f"loss.metric={metric}", *needs, "train.init.epochs=1", "train.similarity.epochs=1",
                      "train.adaptation.epochs=1", "model.normalize=true", f"name={metric}")
    trainer = create_trainer(cfg, verbose=False)
    trainer.fit(max_epochs=1)  # stage (a)
    before = [p.clone() for p in trainer.method.matcher.parameters()]
    metrics = trainer.fit()
    assert metrics["finished"] and 0 <= metrics["test"]["rank1"] <= 1
    assert all(not torch.equal(a, p) for a, p in zip(before, trainer.method.matcher.parameters()))


@pytest.mark.parametrize("adaptation", [name for name in DOMAIN_TERMS if name != "confusion"])
def test_baseline_domain_terms_train_stage_c(tiny_config, adaptation):
    """Every registered term trains stage (c) in place of Eq. 3 (the method's own: the tests of the
    paper's method): its view discriminator learns, alternating (ADDA) or in the mappings' update
    (DANN's), and a term that holds the probe side fixed (ADDA) moves the gallery mapping alone."""
    from viewadapt.objectives import DomainTerm
    from viewadapt.objectives.domain import ViewDiscriminatorTerm

    cfg = tiny_config(f"loss.adaptation={adaptation}", "train.init.epochs=1", "train.similarity.epochs=1",
                      "train.adaptation.epochs=1", f"name={adaptation}")
    trainer = create_trainer(cfg, verbose=False)
    trainer.fit(max_epochs=2)  # stages (a) and (b)
    before = {k: v.clone() for k, v in trainer.method.mappings.state_dict().items() if v.dtype.is_floating_point}
    dd = [p.clone() for p in trainer.method.domain.parameters()]
    metrics = trainer.fit()
    assert all(not torch.equal(a, p) for a, p in zip(dd, trainer.method.domain.parameters()))
    term = trainer.method.domain
    assert len(dd) == (4 if isinstance(term, ViewDiscriminatorTerm) else 0)  # Dd's two layers
    after = trainer.method.mappings.state_dict()
    changed = {k.split(".")[0] for k, v in before.items() if "running" not in k and not torch.equal(v, after[k])}
    assert metrics["finished"] and metrics["history"][-1]["stage"] == "adaptation"
    probe_fixed = type(term).mapping_batch is not DomainTerm.mapping_batch
    assert changed == ({"_gallery"} if probe_fixed else {"probe", "_gallery"})


def test_matching_networks_train_stage_b_and_c_with_the_episode_loss(tiny_config):
    cfg = tiny_config("loss.metric=matching", "model.shared=true", "model.normalize=true", "loss.adaptation=none",
                      "train.init.epochs=1", "train.similarity.epochs=1", "train.adaptation.epochs=1")
    trainer = create_trainer(cfg, verbose=False)
    trainer.fit(max_epochs=1)
    before = {k: v.clone() for k, v in trainer.method.mappings.state_dict().items()}
    metrics = trainer.fit()
    assert metrics["finished"] and [h["stage"] for h in metrics["history"]] == ["init", "similarity", "adaptation"]
    after = trainer.method.mappings.state_dict()
    assert any(not torch.equal(v, after[k]) for k, v in before.items() if "running" not in k)
    sim = metrics["history"][1]
    # an episode of P identities starts near log(P) (uniform attention), not at Eq. 5's values
    assert 0 < sim["first_loss"] < 2 * torch.log(torch.tensor(float(cfg.train.batch_p))).item()


def test_model_regression_trains_only_the_regressor_on_the_frozen_network(tiny_config):
    cfg = tiny_config("loss.metric=regression", "model.shared=true", "model.normalize=true",
                      "train.adaptation.enabled=false", "train.init.epochs=1", "train.similarity.epochs=2")
    trainer = create_trainer(cfg, verbose=False)
    trainer.fit(max_epochs=1)  # stage (a)
    stored = lambda: {f"{k}.{n}": t for k, m in trainer.method.stored().items()  # noqa: E731
                      for n, t in m.state_dict().items()}
    before = {k: v.clone() for k, v in stored().items()}
    metrics = trainer.fit()
    after = stored()
    changed = {k.split(".")[0] for k, v in before.items() if not torch.equal(v, after[k])}
    assert changed == {"regressor"}  # batch-norm statistics of the frozen network included
    assert metrics["finished"] and 0 <= metrics["test"]["rank1"] <= 1
    regressor = load_trained(trainer.run_dir).method.matcher.regressor
    assert regressor is not None
    assert torch.equal(regressor.net[-1].weight, trainer.method.matcher.regressor.net[-1].weight)


def test_model_regression_needs_a_shared_network_and_no_stage_c(tiny_config):
    from viewadapt.errors import ConfigError

    with pytest.raises(ConfigError, match="learns on one network.s embeddings: set model.asymmetry=none"):
        tiny_config("loss.metric=regression", "train.adaptation.enabled=false")
    with pytest.raises(ConfigError, match="train.adaptation.enabled=false"):
        tiny_config("loss.metric=regression", "model.shared=true")
    with pytest.raises(ConfigError, match="eval.rerank=ds needs a trained Ds"):
        tiny_config("loss.metric=matching", "eval.rerank=ds")


def test_resuming_or_evaluating_a_run_sees_the_synthetic_benchmark_it_was_trained_on(tiny_config, tmp_path):
    """A view-shift sweep regenerates one root with other settings: a run resumed or evaluated later
    must see its own images again, not the last ones generated there. Resuming trains the run, so it draws
    them again where its config says; loading and evaluating write nowhere the config points: evaluate
    draws them apart, and scores what training scored."""
    from viewadapt.builders import evaluate_run

    from dataclasses import replace

    from viewadapt.data.synthetic import generate, read_spec

    cfg = tiny_config(f"data.root={tmp_path / 'own'}", "train.init.epochs=1", "train.similarity.epochs=1",
                      "train.adaptation.enabled=false")
    trainer = create_trainer(cfg, verbose=False)
    trainer.fit(max_epochs=1)
    root = cfg.data.root
    own = read_spec(root)
    spec, (height, width) = own
    generate(root, replace(spec, view_shift=spec.view_shift + 1.0), height, width)
    resumed = resume_trainer(trainer.run_dir, verbose=False)
    assert read_spec(root) == own
    metrics = resumed.fit()
    resumed.close()
    generate(root, replace(spec, view_shift=spec.view_shift + 1.0), height, width)
    shifted = read_spec(root)
    load_trained(trainer.run_dir)
    result, _ = evaluate_run(trainer.run_dir)
    assert read_spec(root) == shifted != own
    assert result["rank1"] == metrics["test"]["rank1"] and result["mAP"] == metrics["test"]["mAP"]


def test_dd_warm_up_trains_dd_alone_before_stage_c_and_resumes_exactly(tiny_config):
    """dd.warmup: steps of Eq. 1 alone before stage (c)'s first mapping update. The mappings'
    weights stay as stage (b) left them, Dd learns, the first epoch's record says how well, and an
    interrupted stage (c) resumes without warming up again."""
    from torch.utils.data import DataLoader

    from viewadapt.training.stages import ViewAdaptation

    overrides = ("dd.warmup=12", "model.asymmetry=bn", "model.probe_backbone=mobilenet_v3_small",
                 "train.adaptation.epochs=3")
    trainer = create_trainer(tiny_config(*overrides, "name=warm"), verbose=False)
    trainer.fit(max_epochs=4)  # stages (a) and (b)
    stage = next(s for s in trainer.stages if isinstance(s, ViewAdaptation))
    stage.start()
    weights = {k: v.clone() for k, v in trainer.method.mappings.named_parameters()}
    dd = [p.clone() for p in trainer.method.domain.parameters()]
    loader = DataLoader(trainer.train_set, batch_sampler=stage.prepare_epoch(0).batches)
    warm = stage.warm_up_dd(loader)
    assert set(warm) == {"dd_warmup_loss", "dd_warmup_acc"} and 0 <= warm["dd_warmup_acc"] <= 1
    assert all(torch.equal(weights[k], v) for k, v in trainer.method.mappings.named_parameters())
    assert all(not torch.equal(a, p) for a, p in zip(dd, trainer.method.domain.parameters()))

    straight = create_trainer(tiny_config(*overrides, "name=straight"), verbose=False)
    metrics = straight.fit()
    first, *rest = [h for h in metrics["history"] if h["stage"] == "adaptation"]
    assert "dd_warmup_acc" in first and not any("dd_warmup_acc" in h for h in rest)

    interrupted = create_trainer(tiny_config(*overrides, "name=interrupted"), verbose=False)
    interrupted.fit(max_epochs=5)  # inside stage (c), after its first epoch (and the warm-up)
    resumed = resume_trainer(interrupted.run_dir, verbose=False)
    done = resumed.fit()
    assert [h["loss"] for h in done["history"]] == [h["loss"] for h in metrics["history"]]
    a, b = _params(straight), _params(resumed)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_gallery_camera_with_few_labels_feeds_its_unlabelled_images_to_the_view_term_only(tiny_config):
    """data.labeled_pairs: stages (a) and (b) never see the hidden identities' gallery images; each stage
    (c) batch gets as many of them as it has labelled gallery images, labelled -1; and an interrupted
    run draws them again as the straight one did."""
    from torch.utils.data import DataLoader

    overrides = ("data.labeled_pairs=4", "model.asymmetry=bn", "model.probe_backbone=mobilenet_v3_small",
                 "train.adaptation.epochs=3")
    straight = create_trainer(tiny_config(*overrides, "name=straight"), verbose=False)
    stage = straight.stages[-1]
    train, unlabelled = {(r.pid, r.view) for r in straight.train_set.records}, stage.ctx.unlabeled_set.records
    assert len({pid for pid, view in train if view == 1}) == 4 and len({pid for pid, _ in train}) == 8
    assert unlabelled and all(r.view == 1 and (r.pid, 1) not in train for r in unlabelled)
    metrics = straight.fit()
    assert metrics["finished"] and "dd_acc" in metrics["history"][-1]

    stage.start()
    images, labels, views = next(iter(DataLoader(straight.train_set, batch_sampler=stage.prepare_epoch(0).batches)))
    batch = stage._embed(images, labels, views)
    assert len(batch.e_t) == 2 * int((views == 1).sum()) and (batch.pid_t == -1).sum() == (views == 1).sum()
    # Without a view term they would only move the batch norms' statistics (AdaBN): the control gets none.
    control = create_trainer(tiny_config(*overrides, "loss.adaptation=none", "name=control"), verbose=False).stages[-1]
    control.start()
    loader = DataLoader(control.ctx.train_set, batch_sampler=control.prepare_epoch(0).batches)
    assert (control._embed(*next(iter(loader))).pid_t >= 0).all()

    interrupted = create_trainer(tiny_config(*overrides, "name=interrupted"), verbose=False)
    interrupted.fit(max_epochs=5)  # inside stage (c)
    done = resume_trainer(interrupted.run_dir, verbose=False).fit()
    assert [h["loss"] for h in done["history"]] == [h["loss"] for h in metrics["history"]]


def test_tensorboard_scalars_are_written_and_read_back(tiny_config, monkeypatch):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    cfg = tiny_config("train.tensorboard=true", "train.similarity.epochs=1", "train.adaptation.epochs=1",
                      "eval.view_leakage=true")
    with create_trainer(cfg, verbose=False) as trainer:
        trainer.fit()
    events = EventAccumulator(str(trainer.run_dir / "tensorboard"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"init/loss", "init/lr", "init/val_rank1", "similarity/val_mAP", "adaptation/dd_acc",
            "adaptation/view_leakage", "adaptation/test_rank1"} <= tags, tags
    losses = events.Scalars("init/loss")
    assert [e.step for e in losses] == [1, 2]  # the run's epoch count, over every stage
    assert [e.value for e in losses] == pytest.approx([h["loss"] for h in trainer.history if h["stage"] == "init"])
    assert events.Scalars("adaptation/dd_acc")[0].step == 4

    import importlib.util

    from viewadapt.config import load_config
    from viewadapt.errors import ConfigError

    find = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tensorboard" else find(name, *a))
    with pytest.raises(ConfigError, match=r'pip install "viewadapt\[tensorboard\]"'):
        load_config(None, ["train.tensorboard=true"])


def test_a_new_run_says_what_it_will_cost_from_its_first_batches_and_changes_nothing(tiny_config):
    """The first epoch's first batches are timed and the run's training time extrapolated, in the log, once;
    the timing draws nothing, so the losses are those of an untimed run."""
    from viewadapt.training.estimate import run_estimate

    fast = ("train.adaptation.enabled=false", "train.init_batch_size=4", "train.init.epochs=1",
            "train.similarity.epochs=1")
    cfg = tiny_config(*fast, "name=estimate")
    trainer = create_trainer(cfg, verbose=False)
    metrics = trainer.fit()
    trainer.close()
    log = (trainer.run_dir / "train.log").read_text()
    assert log.count("expected training time: about ") == 1 and "init " in log.split("expected training time")[1]
    plain = tiny_config(*fast, "name=plain")
    from viewadapt.training import trainer as trainer_module

    original = trainer_module.TimedBatches
    trainer_module.TimedBatches = lambda loader, report: loader  # no timing at all
    try:
        untimed = create_trainer(plain, verbose=False)
        again = untimed.fit()
        untimed.close()
    finally:
        trainer_module.TimedBatches = original
    assert [h["loss"] for h in again["history"]] == [h["loss"] for h in metrics["history"]]
    line = run_estimate(0.05, {"init": 1200, "similarity": 1200}, (256, 128))
    assert line.startswith("expected training time: about 2 min (init 1.0, similarity 1.0 min; 20 images/s")
    assert "-c cpu trains the same method at 96 x 48, about 7x faster" in line
    assert "-c cpu" not in run_estimate(0.05, {"init": 10}, (96, 48))


def test_validation_where_it_decides_nothing_is_skipped_and_the_weights_are_the_same(tiny_config):
    """eval.epoch_validation=deciding scores C_valid only in a stage whose early stopping can fire or which
    keeps its best epoch: the others end with their last epoch's weights either way (and validation draws
    no random number training uses), so the run trains to the same weights in fewer passes."""
    overrides = ("model.shared=true", "train.adaptation.enabled=false", "train.init.epochs=3",
                 "train.init.patience=3", "train.init.keep=last", "train.similarity.epochs=2",
                 "train.similarity.patience=1", "train.similarity.keep=best")
    runs = {}
    for mode in ("every", "deciding"):
        trainer = create_trainer(tiny_config(*overrides, f"eval.epoch_validation={mode}", f"name={mode}"),
                                 verbose=False)
        runs[mode] = (trainer.fit(), trainer.run_dir)
        trainer.close()
    every, deciding = runs["every"][0], runs["deciding"][0]
    assert deciding["test"] == every["test"]
    weights = [load_file(r / "model.safetensors") for _, r in runs.values()]  # their metadata name the mode
    assert weights[0].keys() == weights[1].keys() and all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    validated = {m: [(h["stage"], "val_rank1" in h) for h in r["history"]] for m, (r, _) in runs.items()}
    assert validated["every"] == [("init", True)] * 3 + [("similarity", True)] * len(validated["every"][3:])
    assert validated["deciding"] == [("init", False)] * 3 + [(s, True) for s, _ in validated["every"][3:]]
    assert "best_epoch" not in deciding["stages"]["init"] and deciding["stages"]["init"]["kept_epoch"] == 3
    assert "best_epoch" in deciding["stages"]["similarity"]
    build_report(runs["deciding"][1])  # the curves and the table without the skipped validations
