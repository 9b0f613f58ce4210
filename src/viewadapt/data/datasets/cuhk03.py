"""CUHK03 (Li et al. 2014): images inside ``<root>/cuhk03/cuhk03_release/cuhk-03.mat`` (MATLAB v7.3).

The .mat file is HDF5. ``labeled`` and ``detected`` are 5x1 cells, one per camera pair, each holding a
people x 10 cell of images (HxWx3 uint8; columns 1-5 from the pair's first camera, 6-10 from its
second; empty cells where a person has fewer images). ``testsets`` holds the 20 classic test sets of
100 (pair, person) rows. On first use the images are written once as PNG to
``<root>/cuhk03/images_<variant>/`` under torchreid's names (``1_001_1_01.png`` = pair, person in the
pair, camera in the pair, image), so a copy already extracted by torchreid is used as it is.

The new protocol (Zhong et al. 2017, 767 training / 700 test identities) comes from
``cuhk03_new_protocol_config_<variant>.mat`` (MATLAB v5) beside the release folder, when present.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from PIL import Image

from viewadapt.data.datasets.base import image_files
from viewadapt.data.records import DatasetDescription, ImageRecord
from viewadapt.errors import DataError

VARIANTS = ("labeled", "detected")
RELEASE = Path("cuhk03_release") / "cuhk-03.mat"
NAME = re.compile(r"^(\d)_(\d{3})_([12])_(\d{2})$")
NUM_PAIRS = 5
CAMERA_NAMES = [f"pair{p}_cam{c}" for p in range(1, NUM_PAIRS + 1) for c in (1, 2)]
PLACE = "extract cuhk03_release.zip into {root}/cuhk03/ (it holds cuhk03_release/cuhk-03.mat)"


def global_pid(pair: int, person: int) -> int:
    """Pair 2, person 15 -> 2015: unique across pairs and readable back."""
    return pair * 1000 + person


def locate(root: Path) -> Path | None:
    folder = root / "cuhk03"
    if (folder / RELEASE).is_file() or any((folder / f"images_{v}").is_dir() for v in VARIANTS):
        return folder
    return None


def _open_mat(path: Path):  # noqa: ANN202 - h5py.File, imported lazily: only CUHK03 needs h5py
    import h5py

    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise DataError(f"cannot read {path} as a MATLAB v7.3 (HDF5) file ({exc}): the download is "
                        "incomplete or not the cuhk03_release file; fetch it again") from None


def extract_images(mat_path: Path, variant: str, out_dir: Path) -> None:
    """Write every non-empty image cell of ``variant`` as PNG; a crash leaves only ``<out>.partial``."""
    partial = out_dir.with_name(out_dir.name + ".partial")
    try:
        partial.mkdir(parents=True, exist_ok=True)
        with _open_mat(mat_path) as mat:
            if variant not in mat:
                raise DataError(f"{mat_path} has no '{variant}' images: it is not the cuhk03_release file")
            for pair, pair_ref in enumerate(mat[variant][0], start=1):
                people = mat[pair_ref][()].T
                for person in range(people.shape[0]):
                    for k, ref in enumerate(people[person]):
                        img = mat[ref][()].T
                        if img.ndim < 3 or img.size == 0:
                            continue
                        camera = 1 if k < 5 else 2
                        name = f"{pair}_{person + 1:03d}_{camera}_{k + 1:02d}.png"
                        Image.fromarray(np.ascontiguousarray(img, dtype=np.uint8)).save(partial / name)
        partial.rename(out_dir)
    except OSError as exc:
        raise DataError(f"cannot write the CUHK03 images to {partial} ({exc}): make {out_dir.parent} "
                        "writable, or extract once on a machine where it is") from None


def read_test_sets(mat_path: Path) -> list[list[int]]:
    with _open_mat(mat_path) as mat:
        if "testsets" not in mat:
            return []
        return [[global_pid(int(pair), int(person)) for pair, person in mat[ref][()].T] for ref in mat["testsets"][0]]


def read_new_protocol(path: Path) -> dict[str, str]:
    """File name -> ``train``/``query``/``gallery`` from a new-protocol config file."""
    from scipy.io import loadmat

    try:
        cfg = loadmat(path)
        files = [str(np.ravel(f)[0]) for f in cfg["filelist"].ravel()]
        subset_of = {}
        for subset in ("train", "query", "gallery"):
            for i in cfg[f"{subset}_idx"].ravel():
                subset_of[files[int(i) - 1]] = subset
    except (OSError, ValueError, KeyError, IndexError) as exc:
        raise DataError(f"cannot read the CUHK03 new-protocol file {path} ({exc!r}): fetch it again "
                        "(CUHK03-NP, Zhong et al. 2017) or remove it to use the other protocols") from None
    return subset_of


def read(root: Path, variant: str = "labeled") -> DatasetDescription:
    variant = variant or "labeled"
    if variant not in VARIANTS:
        raise DataError(f"CUHK03 has no '{variant}' images: set data.variant to labeled or detected")
    folder = root / "cuhk03"
    mat_path, images = folder / RELEASE, folder / f"images_{variant}"
    if not images.is_dir():
        if not mat_path.is_file():
            pair1 = root / f"cuhk03_{variant}"
            if pair1.is_dir():  # the public copy of camera pair 1, laid out by camera: its own dataset
                raise DataError(f"{pair1} holds CUHK03's camera pair 1 laid out by camera, not the release's .mat: "
                                f"train it with -c cuhk03_pair1 (-c cuhk03_pair1-cpu on a CPU), data.root={root}")
            raise DataError(f"CUHK03 not found: expected {mat_path}; " + PLACE.format(root=root))
        extract_images(mat_path, variant, images)
    protocol_file = folder / f"cuhk03_new_protocol_config_{variant}.mat"
    subset_of = read_new_protocol(protocol_file) if protocol_file.is_file() else {}
    records = []
    for path in image_files(images):
        m = NAME.match(path.stem)
        if m is None:
            raise DataError(f"{path}: CUHK03 image names look like 1_001_1_01.png (pair_person_camera_image); "
                            f"remove the file, or delete {images} to extract it again")
        pair, person, camera = int(m.group(1)), int(m.group(2)), int(m.group(3))
        records.append(ImageRecord(str(path), global_pid(pair, person), 2 * (pair - 1) + camera - 1,
                                   subset_of.pop(path.name, "")))
    if not records:
        raise DataError(f"{images} holds no images: delete it to extract {mat_path} again")
    if subset_of:
        missing = sorted(subset_of)
        raise DataError(f"{protocol_file} lists {len(missing)} images not in {images} (first: {missing[0]}): "
                        f"delete {images} to extract {mat_path} again")
    test_sets = read_test_sets(mat_path) if mat_path.is_file() else []
    return DatasetDescription("cuhk03", str(root), records, list(CAMERA_NAMES), base=str(root),
                              ordered_views=True, test_sets=test_sets)
