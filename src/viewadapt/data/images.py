"""A torch Dataset over view records: image tensor in [0, 1], training label, view index."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Mapping, Sequence

import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset
from torchvision.transforms.v2.functional import pil_to_tensor

from viewadapt.data.datasets.base import IMAGE_SUFFIXES
from viewadapt.data.records import ViewRecord
from viewadapt.errors import DataError


def load_image(path: str) -> Image.Image:
    """Open an image as RGB; an unreadable file is a DataError that names it."""
    try:
        with Image.open(path) as img:
            return img.convert("RGB")
    except (OSError, UnidentifiedImageError) as exc:
        raise DataError(f"cannot read image {path} ({exc}): replace or delete the file") from None


def read_image(path: str) -> torch.Tensor:
    """An image file as a (3, H, W) uint8 tensor at its own size: what the transforms take."""
    return pil_to_tensor(load_image(path))


def image_paths(source: str | Path | Sequence[str | Path]) -> list[str]:
    """The given image files, and the image files of the given folders (recursive, sorted), in order."""
    items = [source] if isinstance(source, (str, Path)) else list(source)
    missing = [str(p) for p in items if not Path(p).exists()]
    if missing:
        raise DataError(f"image {missing[0]} does not exist" + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))
    paths = []
    for item in items:
        if Path(item).is_dir():
            found = sorted(str(p) for p in Path(item).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise DataError(f"{item} holds no images (.jpg, .jpeg, .png, .bmp)")
            paths += found
        else:
            paths.append(str(item))
    return paths


def decode_images(paths: Sequence[str]) -> dict[str, torch.Tensor]:
    """Every image of ``paths`` decoded once (:func:`read_image`), by path: a training set read every
    epoch decodes each file once instead of every epoch, and DataLoader workers forked from the process
    that holds it share it."""
    return {path: read_image(path) for path in dict.fromkeys(paths)}


class ViewImages(Dataset):
    """Items are ``(image, label, view)``; ``label`` indexes the identities of this record list. Images
    come from ``decoded`` (:func:`decode_images`) where it holds their path, else from their files."""

    def __init__(self, records: Sequence[ViewRecord], transform: Callable,
                 decoded: Mapping[str, torch.Tensor] | None = None) -> None:
        self.records = list(records)
        self.transform = transform
        self.decoded = decoded
        self.pids = sorted({r.pid for r in self.records})
        self.label_of = {pid: i for i, pid in enumerate(self.pids)}

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int, int]:
        r = self.records[index]
        image = self.decoded.get(r.path) if self.decoded is not None else None
        if image is None:
            image = read_image(r.path)
        return self.transform(image), self.label_of[r.pid], r.view


def find_unreadable(paths: Sequence[str], decode: bool = True, progress: bool = False) -> list[str]:
    """Every image that cannot be read, with the reason. ``decode=False`` only opens the headers: it
    finds missing, empty and non-image files across a large dataset in seconds."""
    from tqdm import tqdm

    bad = []
    for path in tqdm(paths, desc="checking images", unit="img", disable=not progress):
        try:
            if decode:
                load_image(path)
            else:
                with Image.open(path):
                    pass
        except DataError as exc:
            bad.append(str(exc))
        except (OSError, UnidentifiedImageError) as exc:
            bad.append(f"cannot read image {path} ({exc})")
    return bad


def ensure_readable(paths: Sequence[str], dataset: str) -> None:
    """Fail before training, not hours into it, when files of the split are missing or not images."""
    bad = find_unreadable(paths, decode=False)
    if bad:
        raise DataError(f"{len(bad)} of {len(paths)} images cannot be read, the first: {bad[0]}; fix or remove "
                        f"them (`viewadapt datasets info {dataset} --verify` lists every one)")
