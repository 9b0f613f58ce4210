"""From a config's data section to the dataset it describes and its split."""

from __future__ import annotations

import tempfile
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Iterator

import torch

from viewadapt.config import DataConfig
from viewadapt.data import DATASETS, DatasetDescription, Split, camera_views, generate, make_split
from viewadapt.data.images import decode_images, ensure_readable, image_paths
from viewadapt.data.records import STRANGER_PID, UNKNOWN_PID, ViewRecord
from viewadapt.data.splits import SplitRequest, identity_subset
from viewadapt.data.synthetic import read_spec, stranger_paths
from viewadapt.errors import DataError


def ensure_generated(d: DataConfig) -> None:
    """Make the synthetic benchmark under ``d.root`` the one this config describes.

    Runs with other settings regenerate the same root (experiments give each set a root of its own,
    `viewadapt train` runs do not), so a run that is resumed or evaluated later must not trust what it
    finds there. Nothing to do for a real dataset.
    """
    if DATASETS[d.dataset].generated:
        generate(d.root, d.synthetic, d.height, d.width)


@contextmanager
def readable_data(d: DataConfig) -> Iterator[str]:
    """The folder a finished run's split is read from, for a command that reads a run's images but must
    not write where a config points (a run folder may come from someone else): the data root; for the
    synthetic set, when its root does not hold the set the run's spec draws, the same set drawn into a
    temporary folder that lasts as long as the block."""
    if not DATASETS[d.dataset].generated:
        yield split_base(d)
        return
    try:
        there = read_spec(d.root) == (d.synthetic, (d.height, d.width))
    except DataError:  # damaged: not ours to repair from here
        there = False
    if there:
        yield split_base(d)
        return
    with tempfile.TemporaryDirectory(prefix="viewadapt-synthetic-") as tmp:
        generate(tmp, d.synthetic, d.height, d.width)
        yield tmp


def load_dataset(d: DataConfig) -> DatasetDescription:
    """Read the configured dataset; the synthetic one is generated first (once per spec)."""
    ensure_generated(d)
    return DATASETS[d.dataset].read(Path(d.root), d.variant)


def split_request(d: DataConfig) -> SplitRequest:
    """What the split protocols read of ``d`` and of its dataset's source."""
    source = DATASETS[d.dataset]
    return SplitRequest(d.num_train, d.num_valid, d.num_test, d.split_seed, d.trial, source.paper_split,
                        source.random_halves, source.standard, source.standard_fix)


def split_dataset(d: DataConfig, dataset: DatasetDescription, protocol: str | None = None) -> Split:
    """The configured split of a dataset read with :func:`load_dataset` (``protocol`` overrides d's)."""
    split = make_split(dataset, protocol or d.protocol, split_request(d))
    if d.train_subset >= 0:
        split = replace(split, train=identity_subset(split.train, d.train_subset, d.split_seed))
    return camera_views(split, dataset, d.camera_groups) if d.camera_groups else split


def unlabeled_records(d: DataConfig) -> list[ViewRecord]:
    """``d.unlabeled_root``'s crops as training images of the gallery view (the last one with camera
    groups), of no known identity, and on the synthetic set its strangers' crops; none without either."""
    view = d.num_views - 1
    strangers = [ViewRecord(path, STRANGER_PID, -1, view) for path in stranger_paths(d.root, d.synthetic)
                 ] if DATASETS[d.dataset].generated else []
    if not d.unlabeled_root:
        return strangers
    if not Path(d.unlabeled_root).is_dir():
        raise DataError(f"data.unlabeled_root {d.unlabeled_root} is not a folder: give the folder of the camera's "
                        "unlabelled crops, or leave it empty")
    return [ViewRecord(path, UNKNOWN_PID, -1, view) for path in image_paths(d.unlabeled_root)] + strangers


def prepare_split(d: DataConfig) -> tuple[DatasetDescription, Split]:
    """The dataset and a new run's split, with ``d.unlabeled_root``'s images (the split file keeps their
    list, so a resumed run trains on the images it started with)."""
    dataset = load_dataset(d)
    return dataset, replace(split_dataset(d, dataset), unlabeled=unlabeled_records(d))


def verify_command(d: DataConfig) -> str:
    """The `datasets info` command that lists every unreadable image of ``d``'s dataset, as typed."""
    variant = f" --variant {d.variant}" if d.variant else ""
    return f"viewadapt datasets info {d.dataset} --data-root {d.root}{variant} --verify"


def check_split_images(d: DataConfig, split: Split, run_dir: Path | None = None) -> None:
    """Every image a run will read opens, before the first epoch: the test split's (and, where no cache
    decodes them first, every other's) decoded whole, the others' headers read. ``run_dir``: a resumed
    run, whose split.json fixes its images, so a bad one is restored, not deleted."""
    everything = [r.path for n in ("train", "valid", "test", "unlabeled") for r in split.subset(n)]
    decode = [r.path for r in split.test] if d.cache_images else everything
    if run_dir is None:
        fix = f"fix or remove them before training (`{verify_command(d)}` lists every one)"
        moved = "point data.root at its new place"
    else:
        fix = (f"restore them: {run_dir / 'split.json'} lists the run's images, so a deleted one stays missing "
               "(or train a new run without it)")
        moved = f"point data.root in {run_dir / 'config.yaml'} at its new place and resume again"
    ensure_readable(everything, fix, decode, str(d.root), moved)


def split_base(d: DataConfig) -> str:
    """The folder a run's split.json stores image paths relative to."""
    return DATASETS[d.dataset].split_base(d.root)


def decoded_images(d: DataConfig, split: Split) -> dict[str, torch.Tensor] | None:
    """The split's training (unlabelled ones too) and validation images decoded once where
    ``d.cache_images``, else None (each epoch reads the files)."""
    return decode_images([r.path for r in [*split.train, *split.unlabeled, *split.valid]]) if d.cache_images else None
