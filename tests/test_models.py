"""Backbones, view mappings and discriminators."""

import pytest
import torch

from viewadapt.errors import ConfigError
from viewadapt.models import BACKBONES, SimilarityDiscriminator, ViewDiscriminator, ViewMappings, build_backbone
from viewadapt.models.backbones.efficientnet_lite import efficientnet_lite, lite_weights_path


@pytest.mark.parametrize("name", list(BACKBONES))
def test_backbones_give_feature_maps(name):
    net = build_backbone(name, pretrained=False).eval()
    with torch.no_grad():
        out = net(torch.rand(2, 3, 64, 32))
    assert out.shape[:2] == (2, net.out_channels) and len(net.input_mean) == 3


def test_unknown_backbone_lists_the_known_ones():
    with pytest.raises(ConfigError, match="unknown backbone 'vgg99'.*efficientnet_lite0"):
        build_backbone("vgg99", pretrained=False)


def test_missing_torchvision_weights_say_where_to_put_them(monkeypatch, tmp_path):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    with pytest.raises(ConfigError, match="resnet18-.*allow_download"):
        build_backbone("resnet18", pretrained=True)


@pytest.mark.parametrize("name", ["efficientnet_lite0", "efficientnet_lite1"])
def test_lite_imagenet_weights_load_exactly(name):
    net = efficientnet_lite(name, pretrained=True)
    shipped = torch.load(lite_weights_path(name), map_location="cpu", weights_only=True)
    assert torch.equal(net._conv_head.weight, shipped["_conv_head.weight"])
    assert torch.equal(net._blocks[-1]._project_conv.weight, shipped[f"_blocks.{len(net._blocks) - 1}._project_conv.weight"])


def test_lite0_imagenet_weights_recognise_a_flat_colour_less_than_structure():
    # A sanity check that the weights are real: ImageNet features of a uniform grey image are far
    # weaker than those of a textured one.
    net = efficientnet_lite("efficientnet_lite0", pretrained=True).eval()
    torch.manual_seed(0)
    with torch.no_grad():
        flat = net(torch.full((1, 3, 128, 64), 0.5)).std()
        textured = net(torch.rand(1, 3, 128, 64)).std()
    assert textured > flat


def test_asymmetric_mappings_share_no_weights_and_siamese_share_all():
    asym = ViewMappings.build("vggm_small", "mobilenet_v3_small", 8, pretrained=False)
    ids_s = {id(p) for p in asym.probe.parameters()}
    assert not ids_s & {id(p) for p in asym.gallery.parameters()}
    siamese = ViewMappings.build("vggm_small", "mobilenet_v3_small", 8, pretrained=False, asymmetry="none")
    assert siamese.gallery is siamese.probe and len(siamese.networks()) == 1
    x = torch.rand(3, 3, 64, 32)
    assert asym(x, 0).shape == asym(x, 1).shape == (3, 8)  # equal dims from different backbones


def test_similarity_discriminator_pair_logits_match_concatenation():
    torch.manual_seed(0)
    ds = SimilarityDiscriminator(6, hidden=(16, 32))
    e_s, e_t = torch.randn(3, 6), torch.randn(4, 6)
    grid = ds.pair_logits(e_s, e_t)
    assert grid.shape == (3, 4)
    for i in range(3):
        for j in range(4):
            assert grid[i, j].item() == pytest.approx(ds(e_s[i:i + 1], e_t[j:j + 1]).item(), abs=1e-5)


def test_paper_sized_similarity_discriminator():
    ds = SimilarityDiscriminator(128)
    widths = [m.out_features for m in [ds.first, *ds.rest] if isinstance(m, torch.nn.Linear)]
    assert widths == [1024, 2048, 1]


@pytest.mark.parametrize("views", [2, 4])
def test_view_discriminator_has_one_logit_per_view(views):
    dd = ViewDiscriminator(8, hidden=5, num_views=views)
    assert dd(torch.randn(3, 8)).shape == (3, views)
    assert sum(isinstance(m, torch.nn.Linear) for m in dd.modules()) == 2


def test_channels_last_stores_the_same_network_in_another_layout(tiny_config, tmp_path):
    """``train.channels_last`` (the default) changes how conv weights are laid out, not the network: the
    same seed draws the same weights, they embed alike to float rounding, and their saved weights load
    into a network of either layout."""
    from viewadapt.builders.method import build_method
    from viewadapt.runs.weights import load_weights, save_weights

    methods = {}
    for layout in (True, False):
        torch.manual_seed(0)
        methods[layout] = build_method(tiny_config(f"train.channels_last={str(layout).lower()}",
                                                   "model.gallery_backbone=efficientnet_lite0"))
    convs = {layout: [p for p in m.mappings.parameters() if p.dim() == 4] for layout, m in methods.items()}
    assert all(p.is_contiguous(memory_format=torch.channels_last) for p in convs[True])
    assert any(not p.is_contiguous() for p in convs[True])  # (a 1 x 1 or one-channel kernel is both)
    assert all(p.is_contiguous() for p in convs[False])
    images = torch.rand(6, 3, 64, 32)
    with torch.no_grad():
        out = {layout: [m.embedder().eval()(images, view) for view in (0, 1)] for layout, m in methods.items()}
    for a, b in zip(out[True], out[False]):
        assert torch.allclose(a, b, atol=1e-4, rtol=1e-4)
    save_weights(tmp_path / "w.safetensors", {"mappings": methods[True].mappings})
    torch.manual_seed(1)
    fresh = build_method(tiny_config("train.channels_last=false", "model.gallery_backbone=efficientnet_lite0"))
    load_weights(tmp_path / "w.safetensors", {"mappings": fresh.mappings})
    for p, q in zip(methods[True].mappings.parameters(), fresh.mappings.parameters()):
        assert torch.equal(p, q)
