"""VIPeR (Gray et al. 2007): ``<root>/viper/VIPeR/{cam_a,cam_b}/NNN_AAA.bmp``, 632 people, one image per camera.

A file name is the person's number and the viewing angle (``000_45.bmp``); the two cameras are paired
by that number, so a copy with a file missing on one side fails by name rather than pairing wrongly.
"""

from __future__ import annotations

import re
from pathlib import Path

from viewadapt.data.datasets.base import find_dir, require_images
from viewadapt.data.records import DatasetDescription, ImageRecord
from viewadapt.errors import DataError

CAMERAS = ("cam_a", "cam_b")
NAME = re.compile(r"^(\d+)_(\d+)$")
REFETCH = "re-extract VIPeR.v1.0.zip so that <root>/viper/VIPeR/ holds cam_a/ and cam_b/"


def locate(root: Path) -> Path | None:
    return find_dir(root, "viper", "VIPeR", "cam_a")


def read(root: Path, variant: str = "") -> DatasetDescription:
    base = locate(root)
    if base is None:
        raise DataError(f"VIPeR not found: expected {root}/viper/VIPeR/cam_a/*.bmp; {REFETCH}")
    by_cam: list[dict[int, Path]] = []
    for cam in CAMERAS:
        files: dict[int, Path] = {}
        for path in require_images(base / cam, REFETCH):
            m = NAME.match(path.stem)
            if m is None:
                raise DataError(f"{path}: VIPeR file names look like 000_45.bmp (person_angle); "
                                "rename or remove this file")
            pid = int(m.group(1))
            if pid in files:
                raise DataError(f"{path} and {files[pid]} are both person {pid:03d} in {cam}: "
                                "VIPeR has one image per person and camera; remove the extra file")
            files[pid] = path
        by_cam.append(files)
    for cam, own, other in ((0, *by_cam), (1, *reversed(by_cam))):
        lonely = sorted(set(own) - set(other))
        if lonely:
            raise DataError(f"{own[lonely[0]]} has no {CAMERAS[1 - cam]} image of person {lonely[0]:03d} "
                            f"({len(lonely)} such files): the copy is incomplete; {REFETCH}")
    records = [ImageRecord(str(files[pid]), pid, camid) for camid, files in enumerate(by_cam) for pid in sorted(files)]
    return DatasetDescription("viper", str(root), records, list(CAMERAS), base=str(root), ordered_views=True)
