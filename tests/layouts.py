"""Tiny copies of the real benchmarks' on-disk layouts, with their real file naming and quirks."""

from __future__ import annotations

import itertools
from pathlib import Path

import h5py
import numpy as np
from PIL import Image
from scipy.io import savemat

_rng = np.random.default_rng(0)


def image(path: Path, size: tuple[int, int] = (8, 16)) -> Path:
    """A small random picture (width, height) in the format the suffix says."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(_rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(path)
    return path


def make_viper(root: Path, num_people: int = 632) -> Path:
    """``viper/VIPeR/cam_a/NNN_AAA.bmp``: person numbers with gaps, angle differing between cameras."""
    base = root / "viper" / "VIPeR"
    for i in range(num_people):
        number = i + i // 3  # VIPeR's numbers run to 873 with gaps
        image(base / "cam_a" / f"{number:03d}_{(i % 5) * 45}.bmp")
        image(base / "cam_b" / f"{number:03d}_{((i + 2) % 5) * 45}.bmp")
    return root


# Market: per training identity, images in cameras 1-3; per test identity one query in two cameras and
# gallery images in three; plus junk (-1) and distractors (0000) in the gallery, and a Thumbs.db.
MARKET_TRAIN_IDS = [2, 7, 10, 11, 12, 20]
MARKET_TEST_IDS = [1, 3, 4, 5]


def _market_name(pid: int, cam: int, k: int) -> str:
    return f"{pid:04d}_c{cam}s{1 + k % 3}_{1000 * cam + 37 * k:06d}_{k % 9:02d}.jpg"


def make_market(root: Path) -> Path:
    base = root / "market1501" / "Market-1501-v15.09.15"
    for pid in MARKET_TRAIN_IDS:
        for cam, k in itertools.product((1, 2, 3), range(2)):
            image(base / "bounding_box_train" / _market_name(pid, cam, k))
    for pid in MARKET_TEST_IDS:
        for cam in (1, 4):
            image(base / "query" / _market_name(pid, cam, 0))
        for cam, k in itertools.product((1, 4, 6), range(2)):
            image(base / "bounding_box_test" / _market_name(pid, cam, k + 1))
    for cam in (1, 2):
        image(base / "bounding_box_test" / f"-1_c{cam}s1_000401_03.jpg")  # junk
        image(base / "bounding_box_test" / _market_name(0, cam, 5))  # distractor
    (base / "bounding_box_test" / "Thumbs.db").write_bytes(b"\0" * 16)
    return root


# Duke: 8 cameras, names 0001_c2_f0046182.jpg; gallery-only identities are its distractors.
DUKE_TRAIN_IDS = [1, 2, 5, 8, 9]
DUKE_TEST_IDS = [3, 4, 6]
DUKE_GALLERY_ONLY = [7000]


def make_duke(root: Path) -> Path:
    base = root / "dukemtmc-reid" / "DukeMTMC-reID"
    for n, pid in enumerate(DUKE_TRAIN_IDS):
        for cam in (1 + n % 8, 1 + (n + 3) % 8, 1 + (n + 5) % 8):
            image(base / "bounding_box_train" / f"{pid:04d}_c{cam}_f{4600000 + 17 * pid + cam:07d}.jpg")
    for pid in DUKE_TEST_IDS:
        image(base / "query" / f"{pid:04d}_c2_f{100 + pid:07d}.jpg")
        for cam in (5, 7):
            image(base / "bounding_box_test" / f"{pid:04d}_c{cam}_f{200 + pid:07d}.jpg")
    for pid in DUKE_GALLERY_ONLY:
        image(base / "bounding_box_test" / f"{pid:04d}_c3_f0000300.jpg")
    return root


class _MatV73:
    """Writes MATLAB v7.3 variables as MATLAB does: HDF5, dimensions reversed, cells as object refs."""

    def __init__(self, f: h5py.File) -> None:
        self.f, self.refs, self.n = f, f.create_group("#refs#"), itertools.count()

    def array(self, value: np.ndarray, matlab_class: str) -> h5py.Reference:
        d = self.refs.create_dataset(f"r{next(self.n)}", data=np.asarray(value).T)
        d.attrs["MATLAB_class"] = np.bytes_(matlab_class)
        return d.ref

    def empty(self) -> h5py.Reference:
        d = self.refs.create_dataset(f"r{next(self.n)}", data=np.zeros(2, dtype=np.uint64))
        d.attrs["MATLAB_class"] = np.bytes_("double")
        d.attrs["MATLAB_empty"] = np.uint8(1)
        return d.ref

    def cell(self, refs: np.ndarray, name: str | None = None) -> h5py.Reference:
        """A cell array of the given (MATLAB-shaped) refs, as a top-level variable or inside #refs#."""
        data = np.asarray(refs, dtype=h5py.ref_dtype).T
        d = self.f.create_dataset(name, data=data) if name else self.refs.create_dataset(f"r{next(self.n)}", data=data)
        d.attrs["MATLAB_class"] = np.bytes_("cell")
        return d.ref


# People per camera pair; person 2 of pair 1 has only first-camera images (one view: not usable).
CUHK03_PEOPLE = (4, 3, 2, 2, 2)


def cuhk03_images_of(pair: int, person: int, variant: str) -> list[int]:
    """Which of the 10 cells (0-4 first camera, 5-9 second) hold an image; the rest are empty."""
    if (pair, person) == (1, 2):
        return [0, 1, 2]
    keep = [0, 1, 5, 6] if variant == "labeled" else [0, 5, 6]
    return keep + ([3] if person % 2 else [])


def make_cuhk03(root: Path, with_new_protocol: bool = True) -> Path:
    folder = root / "cuhk03"
    (folder / "cuhk03_release").mkdir(parents=True)
    path = folder / "cuhk03_release" / "cuhk-03.mat"
    with h5py.File(path, "w", userblock_size=512) as f:
        mat = _MatV73(f)
        for variant in ("detected", "labeled"):
            pairs = []
            for pair, n in enumerate(CUHK03_PEOPLE, start=1):
                cells = np.empty((n, 10), dtype=object)
                for person, k in itertools.product(range(1, n + 1), range(10)):
                    h, w = 20 + k, 10 + person
                    cells[person - 1, k] = (mat.array(_rng.integers(0, 255, (h, w, 3), dtype=np.uint8), "uint8")
                                            if k in cuhk03_images_of(pair, person, variant) else mat.empty())
                pairs.append(mat.cell(cells))
            mat.cell(np.array(pairs, dtype=object).reshape(5, 1), name=variant)
        tests = [mat.array(np.array([[1, 1], [2, 3]], dtype=float) if t % 2 else np.array([[3, 1], [4, 2]], dtype=float),
                         "double") for t in range(20)]
        mat.cell(np.array(tests, dtype=object).reshape(20, 1), name="testsets")
    with open(path, "r+b") as fh:  # the MATLAB header MATLAB writes into the HDF5 user block
        fh.write(b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Tue Apr 14 2014 HDF5 schema 1.00 .".ljust(116)
                 + b"\0" * 8 + b"\x00\x02IM")
    if with_new_protocol:
        for variant in ("labeled", "detected"):
            write_new_protocol(folder / f"cuhk03_new_protocol_config_{variant}.mat", variant)
    return root


def cuhk03_files(variant: str) -> list[str]:
    return [f"{pair}_{person:03d}_{1 if k < 5 else 2}_{k + 1:02d}.png"
            for pair, n in enumerate(CUHK03_PEOPLE, start=1) for person in range(1, n + 1)
            for k in cuhk03_images_of(pair, person, variant)]


# New protocol: pairs 1-2 train, pairs 3-5 test; per test person one query per camera, the rest gallery.
def write_new_protocol(path: Path, variant: str) -> None:
    files = cuhk03_files(variant)
    labels = []
    train, query, gallery, seen = [], [], [], set()
    for i, name in enumerate(files, start=1):
        pair, person, cam = (int(x) for x in name.split("_")[:3])
        labels.append(sum(CUHK03_PEOPLE[: pair - 1]) + person)
        if pair <= 2:
            train.append(i)
        elif (pair, person, cam) not in seen:
            seen.add((pair, person, cam))
            query.append(i)
        else:
            gallery.append(i)
    cell = np.empty((len(files), 1), dtype=object)
    cell[:, 0] = files
    col = lambda v: np.array(v, dtype=float).reshape(-1, 1)  # noqa: E731
    savemat(path, {"filelist": cell, "labels": col(labels), "camId": col([int(n.split("_")[2]) for n in files]),
                   "train_idx": col(train), "query_idx": col(query), "gallery_idx": col(gallery)})


def make_cuhk03_pair1(root: Path, variants: tuple[str, ...] = ("labeled",), people: int = 843) -> Path:
    """``cuhk03_<variant>/{camA,camB}/NNNN/NNNN_camX_K.jpg`` as the CUHK03 snapshot laid out by camera gives
    it: 843 people, each with crops from both cameras (one each here; the copy has up to five)."""
    for variant, pid in itertools.product(variants, range(people)):
        for cam, k in (("camA", 0), ("camB", 5)):
            image(root / f"cuhk03_{variant}" / cam / f"{pid:04d}" / f"{pid:04d}_{cam}_{k}.jpg")
    return root
