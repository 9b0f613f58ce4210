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
from viewadapt.data.datasets.folder import read_folder_dataset
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
    new = unlabeled_cameras(d, dataset)  # cameras only the unlabelled crops have: views of their own
    return camera_views(split, dataset, d.camera_groups, new) if d.camera_groups else split


def _camera_views_of(d: DataConfig, dataset: DatasetDescription) -> dict[str, int]:
    """Each camera's view: its group's with camera groups, else the probe camera 0 and the other 1 (two
    cameras, in their order)."""
    if d.camera_groups:
        return {c: v for v, g in enumerate(d.camera_groups) for c in g}
    return {c: min(i, 1) for i, c in enumerate(dataset.camera_names[:2])}


def _per_camera(d: DataConfig, dataset: DatasetDescription) -> dict[str, Path] | None:
    """``d.unlabeled_root``'s subfolders by camera when it holds one per camera (every entry a folder, named
    after a camera of the dataset or of data.camera_groups); None for a folder of a camera's loose crops."""
    root = Path(d.unlabeled_root)
    entries = [p for p in root.iterdir() if not p.name.startswith(".")]
    if not entries or not all(p.is_dir() for p in entries):
        return None
    known = set(dataset.camera_names) | {c for g in d.camera_groups for c in g}
    named = [p for p in entries if p.name in known]
    if not named:
        return None  # subfolders of something else (dates, places): one camera's crops, as before
    if len(named) < len(entries):
        other = next(p.name for p in entries if p.name not in known)
        raise DataError(f"data.unlabeled_root {root} has a folder per camera, and {other} is no camera of "
                        f"{dataset.name} ({', '.join(dataset.camera_names)}): name it after one, or give a new "
                        "camera a view of its own in data.camera_groups")
    return {p.name: p for p in named}


def unlabeled_cameras(d: DataConfig, dataset: DatasetDescription) -> list[str]:
    """Cameras of data.camera_groups whose images are all in ``d.unlabeled_root`` (a camera added later)."""
    if not d.unlabeled_root or not d.camera_groups or not Path(d.unlabeled_root).is_dir():
        return []
    folders = _per_camera(d, dataset) or {}
    return [c for g in d.camera_groups for c in g if c not in dataset.camera_names and c in folders]


def unlabeled_records(d: DataConfig, dataset: DatasetDescription) -> list[ViewRecord]:
    """``d.unlabeled_root``'s crops as training images of no known identity: with a folder per camera
    (:func:`_per_camera`) each camera's crops in its view; otherwise every crop in the gallery view (the
    last one with camera groups). On the synthetic set, its strangers' crops too; none without either."""
    view = d.num_views - 1
    strangers = [ViewRecord(path, STRANGER_PID, -1, view) for path in stranger_paths(d.root, d.synthetic)
                 ] if DATASETS[d.dataset].generated else []
    if not d.unlabeled_root:
        return strangers
    if not Path(d.unlabeled_root).is_dir():
        raise DataError(f"data.unlabeled_root {d.unlabeled_root} is not a folder: give the folder of the camera's "
                        "unlabelled crops, or leave it empty")
    folders = _per_camera(d, dataset)
    if folders is None:
        return [ViewRecord(path, UNKNOWN_PID, -1, view) for path in image_paths(d.unlabeled_root)] + strangers
    views = _camera_views_of(d, dataset)
    missing = [c for c in folders if c not in views]
    if missing:
        raise DataError(f"data.unlabeled_root {d.unlabeled_root}: camera {missing[0]} is in no view of this run "
                        "(data.camera_groups): add it to a group, or take its folder out")
    return [ViewRecord(path, UNKNOWN_PID, -1, views[c]) for c, folder in sorted(folders.items())
            for path in image_paths(folder)] + strangers


def target_test(d: DataConfig) -> list[ViewRecord]:
    """``d.test_root``'s crops as C_test: every identity it has, its first camera the probe view, the others
    the gallery (with camera groups: the groups' views, by camera name)."""
    target = read_folder_dataset(d.test_root, Path(d.test_root).name or "target")
    if d.camera_groups:
        view_of = {c: v for v, g in enumerate(d.camera_groups) for c in g}
        missing = [c for c in target.camera_names if c not in view_of]
        if missing:
            raise DataError(f"data.test_root {d.test_root} has camera {missing[0]}, in no group of "
                            "data.camera_groups: add it to one")
        return [ViewRecord(r.path, r.pid, r.camid, view_of[target.camera_names[r.camid]]) for r in target.records]
    return [ViewRecord(r.path, r.pid, r.camid, min(r.camid, 1)) for r in target.records]


def prepare_split(d: DataConfig) -> tuple[DatasetDescription, Split]:
    """The dataset and a new run's split, with ``d.unlabeled_root``'s images (the split file keeps their
    list, so a resumed run trains on the images it started with) and, with ``d.test_root``, the target
    set's crops as C_test."""
    dataset = load_dataset(d)
    split = replace(split_dataset(d, dataset), unlabeled=unlabeled_records(d, dataset))
    if d.test_root:
        split = replace(split, test=target_test(d), dataset=f"{split.dataset} -> {Path(d.test_root).name}")
    return dataset, split


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
