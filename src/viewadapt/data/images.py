"""A torch Dataset over view records: image tensor in [0, 1], training label, view index."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Callable, Mapping, Sequence

import torch
import numpy as np
from PIL import Image
from torch.utils.data import Dataset
from torchvision.transforms.v2.functional import pil_to_tensor

from viewadapt.data.datasets.base import IMAGE_SUFFIXES
from viewadapt.data.records import ViewRecord
from viewadapt.errors import DataError


# Where a crop has transparent pixels, they are laid over this grey (a crop's background is nobody).
BACKGROUND = (128, 128, 128)


def _as_rgb(img: Image.Image) -> Image.Image:
    """Any Pillow mode as 8-bit RGB. ``convert("RGB")`` alone clips 16- and 32-bit grey to white and drops
    transparency onto black; here high-bit grey is scaled into 8 bits and transparent pixels (alpha, or a
    palette's transparent index) are laid over :data:`BACKGROUND`."""
    if img.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        grey = np.nan_to_num(np.asarray(img, dtype=np.float64))
        peak = float(grey.max(initial=0.0))
        # the full scale the values were written on: 16 bits for 16-bit files (and 32-bit ones that fit),
        # [0, 1] or [0, 255] for floats, else the image's own peak
        if img.mode.startswith("I;16"):
            top = 65535.0
        elif img.mode == "F":
            top = 1.0 if peak <= 1 else 255.0 if peak <= 255 else peak
        else:
            top = 65535.0 if peak <= 65535 else peak
        return Image.fromarray(np.clip(grey * (255.0 / top), 0, 255).astype(np.uint8), "L").convert("RGB")
    if img.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (img.mode in ("P", "L", "RGB") and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (*BACKGROUND, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")


class UnreadableImage(DataError):
    """A file that is not a readable image: ``path`` and ``reason`` apart, for lists of them."""

    def __init__(self, path: str | Path, reason: str, fix: str = "replace or delete the file") -> None:
        super().__init__(f"cannot read image {path} ({reason}): {fix}")
        self.path, self.reason = str(path), reason


def load_image(path: str) -> Image.Image:
    """Open an image as 8-bit RGB, whatever its mode (:func:`_as_rgb`); a file that is not a readable image,
    for any reason Pillow has (a truncated file, a decompression bomb, a format it cannot decode), is a
    DataError that names it."""
    if not regular_file(path):
        reason = "it does not exist" if not os.path.lexists(path) else "it is not a regular file"
        raise UnreadableImage(path, reason, "restore the file or give another")
    try:
        with Image.open(path) as img:
            return _as_rgb(img)
    except Exception as exc:  # noqa: BLE001 - Pillow's errors are OSError, ValueError, SyntaxError, its own
        raise UnreadableImage(path, str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None


def read_image(path: str) -> torch.Tensor:
    """An image file as a (3, H, W) uint8 tensor at its own size: what the transforms take."""
    return pil_to_tensor(load_image(path))


def regular_file(path: str | Path) -> bool:
    """Whether ``path`` is a regular file (through symlinks): not a folder, a named pipe or a device, which
    opening would block on or read forever."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def _images_under(folder: Path) -> list[str]:
    """Every image file under ``folder``, sorted: subfolders reached through symlinks too (each real folder
    once, so a link to an ancestor is no loop), hidden files and folders (``.ipynb_checkpoints``) left out."""
    found, seen = [], set()
    for top, dirs, files in os.walk(folder, followlinks=True):
        real = os.path.realpath(top)
        if real in seen:
            dirs[:] = []
            continue
        seen.add(real)
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found += [os.path.join(top, f) for f in files if not f.startswith(".")
                  and Path(f).suffix.lower() in IMAGE_SUFFIXES and regular_file(os.path.join(top, f))]
    return sorted(found)


def image_paths(source: str | Path | Sequence[str | Path]) -> list[str]:
    """The given image files, and the image files of the given folders (recursive, sorted), in order."""
    items = [source] if isinstance(source, (str, Path)) else list(source)
    missing = [str(p) for p in items if not Path(p).exists()]
    if missing:
        raise DataError(f"image {missing[0]} does not exist" + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))
    paths = []
    for item in items:
        if Path(item).is_dir():
            found = _images_under(Path(item))
            if not found:
                raise DataError(f"{item} holds no images (.jpg, .jpeg, .png, .bmp)")
            paths += found
        elif not regular_file(item):
            raise DataError(f"{item} is not a regular file (a named pipe or a device?): give an image file")
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
            if decode or not regular_file(path):
                load_image(path)  # decodes, or says why the file cannot be opened
            else:
                with Image.open(path):
                    pass
        except UnreadableImage as exc:
            bad.append(f"{exc.path} ({exc.reason})")
        except Exception as exc:  # noqa: BLE001 - every Pillow error, as load_image catches them
            bad.append(f"{path} ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})")
    return bad


def ensure_readable(paths: Sequence[str], fix: str, decode: Sequence[str] = (), root: str = "",
                    moved: str = "") -> None:
    """Fail before training, not hours into it, when files of the split are missing or not images:
    ``paths`` have their headers read, ``decode`` (those no cache decodes before the first epoch) are
    decoded whole. ``fix`` says what to do with a bad file; where every one is missing, the data moved
    and ``moved`` says where to point ``root`` (data.root) instead."""
    headers = [p for p in dict.fromkeys(paths) if p not in set(decode)]
    bad = find_unreadable(headers, decode=False) + find_unreadable(list(dict.fromkeys(decode)))
    if not bad:
        return
    everything = list(dict.fromkeys([*paths, *decode]))
    gone = [p for p in everything if not os.path.lexists(p)]
    if root and moved and len(gone) == len(everything):
        raise DataError(f"none of the {len(everything)} images of the split is under data.root={root} (the first: "
                        f"{gone[0]}): if the data moved, {moved}")
    raise DataError(f"{len(bad)} of {len(everything)} images cannot be read, the first: {bad[0]}; {fix}")
