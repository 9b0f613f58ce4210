"""A torch Dataset over view records: image tensor in [0, 1], training label, view index."""

from __future__ import annotations

from typing import Callable, Sequence

import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset
from torchvision import transforms as T

from viewadapt.data.records import ViewRecord
from viewadapt.errors import DataError


def load_image(path: str) -> Image.Image:
    """Open an image as RGB; an unreadable file is a DataError that names it."""
    try:
        with Image.open(path) as img:
            return img.convert("RGB")
    except (OSError, UnidentifiedImageError) as exc:
        raise DataError(f"cannot read image {path} ({exc}): replace or delete the file") from None


def train_transform(height: int, width: int) -> Callable:
    """Mild augmentation: the paper trains without augmentation, but a flip and a small shift cost nothing."""
    return T.Compose([
        T.Resize((height, width)),
        T.RandomHorizontalFlip(),
        T.Pad(4, padding_mode="edge"),
        T.RandomCrop((height, width)),
        T.ToTensor(),
    ])


def eval_transform(height: int, width: int) -> Callable:
    return T.Compose([T.Resize((height, width)), T.ToTensor()])


class ViewImages(Dataset):
    """Items are ``(image, label, view)``; ``label`` indexes the identities of this record list."""

    def __init__(self, records: Sequence[ViewRecord], transform: Callable) -> None:
        self.records = list(records)
        self.transform = transform
        self.pids = sorted({r.pid for r in self.records})
        self.label_of = {pid: i for i, pid in enumerate(self.pids)}

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int, int]:
        r = self.records[index]
        return self.transform(load_image(r.path)), self.label_of[r.pid], r.view
