"""Shared fixtures: tiny synthetic data generated per session, small fast configs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from viewadapt.config import PAPER_METHOD, load_config
from viewadapt.data.synthetic import SyntheticSpec, generate

torch.set_num_threads(2)


@pytest.fixture(scope="session")
def tiny_synthetic(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synthetic")
    return generate(root, SyntheticSpec(num_identities=16, images_per_view=2, seed=3), height=64, width=32)


def tiny_overrides(root: Path, out: Path) -> list[str]:
    """A configuration that trains every stage of the paper's method for a couple of epochs in seconds:
    small from-scratch networks with the paper's linear neck and Euclidean distance (test_recipe.py covers
    the default recipe). The view-leakage probe, a quarter of a tiny run's time, is off: the tests that
    read it turn it on."""
    return [
        f"data.root={root}", "data.synthetic.num_identities=16", "data.synthetic.seed=3",
        "data.height=64", "data.width=32", "data.num_train=8", "data.num_valid=4", "data.num_test=4",
        "model.probe_backbone=vggm_small", "model.gallery_backbone=mobilenet_v3_small", "model.pretrained=false",
        "model.neck=linear", "model.normalize=false", "model.embedding_dim=16", "model.ds_hidden=[32,64]",
        "dd.hidden=16",
        "train.init.epochs=2", "train.similarity.epochs=2", "train.adaptation.epochs=2",
        "train.init.patience=5", "train.similarity.patience=5", "train.adaptation.patience=5", "train.init.warmup=0",
        "train.batch_p=4", "train.batch_s=4", "train.init_batch_size=16", "eval.trials=2", "eval.distance=euclidean",
        "eval.view_leakage=false",
        f"output_dir={out}", *PAPER_METHOD,
    ]


@pytest.fixture(scope="session")
def trained_run(tiny_synthetic, tmp_path_factory) -> Path:
    """A finished tiny run (stages a+b), trained once for every test that only reads it."""
    from viewadapt.cli.main import main

    out = tmp_path_factory.mktemp("runs")
    args = tiny_overrides(tiny_synthetic, out) + ["train.adaptation.enabled=false", "name=inf"]
    assert main(["train", "--quiet", *args]) == 0
    return out / "inf"


@pytest.fixture
def tiny_config(tiny_synthetic, tmp_path):
    def make(*extra: str):
        return load_config(None, tiny_overrides(tiny_synthetic, tmp_path / "runs") + list(extra))

    return make
