"""Identity splits C_train / C_valid / C_test and the probe/gallery view of every identity (Table I)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from viewadapt.data.records import DatasetDescription, ViewRecord
from viewadapt.errors import DataError

SPLIT_NAMES = ("train", "valid", "test")


@dataclass
class Split:
    """Disjoint identity sets, each image tagged with its view (0 = probe, 1 = gallery)."""

    train: list[ViewRecord]
    valid: list[ViewRecord]
    test: list[ViewRecord]
    seed: int
    protocol: str = "paper"

    def subset(self, name: str) -> list[ViewRecord]:
        return getattr(self, name)

    def to_json(self, path: Path, root: str) -> None:
        """Write with paths relative to the dataset root so the file survives moving the data."""
        data = {"protocol": self.protocol, "seed": self.seed}
        for name in SPLIT_NAMES:
            data[name] = [
                {**asdict(r), "path": str(Path(r.path).relative_to(root))} for r in self.subset(name)
            ]
        Path(path).write_text(json.dumps(data, indent=1))

    @classmethod
    def from_json(cls, path: Path, root: str) -> "Split":
        data = json.loads(Path(path).read_text())
        parts = {
            name: [ViewRecord(**{**r, "path": str(Path(root) / r["path"])}) for r in data[name]]
            for name in SPLIT_NAMES
        }
        return cls(**parts, seed=data["seed"], protocol=data["protocol"])


def make_identity_split(
    dataset: DatasetDescription, num_train: int, num_valid: int, num_test: int, seed: int
) -> Split:
    """Draw disjoint identity sets and, per identity, a probe and a gallery camera (seeded).

    Only identities seen by at least two cameras can form cross-view pairs. With exactly two cameras
    the first is always the probe view (as VIPeR's cam_a); with more, each identity gets two random
    cameras, as the paper does for CUHK03 and Market-1501. ``num_test = -1`` takes every identity left.
    """
    rng = np.random.default_rng(seed)
    by_pid: dict[int, dict[int, list[str]]] = {}
    for r in dataset.records:
        by_pid.setdefault(r.pid, {}).setdefault(r.camid, []).append(r.path)
    eligible = sorted(pid for pid, cams in by_pid.items() if len(cams) >= 2)
    wanted = num_train + num_valid + max(num_test, 0)
    if len(eligible) < wanted or (num_test < 0 and len(eligible) <= num_train + num_valid):
        raise DataError(
            f"{dataset.name} has {len(eligible)} identities seen by two or more cameras but the split asks "
            f"for {num_train}/{num_valid}/{num_test} (train/valid/test): lower data.split sizes"
        )
    order = [eligible[i] for i in rng.permutation(len(eligible))]
    cut = [num_train, num_train + num_valid, wanted if num_test >= 0 else len(order)]
    groups = {"train": order[: cut[0]], "valid": order[cut[0] : cut[1]], "test": order[cut[1] : cut[2]]}
    parts: dict[str, list[ViewRecord]] = {}
    for name, pids in groups.items():
        recs: list[ViewRecord] = []
        for pid in sorted(pids):
            cams = sorted(by_pid[pid])
            probe, gallery = cams[:2] if dataset.num_cameras == 2 else sorted(rng.choice(cams, 2, replace=False))
            for view, cam in enumerate((probe, gallery)):
                recs += [ViewRecord(p, pid, int(cam), view) for p in by_pid[pid][cam]]
        parts[name] = recs
    return Split(**parts, seed=seed)
