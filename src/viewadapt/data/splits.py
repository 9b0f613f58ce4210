"""Identity splits C_train / C_valid / C_test and the probe/gallery view of every image.

Three protocols, each seeded and written as JSON with relative paths (``Split.to_json``):

- ``custom``: ``num_train``/``num_valid``/``num_test`` random identities (any dataset);
- ``paper``: the same draw with Table I's sizes, and CUHK03's classic test set ``trial`` (of 20);
- ``standard``: the field's protocol: the official train/query/gallery parts (Market-1501,
  DukeMTMC-reID, CUHK03's 767/700 new protocol, a CSV with a subset column) or VIPeR's 10 random
  316/316 trials; C_valid is drawn from the training identities.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from viewadapt.data.records import DISTRACTOR_PID, DatasetDescription, ViewRecord
from viewadapt.errors import DataError
from viewadapt.files import write_text

SPLIT_NAMES = ("train", "valid", "test")


@dataclass
class Split:
    """Disjoint identity sets, each image tagged with its view (0 = probe, 1 = gallery); ``unlabeled``:
    training images of no known identity (``UNKNOWN_PID``), from outside the dataset."""

    train: list[ViewRecord]
    valid: list[ViewRecord]
    test: list[ViewRecord]
    seed: int
    protocol: str = "custom"
    trial: int = 0
    dataset: str = ""
    unlabeled: list[ViewRecord] = field(default_factory=list)

    def subset(self, name: str) -> list[ViewRecord]:
        return getattr(self, name)

    @property
    def label(self) -> str:
        """How reported numbers name where they come from, e.g. ``market1501/standard``."""
        trial = f" trial {self.trial}" if self.trial else ""
        return f"{self.dataset or 'data'}/{self.protocol}{trial} (seed {self.seed})"

    def to_json(self, path: Path, base: str) -> None:
        """Write with paths relative to ``base`` so the file survives moving the data."""
        data: dict = {"dataset": self.dataset, "protocol": self.protocol, "seed": self.seed, "trial": self.trial}
        for name in (*SPLIT_NAMES, "unlabeled"):
            data[name] = [{**asdict(r), "path": _relative(r.path, base)} for r in self.subset(name)]
        write_text(path, json.dumps(data, indent=1))

    @classmethod
    def from_json(cls, path: Path, base: str) -> "Split":
        data = json.loads(Path(path).read_text())
        data.setdefault("unlabeled", [])  # a split written before unlabelled images existed has none
        parts = {
            name: [ViewRecord(**{**r, "path": str(Path(base) / r["path"])}) for r in data[name]]
            for name in (*SPLIT_NAMES, "unlabeled")
        }
        return cls(**parts, seed=data["seed"], protocol=data["protocol"], trial=data.get("trial", 0),
                   dataset=data.get("dataset", ""))


def _relative(path: str, base: str) -> str:
    try:
        return str(Path(path).relative_to(base))
    except ValueError:  # a CSV may point outside its folder: keep such paths absolute
        return str(Path(path).resolve())


def _views(cams: dict[int, list[str]], rng: np.random.Generator, ordered: bool, every_camera: bool):
    """(view, camera) pairs of one identity.

    ``ordered``: the first two cameras in order. Otherwise two random cameras in random order, or with
    ``every_camera`` all of them, randomly halved, so that no image of a training identity is wasted.
    """
    ids = sorted(cams)
    if ordered or len(ids) == 1:
        chosen = ids if every_camera else ids[:2]
        return [(min(i, 1), cam) for i, cam in enumerate(chosen)]
    order = [int(c) for c in rng.permutation(ids)]
    if not every_camera:
        return [(0, order[0]), (1, order[1])]
    half = (len(order) + 1) // 2
    return [(0 if i < half else 1, cam) for i, cam in enumerate(order)]


def _records(dataset: DatasetDescription, pids, rng, every_camera: bool) -> list[ViewRecord]:
    by_pid = dataset.cameras_of()
    out: list[ViewRecord] = []
    for pid in sorted(pids):
        for view, cam in _views(by_pid[pid], rng, dataset.ordered_views, every_camera):
            out += [ViewRecord(p, pid, cam, view) for p in by_pid[pid][cam]]
    return out


def _cross_view_ids(dataset: DatasetDescription) -> list[int]:
    return sorted(pid for pid, cams in dataset.cameras_of().items() if len(cams) >= 2)


def make_identity_split(
    dataset: DatasetDescription, num_train: int, num_valid: int, num_test: int, seed: int,
    test_pids: list[int] | None = None, protocol: str = "custom", trial: int = 0,
) -> Split:
    """Draw disjoint identity sets and, per identity, a probe and a gallery camera (seeded).

    Only identities seen by at least two cameras can form cross-view pairs. Where the dataset has a
    natural probe camera (VIPeR's cam_a, the first camera of a CUHK03 pair, any two-camera set) it is
    the probe view; otherwise each identity gets two random cameras, as the paper does for Market-1501.
    ``num_test = -1`` takes every identity left; ``test_pids`` fixes the test identities instead.
    """
    rng = np.random.default_rng(seed)
    eligible = _cross_view_ids(dataset)
    if test_pids is not None:
        fixed = sorted(set(test_pids) & set(eligible))
        if len(fixed) < 2:
            raise DataError(f"{dataset.name}: fewer than 2 of the fixed test identities are seen by two cameras")
        num_test = len(fixed)
        eligible = [p for p in eligible if p not in set(fixed)]
    wanted = num_train + num_valid + (0 if test_pids is not None else max(num_test, 0))
    if len(eligible) < wanted or (num_test < 0 and len(eligible) <= num_train + num_valid):
        raise DataError(
            f"{dataset.name} has {len(eligible)} identities seen by two or more cameras but the split asks "
            f"for {num_train}/{num_valid}/{num_test} (train/valid/test): lower the data.num_* sizes"
        )
    order = [eligible[i] for i in rng.permutation(len(eligible))]
    groups = {"train": order[:num_train], "valid": order[num_train:num_train + num_valid]}
    groups["test"] = fixed if test_pids is not None else order[num_train + num_valid:wanted if num_test >= 0 else None]
    parts = {name: _records(dataset, pids, rng, every_camera=False) for name, pids in groups.items()}
    return Split(**parts, seed=seed, protocol=protocol, trial=trial, dataset=dataset.name)


def _split_training_ids(dataset: DatasetDescription, train_ids: list[int], num_valid: int,
                        rng: np.random.Generator) -> tuple[list[int], list[int]]:
    """C_valid from the training identities seen by two cameras; the rest stay C_train."""
    cross = set(_cross_view_ids(dataset))
    candidates = [p for p in train_ids if p in cross]
    if len(candidates) <= num_valid:
        raise DataError(f"{dataset.name}: {len(candidates)} training identities are seen by two cameras, too few "
                        f"to hold out data.num_valid={num_valid} for validation; lower data.num_valid")
    valid = {candidates[i] for i in rng.permutation(len(candidates))[:num_valid]}
    return [p for p in train_ids if p not in valid], sorted(valid)


def make_standard_split(dataset: DatasetDescription, num_valid: int, seed: int, trial: int = 0,
                        random_halves: tuple[int, int] | None = None,
                        fix: str = "use protocol paper or custom") -> Split:
    """The field's protocol: official parts where the data ships them, else ``random_halves`` (trials,
    people per half) of the people both cameras saw, as VIPeR's; ``fix`` says what to do without either."""
    rng = np.random.default_rng([seed, trial])
    subsets = {r.subset for r in dataset.records}
    if {"query", "gallery"} <= subsets:
        if trial:
            raise DataError(f"{dataset.name}'s standard protocol has one fixed split: set data.trial=0")
        train_ids = sorted({r.pid for r in dataset.records if r.subset == "train" and r.pid != DISTRACTOR_PID})
        test = [ViewRecord(r.path, r.pid, r.camid, 0) for r in dataset.records if r.subset == "query"]
        test += [ViewRecord(r.path, r.pid, r.camid, 1) for r in dataset.records if r.subset == "gallery"]
        _check_queries_match(dataset.name, test)
    elif random_halves:
        trials, half = random_halves
        if not 0 <= trial < trials:
            raise DataError(f"{dataset.name}'s standard protocol has trials 0-{trials - 1}: set data.trial to one "
                            "of them")
        ids = _cross_view_ids(dataset)
        if len(ids) < 2 * half:
            raise DataError(f"{dataset.name} has {len(ids)} people seen by both cameras; its standard protocol needs "
                            f"{2 * half}: the copy is incomplete, extract its archive again")
        order = [ids[i] for i in rng.permutation(len(ids))]
        train_ids, test_ids = sorted(order[:half]), order[half:2 * half]
        test = _records(dataset, test_ids, rng, every_camera=False)
    else:
        raise DataError(f"{dataset.name} has no standard query/gallery protocol here: {fix}")
    train_ids, valid_ids = _split_training_ids(dataset, train_ids, num_valid, rng)
    return Split(_records(dataset, train_ids, rng, every_camera=True), _records(dataset, valid_ids, rng, False),
                 test, seed=seed, protocol="standard", trial=trial, dataset=dataset.name)


def _check_queries_match(name: str, test: list[ViewRecord]) -> None:
    """A query is scored against gallery images of its identity from other cameras; where no query has
    one, scoring could only fail, after training: say so before it starts."""
    gallery = {(r.pid, r.camid) for r in test if r.view == 1}
    queries = [r for r in test if r.view == 0]
    if queries and not any((q.pid, c) in gallery for q in queries for c in {c for _, c in gallery} - {q.camid}):
        raise DataError(f"{name}: no query identity has a gallery image from another camera, so nothing could be "
                        "scored; give the query people's images from other cameras the subset 'gallery'")


@dataclass(frozen=True)
class SplitRequest:
    """What a split protocol may read: the sizes and seed a run asks for, and what the dataset's source
    declares (its Table I row, VIPeR-style random halves, what to do without standard parts)."""

    num_train: int
    num_valid: int
    num_test: int
    seed: int
    trial: int = 0
    paper_split: tuple[int, int, int] | None = None
    random_halves: tuple[int, int] | None = None
    standard: str = ""  # the field's protocol, in words ("" where the dataset has none)
    standard_fix: str = "use protocol paper or custom"


def _custom(dataset: DatasetDescription, r: SplitRequest) -> Split:
    if r.trial:
        raise DataError("the custom protocol has one split per seed: set data.trial=0, change data.split_seed")
    return make_identity_split(dataset, r.num_train, r.num_valid, r.num_test, r.seed)


def _paper(dataset: DatasetDescription, r: SplitRequest) -> Split:
    if r.paper_split is None:
        raise DataError(f"the paper gives no split for {dataset.name} (Table I covers VIPeR, CUHK03, Market-1501 "
                        "and DukeMTMC-reID): use data.protocol=custom with data.num_train/num_valid/num_test")
    n_train, n_valid, n_test = r.paper_split
    fixed = None
    if dataset.test_sets:
        if not 0 <= r.trial < len(dataset.test_sets):
            raise DataError(f"{dataset.name} ships {len(dataset.test_sets)} classic test sets: "
                            f"set data.trial to 0-{len(dataset.test_sets) - 1}")
        fixed = dataset.test_sets[r.trial]
    elif r.trial:
        raise DataError(f"{dataset.name}'s paper protocol has one split per seed: set data.trial=0, "
                        "change data.split_seed instead")
    return make_identity_split(dataset, n_train, n_valid, n_test, r.seed, fixed, "paper", r.trial)


def _standard(dataset: DatasetDescription, r: SplitRequest) -> Split:
    return make_standard_split(dataset, r.num_valid, r.seed, r.trial, r.random_halves, r.standard_fix)


@dataclass(frozen=True)
class SplitProtocol:
    """One way of drawing C_train / C_valid / C_test, and how `datasets info` titles it."""

    make: Callable[[DatasetDescription, SplitRequest], Split]
    title: Callable[[SplitRequest], str]


SPLIT_PROTOCOLS: dict[str, SplitProtocol] = {
    "custom": SplitProtocol(_custom, lambda r: f"custom (train/valid/test {r.num_train}/{r.num_valid}/{r.num_test}), "
                                               f"seed {r.seed}"),
    "paper": SplitProtocol(_paper, lambda r: "paper (Table I, train/valid/test "
                                             f"{'/'.join(map(str, r.paper_split or ()))}), seed {r.seed}, "
                                             f"trial {r.trial}"),
    "standard": SplitProtocol(_standard, lambda r: f"standard ({r.standard}; C_valid = {r.num_valid} training ids), "
                                                   f"seed {r.seed}, trial {r.trial}"),
}


def make_split(dataset: DatasetDescription, protocol: str, request: SplitRequest) -> Split:
    """The split of ``protocol`` (:data:`SPLIT_PROTOCOLS`): ``custom`` sizes come from the request,
    ``paper`` sizes are the dataset's Table I row, ``standard`` is the field's protocol (see
    :func:`make_standard_split`)."""
    if dataset.num_cameras < 2:
        found = ", ".join(dataset.camera_names) or "none"
        raise DataError(f"{dataset.name} at {dataset.root} has {dataset.num_cameras} camera(s) ({found}): matching "
                        "across cameras needs at least two; add the images of a second camera")
    if protocol not in SPLIT_PROTOCOLS:
        raise DataError(f"unknown split protocol '{protocol}': choose one of {', '.join(SPLIT_PROTOCOLS)}")
    return SPLIT_PROTOCOLS[protocol].make(dataset, request)


def camera_views(split: Split, dataset: DatasetDescription, groups: list[list[str]],
                 unlabelled_only: list[str] | tuple = ()) -> Split:
    """One view per camera group: every image of a split's identities, tagged with its camera's group.

    The identities of each part stay as the protocol drew them; cameras in no group are left out. A camera
    of ``unlabelled_only`` (one added later, whose crops are all unlabelled) has no image in the split.
    """
    index = {name: i for i, name in enumerate(dataset.camera_names)}
    unknown = [c for g in groups for c in g if c not in index and c not in unlabelled_only]
    if unknown:
        raise DataError(f"data.camera_groups names camera '{unknown[0]}', which {dataset.name} does not have: "
                        f"its cameras are {', '.join(dataset.camera_names)}")
    group_of = {index[c]: v for v, g in enumerate(groups) for c in g if c in index}
    parts = {}
    for name in SPLIT_NAMES:
        ids = {r.pid for r in split.subset(name)}
        parts[name] = [ViewRecord(r.path, r.pid, r.camid, group_of[r.camid]) for r in dataset.records
                       if r.camid in group_of and (r.pid in ids or (name == "test" and r.pid == DISTRACTOR_PID
                                                                    and split.protocol == "standard"))]
    return Split(**parts, seed=split.seed, protocol=split.protocol, trial=split.trial, dataset=split.dataset)


def identity_subset(records: list[ViewRecord], count: int, seed: int) -> list[ViewRecord]:
    """The images of ``count`` of the records' identities (a seeded draw): a training budget's share of a
    large C_train."""
    pids = sorted({r.pid for r in records})
    if count > len(pids):
        raise DataError(f"data.train_subset={count} but C_train has {len(pids)} identities: lower data.train_subset "
                        "or set it to -1")
    keep = {pids[i] for i in np.random.default_rng([seed, count, 7]).permutation(len(pids))[:count]}
    return [r for r in records if r.pid in keep]


def hide_gallery_labels(records: list[ViewRecord], labeled_pairs: int, seed: int,
                        view: int = 1) -> tuple[list[ViewRecord], list[ViewRecord]]:
    """A camera with few labels, made from a labelled C_train: ``labeled_pairs`` identities (a seeded
    draw) keep every image labelled; the others keep their images of the other views, and their images
    of ``view`` (the gallery camera, or the last of several) become unlabelled ones. Returns (labelled,
    unlabelled) records; the unlabelled records still carry their identity, which no loss may read.
    ``-1`` keeps every label.
    """
    if labeled_pairs < 0:
        return list(records), []
    pids = sorted({r.pid for r in records})
    if labeled_pairs > len(pids):
        raise DataError(f"data.labeled_pairs={labeled_pairs} but C_train has {len(pids)} identities: "
                        "lower data.labeled_pairs or raise data.num_train")
    keep = {pids[i] for i in np.random.default_rng([seed, labeled_pairs]).permutation(len(pids))[:labeled_pairs]}
    labeled = [r for r in records if r.pid in keep or r.view != view]
    return labeled, [r for r in records if r.pid not in keep and r.view == view]


def hide_people(records: list[ViewRecord], labeled_people: int, seed: int) -> tuple[list[ViewRecord], list[ViewRecord]]:
    """People nobody labelled, made from a labelled C_train: ``labeled_people`` identities (a seeded draw)
    keep every image labelled; every image of the others, in every camera, becomes unlabelled (the records
    still carry their identity, which no loss may read). Returns (labelled, unlabelled); ``-1`` keeps every
    label."""
    if labeled_people < 0:
        return list(records), []
    pids = sorted({r.pid for r in records})
    if labeled_people > len(pids):
        raise DataError(f"data.labeled_people={labeled_people} but C_train has {len(pids)} identities: "
                        "lower data.labeled_people or raise data.num_train")
    rng = np.random.default_rng([seed, labeled_people, 11])
    keep = {pids[i] for i in rng.permutation(len(pids))[:labeled_people]}
    return [r for r in records if r.pid in keep], [r for r in records if r.pid not in keep]

