"""Calibrating a camera: its batch-norm statistics re-estimated from its unlabelled images, checked by hand;
stored beside the run for the weights they belong to; a third camera added to a two-camera run; test-time
camera statistics in evaluation."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from conftest import tiny_overrides
from viewadapt.cli.main import main
from viewadapt.data.synthetic import SyntheticSpec, generate
from viewadapt.errors import DataError
from viewadapt.inference import ReIDModel
from viewadapt.models.statistics import batch_norm_statistics, even_batches


def _tiny_net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(4, 5), nn.BatchNorm1d(5)).eval()


def test_statistics_are_the_mean_and_variance_of_each_layers_input_computed_by_hand():
    net = _tiny_net()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    x = torch.rand(6, 3, 8, 8)
    stats = batch_norm_statistics(net, [x])
    with torch.no_grad():  # the same network by hand, each batch norm normalising by this batch's statistics
        conv = net[0](x)
        mean1, var1 = conv.mean((0, 2, 3)), conv.var((0, 2, 3), unbiased=True)
        h = F.relu((conv - mean1.view(1, -1, 1, 1)) / torch.sqrt(conv.var((0, 2, 3), unbiased=False).view(1, -1, 1, 1)
                                                                  + net[1].eps) * net[1].weight.view(1, -1, 1, 1)
                   + net[1].bias.view(1, -1, 1, 1))
        lin = net[5](h.mean((2, 3)))
    assert torch.allclose(stats["1.running_mean"], mean1, atol=1e-6)
    assert torch.allclose(stats["1.running_var"], var1, atol=1e-6)
    assert torch.allclose(stats["6.running_mean"], lin.mean(0), atol=1e-5)
    assert torch.allclose(stats["6.running_var"], lin.var(0, unbiased=True), atol=1e-5)
    assert all(torch.equal(v, before[k]) for k, v in net.state_dict().items())  # the network is untouched
    # Over several batches each batch counts once: the average of the batches' means and variances.
    a, b = torch.rand(3, 3, 8, 8), torch.rand(3, 3, 8, 8) + 1
    two = batch_norm_statistics(net, [a, b])
    with torch.no_grad():
        ca, cb = net[0](a), net[0](b)
    assert torch.allclose(two["1.running_mean"], (ca.mean((0, 2, 3)) + cb.mean((0, 2, 3))) / 2, atol=1e-6)
    assert torch.allclose(two["1.running_var"], (ca.var((0, 2, 3)) + cb.var((0, 2, 3))) / 2, atol=1e-6)


def test_batches_never_hold_a_single_image():
    assert [len(r) for r in even_batches(3, 2)] == [3]
    assert [len(r) for r in even_batches(130, 64)] == [65, 65]
    assert [len(r) for r in even_batches(10, 4)] == [5, 5]
    spans = even_batches(201, 64)
    assert min(len(r) for r in spans) >= 64 and sum(len(r) for r in spans) == 201
    with pytest.raises(DataError, match="at least two images a batch"):
        even_batches(10, 1)


@pytest.fixture(scope="module")
def three_cams(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("three"), SyntheticSpec(12, 2, 1.0, seed=4, num_cameras=3), 64, 32)


@pytest.fixture(scope="module")
def two_camera_run(three_cams, tiny_synthetic, tmp_path_factory):
    """A run trained on cameras a and b only, with statistics of its own per camera; c is never seen."""
    out = tmp_path_factory.mktemp("runs")
    args = tiny_overrides(tiny_synthetic, out) + [
        "data.dataset=folder", f"data.root={three_cams}", "data.camera_groups=[[cam_a],[cam_b]]", "data.num_train=6",
        "data.num_valid=3", "data.num_test=3",
        "model.asymmetry=stats", "train.init.epochs=1", "train.similarity.epochs=1", "train.adaptation.enabled=false",
        "name=two"]
    assert main(["train", "--quiet", *args]) == 0
    return out / "two"


def test_a_third_camera_is_calibrated_from_its_images_and_matched_against_the_first(
        two_camera_run, three_cams, tmp_path, capsys):
    run = two_camera_run
    assert main(["calibrate", str(run), str(three_cams / "cam_c"), "--camera", "cam_c"]) == 0
    assert (run / "cameras" / "cam_c.safetensors").is_file()
    probe = sorted((three_cams / "cam_a" / "0000").glob("*.jpg"))[0]
    capsys.readouterr()
    assert main(["match", str(run), str(probe), "--gallery", str(three_cams / "cam_c"), "--gallery-camera", "cam_c",
                 "--k", "3"]) == 0
    out = capsys.readouterr().out
    assert out.count("cam_c/") == 3 and "rank" in out
    feats = tmp_path / "c.safetensors"
    assert main(["extract", str(run), str(three_cams / "cam_c"), "--camera", "cam_c", "--out", str(feats)]) == 0
    model = ReIDModel.from_run(run)
    extracted = model.extract(three_cams / "cam_c", "gallery", camera="cam_c")
    assert extracted.camera == "cam_c" and extracted.view == 1
    plain = model.extract(three_cams / "cam_c", "gallery")
    assert not torch.allclose(torch.from_numpy(extracted.features), torch.from_numpy(plain.features), atol=1e-4)
    from viewadapt.inference import Features

    assert Features.load(feats).camera == "cam_c"
    # The stored statistics are the camera's own: those of the gallery view's network over its images.
    images = sorted(str(p) for p in (three_cams / "cam_c").rglob("*.jpg"))
    network = model.mappings.gallery
    expected = batch_norm_statistics(network, model._batches(images, even_batches(len(images), 64)))
    with safe_open(str(run / "cameras" / "cam_c.safetensors"), "pt") as f:
        assert all(torch.equal(f.get_tensor(k), v) for k, v in expected.items())
        assert f.metadata()["images"] == str(len(images))


def test_calibration_mistakes_are_one_line(two_camera_run, three_cams, tmp_path, capsys):
    run = shutil.copytree(two_camera_run, tmp_path / "run")
    one = sorted((three_cams / "cam_c").rglob("*.jpg"))[0]
    cases = [
        (["calibrate", str(run), str(one), "--camera", "door"], "needs at least two of its images, found 1"),
        (["calibrate", str(run), str(three_cams / "cam_c"), "--camera", "a/b"], "camera name 'a/b' must be"),
        (["calibrate", str(run), str(three_cams / "cam_c"), "--camera", "door", "--batch-size", "1"],
         "at least two images a batch"),
        (["extract", str(run), str(three_cams / "cam_c"), "--camera", "nosuch", "--out", str(tmp_path / "f.st")],
         "camera 'nosuch' is not calibrated"),
    ]
    assert main(["calibrate", str(run), str(three_cams / "cam_c"), "--camera", "door"]) == 0
    stored = run / "cameras" / "door.safetensors"
    with safe_open(str(stored), "pt") as f:
        tensors, meta = {k: f.get_tensor(k) for k in f.keys()}, f.metadata()
    other = run / "cameras" / "other.safetensors"
    save_file(tensors, str(other), {**meta, "model": "0123456789abcdef"})
    cases.append((["extract", str(run), str(one), "--camera", "other", "--out", str(tmp_path / "f.st")],
                  "holds statistics of other weights"))
    capsys.readouterr()
    for args, message in cases:
        assert main(args) == 2, args
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and message in err, err


def test_test_time_camera_statistics_embed_each_view_with_its_own_images_statistics(tiny_synthetic):
    from viewadapt.data.augment import eval_transform
    from viewadapt.data.images import load_image
    from viewadapt.data.records import ViewRecord
    from viewadapt.evaluation.features import extract_embeddings, per_view_statistics
    from viewadapt.models import ViewMappings
    from viewadapt.models.statistics import recalibrated

    torch.manual_seed(0)
    mappings = ViewMappings.build("vggm_small", "vggm_small", 16, pretrained=False, neck="bnneck", asymmetry="none")
    records = [ViewRecord(str(p), int(p.parent.name), view, view)
               for view, cam in enumerate(("cam_a", "cam_b")) for p in sorted((tiny_synthetic / cam).rglob("*.jpg"))[:6]]
    calibrated = per_view_statistics(mappings, records, 64, 32, batch_size=128)
    got = extract_embeddings(calibrated, records, 64, 32)
    plain = extract_embeddings(mappings, records, 64, 32)
    transform = eval_transform(64, 32)
    for view in (0, 1):
        images = torch.stack([transform(load_image(r.path)) for r in records if r.view == view])
        by_hand = recalibrated(mappings.mapping(view), [images])  # one batch: the view's six images
        with torch.no_grad():
            assert np.allclose(got[[r.view == view for r in records]], by_hand(images).numpy(), atol=1e-5)
    assert not np.allclose(got, plain, atol=1e-3)


def test_evaluate_with_camera_statistics(trained_run, tmp_path, capsys):
    """The same split scored twice by the same command, with and without each view's own statistics: the
    queries are the same, the numbers are not (were the statistics ignored, they would be to the digit)."""
    run = shutil.copytree(trained_run, tmp_path / "run")
    assert main(["evaluate", str(run), "--camera-statistics"]) == 0
    assert main(["evaluate", str(run)]) == 0
    result = json.loads((run / "eval" / "test_single_shot_camstats.json").read_text())
    plain = json.loads((run / "eval" / "test_single_shot.json").read_text())
    assert result["num_queries"] == plain["num_queries"] and result["split"] == plain["split"]
    assert (result["mAP"], result["cmc"]) != (plain["mAP"], plain["cmc"])
    assert plain["mAP"] == json.loads((run / "metrics.json").read_text())["test"]["mAP"]


def test_a_calibrated_camera_exports_as_a_graph_of_its_own(two_camera_run, three_cams, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    from viewadapt.inference import export_onnx

    run = shutil.copytree(two_camera_run, tmp_path / "run")
    model = ReIDModel.from_run(run)
    model.calibrate(three_cams / "cam_c", "garage")
    files = export_onnx(run, tmp_path / "onnx", cameras=["garage"])
    assert [f.name for f in files] == ["camera_garage.onnx", "gallery.onnx", "probe.onnx"]
    x = torch.rand(4, 3, 64, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = model.embedding_path(None, "garage")[0](x).numpy()
        plain = model.embedder.mapping(1)(x).numpy()
    got = ort.InferenceSession(str(files[0]), providers=["CPUExecutionProvider"]).run(None, {"images": x.numpy()})[0]
    assert np.abs(got - expected).max() <= 1e-4 and np.abs(got - plain).max() > 1e-3
    with pytest.raises(DataError, match="camera 'lobby' is not calibrated"):
        export_onnx(run, tmp_path / "onnx2", cameras=["lobby"])
