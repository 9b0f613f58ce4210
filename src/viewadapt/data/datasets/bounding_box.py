"""Market-1501 and DukeMTMC-reID: ``bounding_box_train/``, ``query/`` and ``bounding_box_test/``.

File names start with the person and the camera: ``0002_c1s1_000451_03.jpg`` (Market),
``0001_c2_f0046182.jpg`` (Duke). Market's id ``-1`` marks junk boxes (dropped, as every evaluation
of Market does) and ``0000`` distractors (kept in the gallery as nobody's match).
"""

from __future__ import annotations

import re
from pathlib import Path

from viewadapt.data.datasets.base import find_dir, require_images
from viewadapt.data.records import DISTRACTOR_PID, DatasetDescription, ImageRecord
from viewadapt.errors import DataError

NAME = re.compile(r"^(-?\d+)_c(\d+)")
PARTS = (("train", "bounding_box_train"), ("query", "query"), ("gallery", "bounding_box_test"))


def read_parts(root: Path, name: str, folder: str, inner: str, num_cameras: int, archive: str) -> DatasetDescription:
    base = find_dir(root, folder, inner, "bounding_box_train") or find_dir(root, folder, inner, "query")
    if base is None:
        raise DataError(f"{name} not found: expected {root}/{folder}/{inner}/bounding_box_train/, query/ and "
                        f"bounding_box_test/; extract {archive} into {root}/{folder}/")
    fix = f"the archive looks half-extracted; extract {archive} again into {root}/{folder}/"
    records: list[ImageRecord] = []
    for subset, part in PARTS:
        for path in require_images(base / part, fix):
            m = NAME.match(path.name)
            if m is None:
                raise DataError(f"{path}: {name} file names start with <person>_c<camera> "
                                "(e.g. 0002_c1s1_000451_03.jpg); rename or remove this file")
            pid, cam = int(m.group(1)), int(m.group(2))
            if not 1 <= cam <= num_cameras:
                raise DataError(f"{path}: camera c{cam} is outside c1..c{num_cameras} of {name}; "
                                "this file does not belong to the dataset, remove it")
            if pid == -1:
                continue
            if pid == 0:
                if subset != "gallery":
                    raise DataError(f"{path}: distractor id 0000 outside bounding_box_test; remove the file")
                pid = DISTRACTOR_PID
            records.append(ImageRecord(str(path), pid, cam - 1, subset))
    return DatasetDescription(name, str(root), records, [f"c{i}" for i in range(1, num_cameras + 1)], base=str(root))


def locate_market(root: Path) -> Path | None:
    return find_dir(root, "market1501", "Market-1501-v15.09.15", "bounding_box_train")


def read_market(root: Path, variant: str = "") -> DatasetDescription:
    return read_parts(root, "market1501", "market1501", "Market-1501-v15.09.15", 6, "Market-1501-v15.09.15.zip")


def locate_duke(root: Path) -> Path | None:
    return find_dir(root, "dukemtmc-reid", "DukeMTMC-reID", "bounding_box_train")


def read_duke(root: Path, variant: str = "") -> DatasetDescription:
    return read_parts(root, "dukemtmc", "dukemtmc-reid", "DukeMTMC-reID", 8, "DukeMTMC-reID.zip")
