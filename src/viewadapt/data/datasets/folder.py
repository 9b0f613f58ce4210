"""The generic folder layout ``<root>/<camera>/<identity>/*.jpg`` (also what the synthetic benchmark writes)."""

from __future__ import annotations

from pathlib import Path

from viewadapt.data.datasets.base import image_files
from viewadapt.data.records import DatasetDescription, ImageRecord
from viewadapt.errors import DataError


def read_folder_dataset(root: str | Path, name: str = "folder", exclude: tuple[str, ...] = ()) -> DatasetDescription:
    """Read ``<root>/<camera>/<identity>/<image>``; cameras and identities are sorted folder names, and
    the folders named in ``exclude`` are no cameras (the synthetic set's strangers)."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"dataset folder {root} does not exist: create it or point data.root at your copy")
    # hidden folders are a tool's, not a camera or a person (.ipynb_checkpoints, .git, .DS_Store's kin)
    cameras = sorted(p for p in root.iterdir() if p.is_dir() and p.name not in exclude and not p.name.startswith("."))
    if not cameras:
        raise DataError(f"{root} holds no camera folders: expected <root>/<camera>/<identity>/<image>.jpg")
    identities: dict[str, int] = {}
    records: list[ImageRecord] = []
    for camid, cam in enumerate(cameras):
        found = 0
        for ident in sorted(p for p in cam.iterdir() if p.is_dir() and not p.name.startswith(".")):
            pid = identities.setdefault(ident.name, len(identities))
            for img in image_files(ident):
                records.append(ImageRecord(str(img), pid, camid))
                found += 1
        if not found:
            raise DataError(f"camera folder {cam} has no images: expected {cam}/<identity>/<image>.jpg")
    return DatasetDescription(name, str(root), records, [c.name for c in cameras])
