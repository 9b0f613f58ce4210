"""Datasets as one description (path, identity, camera), identity splits, loaders and SP batches."""

from __future__ import annotations

from pathlib import Path

from viewadapt.config import DataConfig
from viewadapt.data.folder import read_folder_dataset
from viewadapt.data.records import DatasetDescription, ImageRecord, ViewRecord
from viewadapt.data.splits import Split, make_identity_split
from viewadapt.data.synthetic import SyntheticSpec, generate

__all__ = [
    "DatasetDescription",
    "ImageRecord",
    "Split",
    "ViewRecord",
    "load_dataset",
    "make_identity_split",
    "prepare_split",
]


def load_dataset(cfg: DataConfig) -> DatasetDescription:
    """Read the configured dataset; the synthetic one is generated first (once per spec)."""
    if cfg.dataset == "synthetic":
        s = cfg.synthetic
        spec = SyntheticSpec(s.num_identities, s.images_per_view, s.view_shift, cfg.height, cfg.width, s.seed)
        generate(cfg.root, spec)
        return read_folder_dataset(cfg.root, name="synthetic")
    return read_folder_dataset(cfg.root, name=Path(cfg.root).name)


def prepare_split(cfg: DataConfig) -> tuple[DatasetDescription, Split]:
    dataset = load_dataset(cfg)
    split = make_identity_split(dataset, cfg.num_train, cfg.num_valid, cfg.num_test, cfg.split_seed)
    return dataset, split
