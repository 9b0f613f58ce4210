"""model.asymmetry: which layers each view owns and which it shares, training through shared layers,
weights of one level refused under another, and bad levels."""

from __future__ import annotations

import shutil

import pytest
import torch

from conftest import tiny_overrides
from viewadapt.cli.main import main
from viewadapt.config import load_config
from viewadapt.errors import ConfigError
from viewadapt.models import Asymmetry, Level, ViewMappings
from viewadapt.models.backbones import build_backbone


def _build(asymmetry: str, gallery: str = "mobilenet_v3_small") -> ViewMappings:
    torch.manual_seed(0)
    return ViewMappings.build("vggm_small", gallery, 16, pretrained=False, neck="bnneck", asymmetry=asymmetry)


def _layers(mappings: ViewMappings) -> list[tuple[str, bool]]:
    """(layer name, whether the gallery view holds the probe view's very tensor) for every weight."""
    probe = dict(mappings.probe.named_parameters())
    return [(name, p is probe[name]) for name, p in mappings.gallery.named_parameters()]


def test_bn_level_owns_its_batch_norms_and_shares_every_other_weight():
    m = _build("bn")
    owned = {name for name, same in _layers(m) if not same}
    batch_norms = {f"{name}.{p}" for name, layer in m.probe.named_modules()
                   if isinstance(layer, torch.nn.modules.batchnorm._BatchNorm) for p in ("weight", "bias")}
    assert owned == batch_norms and "bn.weight" in owned  # the BNNeck's too
    assert m.gallery.backbone.features[1].running_mean is not m.probe.backbone.features[1].running_mean
    with torch.no_grad():  # both views start from the same weights
        x = torch.rand(2, 3, 64, 32)
        assert torch.equal(m.eval().probe(x), m.gallery(x))


def test_stats_level_shares_every_weight_and_normalises_each_view_by_its_own_statistics():
    m = _build("stats").train()
    assert all(same for _, same in _layers(m))  # the affine weights too: one network's parameters
    assert sum(p.numel() for p in m.parameters()) == sum(p.numel() for p in m.probe.parameters())
    bn = {"probe": m.probe.backbone.features[1], "gallery": m.gallery.backbone.features[1]}
    assert isinstance(bn["probe"], torch.nn.BatchNorm2d) and bn["probe"].running_mean is not bn["gallery"].running_mean
    inputs = {}
    for name, layer in bn.items():
        layer.register_forward_pre_hook(lambda mod, inp, name=name: inputs.setdefault(name, inp[0].detach().clone()))
    images, views = torch.rand(6, 3, 64, 32), torch.tensor([0, 1, 0, 1, 1, 0])
    feat, emb, kept = m.forward_train_by_view(images, views)
    assert kept.all() and feat.shape == (6, m.embedding_dim)
    for name, view in (("probe", 0), ("gallery", 1)):
        x = inputs[name]
        assert len(x) == 3  # this view's three images, and only they, reached its statistics
        mom = bn[name].momentum
        assert torch.allclose(bn[name].running_mean, mom * x.mean((0, 2, 3)), atol=1e-6)
        assert torch.allclose(bn[name].running_var, (1 - mom) + mom * x.var((0, 2, 3), unbiased=True), atol=1e-5)
    # Rows come back in the batch's order, each view's rows as its own mapping gives them alone.
    m.eval()
    feat, emb, kept = m.forward_train_by_view(images, views)
    with torch.no_grad():
        assert torch.allclose(emb[views == 1], m.gallery(images[views == 1]), atol=1e-5)
        assert torch.allclose(emb[views == 0], m.probe(images[views == 0]), atol=1e-5)
        assert not torch.allclose(m.probe(images), m.gallery(images), atol=1e-3)  # other statistics, other maps
    m.train()
    _, emb, kept = m.forward_train_by_view(images[:4], torch.tensor([0, 0, 0, 1]))
    assert kept.tolist() == [True, True, True, False] and len(emb) == 3  # one image: no statistics, dropped


def test_a_stats_run_trains_its_views_apart_only_in_their_statistics(tiny_synthetic, tmp_path):
    from safetensors.torch import load_file

    args = tiny_overrides(tiny_synthetic, tmp_path / "runs") + [
        "model.asymmetry=stats", "train.init.epochs=1", "train.similarity.epochs=1", "train.adaptation.enabled=false",
        "name=stats"]
    assert main(["train", "--quiet", *args]) == 0
    tensors = load_file(str(tmp_path / "runs" / "stats" / "model.safetensors"))
    probe = {k[len("mappings.probe."):]: v for k, v in tensors.items() if k.startswith("mappings.probe.")}
    gallery = {k[len("mappings._gallery."):]: v for k, v in tensors.items() if k.startswith("mappings._gallery.")}
    assert probe.keys() == gallery.keys()
    statistics = {k for k in probe if k.endswith(("running_mean", "running_var"))}
    assert statistics and all(not torch.equal(probe[k], gallery[k]) for k in statistics)
    assert all(torch.equal(probe[k], gallery[k]) for k in probe.keys() - statistics if not k.endswith("num_batches_tracked"))


def test_partial_level_owns_the_first_k_stages_and_shares_the_rest():
    m = _build("partial:2")
    stages = m.probe.backbone.stage_names()
    first = tuple(f"backbone.{n}." for s in stages[:2] for n in s)
    layers = _layers(m)
    assert all(same != name.startswith(first) for name, same in layers)
    assert sum(not same for _, same in layers) > 0 and sum(same for _, same in layers) > 0
    # shared weights are counted once, so the pair is smaller than two networks and larger than one
    def size(mappings: ViewMappings) -> int:
        return sum(p.numel() for p in mappings.parameters())

    assert size(_build("none")) < size(m) < size(_build("full", gallery="vggm_small"))


def test_a_step_on_one_view_moves_the_shared_layers_of_the_other_and_not_its_own():
    m = _build("partial:1")
    before = {k: v.clone() for k, v in m.probe.state_dict().items()}
    opt = torch.optim.SGD(m.parameters(), lr=0.5)
    m.gallery(torch.rand(4, 3, 64, 32)).pow(2).sum().backward()
    opt.step()
    after = m.probe.state_dict()
    assert torch.equal(after["backbone.features.0.weight"], before["backbone.features.0.weight"])  # own: stage 1
    assert not torch.equal(after["backbone.features.4.weight"], before["backbone.features.4.weight"])  # shared


@pytest.mark.parametrize("level,fix", [
    ("partial:6", "vggm_small has 5 stages, so K must be 1 to 5"),
    ("partial:x", "model.asymmetry 'partial:x' is not one of: full, partial:K, bn, stats, none"),
    ("half", "model.asymmetry 'half' is not one of"),
])
def test_a_level_the_backbone_cannot_take_is_named_with_its_fix(level, fix, tmp_path):
    with pytest.raises(ConfigError, match=fix):
        load_config(None, ["model.probe_backbone=vggm_small", "model.pretrained=false", f"model.asymmetry={level}"])


@pytest.mark.parametrize("level", list(Level))
def test_every_level_reads_back_as_written_and_says_what_a_view_owns(level):
    text = "partial:2" if level is Level.PARTIAL else level.value
    a = Asymmetry.parse(text)
    assert str(a) == text and a == Asymmetry.parse(str(a))
    m = _build(text, gallery="vggm_small")  # the same layer names in each view, whatever the level
    own = [name for name, same in _layers(m) if not same]  # one module: the views own nothing
    assert a.one_network == m.shared == (level is Level.NONE)
    assert a.separate_networks == (len(own) == len(list(m.gallery.parameters()))) == (level is Level.FULL)
    assert a.statistics_only == m.statistics_only == (level is Level.STATS)
    batch_norms = {f"{name}.{p}" for name, layer in m.probe.named_modules()
                   if isinstance(layer, torch.nn.modules.batchnorm._BatchNorm) for p in ("weight", "bias")}
    if a.owns_batch_norms:  # their affine weights too, unless the statistics only
        assert set(own) == (set() if a.statistics_only else batch_norms)
    assert a.owns_batch_norms == (level in (Level.BN, Level.STATS))
    assert Asymmetry.parse(text, shared=True).one_network  # model.shared=true spells none over any level


def test_shared_with_another_level_is_refused():
    with pytest.raises(ConfigError, match="model.shared=true is model.asymmetry=none"):
        load_config(None, ["model.shared=true", "model.asymmetry=bn"])
    assert load_config(None, ["model.shared=true"]).model.asymmetry == "full"  # the Siamese switch as before


def test_every_backbone_has_stages():
    for name in ("efficientnet_lite0", "vggm_small", "dnet_small", "resnet18", "mobilenet_v3_small"):
        stages = build_backbone(name, pretrained=False).stage_names()
        assert len(stages) >= 5 and all(stages)
    assert len(build_backbone("efficientnet_lite0", pretrained=False).stage_names()) == 9  # stem, 7, head


def test_a_run_trains_evaluates_and_refuses_its_weights_under_another_level(tiny_synthetic, tmp_path, capsys):
    args = tiny_overrides(tiny_synthetic, tmp_path / "runs") + [
        "model.asymmetry=partial:2", "train.init.epochs=1", "train.similarity.epochs=1", "train.adaptation.epochs=1",
        "name=partial"]
    assert main(["train", "--quiet", *args]) == 0
    run = tmp_path / "runs" / "partial"
    assert main(["evaluate", str(run)]) == 0
    edited = tmp_path / "edited"
    shutil.copytree(run, edited)
    cfg = (edited / "config.yaml").read_text()
    assert "asymmetry: partial:2" in cfg
    (edited / "config.yaml").write_text(cfg.replace("asymmetry: partial:2", "asymmetry: partial:3"))
    capsys.readouterr()
    assert main(["evaluate", str(edited)]) == 2
    err = capsys.readouterr().err
    assert "written with model.asymmetry=partial:2" in err and "restore the run's config.yaml" in err
