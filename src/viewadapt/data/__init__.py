"""Datasets as one description (path, identity, camera), identity splits, loaders and SP batches."""

from __future__ import annotations

from pathlib import Path

from viewadapt.config import DataConfig
from viewadapt.data.datasets import DATASETS
from viewadapt.data.records import DatasetDescription, ImageRecord, ViewRecord
from viewadapt.data.splits import Split, camera_views, make_identity_split, make_split
from viewadapt.data.synthetic import SyntheticSpec, generate

__all__ = [
    "DATASETS",
    "DatasetDescription",
    "ImageRecord",
    "Split",
    "ViewRecord",
    "ensure_generated",
    "load_dataset",
    "make_identity_split",
    "make_split",
    "prepare_split",
    "split_base",
]


def ensure_generated(cfg: DataConfig) -> None:
    """Make the synthetic benchmark under ``cfg.root`` the one this config describes.

    Runs with other settings (a view-shift sweep) regenerate the same root, so a run that is resumed
    or evaluated later must not trust what it finds there. Nothing to do for a real dataset.
    """
    if cfg.dataset == "synthetic":
        s = cfg.synthetic
        generate(cfg.root, SyntheticSpec(s.num_identities, s.images_per_view, s.view_shift, cfg.height, cfg.width, s.seed,
                                         s.num_cameras))


def load_dataset(cfg: DataConfig) -> DatasetDescription:
    """Read the configured dataset; the synthetic one is generated first (once per spec)."""
    ensure_generated(cfg)
    return DATASETS[cfg.dataset].read(Path(cfg.root), cfg.variant)


def split_base(cfg: DataConfig) -> str:
    """The folder a run's split.json stores image paths relative to: the root, or a CSV index's folder."""
    root = Path(cfg.root)
    return str(root.parent if cfg.dataset == "csv" else root)


def prepare_split(cfg: DataConfig) -> tuple[DatasetDescription, Split]:
    dataset = load_dataset(cfg)
    split = make_split(dataset, cfg.protocol, cfg.num_train, cfg.num_valid, cfg.num_test, cfg.split_seed, cfg.trial)
    if cfg.camera_groups:
        split = camera_views(split, dataset, cfg.camera_groups)
    return dataset, split
