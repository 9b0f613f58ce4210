"""What every dataset adapter declares: where its files live, how to read them, which protocols it has."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from viewadapt.data.records import DatasetDescription
from viewadapt.errors import DataError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp"}


@dataclass(frozen=True)
class DatasetSource:
    """One supported dataset: ``read(root, variant)`` turns its on-disk layout into a description.

    ``root`` is the data root that holds every benchmark (``<root>/market1501/...``), except for the
    custom formats, whose root is the dataset itself (``folder``) or its index file (``csv``).
    ``paper_split`` is Table I's C_train/C_valid/C_test; ``standard`` describes the field's protocol.
    Traits the rest of the library asks instead of a dataset's name:

    - ``generated``: the images are drawn by viewadapt (their spec, not their folder, says what they are);
    - ``random_halves``: the standard protocol has no official parts but (trials, people per half):
      random halves of the people seen by both cameras (VIPeR's 10 trials of 316 / 316);
    - ``standard_fix``: what to do when the data lacks the files its standard protocol reads;
    - ``own_root``: the root is the dataset itself (a custom format), not a folder holding benchmarks;
    - ``root_is_file``: the root is an index file whose paths are relative to its folder;
    - ``published_as``: the paper's dataset whose published numbers an experiment prints beside its rows
      (part of a dataset the paper used: CUHK03's camera pair 1), where the name differs.
    """

    name: str
    title: str
    layout: str
    origin: str
    read: Callable[[Path, str], DatasetDescription]
    locate: Callable[[Path], Path | None]
    paper_split: tuple[int, int, int] | None = None
    standard: str = ""
    variants: tuple[str, ...] = ()
    generated: bool = False
    random_halves: tuple[int, int] | None = None
    standard_fix: str = "use protocol paper or custom"
    own_root: bool = False
    root_is_file: bool = False
    default_root: str = "data"
    published_as: str = ""

    def split_base(self, root: str | Path) -> str:
        """The folder a run's split.json stores image paths relative to: the root, or an index's folder."""
        root = Path(root)
        return str(root.parent if self.root_is_file else root)

    @property
    def protocols(self) -> tuple[str, ...]:
        return ("custom",) + (("paper",) if self.paper_split else ()) + (("standard",) if self.standard else ())


def find_dir(root: Path, folder: str, inner: str, marker: str) -> Path | None:
    """``<root>/<folder>/<inner>`` as the archives extract, or ``<root>/<folder>`` when flattened."""
    for candidate in (root / folder / inner, root / folder):
        if (candidate / marker).exists():
            return candidate
    return None


def image_files(folder: Path) -> list[Path]:
    """The images of one folder, sorted; other files (Thumbs.db, readme), hidden ones (``._x.jpg`` of macOS)
    and anything but a regular file (a named pipe) are ignored."""
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
                  and p.is_file())


def require_images(folder: Path, fix: str) -> list[Path]:
    if not folder.is_dir():
        raise DataError(f"{folder} is missing: {fix}")
    files = image_files(folder)
    if not files:
        raise DataError(f"{folder} holds no images: {fix}")
    return files
