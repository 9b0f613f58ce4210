"""extract / match / export: the Python API, the commands, ONNX against PyTorch, and bad input."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import tiny_overrides
from viewadapt.cli.main import main
from viewadapt.data.augment import eval_transform
from viewadapt.data.images import load_image
from viewadapt.errors import DataError
from viewadapt.inference import Features, ReIDModel, export_onnx


@pytest.fixture
def run(trained_run):
    return trained_run


def test_extract_embeds_through_the_views_mapping(run, tiny_synthetic, tmp_path):
    model = ReIDModel.from_run(run)
    feats = model.extract(tiny_synthetic / "cam_b", "gallery")
    assert len(feats.paths) == 32 and feats.features.shape == (32, 16) and feats.view == 1
    image = torch.stack([eval_transform(64, 32)(load_image(feats.paths[3]))])
    with torch.no_grad():
        assert np.allclose(feats.features[3], model.mappings.gallery(image)[0].numpy(), atol=1e-5)
        assert not np.allclose(feats.features[3], model.mappings.probe(image)[0].numpy(), atol=1e-3)
    back = Features.load(feats.save(tmp_path / "g.safetensors"))
    assert back.paths == feats.paths and np.array_equal(back.features, feats.features) and back.model == model.model_id


def test_match_ranks_the_gallery_with_ds_probabilities(run, tiny_synthetic, tmp_path):
    model = ReIDModel.from_run(run)
    probe = sorted((tiny_synthetic / "cam_a").rglob("*.jpg"))[0]
    gallery = model.extract(tiny_synthetic / "cam_b", 1)
    from_folder = model.match(probe, tiny_synthetic / "cam_b", k=5)[str(probe)]
    from_file = model.match([probe], gallery.save(tmp_path / "g.safetensors"), k=5)[str(probe)]
    assert [m.path for m in from_folder] == [m.path for m in from_file]
    assert [m.rank for m in from_folder] == [1, 2, 3, 4, 5]
    distances = [m.distance for m in from_folder]
    assert distances == sorted(distances) and all(0 <= m.same_person <= 1 for m in from_folder)
    qf = model.embed([str(probe)], "probe")
    expected = np.linalg.norm(gallery.features - qf, axis=1)
    assert from_folder[0].distance == pytest.approx(expected.min(), abs=1e-4)
    pytest.importorskip("faiss")
    spread = Features(np.random.default_rng(0).normal(size=gallery.features.shape).astype(np.float32),
                      gallery.paths, 1, model.model_id)  # distinct distances: no near-ties to order differently
    dense, fast = (model.match(probe, spread, k=5, use_faiss=f)[str(probe)] for f in (False, True))
    assert [m.path for m in fast] == [m.path for m in dense]
    assert [m.distance for m in fast] == pytest.approx([m.distance for m in dense], abs=1e-4)


def test_a_run_without_a_trained_ds_gives_no_ds_probability(tiny_synthetic, tmp_path, capsys):
    """The few-shot baselines never train Ds: its output would look like a probability and mean nothing."""
    args = tiny_overrides(tiny_synthetic, tmp_path / "runs") + [
        "loss.metric=matching", "model.shared=true", "model.normalize=true", "train.init.epochs=1",
        "train.similarity.epochs=1", "train.adaptation.enabled=false", "name=mn"]
    assert main(["train", "--quiet", *args]) == 0
    run = tmp_path / "runs" / "mn"
    probe = sorted((tiny_synthetic / "cam_a").rglob("*.jpg"))[0]
    matches = ReIDModel.from_run(run).match(probe, tiny_synthetic / "cam_b", k=3)[str(probe)]
    assert [m.same_person for m in matches] == [None, None, None]
    capsys.readouterr()
    assert main(["match", str(run), str(probe), "--gallery", str(tiny_synthetic / "cam_b"), "--k", "3",
                 "--image", str(tmp_path / "r.png")]) == 0
    out = capsys.readouterr().out
    assert "  -  " in out and "no Ds" in out and (tmp_path / "r.png").is_file()
    assert main(["evaluate", str(run), "--rerank", "ds"]) == 2
    assert "needs a trained Ds" in capsys.readouterr().err


def test_any_image_size_and_mode_is_accepted(run, tiny_synthetic, tmp_path):
    src = sorted((tiny_synthetic / "cam_a").rglob("*.jpg"))[0]
    Image.open(src).convert("L").resize((50, 140)).save(tmp_path / "grey.png")
    Image.open(src).convert("RGBA").save(tmp_path / "rgba.png")
    out = ReIDModel.from_run(run).match([tmp_path / "grey.png", tmp_path / "rgba.png"], tiny_synthetic / "cam_b", k=3)
    assert len(out) == 2 and all(len(v) == 3 for v in out.values())


def test_commands_write_features_ranked_lists_and_images(run, tiny_synthetic, tmp_path, capsys):
    feats = tmp_path / "g.safetensors"
    assert main(["extract", str(run), str(tiny_synthetic / "cam_b"), "--view", "gallery", "--out", str(feats)]) == 0
    probe = sorted((tiny_synthetic / "cam_a").rglob("*.jpg"))[0]
    assert main(["match", str(run), str(probe), "--gallery", str(feats), "--k", "4", "--image", str(tmp_path / "rl.png"),
                 "--json", str(tmp_path / "rl.json")]) == 0
    out = capsys.readouterr().out
    assert "same person (Ds)" in out and (tmp_path / "rl.png").is_file()
    assert [m["rank"] for m in json.loads((tmp_path / "rl.json").read_text())[str(probe)]] == [1, 2, 3, 4]


def test_bad_input_is_one_clear_line(run, tiny_synthetic, tmp_path, capsys):
    feats = tmp_path / "g.safetensors"
    ReIDModel.from_run(run).extract(tiny_synthetic / "cam_b", 1).save(feats)
    probe = str(sorted((tiny_synthetic / "cam_a").rglob("*.jpg"))[0])
    cases = [
        (["extract", str(run), str(tiny_synthetic / "cam_b"), "--view", "3", "--out", str(tmp_path / "x.safetensors")],
         "no mapping for view '3': its views are probe (0), gallery (1)"),
        (["match", str(run), probe, "--gallery", str(tmp_path / "none.safetensors")], "does not exist"),
        (["match", str(run), str(tmp_path / "nope.jpg"), "--gallery", str(feats)], "nope.jpg does not exist"),
    ]
    damaged = tmp_path / "damaged.safetensors"
    damaged.write_bytes(feats.read_bytes()[: len(feats.read_bytes()) // 2])
    cases.append((["match", str(run), probe, "--gallery", str(damaged)], "is corrupt or not a viewadapt features file"))
    other = Features.load(feats)
    other.model = "0123456789abcdef"
    other.save(tmp_path / "other.safetensors")
    cases.append((["match", str(run), probe, "--gallery", str(tmp_path / "other.safetensors")],
                  "extracted with another model"))
    for args, message in cases:
        assert main(args) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], err
    assert not (tmp_path / "x.safetensors").exists() and not list(tmp_path.glob("*.partial"))


def test_run_with_another_models_config_is_refused(run, tmp_path, capsys):
    edited = tmp_path / "edited"
    shutil.copytree(run, edited)
    cfg = (edited / "config.yaml").read_text().replace("embedding_dim: 16", "embedding_dim: 32")
    (edited / "config.yaml").write_text(cfg)
    assert main(["export", str(edited), "--out", str(tmp_path / "onnx")]) == 2
    assert "written with model.embedding_dim=16" in capsys.readouterr().err
    assert not (tmp_path / "onnx").exists() and not (tmp_path / "onnx.partial").exists()


@pytest.mark.parametrize("kind", ["asymmetric", "shared", "regression", "partial"])
def test_onnx_equals_pytorch(run, tiny_synthetic, tmp_path, kind):
    ort = pytest.importorskip("onnxruntime")
    source = run
    if kind != "asymmetric":
        # model regression: one shared network, with the regressor T on the probe side only; partial: the
        # views share all but their first two backbone stages
        extra = {"shared": ["model.shared=true"],
                 "regression": ["model.shared=true", "model.normalize=true", "loss.metric=regression"],
                 "partial": ["model.asymmetry=partial:2"]}[kind]
        args = tiny_overrides(tiny_synthetic, tmp_path / "runs") + [
            "train.init.epochs=1", "train.similarity.epochs=1", "train.adaptation.enabled=false", "name=siam", *extra]
        assert main(["train", "--quiet", *args]) == 0
        source = tmp_path / "runs" / "siam"
    files = export_onnx(source, tmp_path / "onnx")
    assert [f.name for f in files] == (["shared.onnx"] if kind == "shared" else ["gallery.onnx", "probe.onnx"])
    meta = json.loads((tmp_path / "onnx" / "onnx.json").read_text())
    assert (meta["height"], meta["width"], meta["embedding_dim"]) == (64, 32, 16)
    model = ReIDModel.from_run(source)
    for f in files:
        session = ort.InferenceSession(str(f), providers=["CPUExecutionProvider"])
        module = model.embedder.mapping(1 if f.stem == "gallery" else 0)
        for batch in (1, 8):
            x = torch.rand(batch, 3, 64, 32, generator=torch.Generator().manual_seed(batch))
            with torch.no_grad():
                expected = module(x).numpy()
            got = session.run(None, {"images": x.numpy()})[0]
            assert got.shape == (batch, 16) and np.abs(got - expected).max() <= 1e-4


def test_an_output_folder_that_does_not_exist_is_one_line_before_any_work(run, tiny_synthetic, tmp_path, capsys):
    probe = str(sorted((tiny_synthetic / "cam_a").rglob("*.jpg"))[0])
    missing = tmp_path / "no" / "such"
    cases = [
        (["extract", str(run), str(tiny_synthetic / "cam_b"), "--out", str(missing / "f.safetensors")], "--out"),
        (["match", str(run), probe, "--gallery", str(tiny_synthetic / "cam_b"), "--json", str(missing / "r.json")],
         "--json"),
        (["match", str(run), probe, "--gallery", str(tiny_synthetic / "cam_b"), "--image", str(missing / "r.png")],
         "--image"),
    ]
    for args, option in cases:
        assert main(args) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and f"{option} {missing}" in err[0] and "does not exist; create it" in err[0], err
    with pytest.raises(DataError, match="the folder .* does not exist"):
        Features(np.zeros((1, 2), np.float32), ["a.jpg"], 0, "x").save(missing / "f.safetensors")
    assert not missing.exists()
