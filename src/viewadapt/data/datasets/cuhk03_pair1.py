"""CUHK03 camera pair 1 as two folder datasets, ``<root>/cuhk03_<variant>/<camera>/<identity>/<image>``.

The layout of the public copy at github.com/manideep2510/CUHK03_dataset once its files ``NNNN_KK.jpg``
(KK 00-04 from camera A, 05-09 from camera B) are sorted by camera and person: 843 people, 8,177 crops,
cameras ``camA`` and ``camB``, hand-drawn boxes (``labeled``) or a detector's (``detected``). That copy
ships its last 100 people (its ``val`` part, here identities 0743-0842) with detector boxes in both
variants, so the paper protocol's test sets are drawn among identities 0000-0742 only, whose boxes are
of the variant's kind: a ``labeled`` table is scored on hand-drawn boxes, and both variants on the same
people. C_train (643) and C_valid (100) are drawn among the other 743.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from viewadapt.data.datasets.folder import read_folder_dataset
from viewadapt.data.records import DatasetDescription
from viewadapt.errors import DataError

VARIANTS = ("labeled", "detected")
CAMERAS = ["camA", "camB"]
PAPER_SPLIT = (643, 100, 100)  # Table I's C_valid and C_test, C_train the rest of the pair's 843 people
NUM_PEOPLE = 843
# identities 0743-0842: the copy's val part, detector boxes in both variants: never in a test set
TRUE_BOXES = 743
TEST_SETS = 20  # data.trial 0-19, as the classic CUHK03 release's 20 test sets
PLACE = ("CUHK03 camera pair 1 is laid out as {root}/cuhk03_{variant}/{{camA,camB}}/<identity>/<image>.jpg from a "
         "copy of github.com/manideep2510/CUHK03_dataset (docs/datasets.md says how): set data.root to the folder "
         "holding cuhk03_{variant}")


def folder(root: Path, variant: str) -> Path:
    return Path(root) / f"cuhk03_{variant or VARIANTS[0]}"


def locate(root: Path) -> Path | None:
    return next((folder(root, v) for v in VARIANTS if (folder(root, v) / CAMERAS[0]).is_dir()), None)


def test_sets(names: list[str], pid_of: dict[str, int]) -> list[list[int]]:
    """``TEST_SETS`` fixed draws of C_test's 100 people among identities 0000-0742 (seeded: the same
    people for both variants and on every machine)."""
    eligible = [pid_of[n] for n in names if n.isdigit() and int(n) < TRUE_BOXES]
    rng = np.random.default_rng(1143)
    return [sorted(eligible[i] for i in rng.permutation(len(eligible))[:PAPER_SPLIT[2]]) for _ in range(TEST_SETS)]


def read(root: Path, variant: str = "labeled") -> DatasetDescription:
    variant = variant or VARIANTS[0]
    if variant not in VARIANTS:
        raise DataError(f"CUHK03 pair 1 has no '{variant}' boxes: set data.variant to labeled or detected")
    where = folder(root, variant)
    place = PLACE.format(root=root, variant=variant)
    if not where.is_dir():
        raise DataError(f"{where} does not exist: {place}")
    found = sorted(p.name for p in where.iterdir() if p.is_dir() and not p.name.startswith("."))
    if found != CAMERAS:
        raise DataError(f"{where} holds the camera folders {', '.join(found) or 'none'}, expected camA and camB: "
                        f"{place}")
    dataset = read_folder_dataset(where, f"cuhk03_pair1_{variant}")
    names = {r.pid: Path(r.path).parent.name for r in dataset.records}
    if len(names) != NUM_PEOPLE or set(names.values()) != {f"{i:04d}" for i in range(NUM_PEOPLE)}:
        raise DataError(f"{where} holds {len(names)} people, expected {NUM_PEOPLE} named 0000-0842 (an incomplete "
                        f"copy?): {place}")
    dataset.test_sets = test_sets([names[p] for p in sorted(names)], {n: p for p, n in names.items()})
    return dataset
